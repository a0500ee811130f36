"""Pipe networks underground: pipes as tubes sloping between their ends, flow arrows on them, and
network nodes as models by ``node_type`` (valves, hydrants, manholes…, see :mod:`models.network`).
Heights are in the park frame (relative to the park origin)."""
from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import shapely
import trimesh
from numpy.typing import ArrayLike

from gis import mesh
from gis.roles import DEFAULT_DEPTH_M, DEPTH_M, GRAVITY_UTILITIES, PIPE_DIAMETER_MM, flow_sign
from models.network import node_model, node_type_key
from twin.errors import InputError
from twin.ground import at

#: A node given by its ``invert_m`` (the bottom of its pipes) has its model on an axis this far above.
NODE_AXIS_ABOVE_INVERT_M = 0.15
#: The "exaggerate pipes" view draws every pipe this many times as thick, and at least this thick.
EXAGGERATION = 5.0
EXAGGERATED_MIN_RADIUS_M = 0.3
ARROW_SPACING_M = 10.0  # a flow arrow about every this many metres of pipe, at least one per pipe
ARROW_RADIUS = 1.6  # an arrow's base radius: this × the pipe's radius…
ARROW_MARGIN_M = 0.06  # …plus this, so it stands out of the tube; and it keeps this far under the ground
ARROW_LENGTH = 2.5  # an arrow's length: this × its base radius
_ARROW = trimesh.creation.cone(1.0, 1.0, sections=8).triangles - [0.0, 0.0, 0.5]  # unit cone along +z, centred


def _column(gdf: gpd.GeoDataFrame, name: str) -> np.ndarray:
    return gdf[name].to_numpy(float) if name in gdf else np.full(len(gdf), np.nan)


