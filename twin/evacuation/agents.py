"""The agent model: every person walks the floor plan in JuPedSim's collision-free speed model and
picks the next opening on the evacuation graph exactly as the flow model does (:class:`Routes`).

The walkable plan of a storey is the union of its spaces' footprints and, per door or exit, a
rectangle bridging the wall gap. JuPedSim needs one simple polygon per simulation, so each connected
piece of walkable plan (a storey, or an isolated part of one) is its own ``Simulation``, all stepped
in lockstep in the park frame. Stairs are not drawn: a person reaching a stair end leaves the plan,
spends the stair's travel time at the SFPE stair speed and comes back at its other end, no faster
than the stair's flow capacity and only once the spot is free. Exits remove the person.

The collision-free speed model can jam for good at narrow doors (neighbours block each other's way
symmetrically): a person who has not moved for a second walks slimmer until they move again. A run
ends at ``max_s``, or when nobody has passed an opening for ``stall_s``; whoever is left is stranded.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import jupedsim as jps
import numpy as np
import shapely
from shapely.ops import nearest_points

from twin.evacuation import sfpe
from twin.evacuation.flow import ExitPlan
from twin.evacuation.graph import EvacuationGraph, Opening
from twin.evacuation.occupants import Occupants
from twin.evacuation.result import RunLog
from twin.evacuation.routes import Routes

RADIUS_M = 0.2
TIME_GAP_S = 2.5  #: with it a 1 m door passes at most about 1.3 p/s (IMO MSC.1/Circ.1533 test 4)
MIN_RADIUS_M = 0.15
SHRINK_M_PER_S = 0.03  #: how much slimmer a stuck person gets per second stuck
STUCK_M = 0.1  #: moving less than this in a second counts as stuck
BRIDGE_M = 0.5  #: a door's walkable bridge reaches this far either side of its point
EXIT_DEPTH_M = 1.0  #: an exit's chute reaches this far outside; its outer half removes people
WAYPOINT_M = 1.0  #: how far past a door a person aims
PORTAL_M = 0.4  #: half size of the square at a stair end that takes people off the plan


@dataclass
class _Floor:
    """One JuPedSim simulation over one connected piece of walkable plan."""

    sim: jps.Simulation
    area: shapely.Geometry  # walkable plan, prepared
    inner: shapely.Geometry  # where an agent's centre may stand
    stages: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # (opening, into) → journey, stage
    person: dict[int, int] = field(default_factory=dict)  # agent id → person
    last_xy: dict[int, tuple[float, float]] = field(default_factory=dict)  # agent id → position a second ago
    stuck_s: dict[int, int] = field(default_factory=dict)  # agent id → seconds without moving


def run_agents(graph: EvacuationGraph, occupants: Occupants, plan: ExitPlan | None = None,
               progress: Callable[[float], None] | None = None, dt_s: float = 0.05, sample_s: float = 1.0,
               max_s: float = 7200.0, stall_s: float = 300.0) -> RunLog:
    """Simulate everyone's way out agent by agent; ``progress(share out)`` is called every sample."""
    return _Run(graph, occupants, plan or ExitPlan(), progress, dt_s, sample_s).run(max_s, stall_s)


def opening_frame(graph: EvacuationGraph, o: int) -> tuple[np.ndarray, np.ndarray]:
    """An opening's unit tangent and unit normal, the normal pointing out of its first space."""
    opening = graph.openings[o]
    space = next(graph.places[p] for p in opening.places if graph.places[p].kind == "space")
    boundary = space.footprint.boundary
    point = shapely.Point(opening.point_m[:2])
    at = boundary.project(point)
    a, b = (np.asarray(boundary.interpolate(at + d).coords[0]) for d in (-0.05, 0.05))
    tangent = _unit(b - a)
    normal = np.array([-tangent[1], tangent[0]])
    if space.footprint.contains(shapely.Point(opening.point_m[:2] + 0.1 * normal)):
        normal = -normal
    return tangent, normal


