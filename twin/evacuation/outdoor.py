"""From the exits to the assembly points: the shortest walk along the park's roads and paths.

The walkways are the scene's ``roads`` and ``paths`` layers (``park.walkways``: lines; polygons by their outline),
noded where they cross and joined across gaps under 10 m; an exit and an assembly point join the
nearest walkway straight across.
Without walkways, people walk straight to the nearest assembly point. The same walkways give any
walk between two outdoor points (:class:`Walkways`: a response team's way to an incident).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx
import numpy as np
import shapely
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from twin.evacuation.graph import EvacuationGraph
from twin.park import Park

STEP_M = 5.0  #: walkways are walked in steps of at most this
GAP_M = 10.0  #: walkways closer than this are joined (people step across)
WALL_M = 0.5  #: obstacles' outlines grow by this (walls outside a building's spaces)
OWN_WALL_M = 1.0  #: the exit's own building shrinks by this: a way out may run along its façade


@dataclass(frozen=True)
class AssemblyPoint:
    id: str
    name: str
    xy_m: tuple[float, float]
    capacity: int | None  # persons, when the scene says


@dataclass
class Outdoors:
    """Per exit (opening index): the assembly point it leads to, the walk, and the way as a polyline."""

    points: list[AssemblyPoint]
    way: dict[int, tuple[int, float, np.ndarray]]  # exit → (point index, walk_m, (k, 2) polyline)


def assembly_points(park: Park) -> list[AssemblyPoint]:
    """The park's assembly points (``assembly_points`` layer), with their capacity where given."""
    out = []
    for node in park.of_kind("assembly_point"):
        if node.centre_m is None:
            continue
        capacity = next((v.get("capacity") for v in node.properties.values() if "capacity" in v), None)
        out.append(AssemblyPoint(node.id, node.name, tuple(node.centre_m[:2]),
                                 int(capacity) if isinstance(capacity, (int, float)) else None))
    return out


def park_outdoors(park: Park, graph: EvacuationGraph, avoid: shapely.Geometry | None = None) -> Outdoors | None:
    """The ways from a park's exits to its assembly points along its roads and paths, or straight
    across open ground where no building or water is in the way (None: no assembly point). Assembly
    points inside ``avoid`` (a gas plume's area) are left out, unless every one is inside it."""
    points = assembly_points(park)
    if avoid is not None and not avoid.is_empty:
        points = [p for p in points if not avoid.contains(shapely.Point(p.xy_m))] or points
    return outdoors(graph, points, park.walkways, obstacles(park, graph)) if points else None


def obstacles(park: Park, graph: EvacuationGraph) -> dict[str | None, list[shapely.Geometry]]:
    """What nobody walks through outdoors, by the building it is (None: other buildings' blocks and
    water): an IFC building by its spaces' outline, anything else by its box."""
    modelled = sorted({p.building for p in graph.places if p.kind == "space"}, key=str)
    out: dict[str | None, list[shapely.Geometry]] = {
        b: [shapely.union_all([p.footprint for p in graph.places if p.kind == "space" and p.building == b])]
        for b in modelled}
    out[None] = [shapely.box(*n.bounds_m[:2], *n.bounds_m[3:5]) for n in park if n.bounds_m is not None
                 and (n.kind == "water" or (n.kind == "building" and n.id not in out))]
    return out


def outdoors(graph: EvacuationGraph, points: list[AssemblyPoint], walkways: list[shapely.Geometry] = (),
             obstacles: dict[str | None, list[shapely.Geometry]] | None = None) -> Outdoors:
    """The way from every exit to its nearest assembly point by walking distance: along the walkways,
    or straight where none of the ``obstacles`` (when known) is in the way; with no walkways, straight."""
    if not points:
        return Outdoors([], {})
    paths = Walkways(walkways)
    targets = np.array([p.xy_m for p in points], float)
    reach = paths.reach(targets)
    way = {}
    for o in graph.exits:
        xy = np.asarray(graph.openings[o].point_m[:2], float)
        building = graph.places[graph.openings[o].places[0]].building
        straight = (_straight(xy, targets, obstacles=_in_the_way(obstacles, building))
                    if paths and obstacles is not None else None)
        way[o] = min((w for w in (reach.walk(xy), straight) if w is not None), key=lambda w: w[1])
    return Outdoors(points, way)


