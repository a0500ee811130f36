"""EPANET ``.inp`` models (through ``wntr``) and valve layer CSV files into a :class:`PipeNetwork`.

Ids stay EPANET's link and node names. The valves file has columns ``valve_id,link,node``: a
valve on pipe ``link`` next to its end ``node``, the layout of ``wntr``'s valve layers
(``wntr.network.generate_valve_layer``, whose index is the valve id).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from gis.epanet import model
from twin.errors import InputError
from twin.networks.model import PipeNetwork

VALVE_COLUMNS = ("valve_id", "link", "node")


def read_inp(path: str | Path, valves: pd.DataFrame | None = None, utility: str = "water") -> PipeNetwork:
    """An EPANET model as a network with ``valves`` (see :func:`read_valves`) as its isolation
    valves; the model's own control valves (PRV, TCV…) are links."""
    path = Path(path)
    return from_wntr(model(path), path.stem, valves, utility, str(path))


def from_wntr(wn, name: str, valves: pd.DataFrame | None = None, utility: str = "water",
              source: str = "") -> PipeNetwork:
    """A ``wntr.network.WaterNetworkModel`` as a network (coordinates as the model gives them)."""
    node_rows = []
    for node_name, node in wn.nodes():
        x, y = node.coordinates if node.coordinates is not None else (np.nan, np.nan)
        z = getattr(node, "elevation", None)
        node_rows.append((node_name, node.node_type.lower(), x, y, np.nan if z is None else z))
    nodes = pd.DataFrame(node_rows, columns=["id", "kind", "x_m", "y_m", "elevation_m"]).set_index("id")
    link_rows = []
    for link_name, link in wn.links():
        kind = link.link_type.lower()
        diameter = getattr(link, "diameter", None)
        length = getattr(link, "length", None)
        link_rows.append((link_name, link.start_node_name, link.end_node_name, kind,
                          np.nan if diameter is None else diameter * 1000, np.nan if length is None else length))
    links = pd.DataFrame(link_rows, columns=["id", "start", "end", "kind", "diameter_mm", "length_m"]).set_index("id")
    return PipeNetwork.build(name, utility, nodes, links, valves, source)


def read_valves(path: str | Path) -> pd.DataFrame:
    """A valves CSV (``valve_id,link,node``) as a table; :class:`InputError` names file and line."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in VALVE_COLUMNS if c not in header]
            if missing:
                raise InputError(f"{path}: line 1: missing column(s) {', '.join(missing)} "
                                 f"(expected {','.join(VALVE_COLUMNS)})")
            rows = []
            for line, row in enumerate(reader, start=2):
                row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
                if not all(row[c] for c in VALVE_COLUMNS):
                    raise InputError(f"{path}: line {line}: empty {next(c for c in VALVE_COLUMNS if not row[c])}")
                rows.append([row[c] for c in VALVE_COLUMNS])
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    return pd.DataFrame(rows, columns=list(VALVE_COLUMNS))