def bridge(opening: Opening, tangent: np.ndarray, normal: np.ndarray, back_m: float,
           ahead_m: float) -> shapely.Polygon:
    """The rectangle of an opening's clear width from ``back_m`` behind to ``ahead_m`` ahead of its point."""
    c, half = opening.point_m[:2], tangent * opening.width_m / 2
    return shapely.Polygon([c - half - back_m * normal, c + half - back_m * normal,
                            c + half + ahead_m * normal, c - half + ahead_m * normal])


def walkable_plan(graph: EvacuationGraph, closed: frozenset[int] = frozenset()) -> list[shapely.Polygon]:
    """Connected pieces of walkable plan: spaces per storey joined by their open doors' and exits' bridges."""
    by_storey: dict[object, list[shapely.Geometry]] = {}
    for place in graph.places:
        if place.kind == "space":
            by_storey.setdefault(_storey(place), []).append(place.footprint)
    for o, opening in enumerate(graph.openings):
        spaces = [graph.places[p] for p in opening.places if graph.places[p].kind == "space"]
        if o in closed:
            continue
        if opening.kind == "exit" or (opening.kind == "door" and _storey(spaces[0]) == _storey(spaces[-1])):
            tangent, normal = opening_frame(graph, o)
            ahead_m = EXIT_DEPTH_M if opening.kind == "exit" else BRIDGE_M
            by_storey[_storey(spaces[0])].append(bridge(opening, tangent, normal, BRIDGE_M, ahead_m))
    pieces = [shapely.union_all(shapes) for shapes in by_storey.values()]
    return [p for piece in pieces for p in getattr(piece, "geoms", [piece]) if p.area > 0.1]


def _storey(place) -> object:
    return place.storey or (place.building, round(place.floor_m, 1))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.hypot(*v) or 1.0)


