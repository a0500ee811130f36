"""Topology check (拓扑检查) of pipe networks: what to fix in the GIS before trusting an analysis.

Each :class:`Finding` has a kind, a severity (``error`` or ``warning``), the ids concerned, a
one-line message and a point for the overlay. The kinds, in the order they are reported:

- ``disconnected``: a part not joined to the largest one (its pipes); the largest part too when a
  pressurised network has no source in it, or a gravity network no outfall (then an ``error``); a
  node joined to no pipe;
- ``dangling_end``: a pipe end that meets no other pipe at a node that is no terminal
  (:data:`TERMINAL_KINDS`, a node serving a building, or in a gravity network the head of a branch);
- ``duplicate_pipe``: pipes joining the same two nodes along the same path (more than half of the
  shorter lies within the tolerance of the other; without geometry, lengths within the
  tolerance), or with identical geometry;
- ``duplicate_node``: nodes closer than the tolerance that are separate nodes (GIS networks only);
- ``uphill`` (gravity): the invert at a pipe's downstream end, per its flow, above the upstream one;
- ``no_outlet`` (gravity): a node that pipes flow into and none out of, and no outfall;
- ``unknown_flow`` (gravity): a pipe whose flow cannot be decided (no ``flow_direction``, inverts
  missing or equal);
- ``missing_attribute``: a pipe without diameter, material, or depth or inverts (gravity: the
  inverts); an attribute that no pipe of the network has is one finding for the network;
- ``join``: what joining the scene's pipes to their nodes noticed (:attr:`SceneNetworks.notes`).

Works on scene networks and EPANET models alike (those have no geometry: the straight line between
a link's nodes stands in for it). Vectorised with numpy, scipy and shapely.

>>> report = check(scene_networks(read_scene("scenes/demo")))   # doctest: +SKIP
>>> report.errors, report.warnings                              # doctest: +SKIP
(0, 0)
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from twin.errors import InputError
from gis.roles import GRAVITY_UTILITIES
from twin.networks.model import SOURCE_KINDS, PipeNetwork
from twin.networks.scene import SNAP_TOLERANCE_M, SceneNetworks
from twin.networks.trace import OUTFALL_KINDS

KINDS = ("disconnected", "dangling_end", "duplicate_pipe", "duplicate_node", "uphill", "no_outlet",
         "unknown_flow", "missing_attribute", "join")
#: Node kinds where a pipe may end without meeting another.
TERMINAL_KINDS = SOURCE_KINDS | OUTFALL_KINDS | {"service", "hydrant"}
#: In a gravity network, node kinds that may head a branch.
HEAD_KINDS = frozenset({"manhole", "inlet", "gully"})
#: Pipes joining the same two nodes are duplicates when more than this share of the shorter one
#: lies within the tolerance of the other.
SAME_PATH_SHARE = 0.5

Point = tuple[float, float]


@dataclass(frozen=True)
class Finding:
    """One problem; ``point_m`` is in the park frame (an EPANET model's own coordinates), ``None``
    where the network does not place it."""

    network: str
    kind: str
    severity: str  # "error" or "warning"
    ids: tuple[str, ...]
    message: str
    point_m: Point | None

    def to_json(self) -> dict:
        x_m, y_m = (round(v, 3) for v in self.point_m) if self.point_m else (None, None)  # to the millimetre
        return {"network": self.network, "kind": self.kind, "severity": self.severity, "ids": list(self.ids),
                "message": self.message, "x_m": x_m, "y_m": y_m}


@dataclass(frozen=True)
class CheckReport:
    """The findings of :func:`check` (networks in order, kinds in :data:`KINDS` order)."""

    tolerance_m: float
    networks: dict[str, dict[str, int]]  # name → {"pipes": …, "nodes": …}
    findings: list[Finding]

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)

    def to_json(self) -> dict:
        """The CLI and REST answer."""
        return {"tolerance_m": self.tolerance_m, "errors": self.errors, "warnings": self.warnings,
                "networks": self.networks, "findings": [f.to_json() for f in self.findings]}


def check(networks: SceneNetworks | PipeNetwork, tolerance_m: float = SNAP_TOLERANCE_M,
          network: str | None = None) -> CheckReport:
    """Check every network (only ``network`` when given). ``tolerance_m``: the snapping tolerance
    the scene's networks were joined with (:func:`twin.networks.scene.scene_networks`)."""
    if isinstance(networks, PipeNetwork):
        networks = SceneNetworks({networks.name: networks})
    nets = networks.networks
    if network is not None:
        if network not in nets:
            raise InputError(f"--network {network!r} is not one of the networks ({', '.join(nets) or 'none'})")
        nets = {network: nets[network]}
    findings: list[Finding] = []
    for net in nets.values():
        view = _View(net)
        for checks in (_parts(view), _dangling_ends(view), _duplicate_pipes(view, tolerance_m),
                       _duplicate_nodes(view, tolerance_m), _flow(view), _missing(view)):
            findings.extend(checks)
    findings.extend(_notes(networks.notes, nets, every=network is None))
    order = {net.name: k for k, net in enumerate(nets.values())}
    findings.sort(key=lambda f: (order.get(f.network, len(order)), KINDS.index(f.kind)))
    return CheckReport(tolerance_m, {net.name: {"pipes": len(net.links), "nodes": len(net.nodes)}
                                     for net in nets.values()}, findings)


class _View:
    """A network's arrays that the checks share."""

    def __init__(self, net: PipeNetwork):
        self.net = net
        self.gravity = net.utility in GRAVITY_UTILITIES
        self.link_ids = net.links.index.to_numpy(object)
        self.node_ids = net.nodes.index.to_numpy(object)
        self.node_kind = net.nodes["kind"].astype(str).to_numpy(object)
        self.ends = net.ends
        self.degree = np.bincount(self.ends.ravel(), minlength=len(net.nodes))
        self.node_xy = net.nodes[["x_m", "y_m"]].to_numpy(float)
        self.is_pipe = (net.links["kind"] == "pipe").to_numpy()
        self.geometry = net.links["geometry"].to_numpy() if "geometry" in net.links else None
        between = self.node_xy[self.ends].mean(axis=1) if len(self.ends) else np.zeros((0, 2))
        if self.geometry is None:
            self.mid_xy = between
        else:
            middle = shapely.line_interpolate_point(self.geometry, 0.5, normalized=True)
            mid = np.column_stack([shapely.get_x(middle), shapely.get_y(middle)])
            self.mid_xy = np.where(np.isnan(mid), between, mid)

    def finding(self, kind: str, severity: str, ids: tuple, message: str, xy: np.ndarray | None) -> Finding:
        return _finding(self.net.name, kind, severity, ids, message, xy)


def _finding(network: str, kind: str, severity: str, ids: tuple, message: str, xy: np.ndarray | None) -> Finding:
    x, y = (math.nan, math.nan) if xy is None else (float(xy[0]), float(xy[1]))
    point = (x, y) if math.isfinite(x) and math.isfinite(y) else None
    return Finding(network, kind, severity, tuple(map(str, ids)), message, point)


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _parts(v: _View) -> Iterator[Finding]:
    n = len(v.node_ids)
    graph = coo_matrix((np.ones(len(v.ends), bool), (v.ends[:, 0], v.ends[:, 1])), shape=(n, n))
    count, label = connected_components(graph, directed=False)
    on_pipe = np.isin(v.node_ids, v.net.valves["valve_id"].to_numpy(object))  # valves drawn on a pipe's line
    for node in np.flatnonzero((v.degree == 0) & ~on_pipe):
        yield v.finding("disconnected", "warning", (v.node_ids[node],),
                        f"{v.node_ids[node]} ({v.node_kind[node]}) is joined to no pipe", v.node_xy[node])
    if not len(v.ends):
        return
    part = label[v.ends[:, 0]]
    pipes = np.bincount(part, minlength=count)
    main = int(np.argmax(pipes))
    feeder, feeds = (("source", SOURCE_KINDS) if v.net.pressurised else ("outfall", OUTFALL_KINDS) if v.gravity
                     else (None, frozenset()))
    fed = np.zeros(count, bool)
    fed[label[np.isin(v.node_kind, list(feeds))]] = True
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(count + 1))
    for p in np.flatnonzero(pipes):
        rows = order[bounds[p]:bounds[p + 1]]
        sample = v.link_ids[rows[0]]
        unfed = feeder is not None and not fed[p]
        if p == main:
            if unfed:
                yield v.finding("disconnected", "error", (sample,), f"the network's main part "
                                f"({_counted(len(rows), 'pipe')}, e.g. {sample}) has no {feeder}", v.mid_xy[rows[0]])
            continue
        message = (f"{_counted(len(rows), 'pipe')} (e.g. {sample}) not joined to the main part "
                   f"({_counted(int(pipes[main]), 'pipe')})" + (f", with no {feeder}" if unfed else ""))
        yield v.finding("disconnected", "error" if unfed else "warning", tuple(v.link_ids[rows]), message,
                        v.mid_xy[rows[0]])


