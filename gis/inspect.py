"""``inspect_gis``: the layers a GIS file holds, as GDAL lists them, with GDAL's own counts."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pyogrio
from pyproj import CRS

from gis.source import open_error
from twin.errors import InputError


def epsg_of(crs: str | None) -> int | None:
    """The EPSG code of a GDAL CRS string (``"EPSG:4326"`` or WKT), or None."""
    if not crs:
        return None
    try:
        return CRS.from_user_input(crs).to_epsg()
    except Exception:  # a CRS pyproj cannot read has no EPSG code to report
        return None


def inspect_gis(path: str | os.PathLike) -> dict:
    """``{"layers": [{"name", "epsg", "geometry_type", "features"}]}`` for every layer GDAL lists.

    ``features`` is GDAL's count, forced where the driver does not know it up front (OSM).
    ``geometry_type`` is GDAL's name (``"MultiPolygon"``), None for a table without geometry.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    layers = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's notes on rings it closes
        try:
            for name, _ in pyogrio.list_layers(path):
                info = pyogrio.read_info(path, layer=name, force_feature_count=True)
                layers.append({"name": str(name), "epsg": epsg_of(info["crs"]),
                               "geometry_type": info["geometry_type"], "features": int(info["features"])})
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise open_error(path, exc) from exc
    return {"layers": layers}
