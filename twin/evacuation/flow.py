"""The flow model: persons walk from opening to opening at the SFPE speed of the place they are in
and queue at each opening, which lets them through at its SFPE flow (first come, first served).

An event simulation, exact in time (no time step): a person's walk across a place is timed at the
density found on entering it; an opening serves one person per ``1 / capacity`` seconds.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from twin.evacuation import sfpe
from twin.evacuation.graph import EvacuationGraph
from twin.evacuation.occupants import Occupants
from twin.evacuation.result import RunLog
from twin.evacuation.routes import Routes

_MOVE, _ARRIVE, _PASS = 0, 1, 2


@dataclass
class ExitPlan:
    """Which exits a person may use: all by default, or one assigned per starting space."""

    assigned: dict[int, int] = field(default_factory=dict)  # space index → exit opening index
    closed: frozenset[int] = frozenset()  # openings nobody may use
    avoid: dict[int, float] = field(default_factory=dict)  # place index → time from which routes avoid it

    def targets(self, graph: EvacuationGraph, start_place: int) -> frozenset[int]:
        if start_place in self.assigned:
            return frozenset({self.assigned[start_place]})
        return frozenset(o for o in graph.exits if o not in self.closed)

    def blocked(self, t_s: float) -> frozenset[int]:
        if not self.avoid:
            return frozenset()
        return frozenset(p for p, t in self.avoid.items() if t <= t_s)


def run_flow(graph: EvacuationGraph, occupants: Occupants, plan: ExitPlan | None = None,
             progress: Callable[[float], None] | None = None) -> RunLog:
    """Simulate everyone's way out; ``progress(share done)`` is called now and then."""
    plan = plan or ExitPlan()
    routes = Routes(graph, plan.closed)
    places, openings = graph.places, graph.openings
    n = len(occupants)
    area = [p.area_m2 for p in places]
    count = np.bincount(occupants.place, minlength=len(places)).tolist()
    free_at = [0.0] * len(openings)
    service_s = [1.0 / max(o.capacity_pps, 1e-6) for o in openings]
    factor = (occupants.speed_m_s / (0.85 * sfpe.K_LEVEL_M_S)).tolist()
    start = occupants.place.tolist()
    where = list(start)
    targets = [plan.targets(graph, p) for p in start]
    log = RunLog(tracks=[[] for _ in range(n)], out_s=np.full(n, np.nan))
    log.counts = [(0.0, p, c) for p, c in enumerate(count) if c]
    heap = [(float(occupants.premovement_s[i]), i, _MOVE, -1) for i in range(n)]
    heapq.heapify(heap)
    floor = [p.floor_m for p in places]
    point = [tuple(o.point_m) for o in openings]
    next_cache: dict[tuple, int | None] = {}
    hops = [0] * n
    most_hops = 4 * len(openings) + 4  # a guard: a route never passes an opening more than twice or so
    done = 0
    while heap:
        t, i, kind, o = heapq.heappop(heap)
        if kind == _ARRIVE:
            depart = max(t, free_at[o]) + service_s[o]
            free_at[o] = depart
            log.tracks[i].append((t, *point[o]))
            heapq.heappush(heap, (depart, i, _PASS, o))
            continue
        if kind == _PASS:
            here = where[i]
            there = openings[o].other(here)
            count[here] -= 1
            log.counts.append((t, here, count[here]))
            log.passes.append((t, o, i, here))
            log.tracks[i].append((t, *point[o]))
            if openings[o].kind == "exit":
                log.out_s[i] = t
                done += 1
                if progress and done % 500 == 0:
                    progress(done / n)
                continue
            count[there] += 1
            log.counts.append((t, there, count[there]))
            where[i] = there
            xy = openings[o].point_m
            blocked = plan.blocked(t)
            key = (there, o, targets[i], blocked)
            if key not in next_cache:
                next_cache[key] = routes.next_opening(there, xy, targets[i], blocked)
            step = next_cache[key]
        else:  # _MOVE: starts from where they stand
            here = where[i]
            xy = occupants.xy_m[i]
            log.tracks[i].append((t, xy[0], xy[1], floor[here]))
            step = routes.next_opening(here, xy, targets[i], plan.blocked(t))
        hops[i] += 1
        if step is None or hops[i] > most_hops:
            log.stranded.add(i)
            continue
        here = where[i]
        speed = sfpe.speed_m_s(count[here] / area[here], places[here].k_m_s * factor[i])
        walk_m = routes.pair_m[here, o, step] if kind == _PASS and step != o else graph.walk_m(here, xy, step)
        heapq.heappush(heap, (t + walk_m / speed, i, _ARRIVE, step))
    if progress:
        progress(1.0)
    return log


def premovement_range(text: str) -> float | tuple[float, float]:
    """``"30"`` → 30.0; ``"10-100"`` → (10.0, 100.0)."""
    low, _, high = text.partition("-")
    try:
        values = (float(low), float(high)) if high else float(low)
    except ValueError:
        values = (math.nan,)
    if any(math.isnan(v) or v < 0 for v in np.atleast_1d(values)) or (high and values[0] > values[1]):
        raise ValueError(f"premovement {text!r}: give seconds ≥ 0, or a range LOW-HIGH")
    return values