class _Run:
    """The state of one run: floors, where everyone is, and the log."""

    def __init__(self, graph: EvacuationGraph, occupants: Occupants, plan: ExitPlan,
                 progress: Callable[[float], None] | None, dt_s: float, sample_s: float):
        self.graph, self.occupants, self.plan, self.progress = graph, occupants, plan, progress
        self.dt_s, self.sample_s = dt_s, sample_s
        self.routes = Routes(graph, plan.closed)
        self.floors = [self._floor(piece) for piece in walkable_plan(graph, plan.closed)]
        for place in graph.places:
            if place.kind == "space":
                shapely.prepare(place.footprint)
        self.floor_of = {p: self._floor_holding(place.footprint) for p, place in enumerate(graph.places)
                         if place.kind == "space"}
        n = len(occupants)
        self.where = occupants.place.tolist()
        self.targets = [plan.targets(graph, p) for p in self.where]
        self.heading: list[int | None] = [None] * n
        self.agent: list[tuple[int, int] | None] = [None] * n  # (floor, agent id)
        self.factor = (occupants.speed_m_s / (0.85 * sfpe.K_LEVEL_M_S)).tolist()
        self.count = np.bincount(occupants.place, minlength=len(graph.places)).tolist()
        self.transit: dict[int, tuple[float, float, np.ndarray, np.ndarray]] = {}  # person → t0, t1, from, to
        self.queue: list[tuple[float, int, int]] = []  # (earliest t, person, opening) waiting to come back
        self.free_at = [0.0] * len(graph.openings)
        self.log = RunLog(tracks=[[] for _ in range(n)], out_s=np.full(n, np.nan))
        self.log.counts = [(0.0, p, c) for p, c in enumerate(self.count) if c]
        self.t_s = self.last_pass_s = 0.0
        self.done = 0

    # --- set-up ---------------------------------------------------------------------------------
    def _floor(self, piece: shapely.Polygon) -> _Floor:
        model = jps.CollisionFreeSpeedModel()
        floor = _Floor(jps.Simulation(model=model, geometry=piece, dt=self.dt_s), piece,
                       piece.buffer(-RADIUS_M - 0.02))
        shapely.prepare(floor.area)
        shapely.prepare(floor.inner)
        return floor

    def _floor_holding(self, footprint: shapely.Geometry) -> int | None:
        point = footprint.representative_point()
        return next((k for k, f in enumerate(self.floors) if f.area.contains(point)), None)

    def _stage(self, f: int, o: int, here: int) -> tuple[int, int]:
        """The journey and stage that lead through opening ``o`` out of place ``here`` on floor ``f``."""
        floor, key = self.floors[f], (o, here)
        if key not in floor.stages:
            opening = self.graph.openings[o]
            tangent, normal = opening_frame(self.graph, o)
            if here != next(p for p in opening.places if self.graph.places[p].kind == "space"):
                normal = -normal
            there = opening.other(here)
            if opening.kind == "door" and self.floor_of.get(there) == f:
                stage = floor.sim.add_waypoint_stage(self._waypoint(floor, opening, normal), 0.3)
            elif opening.kind == "exit":
                stage = floor.sim.add_exit_stage(bridge(opening, tangent, normal, -EXIT_DEPTH_M / 2, EXIT_DEPTH_M))
            else:
                stage = floor.sim.add_exit_stage(self._portal(floor, opening))
            floor.stages[key] = (floor.sim.add_journey(jps.JourneyDescription([stage])), stage)
        return floor.stages[key]

    @staticmethod
    def _waypoint(floor: _Floor, opening: Opening, normal: np.ndarray) -> tuple[float, float]:
        """A point past a door on its far side, as far as ``WAYPOINT_M`` where the plan allows."""
        for ahead_m in (WAYPOINT_M, 0.6, 0.3):
            point = opening.point_m[:2] + ahead_m * normal
            if floor.inner.contains(shapely.Point(point)):
                return tuple(point)
        return _snap(floor, opening.point_m[:2])

    @staticmethod
    def _portal(floor: _Floor, opening: Opening) -> shapely.Polygon:
        """The square around a stair end (or a door to another floor) that takes people off the plan."""
        square = shapely.Point(_snap(floor, opening.point_m[:2])).buffer(PORTAL_M, cap_style="square")
        part = square.intersection(floor.area)
        return max(getattr(part, "geoms", [part]), key=lambda g: g.area)

    # --- the run --------------------------------------------------------------------------------
    def run(self, max_s: float, stall_s: float) -> RunLog:
        starts = sorted((float(t), i) for i, t in enumerate(self.occupants.premovement_s))
        for i in range(len(self.occupants)):
            self._place(i)
        next_sample_s = 0.0
        last_start_s = starts[-1][0] if starts else 0.0
        while self._busy() and self.t_s < max_s:
            if self.t_s - max(self.last_pass_s, last_start_s) > stall_s:
                break
            while starts and starts[0][0] <= self.t_s:
                self._start(starts.pop(0)[1])
            self._step()
            if self.t_s >= next_sample_s:
                self._sample()
                next_sample_s += self.sample_s
        self.log.stranded |= {i for i in range(len(self.occupants)) if not np.isfinite(self.log.out_s[i])}
        if self.progress:
            self.progress(1.0)
        return self.log

    def _busy(self) -> bool:
        return self.done + len(self.log.stranded) < len(self.occupants)

    def _place(self, i: int) -> None:
        """Stand person ``i`` on the plan, not moving yet; stranded if no floor or route holds them."""
        here = self.where[i]
        f = self.floor_of.get(here)
        step = self.routes.next_opening(here, self.occupants.xy_m[i], self.targets[i], frozenset())
        if f is None or step is None:
            self.log.stranded.add(i)
            return
        xy = _free_spot(self.floors[f], self.occupants.xy_m[i])
        self._add(i, f, xy, step, 0.0)

    def _add(self, i: int, f: int, xy: tuple[float, float], step: int, speed_m_s: float) -> None:
        journey, stage = self._stage(f, step, self.where[i])
        floor = self.floors[f]
        agent = floor.sim.add_agent(jps.CollisionFreeSpeedModelAgentParameters(
            position=xy, desired_speed=speed_m_s, radius=RADIUS_M, time_gap=TIME_GAP_S,
            journey_id=journey, stage_id=stage))
        floor.person[agent] = i
        self.agent[i], self.heading[i] = (f, agent), step

    def _start(self, i: int) -> None:
        """Person ``i`` starts to move: picks their route now and walks off."""
        if self.agent[i] is None:
            return
        f, agent = self.agent[i]
        here = self.where[i]
        xy = self.floors[f].sim.agent(agent).position
        self.log.tracks[i].append((self.t_s, *xy, self.graph.places[here].floor_m))
        step = self.routes.next_opening(here, np.asarray(xy), self.targets[i], self.plan.blocked(self.t_s))
        self._steer(i, step)
        self.floors[f].sim.agent(agent).model.desired_speed = float(self.occupants.speed_m_s[i])

    def _steer(self, i: int, step: int) -> None:
        f, agent = self.agent[i]
        if step != self.heading[i]:
            journey, stage = self._stage(f, step, self.where[i])
            self.floors[f].sim.switch_agent_journey(agent, journey, stage)
            self.heading[i] = step

    def _step(self) -> None:
        for floor in self.floors:
            floor.sim.iterate()
        self.t_s += self.dt_s
        for f, floor in enumerate(self.floors):
            for agent in floor.sim.removed_agents():
                if agent in floor.person:
                    self._off_plan(floor.person.pop(agent))
            self._crossings(f)
        self._arrivals()
        self._reenter()

    def _crossings(self, f: int) -> None:
        """Record people who have walked through their door into the next space on this floor."""
        floor = self.floors[f]
        for agent in floor.sim.agents():
            i = floor.person.get(agent.id)  # None: leaving at the next step
            if i is None:
                continue
            o = self.heading[i]
            there = self.graph.openings[o].other(self.where[i])
            x, y = agent.position
            if self.floor_of.get(there) == f and shapely.contains_xy(self.graph.places[there].footprint, x, y):
                step = self._pass(i, o, (x, y))
                if step is None:
                    floor.sim.mark_agent_for_removal(agent.id)
                    floor.person.pop(agent.id)
                else:
                    self._steer(i, step)

    def _off_plan(self, i: int) -> None:
        """Person ``i`` reached an exit, a stair end or a door to another floor and left the plan."""
        self.agent[i] = None
        o = self.heading[i]
        opening = self.graph.openings[o]
        if self.graph.places[opening.other(self.where[i])].kind == "space":
            heapq.heappush(self.queue, (self.t_s, i, o))
            return
        step = self._pass(i, o, opening.point_m[:2])
        if step is not None:
            self._climb(i, o, step)

    def _climb(self, i: int, o: int, step: int) -> None:
        """Person ``i`` takes the stair they entered through ``o`` to its end ``step``."""
        stair = self.graph.places[self.where[i]]
        density = self.count[self.where[i]] / stair.area_m2
        speed = sfpe.speed_m_s(density, stair.k_m_s * self.factor[i])
        t1 = self.t_s + self.graph.walk_m(self.where[i], self.graph.openings[o].point_m, step) / speed
        self.transit[i] = (self.t_s, t1, self.graph.openings[o].point_m, self.graph.openings[step].point_m)
        self.heading[i] = step

    def _arrivals(self) -> None:
        for i, (_, t1, _, _) in list(self.transit.items()):
            if t1 <= self.t_s:
                del self.transit[i]
                heapq.heappush(self.queue, (t1, i, self.heading[i]))

    def _reenter(self) -> None:
        """Put people back on the plan past their opening, one per the opening's capacity, when free."""
        waiting = []
        while self.queue and self.queue[0][0] <= self.t_s:
            t, i, o = heapq.heappop(self.queue)
            opening = self.graph.openings[o]
            there = opening.other(self.where[i])
            f = self.floor_of.get(there)
            if f is None:
                self._pass(i, o, opening.point_m[:2])
                self.log.stranded.add(i)
                continue
            xy = _snap(self.floors[f], opening.point_m[:2])
            if self.free_at[o] > self.t_s or any(True for _ in self.floors[f].sim.agents_in_range(xy, 2 * RADIUS_M)):
                waiting.append((max(self.free_at[o], t), i, o))
                continue
            self.free_at[o] = self.t_s + 1.0 / max(opening.capacity_pps, 1e-6)
            step = self._pass(i, o, xy)
            if step is not None:
                self._add(i, f, xy, step, float(self.occupants.speed_m_s[i]))
        for item in waiting:
            heapq.heappush(self.queue, item)

    def _pass(self, i: int, o: int, xy) -> int | None:
        """Log person ``i`` passing opening ``o``; the next opening they head for (None: out or stranded)."""
        here = self.where[i]
        opening = self.graph.openings[o]
        there = opening.other(here)
        t = self.t_s
        self.last_pass_s = t
        self.count[here] -= 1
        self.log.counts.append((t, here, self.count[here]))
        self.log.passes.append((t, o, i, here))
        self.log.tracks[i].append((t, float(xy[0]), float(xy[1]), float(opening.point_m[2])))
        if opening.kind == "exit":
            self.log.out_s[i] = t
            self.done += 1
            return None
        self.count[there] += 1
        self.log.counts.append((t, there, self.count[there]))
        self.where[i] = there
        step = self.routes.next_opening(there, opening.point_m, self.targets[i], self.plan.blocked(t))
        if step is None:
            self.log.stranded.add(i)
        return step

    def _sample(self) -> None:
        """A track sample of everyone under way; unstick who has not moved; report progress."""
        t = self.t_s
        for floor in self.floors:
            for agent in floor.sim.agents():
                i = floor.person.get(agent.id)
                if i is None:
                    continue
                x, y = agent.position
                if agent.model.desired_speed > 0:
                    self.log.tracks[i].append((t, x, y, self.graph.places[self.where[i]].floor_m))
                _unstick(floor, agent)
        for i, (t0, t1, a, b) in self.transit.items():
            self.log.tracks[i].append((t, *(a + (b - a) * min((t - t0) / max(t1 - t0, 1e-9), 1.0))))
        if self.progress:
            self.progress(self.done / max(len(self.occupants), 1))


