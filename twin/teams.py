"""Emergency response teams (``[[teams]]`` in ``scene.toml``): who the park can send to an incident,
from where, and how soon they get there::

    [[teams]]
    key = "fire-station"
    name = "微型消防站"
    name_en = "Micro fire station"
    kind = "fire"                     # fire | security | medical | engineering
    base = "ifc:B01:2TSp6yXkX04AvWjCrDKsB0"  # the node where it waits (a device by its code too)
    members = 6
    phone = "021-5088 0119"
    turnout_s = 60                    # from the call to leaving the base
    speed_m_s = 2.0                   # on foot, in gear

A team's route to an incident's place: from a base indoors, its own walk to the building's exits
(or straight through the doors when the incident is in the same building); outdoors along the park's
walkways (:class:`~twin.evacuation.outdoor.Walkways`) to the incident building's exit that makes the
whole walk shortest; then indoors to the place. Its ETA is ``turnout_s + length_m / speed_m_s``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from twin.evacuation.graph import EvacuationGraph
from twin.evacuation.outdoor import Walkways
from twin.evacuation.routes import Routes
from twin.park import Node, Park

if TYPE_CHECKING:
    from twin.scene import _Reader

TEAM_KINDS = ("fire", "security", "medical", "engineering")
TURNOUT_S = 60.0  #: from the call to leaving the base, unless the scene says
SPEED_M_S = 2.0  #: responders in gear, on foot, unless the scene says
_TEAM_KEYS = {"key", "name", "name_en", "kind", "base", "members", "phone", "turnout_s", "speed_m_s"}


@dataclass(frozen=True)
class TeamSpec:
    key: str
    name: str
    kind: str  # one of TEAM_KINDS
    base: str  # the node it waits at: an id, or a device's bare code
    name_en: str = ""
    members: int = 1
    phone: str = ""
    turnout_s: float = TURNOUT_S
    speed_m_s: float = SPEED_M_S

    @property
    def label(self) -> str:
        """Its name and strength: ``"微型消防站 (6)"``."""
        return f"{self.name} ({self.members})"


def read_teams(r: _Reader, data: dict[str, Any]) -> tuple[TeamSpec, ...]:
    """The ``[[teams]]`` of a scene file; every problem goes to ``r`` naming its field."""
    return r.keyed(data, "teams", _team)


def _team(r: _Reader, where: str, t: dict) -> TeamSpec | None:
    r.unknown(t, _TEAM_KEYS, where)
    key, name = r.text(t, "key", where, required=True), r.text(t, "name", where, required=True)
    kind, base = r.text(t, "kind", where, required=True), r.text(t, "base", where, required=True)
    if kind is not None and kind not in TEAM_KINDS:
        r.problem(f"{where}kind", f"unknown kind {kind!r} (known: {', '.join(TEAM_KINDS)})")
        kind = None
    members = t.get("members", 1)
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        r.problem(f"{where}members", f"must be a whole number ≥ 1, not {members!r}")
        members = None
    turnout_s, speed_m_s = r.number(t, "turnout_s", where, TURNOUT_S), r.number(t, "speed_m_s", where, SPEED_M_S)
    if turnout_s is not None and turnout_s < 0:
        r.problem(f"{where}turnout_s", f"must be ≥ 0, not {turnout_s}")
        turnout_s = None
    if speed_m_s is not None and speed_m_s <= 0:
        r.problem(f"{where}speed_m_s", f"must be > 0, not {speed_m_s}")
        speed_m_s = None
    name_en, phone = r.text(t, "name_en", where), r.text(t, "phone", where)
    if None in (key, name, kind, base, members, turnout_s, speed_m_s):
        return None
    return TeamSpec(key, name, kind, base, name_en or "", members, phone or "", turnout_s, speed_m_s)


def base_node(park: Park, team: TeamSpec) -> Node | None:
    """The node a team waits at (a device also by its bare code), or None."""
    return park.nodes.get(team.base) or park.nodes.get(f"dev:{team.base}")


def team_problems(teams: Sequence[TeamSpec], park: Park, file: Path) -> list[str]:
    """Bases the built park does not have, or cannot place; one line each naming the file and field."""
    problems = []
    for i, team in enumerate(teams):
        node = base_node(park, team)
        if node is None:
            problems.append(f"{file}: teams[{i}].base: no node {team.base!r} in the park")
        elif node.centre_m is None:
            problems.append(f"{file}: teams[{i}].base: {node.id} has no position in the park")
    return problems


def place_of(park: Park, graph: EvacuationGraph, node_id: str) -> int | None:
    """The place of the evacuation graph a node lies in (a device by its code too): the node itself, or
    the space or host it links to, or theirs; None when outside every modelled building."""
    node = park.nodes.get(node_id) or park.nodes.get(f"dev:{node_id}")
    while node is not None and node.id not in graph.place_index:
        up = node.links.get("space") or node.links.get("host")
        node = park.nodes.get(up) if up else None
    return graph.place_index[node.id] if node is not None else None


class Indoors:
    """Walks inside the modelled buildings, through doors and up and down stairs: one graph of the
    openings, each two of a place's openings joined by the walk between them (:class:`Routes`)."""

    def __init__(self, graph: EvacuationGraph):
        self.graph = graph
        pairs: dict[tuple[int, int], float] = {}
        for (_, a, b), m in Routes(graph).pair_m.items():
            pairs[a, b] = min(m, pairs.get((a, b), math.inf))
        n = len(graph.openings)
        rows, cols = zip(*pairs) if pairs else ((), ())
        self.matrix = csr_matrix((list(pairs.values()), (rows, cols)), shape=(n, n))

    def walks_m(self, place: int, xy_m: ArrayLike) -> np.ndarray:
        """Per opening, the shortest walk to it from point ``xy_m`` in ``place`` (inf where none leads)."""
        own = self.graph.places[place].openings
        if not own:
            return np.full(len(self.graph.openings), np.inf)
        start_m = np.array([self.graph.walk_m(place, np.asarray(xy_m), o) for o in own])
        return np.min(start_m[:, None] + dijkstra(self.matrix, indices=own), axis=0)


