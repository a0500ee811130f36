"""The agent model: every person walks the floor plan in JuPedSim's collision-free speed model and
picks the next opening on the evacuation graph exactly as the flow model does (:class:`Routes`).

The walkable plan of a storey is the union of its spaces' footprints and, per door or exit, a
rectangle bridging the wall gap. JuPedSim needs one simple polygon per simulation, so each connected
piece of walkable plan (a storey, or an isolated part of one) is its own ``Simulation``, all stepped
in lockstep in the park frame (storeys overlap in plan: a space belongs to the piece of its own
storey); a piece where nobody walks is not stepped. Stairs are not drawn: a person reaching a stair
end leaves the plan, spends the stair's travel time at the SFPE stair speed and comes back at its
other end, no faster than the stair's flow capacity, on a free spot around it (several, so that
people walk off side by side). Exits remove the person. Until their premovement time is up people
stand on a journey that no exit ends, so none is taken off early.

Per step, Python only steps the simulations and collects who left; positions are read in bulk every
``check_s`` (passes through doors, tested only for people near their door) and every sample (tracks,
who is stuck), with numpy over all agents of a piece.

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
RESPOT_S = 20  #: when nobody has passed an opening for this long, who is stuck steps to the nearest free spot
BRIDGE_M = 0.5  #: a door's walkable bridge reaches this far either side of its point
EXIT_DEPTH_M = 1.0  #: an exit's chute reaches this far outside; its outer half removes people
WAYPOINT_M = 1.0  #: how far past a door a person aims
PORTAL_M = 0.4  #: half size of the square at a stair end that takes people off the plan
DT_S = 1 / 15  #: the time step; RiMEA 9 (1,000 people) runs at 0.08 s into wall crossings, at 0.1 s often
SAFE_DT_S = 0.05  #: the time step of a run started over after a wall crossing


@dataclass
class _Floor:
    """One JuPedSim simulation over one connected piece of walkable plan."""

    sim: jps.Simulation
    area: shapely.Geometry  # walkable plan, prepared
    inner: shapely.Geometry  # where an agent's centre may stand
    stages: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # (opening, into) → journey, stage
    hold: tuple[int, int] = (0, 0)  # journey, stage of people not yet moving (no exit that could take them)
    person: dict[int, int] = field(default_factory=dict)  # agent id → person
    moving: int = 0  # agents walking (when none, the simulation need not step)
    leaving: bool = False  # agents are due to be removed at the next step (JuPedSim reports them a step early)


def run_agents(graph: EvacuationGraph, occupants: Occupants, plan: ExitPlan | None = None,
               progress: Callable[[float], None] | None = None, dt_s: float = DT_S, sample_s: float = 1.0,
               max_s: float = 7200.0, stall_s: float = 300.0, check_s: float = 0.2) -> RunLog:
    """Simulate everyone's way out agent by agent; ``progress(share out)`` is called every sample.
    Who has walked through a door into the next space is checked every ``check_s``. Should the
    simulation push somebody through a wall (it can, rarely, at large steps), the run starts over at
    ``SAFE_DT_S``."""
    plan = plan or ExitPlan()
    try:
        return _Run(graph, occupants, plan, progress, dt_s, sample_s, check_s).run(max_s, stall_s)
    except RuntimeError as error:
        if "outside of accessible area" not in str(error) or dt_s <= SAFE_DT_S:
            raise
    return _Run(graph, occupants, plan, progress, SAFE_DT_S, sample_s, check_s).run(max_s, stall_s)


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
    return [piece for _, piece in _storey_pieces(graph, closed)]


def _storey_pieces(graph: EvacuationGraph, closed: frozenset[int]) -> list[tuple[object, shapely.Polygon]]:
    """:func:`walkable_plan`'s pieces, each with the storey it lies on (storeys overlap in plan)."""
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
    pieces = [(storey, shapely.union_all(shapes)) for storey, shapes in by_storey.items()]
    return [(storey, p) for storey, piece in pieces for p in getattr(piece, "geoms", [piece]) if p.area > 0.1]


