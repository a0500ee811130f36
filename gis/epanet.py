"""EPANET ``.inp`` models read as GIS layers (through ``wntr``), so a scene can draw and analyse a
water model like any pipe layer: layer ``links`` (pipes, pumps, control valves) for the ``pipes``
role, layer ``nodes`` (junctions, tanks, reservoirs) for ``network_nodes``.

The model's coordinates carry no CRS: the scene's ``crs`` for the layer says what they are.
Columns come out under this project's attribute names (``utility`` = ``water``, ``diameter_mm``,
``length_m``, ``start_node``, ``end_node``, ``node_type``, ``elevation_m``), ids in ``name``.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from twin.errors import InputError

LAYERS = ("links", "nodes")
FIELDS = {"links": ["name", "link_type", "utility", "start_node", "end_node", "diameter_mm", "length_m",
                    "roughness", "status"],
          "nodes": ["name", "node_type", "utility", "elevation_m"]}


def default_layer(role: str) -> str:
    """The layer a role reads when the scene names none."""
    return "links" if role == "pipes" else "nodes"


@functools.lru_cache(maxsize=4)
def _model(path: Path, mtime_ns: int):
    import wntr

    try:
        return wntr.network.WaterNetworkModel(str(path))
    except Exception as exc:  # wntr raises many kinds for a bad file (ENSyntaxError, KeyError, ValueError…)
        raise InputError(f"{path}: not a readable EPANET model ({' '.join(str(exc).split()) or type(exc).__name__})") from exc


def model(path: Path):
    """The ``wntr`` model of ``path`` (read once while the file is unchanged)."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    return _model(path, path.stat().st_mtime_ns)


def inp_layer(path: Path, layer: str) -> tuple[str, dict]:
    """As :func:`gis.source.choose_layer`: the layer and its info (fields; no CRS)."""
    if layer not in LAYERS:
        raise InputError(f"{path}: no layer {layer!r} (an EPANET model has {', '.join(LAYERS)})")
    model(path)
    return layer, {"fields": FIELDS[layer], "crs": None}


def inp_table(path: Path, layer: str, where: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """As :func:`gis.source.read_table`: the layer's attributes and shapely geometries."""
    if where:
        raise InputError(f"{path} layer {layer}: `where` filters are for GDAL layers, not EPANET models")
    wn = model(path)
    if layer == "nodes":
        rows = [{"name": name, "node_type": node.node_type.lower(), "utility": "water",
                 "elevation_m": float(getattr(node, "elevation", None) or getattr(node, "base_head", np.nan))}
                for name, node in wn.nodes()]
        points = [shapely.Point(wn.get_node(r["name"]).coordinates) for r in rows]
        return pd.DataFrame(rows, columns=FIELDS[layer]), np.array(points, dtype=object)
    rows, lines = [], []
    for name, link in wn.links():
        diameter_m = getattr(link, "diameter", None)
        rows.append({"name": name, "link_type": link.link_type.lower(), "utility": "water",
                     "start_node": link.start_node_name, "end_node": link.end_node_name,
                     "diameter_mm": diameter_m * 1000 if diameter_m else np.nan,
                     "length_m": float(getattr(link, "length", np.nan) or np.nan),
                     "roughness": float(getattr(link, "roughness", np.nan) or np.nan),
                     "status": str(link.initial_status).lower()})
        lines.append(shapely.LineString([link.start_node.coordinates, *link.vertices, link.end_node.coordinates]))
    return pd.DataFrame(rows, columns=FIELDS[layer]), np.array(lines, dtype=object)
