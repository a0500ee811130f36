"""From the exits to the assembly points: the shortest walk along the park's roads and paths.

The walkways are the scene's ``roads`` and ``paths`` layers (``park.walkways``: lines; polygons by their outline),
noded where they cross and joined across gaps under 10 m; an exit and an assembly point join the
nearest walkway straight across.
Without walkways, people walk straight to the nearest assembly point.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import shapely
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


def park_outdoors(park: Park, graph: EvacuationGraph) -> Outdoors | None:
    """The ways from a park's exits to its assembly points along its roads and paths, or straight
    across open ground where no building or water is in the way (None: no assembly point)."""
    points = assembly_points(park)
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
    exits = {o: np.asarray(graph.openings[o].point_m[:2], float) for o in graph.exits}
    lines = _lines(walkways)
    if lines.is_empty:
        return Outdoors(points, {o: _straight(xy, points) for o, xy in exits.items()})
    straight = {o: _straight(xy, points, _in_the_way(obstacles, graph.places[graph.openings[o].places[0]].building))
                if obstacles is not None else None for o, xy in exits.items()}
    network, vertices = _network(lines)
    tree = cKDTree(vertices)
    for k, point in enumerate(points):  # the last leg, off the walkway (two points may share a vertex)
        off_m, vertex = tree.query(point.xy_m)
        network.add_edge(("point", k), int(vertex), length=float(off_m))
    distance, path = nx.multi_source_dijkstra(network, [("point", k) for k in range(len(points))], weight="length")
    reachable = np.array([v for v in distance if not isinstance(v, tuple)])  # walkway pieces joined to a point
    near = cKDTree(vertices[reachable])
    way = {}
    for o, xy in exits.items():
        start_m, nearest = near.query(xy)
        vertex = int(reachable[nearest])
        steps = [v for v in reversed(path[vertex]) if not isinstance(v, tuple)]
        k = path[vertex][0][1]
        polyline = np.vstack([xy, vertices[steps], points[k].xy_m])
        along = (k, float(start_m + distance[vertex]), polyline)
        way[o] = min((w for w in (along, straight[o]) if w is not None), key=lambda w: w[1])
    return Outdoors(points, way)


def _in_the_way(obstacles: dict[str | None, list[shapely.Geometry]], own: str | None) -> list[shapely.Geometry]:
    """Every obstacle; the exit's own building only by its inside, so a way may skirt its walls."""
    return [g.buffer(-OWN_WALL_M) if building == own else g.buffer(WALL_M)
            for building, shapes in obstacles.items() for g in shapes]


def _straight(xy: np.ndarray, points: list[AssemblyPoint],
              obstacles: list[shapely.Geometry] | None = None) -> tuple[int, float, np.ndarray] | None:
    """The nearest point straight across; with ``obstacles``, only one nothing stands in the way of."""
    best = None
    for k, p in enumerate(points):
        target = np.asarray(p.xy_m)
        length = float(np.hypot(*(target - xy)))
        if obstacles is not None:
            leg = shapely.LineString([xy, target])
            if any(leg.intersects(o) for o in obstacles):
                continue
        if best is None or length < best[1]:
            best = (k, length, np.vstack([xy, target]))
    return best


def _lines(walkways) -> shapely.Geometry:
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
