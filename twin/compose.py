"""Compose one park from a checked scene: IFC placed in the park CRS, GIS layers, devices, ground."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import geopandas as gpd
import numpy as np
import shapely

from gis.importer import add_features, read_park_layer
from gis.layers import LayerSpec

from ifc.importer import import_ifc
from ifc.placement import Unplaced, placement
from twin.batches import MeshPart, merge
from twin.device_batches import device_batches
from twin.devices import add_devices
from twin.errors import InputError
from twin.ground import Ground, grid_cells, scene_ground
from twin.leases import add_leases
from twin.park import ROOT_ID, Park
from twin.scene import IfcSource, Scene, SceneError

GROUND_MARGIN_M = 50.0


WALKWAY_ROLES = ("roads", "paths")  #: layers people walk along outdoors


def compose(scene: Scene, progress: Callable[[int], None] | None = None) -> Park:
    """Build the park a scene describes: IFC buildings placed, then GIS layers (an IFC building
    replaces the LOD1 block it covers), then devices (one glyph batch per type), then the ground;
    all relative to the scene's origin."""
    park = Park(scene.name, scene.origin_m, scene.crs)
    try:
        ground = scene_ground(scene)
    except InputError as exc:
        raise SceneError([f"{scene.file}: ground.dem: {exc}"]) from exc
    for i, source in enumerate(scene.ifc):
        def place(georef, anchor=source.anchor):
            return placement(georef, anchor, scene.crs, park.origin_m)
        try:
            import_ifc(source.path, progress, source.prefix, park, place)
        except Unplaced as exc:
            raise SceneError([f"{scene.file}: ifc[{i}] ({source.path.name}): {exc}; give it an [ifc.anchor]"]) from exc
    for spec in scene.layers:
        gdf, report = read_park_layer(park, spec)
        if spec.role == "buildings":
            gdf = gdf.drop(index=list(_replace_blocks(park, scene, spec, gdf)))
        if spec.role in WALKWAY_ROLES:
            park.walkways.extend(gdf.geometry)
        add_features(park, spec, gdf, report, ground)
    _link_pipe_ends(park, scene)
    if scene.devices is not None:
        add_devices(park, scene.devices, ground)
        park.batches.extend(device_batches(park, ground))
    if scene.leases is not None:
        add_leases(park, scene.leases)
    add_ground(park, ground)
    return park


def _ifc_buildings(park: Park, source: IfcSource) -> list[str]:
    keyed = source.key is not None
    return [n.id for n in park.of_kind("building")
            if n.id.startswith(source.prefix) and (keyed or n.id.count(":") == 1)]


def _plan(park: Park, building_id: str) -> shapely.Geometry:
    """An IFC building's plan outline: the convex hull of its geometry."""
    points = [b.points_m[:, :2] for b in park.batches if b.building == building_id]
    return shapely.MultiPoint(np.concatenate(points)).convex_hull if points else shapely.Polygon()


def _replace_blocks(park: Park, scene: Scene, spec: LayerSpec, footprints: gpd.GeoDataFrame) -> Iterator[str]:
    """Footprint ids an IFC building replaces — the one its source names, else each footprint
    that overlaps more than half of the smaller of the two — linked from the building as ``footprint``."""
    prefix = f"gis:{spec.key}:"
    for source in scene.ifc:
        for building_id in _ifc_buildings(park, source):
            if source.replaces:  # named: only that footprint, and only in its own layer
                named = source.replaces.removeprefix(prefix)
                hits = [named] if source.replaces.startswith(prefix) and named in footprints.index else []
            else:
                plan = _plan(park, building_id)
                overlap = footprints.geometry.intersection(plan).area.to_numpy()
                smaller = np.minimum(footprints.geometry.area.to_numpy(), plan.area).clip(1e-9)
                hits = list(footprints.index[overlap / smaller > 0.5])
            for footprint in hits:
                park.get(building_id).links["footprint"] = f"gis:{spec.key}:{footprint}"
                yield footprint


def _link_pipe_ends(park: Park, scene: Scene) -> None:
    """Link each pipe to the network nodes its ``start_node``/``end_node`` name, in any of the
    scene's network-node layers, as ``links["start"]``/``links["end"]``."""
    node_layers = [spec.key for spec in scene.layers if spec.role == "network_nodes"]
    for pipe in park.of_kind("pipe"):
        attributes = pipe.properties.get("attributes", {})
        for end in ("start", "end"):
            code = attributes.get(f"{end}_node")
            found = next((f"gis:{key}:{code}" for key in node_layers if f"gis:{key}:{code}" in park), None)
            if code is not None and found is not None:
                pipe.links[end] = found


def add_ground(park: Park, ground: Ground) -> None:
    """The ground under the whole park (its own render batch; picking it names the park): a flat
    plane, or over a DEM a triangulated grid (at most 200 × 200 cells) following it."""
    bounds = park.bounds_m()
    x0, y0, _, x1, y1, _ = bounds if bounds is not None else (-100, -100, 0, 100, 100, 0)
    x0, y0, x1, y1 = x0 - GROUND_MARGIN_M, y0 - GROUND_MARGIN_M, x1 + GROUND_MARGIN_M, y1 + GROUND_MARGIN_M
    if not ground.flat:
        park.batches.append(_dem_ground(park, ground, x0, y0, x1, y1))
        return
    z = ground.elevation_m - park.origin_m[2] - 0.02  # a hair below floor slabs laid at ground level
    corners = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]])
    part = MeshPart(ROOT_ID, corners, np.array([[0, 1, 2], [0, 2, 3]]))
    park.batches.append(merge("ground", "ground", None, None, [part], np.zeros(3)))


def _dem_ground(park: Park, ground: Ground, x0: float, y0: float, x1: float, y1: float):
    nx, ny = grid_cells(x1 - x0), grid_cells(y1 - y0)
    gx, gy = np.meshgrid(np.linspace(x0, x1, nx + 1), np.linspace(y0, y1, ny + 1))  # (ny+1, nx+1)
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    points = np.column_stack([xy, ground.z_m(xy) - park.origin_m[2] - 0.02])
    i, j = np.meshgrid(np.arange(nx), np.arange(ny))
    a = (j * (nx + 1) + i).ravel()  # lower-left corner of each cell
    b, c, d = a + 1, a + nx + 2, a + nx + 1
    faces = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])  # anticlockwise: up
    return merge("ground", "ground", None, None, [MeshPart(ROOT_ID, points, faces)], np.zeros(3))