def _storey(place) -> object:
    return place.storey or (place.building, round(place.floor_m, 1))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.hypot(*v) or 1.0)


class _Run:
    """The state of one run: floors, where everyone is, and the log."""

    def __init__(self, graph: EvacuationGraph, occupants: Occupants, plan: ExitPlan,
                 progress: Callable[[float], None] | None, dt_s: float, sample_s: float, check_s: float):
        self.graph, self.occupants, self.plan, self.progress = graph, occupants, plan, progress
        self.dt_s, self.sample_s = dt_s, sample_s
        self.check_every = max(1, round(check_s / dt_s))
        self.routes = Routes(graph, plan.closed)
        pieces = _storey_pieces(graph, plan.closed)
        self.floors = [self._floor(piece) for _, piece in pieces]
        self.floor_storey = [storey for storey, _ in pieces]
        for place in graph.places:
            if place.kind == "space":
                shapely.prepare(place.footprint)
        self.floor_of = {p: self._floor_holding(place) for p, place in enumerate(graph.places)
                         if place.kind == "space"}
        n = len(occupants)
        self.where = occupants.place.tolist()
        self.targets = [plan.targets(graph, p) for p in self.where]
        self.heading: list[int | None] = [None] * n
        self.agent: list[tuple[int, int] | None] = [None] * n  # (floor, agent id)
        self.factor = (occupants.speed_m_s / (0.85 * sfpe.K_LEVEL_M_S)).tolist()
        self.moving = np.zeros(n, bool)  # on the plan and walking
        self.last_xy = np.full((n, 2), np.inf)  # position at the last sample
        self.stuck_s = np.zeros(n, int)  # samples without moving
        self.radius = np.full(n, RADIUS_M)
        self.door_xy = np.full((n, 2), np.nan)  # the door to the next space on the same floor, if heading there
        self.door_r2 = np.zeros(n)  # squared distance from it within which to check for a pass
        self.into = np.full(n, None, dtype=object)  # that next space's footprint
        self.count = np.bincount(occupants.place, minlength=len(graph.places)).tolist()
        self.transit: dict[int, tuple[float, float, np.ndarray, np.ndarray]] = {}  # person → t0, t1, from, to
        self.queue: list[tuple[float, int, int]] = []  # (earliest t, person, opening) waiting to come back
        self.free_at = [0.0] * len(graph.openings)
        self.spots: dict[tuple[int, int], list[tuple[float, float]]] = {}  # (floor, opening) → spots to come back on
        self.log = RunLog(tracks=[[] for _ in range(n)], out_s=np.full(n, np.nan))
        self.log.counts = [(0.0, p, c) for p, c in enumerate(self.count) if c]
        self.t_s = self.last_pass_s = 0.0
        self.steps = 0
        self.done = 0

    # --- set-up ---------------------------------------------------------------------------------
    def _floor(self, piece: shapely.Polygon) -> _Floor:
        model = jps.CollisionFreeSpeedModel()
        floor = _Floor(jps.Simulation(model=model, geometry=piece, dt=self.dt_s), piece,
                       piece.buffer(-RADIUS_M - 0.02))
        shapely.prepare(floor.area)
        shapely.prepare(floor.inner)
        spot = floor.inner.representative_point() if not floor.inner.is_empty else piece.representative_point()
        stage = floor.sim.add_waypoint_stage((spot.x, spot.y), 0.1)
        floor.hold = (floor.sim.add_journey(jps.JourneyDescription([stage])), stage)
        return floor

    def _floor_holding(self, place) -> int | None:
        """The floor (simulation) a space lies on: of its storey, and holding its footprint."""
        point, storey = place.footprint.representative_point(), _storey(place)
        return next((k for k, f in enumerate(self.floors)
                     if self.floor_storey[k] == storey and f.area.contains(point)), None)

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
        spot = shapely.Point(_snap(floor, opening.point_m[:2]))
        part = spot.buffer(PORTAL_M, cap_style="square").intersection(floor.area)
        part = max(getattr(part, "geoms", [part]), key=lambda g: g.area)
        if part.geom_type != "Polygon" or part.convex_hull.area > part.area + 1e-6:  # JuPedSim wants convex
            part = spot.buffer(RADIUS_M, cap_style="square")  # within the plan: the spot is inside ``inner``
        return part

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
            sample = self.t_s >= next_sample_s - 1e-9
            if sample or self.steps % self.check_every == 0:
                self._look(sample)
            if sample:
                if self.progress:
                    self.progress(self.done / max(len(self.occupants), 1))
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
        self._add(i, f, xy, None, 0.0)

    def _add(self, i: int, f: int, xy: tuple[float, float], step: int | None, speed_m_s: float) -> None:
        """Put person ``i`` on floor ``f`` heading for ``step``; None: standing, on no way out yet."""
        journey, stage = self.floors[f].hold if step is None else self._stage(f, step, self.where[i])
        floor = self.floors[f]
        agent = floor.sim.add_agent(jps.CollisionFreeSpeedModelAgentParameters(
            position=xy, desired_speed=speed_m_s, radius=RADIUS_M, time_gap=TIME_GAP_S,
            journey_id=journey, stage_id=stage))
        floor.person[agent] = i
        self.agent[i] = (f, agent)
        self.last_xy[i], self.stuck_s[i], self.radius[i] = np.inf, 0, RADIUS_M
        self._aim(i, step)
        if speed_m_s > 0:
            self.moving[i] = True
            floor.moving += 1

    def _aim(self, i: int, step: int | None) -> None:
        """Person ``i`` heads for opening ``step``: where to look for them passing it."""
        self.heading[i] = step
        self.into[i] = None
        if step is None or self.agent[i] is None:
            return
        opening = self.graph.openings[step]
        there = opening.other(self.where[i])
        if opening.kind == "door" and self.floor_of.get(there) == self.agent[i][0]:
            self.into[i] = self.graph.places[there].footprint
            self.door_xy[i] = opening.point_m[:2]
            self.door_r2[i] = (opening.width_m / 2 + WAYPOINT_M + 1.0) ** 2

    def _leave(self, i: int) -> None:
        """Person ``i`` is off the plan."""
        f, _ = self.agent[i]
        if self.moving[i]:
            self.moving[i] = False
            self.floors[f].moving -= 1
        self.agent[i] = None
        self.into[i] = None

    def _start(self, i: int) -> None:
        """Person ``i`` starts to move: picks their route now and walks off."""
        if self.agent[i] is None:
            return
        f, agent = self.agent[i]
        floor = self.floors[f]
        if agent not in floor.person:
            return
        here = self.where[i]
        xy = floor.sim.agent(agent).position
        self.log.tracks[i].append((self.t_s, *xy, self.graph.places[here].floor_m))
        step = self.routes.next_opening(here, np.asarray(xy), self.targets[i], self.plan.blocked(self.t_s))
        if step is None:
            self.log.stranded.add(i)
            return
        self._steer(i, step)
        floor.sim.agent(agent).model.desired_speed = float(self.occupants.speed_m_s[i])
        self.moving[i] = True
        floor.moving += 1

    def _steer(self, i: int, step: int) -> None:
        f, agent = self.agent[i]
        if step != self.heading[i]:
            journey, stage = self._stage(f, step, self.where[i])
            self.floors[f].sim.switch_agent_journey(agent, journey, stage)
            self._aim(i, step)

    def _step(self) -> None:
        self.steps += 1
        stepped = [floor for floor in self.floors if floor.moving > 0 or floor.leaving]
        for floor in stepped:
            floor.sim.iterate()
        self.t_s += self.dt_s
        for floor in stepped:
            removed = floor.sim.removed_agents()  # in fact: removed at the start of the next step
            floor.leaving = bool(removed)
            for agent in removed:
                if agent in floor.person:
                    self._off_plan(floor.person.pop(agent))
        self._reenter()

    def _look(self, sample: bool) -> None:
        """Read everyone's position on the plan: record passes through doors into the next space
        (only people near their door are tested), and on a sample, tracks and who is stuck."""
        for f, floor in enumerate(self.floors):
            if floor.moving == 0:
                continue
            seen = [(agent.id, *agent.position) for agent in floor.sim.agents()]
            ids = [a for a, _, _ in seen]
            gone = floor.person.keys() - set(ids)
            for agent in gone:  # removed by the simulation without being reported
                self._off_plan(floor.person.pop(agent))
            if not seen:
                continue
            person = np.array([floor.person.get(a, -1) for a in ids])
            xy = np.array([(x, y) for _, x, y in seen])
            on = person >= 0
            ids, person, xy = np.asarray(ids)[on], person[on], xy[on]
            if sample:
                self._sample_floor(f, ids, person, xy)
            near = np.flatnonzero(np.einsum("ij,ij->i", xy - self.door_xy[person], xy - self.door_xy[person])
                                  <= self.door_r2[person])
            if len(near) == 0:
                continue
            into = self.into[person[near]]
            near = near[into != None]  # noqa: E711
            if len(near) == 0:
                continue
            inside = shapely.contains_xy(list(self.into[person[near]]), xy[near, 0], xy[near, 1])
            for k in near[inside]:
                i, agent = int(person[k]), int(ids[k])
                if self.agent[i] != (f, agent):  # just stepped aside to a free spot
                    continue
                step = self._pass(i, self.heading[i], (float(xy[k, 0]), float(xy[k, 1])))
                if step is None:
                    floor.sim.mark_agent_for_removal(agent)
                    floor.leaving = True
                    floor.person.pop(agent)
                    self._leave(i)
                else:
                    self._steer(i, step)
        if sample:
            t = self.t_s
            for i, (t0, t1, a, b) in self.transit.items():
                self.log.tracks[i].append((t, *(a + (b - a) * min((t - t0) / max(t1 - t0, 1e-9), 1.0))))

    def _sample_floor(self, f: int, ids: np.ndarray, person: np.ndarray, xy: np.ndarray) -> None:
        """A track sample of everyone walking; slim down who has not moved since the last sample,
        restore who moves; in a deadlock (nobody through an opening for ``RESPOT_S``), who is stuck steps to
        the nearest free spot."""
        floor = self.floors[f]
        t = self.t_s
        moving = self.moving[person]
        z = [self.graph.places[self.where[i]].floor_m for i in person[moving]]
        tracks = self.log.tracks
        for i, (x, y), zi in zip(person[moving].tolist(), xy[moving].tolist(), z):
            tracks[i].append((t, x, y, zi))
        d = xy - self.last_xy[person]
        stuck = moving & (np.einsum("ij,ij->i", d, d) < STUCK_M ** 2)
        self.last_xy[person] = xy
        self.stuck_s[person] = np.where(stuck, self.stuck_s[person] + 1, 0)
        radius = np.maximum(MIN_RADIUS_M, RADIUS_M - SHRINK_M_PER_S * self.stuck_s[person])
        for k in np.flatnonzero(radius != self.radius[person]):
            floor.sim.agent(int(ids[k])).model.radius = float(radius[k])
        self.radius[person] = radius
        deadlock = self.t_s - self.last_pass_s >= RESPOT_S
        respot = np.flatnonzero(self.stuck_s[person] >= RESPOT_S) if deadlock else []
        away = [tuple(p) for p in xy[respot].tolist()]
        for k in respot:
            i, agent = int(person[k]), int(ids[k])
            spot = _free_spot(floor, xy[k], away)
            try:  # the new agent first: the simulation refuses one too close to an agent on its way off
                self._add(i, f, spot, self.heading[i], float(self.occupants.speed_m_s[i]))
            except RuntimeError:
                self.stuck_s[i] = 0
                continue
            away.append(spot)
            floor.sim.mark_agent_for_removal(agent)
            floor.person.pop(agent)
            floor.leaving = True
            floor.moving -= 1  # the old agent was counted as walking; the new one is

    def _off_plan(self, i: int) -> None:
        """Person ``i`` reached an exit, a stair end or a door to another floor and left the plan."""
        self._leave(i)
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
        heapq.heappush(self.queue, (t1, i, step))  # comes back at the stair's other end

    def _reenter(self) -> None:
        """Put people back on the plan past their opening, one per the opening's capacity, when free."""
        waiting = []
        while self.queue and self.queue[0][0] <= self.t_s:
            t, i, o = heapq.heappop(self.queue)
            self.transit.pop(i, None)
            opening = self.graph.openings[o]
            there = opening.other(self.where[i])
            f = self.floor_of.get(there)
            if f is None:
                self._pass(i, o, opening.point_m[:2])
                self.log.stranded.add(i)
                continue
            if self.free_at[o] > self.t_s:
                waiting.append((self.free_at[o], i, o))
                continue
            sim = self.floors[f].sim
            xy = next((xy for xy in self._spots(f, o) if not any(True for _ in sim.agents_in_range(xy, 2 * RADIUS_M))),
                      None)
            if xy is None:
                waiting.append((t, i, o))
                continue
            self.free_at[o] = self.t_s + 1.0 / max(opening.capacity_pps, 1e-6)
            step = self._pass(i, o, xy)
            if step is not None:
                self._add(i, f, xy, step, float(self.occupants.speed_m_s[i]))
        for item in waiting:
            heapq.heappush(self.queue, item)

    def _spots(self, f: int, o: int) -> list[tuple[float, float]]:
        """Where people come back onto floor ``f`` at opening ``o``: the spots around its point, so that
        several can walk off side by side (in single file the time gap holds a line to 1/T per second)."""
        key = (f, o)
        if key not in self.spots:
            opening = self.graph.openings[o]
            floor = self.floors[f]
            gap = 2 * RADIUS_M + 0.05
            grid = [(dx * gap, dy * gap) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
            offsets = [np.array(d) for d in sorted(grid, key=lambda d: np.hypot(*d))]
            spots = []
            for d in offsets:
                spot = _snap(floor, opening.point_m[:2] + d)
                if all(np.hypot(spot[0] - x, spot[1] - y) > 2 * RADIUS_M for x, y in spots):
                    spots.append(spot)
            self.spots[key] = spots
        return self.spots[key]

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


def _snap(floor: _Floor, xy: np.ndarray) -> tuple[float, float]:
    """``xy`` if an agent may stand there, else the nearest point where one may."""
    point = shapely.Point(xy)
    if floor.inner.contains(point):
        return float(xy[0]), float(xy[1])
    near = nearest_points(floor.inner, point)[0]
    return near.x, near.y


def _free_spot(floor: _Floor, xy: np.ndarray, away: list | None = None) -> tuple[float, float]:
    """The nearest spot to ``xy`` on the plan where an agent fits between the others, and clear of
    the points ``away`` (agents just added or on their way off, whom the simulation does not report yet)."""
    x0, y0 = _snap(floor, xy)
    for ring in range(40):
        r = ring * RADIUS_M
        for angle in np.linspace(0, 2 * np.pi, max(1, 6 * ring), endpoint=False):
            spot = (x0 + r * np.cos(angle), y0 + r * np.sin(angle))
            if away and any(np.hypot(spot[0] - a[0], spot[1] - a[1]) <= 2 * RADIUS_M + 0.01 for a in away):
                continue
            if floor.inner.contains(shapely.Point(spot)) and not any(
                    True for _ in floor.sim.agents_in_range(spot, 2 * RADIUS_M + 0.01)):
                return spot
    return x0, y0
