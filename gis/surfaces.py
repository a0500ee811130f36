"""Flat layers (roads, paths, parking, green, water, boundary…) as surfaces just above the ground,
and point features (gates, assembly points, parking spaces) as small markers."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
import trimesh

from gis import mesh
from gis.repair import FAMILY_TYPES
from gis.roles import LINE_WIDTH_M
from twin.ground import at

#: Height of each flat role above the ground, so overlapping layers do not z-fight.
SURFACE_Z_M = {"green": 0.02, "water": 0.03, "parking": 0.04, "roads": 0.06, "paths": 0.08,
               "parking_spaces": 0.10, "boundary": 0.12, "gates": 0.14, "assembly_points": 0.14}
BOUNDARY_BAND_M = 1.0  # a boundary is drawn as a band this wide along its outline

#: The marker of a point feature, centred on its origin, and how high its centre sits above ground.
MARKERS: dict[str, tuple[trimesh.Trimesh, float]] = {
    "gates": (trimesh.creation.box((1.0, 1.0, 3.0)), 1.5),
    "assembly_points": (trimesh.creation.cylinder(radius=2.0, height=0.2, sections=16), 0.1),
    "parking_spaces": (trimesh.creation.box((2.5, 5.0, 0.05)), SURFACE_Z_M["parking_spaces"]),
}


def surface_polygons(gdf: gpd.GeoDataFrame, role: str) -> np.ndarray:
    """The plan polygons to draw: lines buffered by ``width_m`` (roads, paths), a boundary as a band."""
    geometry = gdf.geometry.to_numpy()
    if role == "boundary":
        outline = np.where(_is(geometry, "polygon"), shapely.boundary(geometry), geometry)
        return shapely.buffer(outline, BOUNDARY_BAND_M / 2, quad_segs=2)
    lines = _is(geometry, "line")
    if not lines.any():
        return geometry
    width = gdf["width_m"].to_numpy(float) if "width_m" in gdf else np.full(len(gdf), np.nan)
    width = np.where(np.isnan(width) | (width <= 0), LINE_WIDTH_M.get(role, 1.0), width)
    buffered = shapely.buffer(geometry[lines], width[lines] / 2, cap_style="flat", quad_segs=2)
    return np.where(lines, _spread(buffered, lines), geometry)


def surfaces(gdf: gpd.GeoDataFrame, role: str, ground_m) -> mesh.Soup:
    """Surfaces for the polygon and line features, markers for the point features. ``ground_m``:
    a height, or a function of xy (a DEM) that surfaces drape over, vertex by vertex."""
    geometry = gdf.geometry.to_numpy()
    points = _is(geometry, "point")
    rows = np.arange(len(gdf))
    soups = []
    if (~points).any():
        plan = surface_polygons(gdf[~points], role)
        if callable(ground_m):
            xy, owner = mesh.triangulate(plan)
            z = at(ground_m, xy.reshape(-1, 2)).reshape(-1, 3) + SURFACE_Z_M[role]
            triangles = np.concatenate([xy, z[..., None]], axis=2)
        else:
            triangles, owner = mesh.flat(plan, np.full(len(plan), ground_m + SURFACE_Z_M[role]))
        soups.append((triangles, rows[~points][owner]))
    if points.any():
        triangles, owner = point_markers(geometry[points], role, ground_m)
        soups.append((triangles, rows[points][owner]))
    return mesh.concat(*soups)


def point_markers(points: np.ndarray, role: str, ground_m) -> mesh.Soup:
    """A marker at every point (each part of a multipoint); owner = row of ``points``."""
    template, lift_m = MARKERS[role]
    parts, owner = shapely.get_parts(points, return_index=True)
    xy = np.column_stack([shapely.get_x(parts), shapely.get_y(parts)])
    centres = np.column_stack([xy, at(ground_m, xy) + lift_m])
    triangles, part = mesh.markers(centres, template)
    return triangles, owner[part]


def _is(geometry: np.ndarray, family: str) -> np.ndarray:
    return np.isin(shapely.get_type_id(geometry), FAMILY_TYPES[family])


def _spread(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.full(len(mask), None, dtype=object)
    out[mask] = values
    return out