def _unstick(floor: _Floor, agent: jps.Agent) -> None:
    """Slim down a walking agent that has not moved since the last sample; restore one that moves."""
    x, y = agent.position
    x0, y0 = floor.last_xy.get(agent.id, (np.inf, np.inf))
    floor.last_xy[agent.id] = (x, y)
    moving = agent.model.desired_speed > 0
    stuck = moving and (x - x0) ** 2 + (y - y0) ** 2 < STUCK_M ** 2
    floor.stuck_s[agent.id] = floor.stuck_s.get(agent.id, 0) + 1 if stuck else 0
    agent.model.radius = max(MIN_RADIUS_M, RADIUS_M - SHRINK_M_PER_S * floor.stuck_s[agent.id])


def _snap(floor: _Floor, xy: np.ndarray) -> tuple[float, float]:
    """``xy`` if an agent may stand there, else the nearest point where one may."""
    point = shapely.Point(xy)
    if floor.inner.contains(point):
        return float(xy[0]), float(xy[1])
    near = nearest_points(floor.inner, point)[0]
    return near.x, near.y


def _free_spot(floor: _Floor, xy: np.ndarray) -> tuple[float, float]:
    """The nearest spot to ``xy`` on the plan where an agent fits between the others."""
    x0, y0 = _snap(floor, xy)
    for ring in range(40):
        r = ring * RADIUS_M
        for angle in np.linspace(0, 2 * np.pi, max(1, 6 * ring), endpoint=False):
            spot = (x0 + r * np.cos(angle), y0 + r * np.sin(angle))
            if floor.inner.contains(shapely.Point(spot)) and not any(
                    True for _ in floor.sim.agents_in_range(spot, 2 * RADIUS_M + 0.01)):
                return spot
    return x0, y0