@dataclass(frozen=True)
class TeamEta:
    team: TeamSpec
    length_m: float  # the route from its base to the incident's place
    eta_s: float  # turnout + route ÷ speed


def team_etas(park: Park, graph: EvacuationGraph, teams: Sequence[TeamSpec], origin: int,
              indoors: Indoors | None = None) -> list[TeamEta]:
    """Every team that can reach place ``origin`` (from the middle of its floor), soonest first."""
    if not teams:
        return []
    indoors = indoors or Indoors(graph)
    middle = np.asarray(graph.places[origin].footprint.centroid.coords[0][:2])
    inside = indoors.walks_m(origin, middle)
    paths = Walkways(park.walkways)
    etas = []
    for team in teams:
        length_m = _route_m(park, graph, indoors, paths, team, (origin, middle, inside))
        if math.isfinite(length_m):
            etas.append(TeamEta(team, length_m, team.turnout_s + length_m / team.speed_m_s))
    return sorted(etas, key=lambda e: e.eta_s)


def team_eta(park: Park, graph: EvacuationGraph, team: TeamSpec, origin: int) -> TeamEta | None:
    """One team's route and ETA to place ``origin``; None when no route leads there."""
    return next(iter(team_etas(park, graph, [team], origin)), None)


def _route_m(park: Park, graph: EvacuationGraph, indoors: Indoors, paths: Walkways, team: TeamSpec,
             incident: tuple[int, np.ndarray, np.ndarray]) -> float:
    """The shortest route from a team's base to the incident ``(place, middle, walks from the middle to
    every opening)``: straight through the doors, or out of the base's building and along the walkways."""
    origin, middle, inside = incident
    node = base_node(park, team)
    if node is None:
        raise KeyError(f"team {team.key}: no node {team.base!r} in park {park.name!r}")
    xy = node.centre_m[:2]
    place = place_of(park, graph, node.id)
    direct_m = math.inf
    if place is None:
        starts, start_m = xy[None], np.zeros(1)
    else:
        own = indoors.walks_m(place, xy)
        ways_out = [e for e in graph.exits if math.isfinite(own[e])]
        starts, start_m = np.array([graph.openings[e].point_m[:2] for e in ways_out]).reshape(-1, 2), own[ways_out]
        direct_m = float(np.hypot(*(middle - xy))) if place == origin else min(
            (inside[o] + graph.walk_m(place, xy, o) for o in graph.places[place].openings), default=math.inf)
    ways_in = [e for e in graph.exits if math.isfinite(inside[e])]
    if not len(starts) or not ways_in:
        return direct_m
    reach = paths.reach(starts, start_m)
    return min(direct_m, *(reach.walk(graph.openings[e].point_m[:2])[1] + inside[e] for e in ways_in))
