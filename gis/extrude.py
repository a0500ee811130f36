"""LOD1 building blocks: footprints extruded to their height (``docs/scene-format.md``)."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from gis import mesh
from gis.roles import BUILDING_HEIGHT_M, STOREY_HEIGHT_M
from twin.ground import at


def _column(gdf: gpd.GeoDataFrame, name: str) -> np.ndarray:
    return gdf[name].to_numpy(float) if name in gdf else np.full(len(gdf), np.nan)


def block_heights_m(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """``height_m``, else ``levels`` × ``storey_height_m`` (default 3.5 m), else 10 m."""
    storey_m = np.where(np.isnan(s := _column(gdf, "storey_height_m")), STOREY_HEIGHT_M, s)
    by_levels = _column(gdf, "levels") * storey_m
    height = np.where(np.isnan(h := _column(gdf, "height_m")), by_levels, h)
    return np.where(np.isnan(height) | (height <= 0), BUILDING_HEIGHT_M, height)


def blocks(gdf: gpd.GeoDataFrame, ground_m) -> mesh.Soup:
    """Closed blocks standing on the ground (park frame), one owner per row. ``ground_m``: a
    height, or a function of xy (a DEM): then a block's base is the lowest ground under its
    footprint's vertices, so no block floats."""
    if callable(ground_m):
        xy, row = shapely.get_coordinates(gdf.geometry.to_numpy(), return_index=True)
        base = np.full(len(gdf), np.inf)
        np.minimum.at(base, row, at(ground_m, xy))
        base = np.where(np.isfinite(base), base, at(ground_m, np.zeros((1, 2)))[0])  # empty rows
    else:
        base = np.full(len(gdf), ground_m)
    return mesh.solid(gdf.geometry.to_numpy(), base, base + block_heights_m(gdf))
