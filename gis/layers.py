"""One scene-file layer (``[[layers]]``) read into a GeoDataFrame: ids checked, fields mapped,
geometry repaired, CRS known; :func:`to_park` brings it into the park CRS."""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from gis.epanet import default_layer, inp_layer, inp_table
from gis.fields import map_fields
from gis.repair import repair
from gis.roles import ROLES
from gis.source import choose_layer, read_table
from twin.errors import InputError

log = logging.getLogger(__name__)


@dataclass
class LayerSpec:
    """A ``[[layers]]`` table of the scene file (``docs/scene-format.md``)."""

    key: str  # ids become gis:<key>:<id>
    path: str | os.PathLike
    role: str  # a key of gis.roles.ROLES
    id_field: str
    layer: str | None = None  # GDAL layer name; optional when the file has one
    crs: str | None = None  # only for a file that carries no CRS
    where: str | None = None  # OGR SQL attribute filter
    fields: dict[str, str] = field(default_factory=dict)  # our attribute ← column (see gis.fields)


@dataclass
class LayerReport:
    """What reading (and adding) a layer did."""

    key: str
    path: str
    layer: str
    crs: str  # the layer's own CRS (or the scene's `crs` for a file without one)
    features: int  # kept
    repaired: int  # invalid geometries made valid and kept
    dropped: int  # empty, degenerate or of a geometry the role cannot use
    unparsed: dict[str, int] = field(default_factory=dict)  # attribute → values not read as numbers
    nodes: int = 0  # filled by gis.importer.add_layer
    triangles: int = 0


def read_layer(spec: LayerSpec) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Read a layer: index = ids (str, from ``id_field``), the file's columns plus our mapped
    attributes, geometry repaired, CRS set. Raises :class:`InputError` naming file and cause."""
    path = Path(spec.path)
    if spec.role not in ROLES:
        raise InputError(f"{path}: role {spec.role!r} is not one of {', '.join(ROLES)}")
    inp = path.suffix.lower() == ".inp"  # an EPANET model: its links or nodes (gis.epanet)
    layer, info = (inp_layer(path, spec.layer or default_layer(spec.role)) if inp
                   else choose_layer(path, spec.layer))
    where = f"{path} layer {layer}"
    if spec.id_field not in info["fields"]:
        raise InputError(f"{where}: no id_field {spec.id_field!r} (it has {', '.join(info['fields'])})")
    crs = _layer_crs(info["crs"], spec.crs, where)
    table, geometry = (inp_table if inp else read_table)(path, layer, spec.where)
    table, unparsed = map_fields(table, spec.fields, where)
    geometry, repaired, kept = repair(geometry, ROLES[spec.role].families)
    ids = _ids(table[spec.id_field], where, spec.id_field)
    gdf = gpd.GeoDataFrame(table, geometry=geometry, crs=crs).set_index(ids.rename("id"))[kept]
    report = LayerReport(spec.key, str(path), layer, crs.to_string(), int(kept.sum()),
                         int(repaired.sum()), int((~kept).sum()), unparsed)
    if report.repaired or report.dropped:
        log.warning("%s: repaired %d invalid geometries, dropped %d empty, degenerate or unusable ones",
                    where, report.repaired, report.dropped)
    for attribute, count in unparsed.items():
        log.warning("%s: %d values of %r are not numbers (ignored)", where, count, attribute)
    return gdf, report


def to_park(gdf: gpd.GeoDataFrame, park_crs: str, origin_m: Sequence[float]) -> gpd.GeoDataFrame:
    """The layer in the park frame: the park CRS (which must be projected, in metres), coordinates
    relative to the park's ``origin_m`` (its first two values)."""
    crs = CRS.from_user_input(park_crs)
    if not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
        raise InputError(f"park crs {park_crs}: not a projected CRS in metres")
    gdf = gdf.to_crs(crs)
    shift = np.asarray(origin_m[:2], dtype=float)
    return gdf.set_geometry(shapely.transform(gdf.geometry.to_numpy(), lambda xy: xy - shift))


def _layer_crs(file_crs: str | None, scene_crs: str | None, where: str) -> CRS:
    if file_crs is None and scene_crs is None:
        raise InputError(f"{where}: no CRS; state `crs` in the scene file")
    try:
        crs = CRS.from_user_input(file_crs or scene_crs)
    except CRSError as exc:
        raise InputError(f"{where}: unreadable CRS {file_crs or scene_crs!r} ({exc})") from exc
    if file_crs and scene_crs and not crs.equals(CRS.from_user_input(scene_crs), ignore_axis_order=True):
        log.warning("%s: the file's CRS %s wins over the scene's `crs` %s", where, crs.to_string(), scene_crs)
    return crs


def _ids(values: pd.Series, where: str, id_field: str) -> pd.Series:
    """Ids as strings (whole numbers without '.0'); missing or repeated ones are an error."""
    missing = values.isna()
    if missing.any():
        raise InputError(f"{where}: {int(missing.sum())} features have no {id_field!r} (ids never come from row order)")
    if pd.api.types.is_float_dtype(values) and (values == values.round()).all():
        values = values.astype("int64")  # GDAL Real ids that are whole numbers: "12", not "12.0"
    ids = values.astype(str)
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        shown = ", ".join(map(str, repeated[:5])) + (f" and {len(repeated) - 5} more" if len(repeated) > 5 else "")
        raise InputError(f"{where}: duplicate {id_field!r} values: {shown}")
    return ids.reset_index(drop=True)
