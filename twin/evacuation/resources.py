"""What a commander can use near an incident: exits by walking distance, assembly points, cameras
that see the spot, hydrants and fire equipment, nearest first."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.evacuation.graph import EvacuationGraph
from twin.evacuation.outdoor import Outdoors
from twin.evacuation.routes import Routes
from twin.park import Node, Park

PER_KIND = 3  #: how many of each kind
FIRE_EQUIPMENT = ("hydrant", "fire_hydrant", "extinguisher", "fire_extinguisher", "fire_hose_reel")


@dataclass(frozen=True)
class Resource:
    kind: str  # "exit" | "assembly_point" | "camera" | "hydrant" | a fire equipment device type
    id: str
    name: str
    distance_m: float  # walking distance for exits and assembly points, straight otherwise


def resources(park: Park, graph: EvacuationGraph, origin: int, ways: Outdoors | None = None,
              per_kind: int = PER_KIND) -> list[Resource]:
    """The resources around place ``origin``, ``per_kind`` of each kind, nearest first."""
    from live.state import device_type
    from twin.cameras import cameras_seeing

    place = graph.places[origin]
    centre = np.array([*place.footprint.centroid.coords[0], place.floor_m + 1.5])
    exits = _exits(graph, origin, centre)[:per_kind]
    found = [Resource("exit", graph.openings[o].id, graph.openings[o].name, d) for o, d in exits]
    if ways is not None and ways.points:
        meeting = sorted({(d + ways.way[o][1], ways.way[o][0]) for o, d in exits if o in ways.way})
        found += [Resource("assembly_point", ways.points[k].id, ways.points[k].name, d) for d, k in meeting]
    seen = cameras_seeing(park, centre)
    cameras = [(s.distance_m, park.nodes[s.camera_id]) for s in seen] or _nearest(
        park, centre, lambda n: n.kind == "device" and device_type(n) == "camera")
    found += [Resource("camera", n.id, n.name, d) for d, n in cameras[:per_kind]]
    hydrants = _nearest(park, centre, lambda n: n.kind == "network_node" and _attribute(n, "node_type") == "hydrant",
                        in_plan=True)
    found += [Resource("hydrant", n.id, n.name, d) for d, n in hydrants[:per_kind]]
    for kind in FIRE_EQUIPMENT:
        near = _nearest(park, centre, lambda n: n.kind == "device" and device_type(n) == kind)
        found += [Resource(kind, n.id, n.name, d) for d, n in near[:per_kind]]
    return found


def _exits(graph: EvacuationGraph, origin: int, centre: np.ndarray) -> list[tuple[int, float]]:
    """Every exit by walking distance from a place's middle (unreachable ones left out)."""
    routes = Routes(graph)
    out = []
    for exit_ in graph.exits:
        dist = routes.distances(frozenset({exit_}), frozenset())
        best = min((graph.walk_m(origin, centre, o) + dist[routes.entering(o, graph.openings[o].other(origin))]
                    for o in routes.usable[origin]), default=np.inf)
        if np.isfinite(best):
            out.append((exit_, float(best)))
    return sorted(out, key=lambda pair: pair[1])


def _nearest(park: Park, centre: np.ndarray, wanted, in_plan: bool = False) -> list[tuple[float, Node]]:
    """Nodes ``wanted`` by distance, in 3D (a camera two floors down is not near), or in plan (hydrants)."""
    axes = slice(0, 2) if in_plan else slice(0, 3)
    nodes = [n for n in park if n.centre_m is not None and wanted(n)]
    return sorted(((float(np.linalg.norm(n.centre_m[axes] - centre[axes])), n) for n in nodes), key=lambda p: p[0])


def _attribute(node: Node, name: str):
    return next((values[name] for values in node.properties.values() if name in values), None)
