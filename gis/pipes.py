"""Pipe networks underground: pipes as tubes sloping between their ends, network nodes as small
cylinders at depth. Heights are in the park frame (relative to the park origin)."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
import trimesh

from gis import mesh
from gis.roles import DEFAULT_DEPTH_M, DEPTH_M, PIPE_DIAMETER_MM
from twin.ground import at

NODE_MARKER = trimesh.creation.cylinder(radius=0.4, height=0.8, sections=8)
NODE_HEIGHT_M = 0.8


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


def pipe_tubes(gdf: gpd.GeoDataFrame, ground_m, origin_z_m: float) -> mesh.Soup:
    """A tube along every pipe, its axis sloping linearly (by length) from start to end height."""
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
    triangles, segment = mesh.tubes(points[edge], points[edge + 1], pipe_radii_m(gdf)[owner[edge]])
    return triangles, owner[edge][segment]


def node_markers(gdf: gpd.GeoDataFrame, ground_m, origin_z_m: float) -> mesh.Soup:
    """A small vertical cylinder per network node: standing on ``invert_m`` (absolute) when
    given, else centred ``depth_m`` (or the utility's usual depth) below the ground there."""
    invert = _column(gdf, "invert_m")
    parts, row = shapely.get_parts(gdf.geometry.to_numpy(), return_index=True)
    xy = np.column_stack([shapely.get_x(parts), shapely.get_y(parts)])
    centre_z = np.where(np.isnan(invert[row]), at(ground_m, xy) - default_depth_m(gdf)[row],
                        invert[row] - origin_z_m + NODE_HEIGHT_M / 2)
    centres = np.column_stack([xy, centre_z])
    triangles, part = mesh.markers(centres, NODE_MARKER)
    return triangles, row[part]
