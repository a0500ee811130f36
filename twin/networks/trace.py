"""Traces (追溯分析) of networks that are not isolated by valves.

- ``downstream`` (rain, sewage): where a spill at a pipe or node goes, following the flow: the
  pipes and nodes it passes and the outfalls it reaches;
- ``upstream`` (rain, sewage): what drains to a pipe or node: pipes, nodes and the buildings served;
- ``connected`` (any network; power and telecom by default): everything joined to a pipe or node,
  with the sources and buildings in it.

A drainage trace follows a pipe of unknown flow both ways and names it in ``unknown_flow``. A trace
from a pipe includes the pipe; one from a node starts at the node.

>>> trace(sewer, "SS-P0042").to_json()["outfalls"]   # doctest: +SKIP
['gis:network_nodes:SS-0001']
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order

from twin.errors import InputError
from gis.roles import GRAVITY_UTILITIES
from twin.networks.model import SOURCE_KINDS, PipeNetwork

#: Node kinds where a drainage network leaves the park.
OUTFALL_KINDS = frozenset({"outfall"})
DIRECTIONS = ("downstream", "upstream", "connected")


@dataclass(frozen=True)
class TraceResult:
    """What a trace reaches; ids as in the network's source, each list sorted.

    ``pipes`` are the overlay (the utility's batch highlights them); ``outfalls`` (downstream),
    ``sources`` (connected) and ``buildings`` (upstream, connected) are among the ``nodes``' own."""

    network: str
    start: str
    direction: str
    pipes: list[str]
    nodes: list[str]
    outfalls: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    buildings: list[str] = field(default_factory=list)
    unknown_flow: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The CLI and REST answer: pipes and nodes, what the direction looks for, unknown-flow pipes if any."""
        out = {"pipes": self.pipes, "nodes": self.nodes}
        if self.direction == "downstream":
            out["outfalls"] = self.outfalls
        if self.direction == "connected":
            out["sources"] = self.sources
        if self.direction in ("upstream", "connected"):
            out["buildings"] = self.buildings
        if self.unknown_flow:
            out["unknown_flow"] = self.unknown_flow
        return out


def locate(net: PipeNetwork, name: str) -> tuple[str, str]:
    """``("pipe" | "node", id)`` for a pipe or node id, or a scene id's code (``SW-P0042``).
    ``pipe:ID`` or ``node:ID`` says which where a model names a pipe and a node alike (EPANET)."""
    tables = {"pipe": net.links.index, "node": net.nodes.index}
    what, _, bare = name.partition(":")
    if what in tables and bare:
        tables, name = {what: tables[what]}, bare
    matches = ([(what, name) for what, ids in tables.items() if name in ids]
               or [(what, str(i)) for what, ids in tables.items() for i in ids[ids.str.endswith(f":{name}")]])
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(f"{what} {i}" for what, i in matches[:4]) + (" …" if len(matches) > 4 else "")
        raise InputError(f"{net.source or net.name}: start {name!r} is ambiguous in network {net.name!r} "
                         f"({names}): give a whole id, pipe:{name} or node:{name}")
    raise InputError(f"{net.source or net.name}: start {name!r}: no such pipe or node in network {net.name!r}")


def default_direction(net: PipeNetwork) -> str:
    """Downstream for a gravity network, connected for the rest."""
    return "downstream" if net.utility in GRAVITY_UTILITIES else "connected"


def trace(net: PipeNetwork, start: str, direction: str | None = None) -> TraceResult:
    """Trace ``net`` from ``start`` (a pipe or node id or code) ``direction``-wise (see the module)."""
    direction = direction or default_direction(net)
    if direction not in DIRECTIONS:
        raise InputError(f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    if direction != "connected" and net.utility not in GRAVITY_UTILITIES:
        raise InputError(f"network {net.name!r} ({net.utility}) has no flow to follow: {direction} traces are for "
                         f"{' and '.join(sorted(GRAVITY_UTILITIES))} networks; trace it --connected")
    what, start_id = locate(net, start)
    ends = net.ends
    flow = net.links["flow"].to_numpy() if direction != "connected" else np.zeros(len(ends), np.int8)
    if direction == "upstream":
        flow = -flow
    source = np.where(flow >= 0, ends[:, 0], ends[:, 1])  # a link carries the trace from here…
    target = np.where(flow >= 0, ends[:, 1], ends[:, 0])  # …to here; both ways where flow is 0
    if what == "pipe":
        row = net.links.index.get_loc(start_id)
        first = int(target[row])
    else:
        row, first = None, net.nodes.index.get_loc(start_id)
    either = flow == 0
    n = len(net.nodes)
    graph = coo_matrix((np.ones(len(ends) + int(either.sum()), bool),
                        (np.r_[source, target[either]], np.r_[target, source[either]])), shape=(n, n)).tocsr()
    reached = np.zeros(n, bool)
    reached[breadth_first_order(graph, first, directed=True, return_predecessors=False)] = True
    passed = reached[source] | (either & reached[target])
    if row is not None:
        passed[row] = True
    return _result(net, start_id, direction, reached, passed)


def _result(net: PipeNetwork, start: str, direction: str, reached: np.ndarray, passed: np.ndarray) -> TraceResult:
    nodes = net.nodes[reached]
    links = net.links[passed]
    buildings = pd.concat([nodes["building"], links["building"]]).dropna()
    unknown = links.index[links["flow"] == 0] if direction != "connected" else []
    return TraceResult(
        net.name, start, direction, sorted(links.index), sorted(nodes.index),
        outfalls=sorted(nodes.index[nodes["kind"].isin(OUTFALL_KINDS)]),
        sources=sorted(nodes.index[nodes["kind"].isin(SOURCE_KINDS)]),
        buildings=sorted({b for b in buildings if isinstance(b, str) and b}),
        unknown_flow=sorted(unknown))