class Walkways:
    """The park's roads and paths as one graph (see :func:`_network`), for the shortest walk between
    outdoor points; without any walkway every walk is straight.

    >>> Walkways(park.walkways).walk_m((0.0, 0.0), (120.0, 40.0))  # doctest: +SKIP
    """

    def __init__(self, walkways: Iterable[shapely.Geometry] = ()):
        lines = _lines(walkways)
        self.network, self.vertices = _network(lines) if not lines.is_empty else (nx.Graph(), np.zeros((0, 2)))

    def __bool__(self) -> bool:
        return len(self.vertices) > 0

    def walk_m(self, a_xy_m: ArrayLike, b_xy_m: ArrayLike) -> float:
        """The walking distance between two outdoor points."""
        return self.reach(np.reshape(a_xy_m, (1, 2))).walk(b_xy_m)[1]

    def reach(self, starts_xy_m: np.ndarray, start_m: ArrayLike | None = None) -> Reach:
        """The shortest walks from ``starts_xy_m`` (``(k, 2)``, k ≥ 1; each ``start_m`` already walked) to
        anywhere: each start steps straight onto its nearest walkway vertex."""
        starts = np.asarray(starts_xy_m, float).reshape(-1, 2)
        start_m = np.zeros(len(starts)) if start_m is None else np.asarray(start_m, float)
        if not self:
            return Reach(starts, start_m, self.vertices, {}, {})
        network = self.network.copy()
        for k, (off_m, vertex) in enumerate(zip(*cKDTree(self.vertices).query(starts))):
            network.add_edge(("start", k), int(vertex), length=float(off_m + start_m[k]))
        distance, path = nx.multi_source_dijkstra(network, [("start", k) for k in range(len(starts))],
                                                  weight="length")
        return Reach(starts, start_m, self.vertices, distance, path)


@dataclass
class Reach:
    """Shortest walks from a few starts along the walkways (:meth:`Walkways.reach`)."""

    starts: np.ndarray  # (k, 2)
    start_m: np.ndarray  # (k,) walked before each start
    vertices: np.ndarray  # the walkways' vertices
    distance: dict  # vertex → walk from the nearest start, start_m included
    path: dict  # vertex → [("start", k), vertex, …, vertex]

    def __post_init__(self) -> None:
        self.reachable = np.array([v for v in self.distance if not isinstance(v, tuple)], int)
        self.tree = cKDTree(self.vertices[self.reachable]) if len(self.reachable) else None

    def walk(self, xy_m: ArrayLike) -> tuple[int, float, np.ndarray]:
        """From ``xy_m`` to the start nearest by walk (straight onto the nearest walkway vertex that leads
        to one, then along): that start's index, the walk in metres (its ``start_m`` included) and the way
        as a polyline from ``xy_m`` to the start. Straight without walkways."""
        xy = np.asarray(xy_m, float)
        if self.tree is None:
            return _straight(xy, self.starts, self.start_m)
        off_m, nearest = self.tree.query(xy)
        vertex = int(self.reachable[nearest])
        steps = [v for v in reversed(self.path[vertex]) if not isinstance(v, tuple)]
        k = self.path[vertex][0][1]
        return k, float(off_m + self.distance[vertex]), np.vstack([xy, self.vertices[steps], self.starts[k]])


def _in_the_way(obstacles: dict[str | None, list[shapely.Geometry]], own: str | None) -> list[shapely.Geometry]:
    """Every obstacle; the exit's own building only by its inside, so a way may skirt its walls."""
    return [g.buffer(-OWN_WALL_M) if building == own else g.buffer(WALL_M)
            for building, shapes in obstacles.items() for g in shapes]


