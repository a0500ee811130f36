"""A utility network as three familiar tables: nodes, links and isolation valves.

Links are pipes, and in EPANET models also pumps and control valves; a link joins its ``start``
and ``end`` nodes (row positions in ``nodes``). Isolation valves follow ``wntr``'s valve layer:
a valve sits on ``link`` next to its end ``node``. One valve may have several rows (a valve node of
a GIS layer closes every pipe that meets it), so ``valve_id`` is the unit that is closed or fails.

>>> net = PipeNetwork.build("demo", "water",
...     nodes=pd.DataFrame({"kind": ["reservoir", "junction", "junction"]}, index=["R", "J1", "J2"]),
...     links=pd.DataFrame({"start": ["R", "J1"], "end": ["J1", "J2"]}, index=["P1", "P2"]),
...     valves=pd.DataFrame({"valve_id": ["V1"], "link": ["P2"], "node": ["J1"]}))
>>> net.links.loc["P2", ["start", "end"]].tolist()
[1, 2]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from twin.errors import InputError

#: Node kinds that supply a pressurised network (supply survives where one of them is reachable).
SOURCE_KINDS = frozenset({"reservoir", "tank", "source"})
#: Utilities whose networks are pressurised (isolation by valves); the rest are traced.
PRESSURISED = frozenset({"water", "gas", "heat", "industrial"})

NODE_COLUMNS = {"kind": "junction", "x_m": np.nan, "y_m": np.nan, "elevation_m": np.nan, "building": None}
LINK_COLUMNS = {"kind": "pipe", "diameter_mm": np.nan, "length_m": np.nan, "material": None,
                "invert_start_m": np.nan, "invert_end_m": np.nan, "flow": 0, "building": None}


@dataclass(frozen=True, eq=False)
class PipeNetwork:
    """One utility's network. ``nodes`` and ``links`` are indexed by id (as in the source);
    ``links.start``/``links.end`` and ``valves.link``/``valves.node`` are row positions."""

    name: str
    utility: str
    nodes: pd.DataFrame  # kind, x_m, y_m, elevation_m (EPANET elevation or GIS invert, NaN if unknown), building
    links: pd.DataFrame  # start, end, kind, diameter_mm, length_m, material, inverts, flow (+1, -1, 0), building
    valves: pd.DataFrame  # valve_id, link, node
    source: str = ""  # the file or layer it came from, for messages

    @classmethod
    def build(cls, name: str, utility: str, nodes: pd.DataFrame, links: pd.DataFrame,
              valves: pd.DataFrame | None = None, source: str = "") -> PipeNetwork:
        """From tables naming nodes and links by id; missing columns get their defaults.
        Raises :class:`InputError` naming ``source`` and the first bad row."""
        where = source or name
        nodes = _with_defaults(nodes, NODE_COLUMNS)
        links = _with_defaults(links, LINK_COLUMNS)
        for table, what in ((nodes, "node"), (links, "link")):
            if table.index.has_duplicates:
                raise InputError(f"{where}: {what} id {table.index[table.index.duplicated()][0]!r} is used twice")
        position = pd.Series(np.arange(len(nodes)), index=nodes.index)
        for end in ("start", "end"):
            unknown = ~links[end].isin(nodes.index)
            if unknown.any():
                raise InputError(f"{where}: link {links.index[unknown][0]!r}: {end} node "
                                 f"{links[end][unknown].iloc[0]!r} is not a node of the network")
            links[end] = position[links[end]].to_numpy()
        links["flow"] = links["flow"].fillna(0).astype(np.int8)
        valves = _valve_rows(valves, links, position, where)
        return cls(name, utility, nodes, links, valves, source)

    @property
    def ends(self) -> np.ndarray:
        """``(links, 2)`` start and end node positions."""
        return self.links[["start", "end"]].to_numpy(np.int64)

    @property
    def pressurised(self) -> bool:
        return self.utility in PRESSURISED

    def sources(self) -> np.ndarray:
        """Positions of the nodes that supply the network (reservoirs, tanks, sources)."""
        return np.flatnonzero(self.nodes["kind"].isin(SOURCE_KINDS).to_numpy())

    def link_id(self, name: str) -> str:
        """A link's id from its id or, for scene ids (``gis:pipes:WS-P0003``), its code (``WS-P0003``)."""
        return _id_or_code(self.links.index, name, "pipe", self)

    def nearest_link(self, x_m: float, y_m: float) -> str:
        """The link nearest a point (a burst reported by where it is): by its line where the network
        has geometry, else by the straight line between its end nodes."""
        if "geometry" in self.links:
            distance = shapely.distance(self.links["geometry"].to_numpy(), shapely.Point(x_m, y_m))
        else:
            xy = self.nodes[["x_m", "y_m"]].to_numpy(float)
            a, b = xy[self.links["start"].to_numpy()], xy[self.links["end"].to_numpy()]
            ab, ap = b - a, np.array([x_m, y_m]) - a
            along = np.clip((ap * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0.0, 1.0)
            distance = np.linalg.norm(ap - along[:, None] * ab, axis=1)
        if not len(distance) or not np.isfinite(distance).any():
            raise InputError(f"{self.source or self.name}: network {self.name!r} has no pipe with a position")
        return str(self.links.index[int(np.nanargmin(distance))])

    def valve_id(self, name: str) -> str:
        """A valve's id from its id or code, as :meth:`link_id`."""
        return _id_or_code(pd.Index(self.valves["valve_id"].unique()), name, "valve", self)


def _id_or_code(ids: pd.Index, name: str, what: str, net: PipeNetwork) -> str:
    if name in ids:
        return name
    matches = ids[ids.str.endswith(f":{name}")] if len(ids) else ids
    if len(matches) == 1:
        return str(matches[0])
    raise InputError(f"{net.source or net.name}: no {what} {name!r} in network {net.name!r}")

def _with_defaults(table: pd.DataFrame, columns: dict) -> pd.DataFrame:
    table = table.copy()
    table.index = table.index.astype(str)
    for column, default in columns.items():
        if column not in table:
            table[column] = default
    return table


def _valve_rows(valves: pd.DataFrame | None, links: pd.DataFrame, position: pd.Series, where: str) -> pd.DataFrame:
    """Valve rows by position, each checked to sit on an end of its link; repeated rows dropped."""
    if valves is None or valves.empty:
        return pd.DataFrame({"valve_id": pd.Series(dtype=object), "link": pd.Series(dtype=np.int64),
                             "node": pd.Series(dtype=np.int64)})
    valves = valves.astype({"valve_id": str, "link": str, "node": str})
    link_of = pd.Series(np.arange(len(links)), index=links.index)
    for column, known, what in (("link", link_of, "link"), ("node", position, "node")):
        unknown = ~valves[column].isin(known.index)
        if unknown.any():
            row = valves[unknown].iloc[0]
            raise InputError(f"{where}: valve {row.valve_id!r}: no {what} {row[column]!r} in the network")
    link, node = link_of[valves["link"]].to_numpy(), position[valves["node"]].to_numpy()
    off_end = (links["start"].to_numpy()[link] != node) & (links["end"].to_numpy()[link] != node)
    if off_end.any():
        row = valves[off_end].iloc[0]
        raise InputError(f"{where}: valve {row.valve_id!r}: node {row.node!r} is not an end of link {row.link!r}")
    out = pd.DataFrame({"valve_id": valves["valve_id"].to_numpy(), "link": link, "node": node})
    return out.drop_duplicates(["link", "node"], ignore_index=True)
