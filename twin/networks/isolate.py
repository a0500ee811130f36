"""Burst isolation (关阀分析) for pressurised networks: which valves to shut, what they cut off.

The burst segment is the part of the network reachable from the burst pipe without passing a
valve (:mod:`twin.networks.segments`); the valves on its boundary are the ones to close. When a
valve fails to close (二次关阀), the segment on its far side joins and the boundary is taken
again. ``affected_nodes`` are the nodes outside the isolated area cut off from every reservoir,
tank and source once those valves are closed (a node that no pipe meets, such as a valve drawn on
an unbroken line, has nothing to lose and is never one).

The segments are computed once per network (:class:`Isolator`), with the segment graph and a
super-source joined to every source segment; a query then costs one breadth-first pass from the
super-source over the segment graph, the isolated segments made dead ends.

>>> result = isolate(net, "P2", failed_valves=["V7"])   # doctest: +SKIP
>>> result.to_json()["valves_to_close"]                  # doctest: +SKIP
['V3', 'V9']
"""
from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix, csr_array
from scipy.sparse.csgraph import breadth_first_order

from twin.errors import InputError
from twin.networks.model import PipeNetwork
from twin.networks.segments import valve_segments


@dataclass(frozen=True)
class IsolationResult:
    """What to shut for a burst and what it cuts off; ids as in the network's source.

    ``valve_points_m`` places each valve to close (park frame or the model's coordinates) for the
    overlay; ``affected_buildings`` are the buildings served from isolated or affected nodes."""

    network: str
    burst: str
    failed_valves: tuple[str, ...]
    valves_to_close: list[str]
    isolated_pipes: list[str]
    isolated_nodes: list[str]
    affected_nodes: list[str]
    affected_buildings: list[str]
    valve_points_m: dict[str, list[float | None]]

    def to_json(self) -> dict:
        """The CLI and REST answer: the four lists, plus the buildings where the network knows them."""
        out = {"valves_to_close": self.valves_to_close, "isolated_pipes": self.isolated_pipes,
               "isolated_nodes": self.isolated_nodes, "affected_nodes": self.affected_nodes}
        if self.affected_buildings:
            out["affected_buildings"] = self.affected_buildings
        return out