def _dangling_ends(v: _View) -> Iterator[Finding]:
    building = v.net.nodes["building"].notna().to_numpy()
    terminal = np.isin(v.node_kind, list(TERMINAL_KINDS | (HEAD_KINDS if v.gravity else set()))) | building
    loose = (v.degree[v.ends] == 1) & ~terminal[v.ends]  # (links, 2)
    for row, side in zip(*np.nonzero(loose)):
        node = v.ends[row, side]
        yield v.finding("dangling_end", "warning", (v.link_ids[row], v.node_ids[node]),
                        f"{v.link_ids[row]}: its {('start', 'end')[side]} ({v.node_ids[node]}, "
                        f"{v.node_kind[node]}) meets no other pipe", v.node_xy[node])


def _same_end_pairs(v: _View) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of pipes joining the same two nodes (rows ``a < b``)."""
    pair = np.sort(v.ends, axis=1)
    key = pair[:, 0] * len(v.node_ids) + pair[:, 1]
    rows = np.flatnonzero(v.is_pipe)
    rows = rows[np.argsort(key[rows], kind="stable")]
    first = np.flatnonzero(np.r_[True, key[rows][1:] != key[rows][:-1]])
    size = np.diff(np.r_[first, len(rows)])
    groups = [rows[f:f + k] for f, k in zip(first[size > 1], size[size > 1])]
    pairs = [(a, b) for g in groups for i, a in enumerate(g) for b in g[i + 1:]]
    return (np.array([a for a, _ in pairs], np.int64), np.array([b for _, b in pairs], np.int64))


def _duplicate_pipes(v: _View, tolerance_m: float) -> Iterator[Finding]:
    a, b = _same_end_pairs(v)
    if v.geometry is None:
        length = v.net.links["length_m"].to_numpy(float)
        same = ~(np.abs(length[a] - length[b]) > tolerance_m)  # unknown lengths tell nothing apart
    else:
        ga, gb = v.geometry[a], v.geometry[b]
        shared = shapely.length(shapely.intersection(ga, shapely.buffer(gb, tolerance_m)))
        same = shared > SAME_PATH_SHARE * np.minimum(shapely.length(ga), shapely.length(gb))
    reported = set()
    for x, y in zip(a[same], b[same]):
        reported.add((x, y))
        yield v.finding("duplicate_pipe", "error", (v.link_ids[x], v.link_ids[y]),
                        f"{v.link_ids[x]} and {v.link_ids[y]} join the same two nodes along the same path",
                        v.mid_xy[x])
    if v.geometry is None:
        return
    rows = np.flatnonzero(v.is_pipe)
    shapes = shapely.to_wkb(shapely.normalize(v.geometry[rows]))
    first: dict[bytes, int] = {}
    for row, shape in zip(rows, shapes):
        x = first.setdefault(shape, row)
        if x != row and (x, row) not in reported:
            yield v.finding("duplicate_pipe", "error", (v.link_ids[x], v.link_ids[row]),
                            f"{v.link_ids[x]} and {v.link_ids[row]} have identical geometry", v.mid_xy[x])


def _duplicate_nodes(v: _View, tolerance_m: float) -> Iterator[Finding]:
    """Nodes closer than the tolerance, in a network joined by position (one with geometry: an
    EPANET model's nodes are never snapped and its coordinates are a drawing's)."""
    if v.geometry is None:
        return
    placed = np.flatnonzero(np.isfinite(v.node_xy).all(axis=1))
    pairs = cKDTree(v.node_xy[placed]).query_pairs(tolerance_m, output_type="ndarray")
    pairs = np.sort(placed[pairs], axis=1)
    for a, b in pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]:
        distance_m = float(np.hypot(*(v.node_xy[a] - v.node_xy[b])))
        yield v.finding("duplicate_node", "warning", (v.node_ids[a], v.node_ids[b]),
                        f"{v.node_ids[a]} and {v.node_ids[b]} are {distance_m:.2f} m apart, under the "
                        f"{tolerance_m:g} m tolerance, yet separate nodes", v.node_xy[a])


def _flow(v: _View) -> Iterator[Finding]:
    """Uphill pipes, nodes with no outlet and pipes of unknown flow, in a gravity network."""
    if not v.gravity:
        return
    links = v.net.links
    flow = links["flow"].to_numpy()
    start_m, end_m = links["invert_start_m"].to_numpy(float), links["invert_end_m"].to_numpy(float)
    up_m, down_m = np.where(flow > 0, start_m, end_m), np.where(flow > 0, end_m, start_m)
    for row in np.flatnonzero((flow != 0) & (down_m > up_m)):
        yield v.finding("uphill", "error", (v.link_ids[row],),
                        f"{v.link_ids[row]} runs uphill: its invert is {down_m[row]:.3f} m downstream, "
                        f"{up_m[row]:.3f} m upstream", v.mid_xy[row])
    known = flow != 0
    n = len(v.node_ids)
    into = np.bincount(np.where(flow > 0, v.ends[:, 1], v.ends[:, 0])[known], minlength=n)
    out_of = np.bincount(np.where(flow > 0, v.ends[:, 0], v.ends[:, 1])[known], minlength=n)
    either = np.bincount(v.ends[~known].ravel(), minlength=n)
    outfall = np.isin(v.node_kind, list(OUTFALL_KINDS))
    for node in np.flatnonzero((into > 0) & (out_of == 0) & (either == 0) & ~outfall):
        pipes = _counted(int(into[node]), "pipe")
        yield v.finding("no_outlet", "error", (v.node_ids[node],), f"{v.node_ids[node]} ({v.node_kind[node]}): "
                        f"flow comes in by {pipes}, leaves by none, and it is no outfall", v.node_xy[node])
    for row in np.flatnonzero(~known):
        cause = ("its inverts are missing" if np.isnan(start_m[row]) or np.isnan(end_m[row])
                 else f"it is flat (both inverts {start_m[row]:.3f} m)")
        yield v.finding("unknown_flow", "warning", (v.link_ids[row],),
                        f"{v.link_ids[row]}: flow direction unknown: {cause} and no flow_direction", v.mid_xy[row])


def _missing(v: _View) -> Iterator[Finding]:
    """Pipes without the attributes the analyses and the 3D view need."""
    links = v.net.links

    def absent(column: str) -> np.ndarray:
        return links[column].isna().to_numpy() if column in links else np.ones(len(links), bool)

    material = links["material"]
    lacking = {"diameter_mm": absent("diameter_mm"),
               "material": (material.isna() | (material.astype(str).str.strip() == "")).to_numpy()}
    if v.gravity:
        lacking |= {"invert_start_m": absent("invert_start_m"), "invert_end_m": absent("invert_end_m")}
    else:
        lacking["depth_m or inverts"] = absent("depth_m") & (absent("invert_start_m") | absent("invert_end_m"))
    pipes = int(v.is_pipe.sum())
    for label, rows in list(lacking.items()):
        if pipes and rows[v.is_pipe].all():
            del lacking[label]
            yield v.finding("missing_attribute", "warning", (), f"none of its {_counted(pipes, 'pipe')} has "
                            f"{label}", None)
    if not lacking:
        return
    labels = np.array(list(lacking))
    table = np.column_stack(list(lacking.values())) & v.is_pipe[:, None]
    for row in np.flatnonzero(table.any(axis=1)):
        yield v.finding("missing_attribute", "warning", (v.link_ids[row],),
                        f"{v.link_ids[row]}: no {', '.join(labels[table[row]])}", v.mid_xy[row])


def _notes(notes: list[str], nets: dict[str, PipeNetwork], every: bool) -> Iterator[Finding]:
    """Join notes, each under the network of the pipe it names (``every``: also those naming none)."""
    for note in notes:
        pipe = note.split(": ", 1)[0]
        net = next((n for n in nets.values() if pipe in n.links.index), None)
        if net is None:
            if every:
                yield _finding("", "join", "warning", (), note, None)
            continue
        node = int(net.links.at[pipe, "end" if ": end_node " in note else "start"])
        yield _finding(net.name, "join", "warning", (pipe,), note, net.nodes[["x_m", "y_m"]].to_numpy(float)[node])