def default_depth_m(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Per row: ``depth_m``, else the usual depth of its utility."""
    utility = gdf["utility"] if "utility" in gdf else [None] * len(gdf)
    usual = np.array([DEPTH_M.get(u, DEFAULT_DEPTH_M) for u in utility], dtype=float)
    depth = _column(gdf, "depth_m")
    return np.where(np.isnan(depth), usual, depth)


def _ends_xy(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's first and last vertex (NaN for an empty geometry)."""
    xy, row = shapely.get_coordinates(gdf.geometry.to_numpy(), return_index=True)
    first, last = np.full((len(gdf), 2), np.nan), np.full((len(gdf), 2), np.nan)
    first[row[::-1]] = xy[::-1]  # the last write wins: the row's first vertex
    last[row] = xy
    return first, last


def pipe_ends_z_m(gdf: gpd.GeoDataFrame, ground_m, origin_z_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Axis heights at the start and end of each pipe: from ``invert_start_m``/``invert_end_m``
    (absolute elevations of the pipe bottom) where both are given, else ``depth_m`` of the axis
    below ground, else the utility's usual depth. ``ground_m``: a height, or a function of xy
    (a DEM): then depths are measured from the ground at each end."""
    radius = pipe_radii_m(gdf)
    depth = default_depth_m(gdf)
    if callable(ground_m):
        first, last = _ends_xy(gdf)
        level_start = at(ground_m, np.nan_to_num(first)) - depth
        level_end = at(ground_m, np.nan_to_num(last)) - depth
    else:
        level_start = level_end = ground_m - depth
    start, end = _column(gdf, "invert_start_m"), _column(gdf, "invert_end_m")
    inverts = ~np.isnan(start) & ~np.isnan(end)
    return (np.where(inverts, start - origin_z_m + radius, level_start),
            np.where(inverts, end - origin_z_m + radius, level_end))


def pipe_radii_m(gdf: gpd.GeoDataFrame) -> np.ndarray:
    diameter = _column(gdf, "diameter_mm")
    return np.where(np.isnan(diameter) | (diameter <= 0), PIPE_DIAMETER_MM, diameter) / 2000


def exaggerated_radii_m(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Radii in the "exaggerate pipes" view: :data:`EXAGGERATION` × the true ones, at least
    :data:`EXAGGERATED_MIN_RADIUS_M`."""
    return np.maximum(pipe_radii_m(gdf) * EXAGGERATION, EXAGGERATED_MIN_RADIUS_M)


def pipe_tubes(gdf: gpd.GeoDataFrame, ground_m, origin_z_m: float, exaggerated: bool = False) -> mesh.Soup:
    """A tube along every pipe, its axis sloping linearly (by length) from start to end height;
    ``exaggerated``: with :func:`exaggerated_radii_m` (eight sides instead of six)."""
    z_start, z_end = pipe_ends_z_m(gdf, ground_m, origin_z_m)
    parts, row = shapely.get_parts(gdf.geometry.to_numpy(), return_index=True)
    xy, part = shapely.get_coordinates(parts, return_index=True)
    same = part[1:] == part[:-1]
    step = np.r_[0.0, np.where(same, np.linalg.norm(np.diff(xy, axis=0), axis=1), 0.0)]
    along = np.cumsum(step)
    first = np.r_[True, ~same]
    along -= np.maximum.accumulate(np.where(first, along, 0.0))  # distance from the part's start
    length = np.zeros(len(parts))
    np.maximum.at(length, part, along)
    owner = row[part]
    fraction = along / np.where(length[part] > 0, length[part], 1.0)
    z = z_start[owner] + fraction * (z_end[owner] - z_start[owner])
    points = np.column_stack([xy, z])
    edge = np.flatnonzero(same & (step[1:] > 0))
    radii = exaggerated_radii_m(gdf) if exaggerated else pipe_radii_m(gdf)
    triangles, segment = mesh.tubes(points[edge], points[edge + 1], radii[owner[edge]], sides=8 if exaggerated else 6)
    return triangles, owner[edge][segment]


def flow_signs(given: ArrayLike, utility: Iterable[str | None], invert_start_m: ArrayLike,
               invert_end_m: ArrayLike) -> np.ndarray:
    """Which way each pipe flows: +1 from its start to its end, -1 from its end to its start, 0
    unknown. ``given`` (signs of ``flow_direction``, :func:`gis.roles.flow_sign`) where not 0, else
    for a gravity utility (:data:`gis.roles.GRAVITY_UTILITIES`) downhill between its inverts."""
    given = np.asarray(given, dtype=np.int64)
    gravity = np.array([u in GRAVITY_UTILITIES for u in utility], dtype=bool)
    fall = np.asarray(invert_start_m, dtype=float) - np.asarray(invert_end_m, dtype=float)
    downhill = np.where(np.isnan(fall), 0, np.sign(fall)).astype(np.int64)
    return np.where((given == 0) & gravity, downhill, given)


def given_flow(gdf: gpd.GeoDataFrame, where: str) -> np.ndarray:
    """Each pipe's ``flow_direction`` as +1, -1 or 0 (:func:`gis.roles.flow_sign`); a value not
    listed there is an :class:`InputError` naming ``where`` (the file and layer) and the pipe."""
    signs = np.zeros(len(gdf), dtype=np.int64)
    for row, (code, value) in enumerate(gdf["flow_direction"].items() if "flow_direction" in gdf else ()):
        try:
            signs[row] = flow_sign(value)
        except ValueError as exc:
            raise InputError(f"{where}: pipe {code}: {exc}") from None
    return signs


def pipe_flow_signs(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """:func:`flow_signs` of a pipes layer (values checked on reading, see ``gis.importer``)."""
    given = given_flow(gdf, "pipes layer")
    utility = gdf["utility"] if "utility" in gdf else [None] * len(gdf)
    return flow_signs(given, utility, _column(gdf, "invert_start_m"), _column(gdf, "invert_end_m"))


def flow_arrows(gdf: gpd.GeoDataFrame, ground_m, origin_z_m: float, exaggerated: bool = False) -> mesh.Soup:
    """Cones on the axis of every pipe whose flow is known (:func:`pipe_flow_signs`), pointing along
    the flow: one about every :data:`ARROW_SPACING_M`, at least one per part, each owned by its pipe
    (so a click on an arrow picks the pipe). ``exaggerated``: sized for the exaggerated tubes."""
    z_start, z_end = pipe_ends_z_m(gdf, ground_m, origin_z_m)
    parts, row = shapely.get_parts(gdf.geometry.to_numpy(), return_index=True)
    length = shapely.length(parts)
    sign = pipe_flow_signs(gdf)[row]
    drawn = np.flatnonzero((sign != 0) & (length > 0))
    if not len(drawn):
        return mesh.empty()
    count = np.maximum(1, np.rint(length[drawn] / ARROW_SPACING_M)).astype(np.int64)
    part = np.repeat(drawn, count)
    k = np.arange(len(part)) - np.repeat(np.cumsum(count) - count, count)
    gap = length[part] / np.repeat(count, count)
    at_m = (k + 0.5) * gap  # evenly spaced along the part
    step = np.minimum(0.05, gap / 4)  # the plan direction from points just before and after
    plan = (shapely.get_coordinates(shapely.line_interpolate_point(parts[part], at_m + step))
            - shapely.get_coordinates(shapely.line_interpolate_point(parts[part], at_m - step)))
    plan /= np.linalg.norm(plan, axis=1, keepdims=True)
    owner = row[part]
    slope = (z_end - z_start)[owner] / length[part]
    axis = np.column_stack([plan, slope]) * sign[part][:, None]
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    xy = shapely.get_coordinates(shapely.line_interpolate_point(parts[part], at_m))
    centre = np.column_stack([xy, z_start[owner] + at_m * slope])
    tube_m = (exaggerated_radii_m(gdf) if exaggerated else pipe_radii_m(gdf))[owner]
    room_m = at(ground_m, xy) - centre[:, 2] - ARROW_MARGIN_M  # from the axis to just below the ground
    radius = np.minimum(ARROW_RADIUS * tube_m + ARROW_MARGIN_M, room_m)  # out of the tube, under the ground…
    radius = np.maximum(radius, tube_m + ARROW_MARGIN_M / 2)  # …but always around the tube
    u = np.cross(axis, [0.0, 0.0, 1.0])  # pipes are never vertical: u, v and axis are a frame
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(axis, u)
    local = _ARROW[None] * np.stack([radius, radius, ARROW_LENGTH * radius], axis=1)[:, None, None, :]
    triangles = (centre[:, None, None] + local[..., :1] * u[:, None, None] + local[..., 1:2] * v[:, None, None]
                 + local[..., 2:] * axis[:, None, None])
    return triangles.reshape(-1, 3, 3), np.repeat(owner, len(_ARROW))


def node_points_m(gdf: gpd.GeoDataFrame, ground_m, origin_z_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each point of the network nodes' geometry is: ``(xyz (p, 3), ground z (p,), row (p,))``.
    A node sits :data:`NODE_AXIS_ABOVE_INVERT_M` above ``invert_m`` (absolute) when given, else
    ``depth_m`` (or its utility's usual depth) below the ground there."""
    invert = _column(gdf, "invert_m")
    parts, row = shapely.get_parts(gdf.geometry.to_numpy(), return_index=True)
    xy = np.column_stack([shapely.get_x(parts), shapely.get_y(parts)])
    ground = at(ground_m, xy)
    z = np.where(np.isnan(invert[row]), ground - default_depth_m(gdf)[row],
                 invert[row] - origin_z_m + NODE_AXIS_ABOVE_INVERT_M)
    return np.column_stack([xy, z]), ground, row


def node_markers(gdf: gpd.GeoDataFrame, ground_m, origin_z_m: float) -> mesh.Soup:
    """A model per network node by its ``node_type`` (:func:`models.network.node_model`): its body
    at the node, its riser stretched from there to the ground, its top on the ground above
    (a hydrant's post, a manhole's cover). Owner = the node's row."""
    xyz, ground, row = node_points_m(gdf, ground_m, origin_z_m)
    types = gdf["node_type"].to_numpy()[row] if "node_type" in gdf else np.full(len(row), None)
    keys = np.array([node_type_key(t) for t in types], dtype=object)
    soups = []
    for key in sorted(set(keys)):
        mine = np.flatnonzero(keys == key)
        model = node_model(key)
        triangles, k = mesh.markers(xyz[mine], model.body)
        soups.append((triangles, row[mine][k]))
        if model.riser is not None:
            bottom = xyz[mine, 2] + model.riser_from_m
            height = ground[mine] + model.riser_to_m - bottom
            up = height > 1e-3  # a node (nearly) at the ground has no riser
            scale = np.column_stack([np.ones(up.sum()), np.ones(up.sum()), height[up]])
            base = np.column_stack([xyz[mine[up], :2], bottom[up]])
            triangles = base[:, None, None] + model.riser.triangles[None] * scale[:, None, None]
            soups.append((triangles.reshape(-1, 3, 3), np.repeat(row[mine[up]], len(model.riser.faces))))
        if model.top is not None:
            triangles, k = mesh.markers(np.column_stack([xyz[mine, :2], ground[mine]]), model.top)
            soups.append((triangles, row[mine][k]))
    return mesh.concat(*soups)