def _members(labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the items per label: ``items[start[k]:start[k + 1]]`` carry label ``k``."""
    order = np.argsort(labels, kind="stable")
    start = np.searchsorted(labels[order], np.arange(count + 1))
    return order, start


class Isolator:
    """A network's valve segments and segment graph, built once; :meth:`isolate` answers a burst."""

    def __init__(self, net: PipeNetwork):
        if not net.pressurised:
            raise InputError(f"{net.source or net.name}: network {net.name!r} ({net.utility}) is not pressurised; "
                             "isolation by valves is for water, gas and heat (trace drainage instead)")
        self.net = net
        seg = valve_segments(net)
        self.segments = seg
        self.valve_ids = net.valves["valve_id"].to_numpy(object)
        self.row_link_seg = seg.link[net.valves["link"].to_numpy(np.int64)]
        self.row_node_seg = seg.node[net.valves["node"].to_numpy(np.int64)]
        between = self.row_link_seg != self.row_node_seg  # a valve inside one segment closes nothing
        self.edges = (self.row_link_seg[between], self.row_node_seg[between])
        rows = np.flatnonzero(between)
        self._seg_rows = _members(np.r_[self.row_link_seg[rows], self.row_node_seg[rows]], seg.count)
        self._seg_rows_of = np.r_[rows, rows]
        self._seg_links = _members(seg.link, seg.count)
        self._seg_nodes = _members(seg.node, seg.count)
        self._rows_of_valve = net.valves.groupby("valve_id").indices
        self.source_segments = np.unique(seg.node[net.sources()])
        self._piped = np.bincount(net.ends.ravel(), minlength=len(net.nodes)) > 0  # nodes some pipe meets
        # The segment graph, both ways, plus vertex ``count``: a super-source joined to the sources.
        a = np.r_[self.edges[0], np.full(len(self.source_segments), seg.count)]
        b = np.r_[self.edges[1], self.source_segments]
        size = seg.count + 1
        graph = coo_matrix((np.ones(2 * len(a)), (np.r_[a, b], np.r_[b, a])), shape=(size, size)).tocsr()
        graph.sum_duplicates()
        self._graph = csr_array((graph.data, graph.indices.astype(np.int32), graph.indptr.astype(np.int32)),
                                shape=(size, size))
        self._link_ids = frozenset(net.links.index)
        self._xyz = net.nodes[["x_m", "y_m", "elevation_m"]].to_numpy(float)
        self._valve_node = net.valves["node"].to_numpy(np.int64)

    def _of(self, members: tuple[np.ndarray, np.ndarray], segments: Iterable[int]) -> np.ndarray:
        order, start = members
        parts = [order[start[s]:start[s + 1]] for s in segments]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def _boundary_rows(self, area: set[int]) -> np.ndarray:
        rows = np.unique(self._seg_rows_of[self._of(self._seg_rows, area)])
        inside_link = np.isin(self.row_link_seg[rows], list(area))
        inside_node = np.isin(self.row_node_seg[rows], list(area))
        return rows[inside_link != inside_node]

    def _area(self, burst: int, failed: set[str]) -> set[int]:
        """The burst segment, grown through every failed valve on its boundary."""
        area = {int(self.segments.link[burst])}
        failed_rows = [r for v in failed for r in self._rows_of_valve[v]]
        grown = True
        while grown:
            grown = False
            for row in failed_rows:
                a, b = int(self.row_link_seg[row]), int(self.row_node_seg[row])
                if (a in area) != (b in area):
                    area.add(b if a in area else a)
                    grown = True
        return area

    def _cut_off(self, area: set[int]) -> np.ndarray:
        """Segments outside ``area`` that reach no source once ``area`` is shut (a bool per segment):
        those a breadth-first search from the super-source misses when every segment of ``area``
        leads only back to itself."""
        count, graph = self.segments.count, self._graph
        indices = graph.indices.copy()
        for s in area:
            indices[graph.indptr[s]:graph.indptr[s + 1]] = s
        reached = breadth_first_order(csr_array((graph.data, indices, graph.indptr), shape=graph.shape), count,
                                      directed=True, return_predecessors=False)
        cut = np.ones(count + 1, bool)
        cut[reached] = False
        cut[list(area)] = False
        return cut[:count]

    def isolate(self, burst: str, failed_valves: Iterable[str] = ()) -> IsolationResult:
        """Isolate the burst pipe ``burst`` (a link id); ``failed_valves`` stick open."""
        net = self.net
        failed = tuple(dict.fromkeys(v if v in self._rows_of_valve else net.valve_id(v) for v in failed_valves))
        burst = burst if burst in self._link_ids else net.link_id(burst)
        area = self._area(net.links.index.get_loc(burst), set(failed))
        rows = self._boundary_rows(area)
        close = sorted(set(self.valve_ids[rows]) - set(failed))
        pipes = self._of(self._seg_links, area)
        nodes = self._of(self._seg_nodes, area)
        affected = np.flatnonzero(self._cut_off(area)[self.segments.node] & self._piped)
        node_ids = net.nodes.index.to_numpy(object)
        buildings = net.nodes["building"].to_numpy(object)[np.r_[nodes, affected]]
        points = {}
        for row in rows:
            valve = self.valve_ids[row]
            if valve in close and valve not in points:
                points[valve] = [float(v) if np.isfinite(v) else None for v in self._xyz[self._valve_node[row]]]
        return IsolationResult(
            net.name, burst, failed, close, sorted(net.links.index[pipes]), sorted(node_ids[nodes]),
            sorted(node_ids[affected]), sorted({b for b in buildings if isinstance(b, str) and b}), points)


_isolators: weakref.WeakKeyDictionary[PipeNetwork, Isolator] = weakref.WeakKeyDictionary()


def isolator(net: PipeNetwork) -> Isolator:
    """The network's isolator, built on first use and kept while the network lives."""
    if net not in _isolators:
        _isolators[net] = Isolator(net)
    return _isolators[net]


def isolate(net: PipeNetwork, burst: str, failed_valves: Iterable[str] = ()) -> IsolationResult:
    """Isolate a burst pipe of ``net``; see :class:`IsolationResult`."""
    return isolator(net).isolate(burst, failed_valves)
