"""The device registry (CSV or GeoJSON): one ``dev:<code>`` node per device, linked to its host.

Columns (the facility record of the Guangxi guideline): ``code``, ``name``, ``type``, ``model``,
``host`` (a node id) or ``lon``/``lat``, ``height_m``, ``status``, ``importance`` (1–3),
``description``; cameras also ``heading_deg``, ``tilt_deg``, ``hfov_deg``, ``range_m``. Other columns
are kept as attributes. A device with a host sits at the host's centre, or at its lon/lat when it has
them too (a corner camera in a corridor), ``height_m`` above the host's floor when given; one with
only lon/lat sits there, ``height_m`` above the ground.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twin.crs import transformer
from twin.errors import InputError
from twin.ground import Ground
from twin.park import ROOT_ID, Node, Park, PropertySet

REQUIRED = ("code", "name", "type")
NUMBERS = ("lon", "lat", "height_m", "importance", "heading_deg", "tilt_deg", "hfov_deg", "range_m")
HALF_SIZE_M = 0.15  # a device's bounds: a 0.3 m cube around where it sits
#: Hosts a device hangs under in the tree; an element host puts it under the element's own parent.
CONTAINERS = ("space", "storey", "building", "site")


@dataclass(frozen=True)
class Row:
    where: str  # "devices.csv line 7"
    values: dict[str, Any]


def _rows(path: Path) -> list[Row]:
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return [Row(f"{path} line {reader.line_num}", dict(row))
                    for reader in [csv.DictReader(fh)] for row in reader]
    if path.suffix.lower() in (".geojson", ".json"):
        features = json.loads(path.read_text(encoding="utf-8")).get("features", [])
        rows = []
        for i, feature in enumerate(features):
            values = dict(feature.get("properties") or {})
            geometry = feature.get("geometry") or {}
            if geometry.get("type") == "Point":
                values.setdefault("lon", geometry["coordinates"][0])
                values.setdefault("lat", geometry["coordinates"][1])
            rows.append(Row(f"{path} feature {i}", values))
        return rows
    raise InputError(f"{path}: a device registry is a .csv or .geojson file")


def _clean(row: Row) -> dict[str, Any]:
    values = {k.strip(): v.strip() if isinstance(v, str) else v for k, v in row.values.items() if k}
    for field in REQUIRED:
        if not values.get(field):
            raise InputError(f"{row.where}: field '{field}' is empty")
    for field in NUMBERS:
        if values.get(field) in (None, ""):
            values.pop(field, None)
            continue
        try:
            values[field] = float(values[field])
        except (TypeError, ValueError):
            raise InputError(f"{row.where}: field '{field}' must be a number, not {values[field]!r}") from None
    if not values.get("host") and ("lon" not in values or "lat" not in values):
        raise InputError(f"{row.where}: give the device a 'host' node id or 'lon' and 'lat'")
    if "importance" in values and values["importance"] not in (1, 2, 3):
        raise InputError(f"{row.where}: field 'importance' must be 1, 2 or 3")
    return {k: v for k, v in values.items() if v not in (None, "")}


def _placed(park: Park, row: Row, values: dict[str, Any], ground_z_m: float | Ground) -> tuple[str, np.ndarray]:
    """The tree parent and the park-frame position of a device."""
    host_id = values.get("host")
    if host_id:
        if host_id not in park:
            raise InputError(f"{row.where}: field 'host': no node {host_id!r} in the park")
        host = park.get(host_id)
        parent = host_id if host.kind in CONTAINERS else host.parent or ROOT_ID
        if host.bounds_m is None:
            raise InputError(f"{row.where}: field 'host': {host_id} has no geometry to place the device by")
        b = host.bounds_m
        z = b[2] + values["height_m"] if "height_m" in values else (b[2] + b[5]) / 2
        if "lon" in values and "lat" in values:
            x, y = _crs_xy(park, row, values) - park.origin_m[:2]
            return parent, np.array([x, y, z])
        return parent, np.array([(b[0] + b[3]) / 2, (b[1] + b[4]) / 2, z])
    x, y = _crs_xy(park, row, values)
    if isinstance(ground_z_m, Ground):
        ground_z_m = float(ground_z_m.z_m(np.array([[x, y]]) - park.origin_m[:2])[0])
    z = ground_z_m + values.get("height_m", 0.0)
    return ROOT_ID, np.array([x, y, z]) - park.origin_m


def _crs_xy(park: Park, row: Row, values: dict[str, Any]) -> np.ndarray:
    """A row's lon/lat in the park CRS."""
    x, y = transformer("EPSG:4326", park.crs).transform(values["lon"], values["lat"])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InputError(f"{row.where}: lon/lat {values['lon']}, {values['lat']} cannot be placed in {park.crs}")
    return np.array([x, y])


def check_rows(path: Path) -> int:
    """Check every row of a registry without a park (hosts are checked when the park is built)."""
    return len([_clean(row) for row in _rows(path)])


def add_devices(park: Park, path: Path, ground_z_m: float | Ground = 0.0) -> int:
    """Add every device of a registry to the park; raise :class:`InputError` (file, line, field)
    on the first bad row, before any device is added."""
    if not park.crs:
        raise InputError(f"{path}: the park has no `crs` to place devices in")
    nodes: list[Node] = []
    seen: dict[str, str] = {}
    for row in _rows(path):
        values = _clean(row)
        node_id = f"dev:{values['code']}"
        if node_id in seen or node_id in park:
            raise InputError(f"{row.where}: code {values['code']!r} repeats {seen.get(node_id, 'the park')}")
        seen[node_id] = row.where
        parent, at = _placed(park, row, values, ground_z_m)
        node = Node(node_id, "device", values["name"], parent=parent, code=values["code"],
                    type_name=" ".join(filter(None, (values["type"], values.get("model")))),
                    bounds_m=(*(at - HALF_SIZE_M), *(at + HALF_SIZE_M)),
                    properties_loader=PropertySet("device", values))
        if values.get("host"):
            node.links["host"] = values["host"]
        nodes.append(node)
    for node in nodes:
        park.add(node)
    return len(nodes)
