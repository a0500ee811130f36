"""What a commander can use near an incident: exits by walking distance, assembly points, cameras
that see the spot, hydrants and fire equipment, nearest first; the response teams, soonest there first."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twin.evacuation.graph import EvacuationGraph
from twin.evacuation.outdoor import Outdoors
from twin.park import Node, Park
from twin.teams import TEAM_KINDS, Indoors, TeamSpec, team_etas

PER_KIND = 3  #: how many of each kind
FIRE_EQUIPMENT = ("hydrant", "fire_hydrant", "extinguisher", "fire_extinguisher", "fire_hose_reel")


@dataclass(frozen=True)
class Resource:
    kind: str  # "exit" | "assembly_point" | "camera" | "hydrant" | a fire equipment device type | "team"
    id: str  # a node id; a team's key
    name: str  # a team's: its name and members, "微型消防站 (6)"
    distance_m: float  # walking distance for exits, assembly points and teams, straight otherwise
    eta_s: float | None = None  # a team's: when it can be there, from the call


def resources(park: Park, graph: EvacuationGraph, origin: int, ways: Outdoors | None = None,
              teams: Sequence[TeamSpec] = (), per_kind: int = PER_KIND) -> list[Resource]:
    """The resources around place ``origin``, ``per_kind`` of each kind, nearest first (teams: ``per_kind``
    of each team kind, soonest there first)."""
    from live.state import device_type
    from twin.cameras import cameras_seeing

    place = graph.places[origin]
    centre = np.array([*place.footprint.centroid.coords[0], place.floor_m + 1.5])
    indoors = Indoors(graph)
    exits = _exits(indoors, origin, centre)[:per_kind]
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
    etas = team_etas(park, graph, teams, origin, indoors)
    return found + [Resource("team", e.team.key, e.team.label, e.length_m, e.eta_s)
                    for kind in TEAM_KINDS for e in [x for x in etas if x.team.kind == kind][:per_kind]]


def _exits(indoors: Indoors, origin: int, centre: np.ndarray) -> list[tuple[int, float]]:
    """Every exit by walking distance from a place's middle (unreachable ones left out)."""
    walks_m = indoors.walks_m(origin, centre)
    return sorted(((e, float(walks_m[e])) for e in indoors.graph.exits if np.isfinite(walks_m[e])),
                  key=lambda pair: pair[1])


def _nearest(park: Park, centre: np.ndarray, wanted, in_plan: bool = False) -> list[tuple[float, Node]]:
    """Nodes ``wanted`` by distance, in 3D (a camera two floors down is not near), or in plan (hydrants)."""
    axes = slice(0, 2) if in_plan else slice(0, 3)
    nodes = [n for n in park if n.centre_m is not None and wanted(n)]
    return sorted(((float(np.linalg.norm(n.centre_m[axes] - centre[axes])), n) for n in nodes), key=lambda p: p[0])


def _attribute(node: Node, name: str):
    return next((values[name] for values in node.properties.values() if name in values), None)