def _straight(xy: np.ndarray, targets: np.ndarray, start_m: np.ndarray | None = None,
              obstacles: list[shapely.Geometry] | None = None) -> tuple[int, float, np.ndarray] | None:
    """The nearest target straight across (each ``start_m`` added); with ``obstacles``, only one nothing
    stands in the way of."""
    best = None
    for k, target in enumerate(targets):
        length = float(np.hypot(*(target - xy))) + (0.0 if start_m is None else float(start_m[k]))
        if obstacles is not None:
            leg = shapely.LineString([xy, target])
            if any(leg.intersects(o) for o in obstacles):
                continue
        if best is None or length < best[1]:
            best = (k, length, np.vstack([xy, target]))
    return best


def _lines(walkways: Iterable[shapely.Geometry]) -> shapely.Geometry:
    """All walkways as lines, noded where they cross."""
    parts = []
    for geometry in walkways:
        for part in shapely.get_parts(geometry):
            parts.append(part.exterior if part.geom_type == "Polygon" else part)
    return shapely.node(shapely.MultiLineString([p for p in parts if p.geom_type in ("LineString", "LinearRing")])) \
        if parts else shapely.MultiLineString()


def _network(lines: shapely.Geometry) -> tuple[nx.Graph, np.ndarray]:
    """A graph of the walkways' vertices (every ``STEP_M`` at most), joined where they coincide or lie
    within ``GAP_M`` of each other."""
    segmented = shapely.segmentize(lines, STEP_M)
    coords = [np.asarray(part.coords)[:, :2] for part in shapely.get_parts(segmented)]
    keys: dict[tuple[int, int], int] = {}
    vertices: list[np.ndarray] = []
    network = nx.Graph()
    for line in coords:
        ids = []
        for xy in line:
            key = (int(round(xy[0] * 100)), int(round(xy[1] * 100)))  # to the centimetre
            if key not in keys:
                keys[key] = len(vertices)
                vertices.append(xy)
            ids.append(keys[key])
        for a, b in zip(ids, ids[1:]):
            if a != b:
                network.add_edge(a, b, length=float(np.hypot(*(vertices[a] - vertices[b]))))
    points = np.array(vertices).reshape(-1, 2)
    for a, b in cKDTree(points).query_pairs(GAP_M):  # across a kerb, a verge, a path ending short of the road
        network.add_edge(int(a), int(b), length=float(np.hypot(*(points[a] - points[b]))))
    return network, points


@dataclass
class AssemblyUse:
    id: str
    name: str
    count: int
    last_in_s: float | None
    capacity: int | None

    @property
    def over_capacity(self) -> bool:
        return self.capacity is not None and self.count > self.capacity


def walk_to_assembly(graph: EvacuationGraph, passes: list[tuple[float, int, int, int]], speeds_m_s: np.ndarray,
                     tracks: list[list[tuple[float, float, float, float]]],
                     ways: Outdoors) -> tuple[np.ndarray, list[AssemblyUse]]:
    """Everyone out walks on at their own pace to their exit's assembly point; their tracks get the way.

    Returns when each person arrives (NaN: never out) and the use of each assembly point."""
    arrived = np.full(len(tracks), np.nan)
    counts, last = np.zeros(len(ways.points), int), np.full(len(ways.points), np.nan)
    for t_s, opening, person, _ in passes:
        if opening not in ways.way:
            continue
        k, _, polyline = ways.way[opening]
        legs = np.r_[0.0, np.cumsum(np.hypot(*np.diff(polyline, axis=0).T))]
        z = graph.openings[opening].point_m[2]
        times = t_s + legs / max(float(speeds_m_s[person]), 0.1)
        tracks[person].extend((float(t), float(x), float(y), float(z)) for t, (x, y) in zip(times[1:], polyline[1:]))
        arrived[person] = times[-1]
        counts[k] += 1
        last[k] = np.fmax(last[k], times[-1])
    uses = [AssemblyUse(p.id, p.name, int(c), None if np.isnan(t) else float(t), p.capacity)
            for p, c, t in zip(ways.points, counts, last)]
    return arrived, uses
