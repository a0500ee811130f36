"""Hazards over an evacuation graph: when each place becomes untenable (its ASET, available safe
egress time), for a fire spreading smoke through the building, an outdoor gas plume, or a hazard
placed at one spot (flood, intrusion, crowd).

Fire spread is a deliberately simple, conservative zone model over the graph:

* the fire room fills with smoke per the t² filling equation of :mod:`twin.evacuation.fire`;
* smoke spills through a door or stair end (never an exit) once the layer in the place it comes from
  has fallen to the top of the passage: the door head, or, for a stair, the lower of the two places'
  ceilings. A stair is a shaft open at both ends: smoke enters it as soon as a layer forms in the space
  at its foot, fills its small plan area (well below the equation's fitted A/H² ≥ 0.9) quickly, and
  spills into the space at its head as soon as a layer forms in it; smoke only goes *down* a stair once
  the upper floor has filled to the floor, which the filling equations never reach;
* from its arrival a place fills as its own reservoir fed by the same fire: the t² filling equation
  with its own area and height, the fire's clock restarted at the arrival. That forgets the heat
  release the fire had already reached, but the place is fed as if the fire's plume rose in it rather
  than through a doorway, and the room the smoke leaves keeps filling as if closed, so the smoke in the
  building is overcounted, not undercounted;
* arrivals propagate in time order (Dijkstra), ties broken by place index, so results are
  deterministic; a place is untenable when its layer falls to 1.8 m above its floor (a place lower
  than that: when a layer first forms in it); ``outside`` places never are.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np
import shapely

from twin.errors import InputError
from twin.evacuation import fire as fire_model
from twin.evacuation.graph import EvacuationGraph, Opening
from twin.evacuation.plume import plume_zone

PLAYBACK_STEP_S = 5.0
PLACED_KINDS = ("flood", "intrusion", "crowd")


@dataclass
class Hazard:
    """What a hazard does to a park's places over time."""

    kind: str  # "fire" | "gas" | "flood" | "intrusion" | "crowd"
    origin: str  # place id it starts at (gas: the source's park-frame "x,y")
    untenable_s: dict[str, float]  # place id → ASET (s), for places untenable within the horizon
    times_s: np.ndarray = field(default_factory=lambda: np.zeros(1))  # playback sample times
    layer_m: dict[str, np.ndarray] = field(default_factory=dict)  # fire: place id → layer height at times_s
    zone: shapely.Geometry | None = None  # plan outline of the affected area (gas, flood, intrusion, crowd)

    def aset_s(self, place_id: str) -> float | None:
        """When a place becomes untenable; None if it stays tenable."""
        return self.untenable_s.get(place_id)


@dataclass(frozen=True)
class _Reservoir:
    """A place filling with smoke from ``arrival_s`` (see the module docstring)."""

    arrival_s: float
    area_m2: float
    height_m: float
    growth: str
    peak_kw: float | None

    def layer_m(self, t_s: np.ndarray) -> np.ndarray:
        return fire_model.layer_height_m(t_s - self.arrival_s, self.area_m2, self.height_m, self.growth, self.peak_kw)

    def time_to_s(self, z_m: float) -> float:
        """When the layer first falls below ``z_m`` above the floor (inf: never)."""
        return self.arrival_s + fire_model.time_to_layer_s(z_m, self.area_m2, self.height_m, self.growth, self.peak_kw)


def fire(graph: EvacuationGraph, origin: int, growth: str = "medium", horizon_s: float = 1800.0,
         peak_kw: float | None = None) -> Hazard:
    """A t² fire in place ``origin`` and its smoke's spread, sampled every 5 s up to ``horizon_s``."""
    fire_model.alpha_kw_s2(growth)  # an unknown growth class fails here, before any work
    places = graph.places
    if places[origin].kind == "outside":
        raise InputError("a fire starts inside a building: the origin is the open ground outside")
    filling: dict[int, _Reservoir] = {}
    arrival = {origin: 0.0}
    queue = [(0.0, origin)]
    while queue:
        t_s, p = heapq.heappop(queue)
        if p in filling:
            continue
        place = places[p]
        filling[p] = _Reservoir(t_s, place.area_m2, place.height_m, growth, peak_kw)
        for o in place.openings:
            opening = graph.openings[o]
            q = opening.other(p)
            if opening.kind == "exit" or q == p or q in filling or places[q].kind == "outside":
                continue
            t_q = filling[p].time_to_s(_spill_m(graph, p, q, opening))
            if t_q <= horizon_s and t_q < arrival.get(q, math.inf):
                arrival[q] = t_q
                heapq.heappush(queue, (t_q, q))

    times_s = np.unique(np.append(np.arange(0.0, horizon_s, PLAYBACK_STEP_S), horizon_s))
    aset = {p: r.time_to_s(min(fire_model.TENABLE_LAYER_M, places[p].height_m)) for p, r in filling.items()}
    return Hazard(
        kind="fire", origin=places[origin].id,
        untenable_s={places[p].id: t for t, p in sorted((t, p) for p, t in aset.items()) if t <= horizon_s},
        times_s=times_s,
        layer_m={place.id: filling[i].layer_m(times_s) if i in filling else np.full(len(times_s), place.height_m)
                 for i, place in enumerate(places) if place.kind != "outside"})


def placed(graph: EvacuationGraph, kind: str, origin: int, radius_m: float = 10.0) -> Hazard:
    """A flood, intrusion or crowd at place ``origin``: its zone is the origin's plan outline grown by
    ``radius_m``; every place on the origin's level (its floor-to-ceiling range overlapping the origin's)
    whose outline meets the zone is untenable from t = 0 (ASET 0) and stays so. Outside places never are.
    """
    if kind not in PLACED_KINDS:
        raise InputError(f"hazard kind {kind!r}: not one of {', '.join(PLACED_KINDS)}")
    source = graph.places[origin]
    if source.kind == "outside" or source.footprint is None:
        raise InputError(f"a {kind} is placed at a space or stair: {source.name or source.id} has no outline")
    zone = source.footprint.buffer(radius_m)
    hit = [p for p in graph.places if p.kind != "outside" and p.footprint is not None
           and p.floor_m < source.floor_m + source.height_m and source.floor_m < p.floor_m + p.height_m
           and p.footprint.intersects(zone)]
    return Hazard(kind=kind, origin=source.id, untenable_s={p.id: 0.0 for p in hit}, zone=zone)


def gas(graph: EvacuationGraph, source_xy: tuple[float, float], rate_g_s: float, wind_m_s: float,
        wind_from_deg: float, stability: str, threshold_mg_m3: float, height_m: float = 0.0) -> Hazard:
    """An outdoor gas leak (see :mod:`twin.evacuation.plume`): a steady plume, so every place whose plan
    outline meets the zone where the concentration at ``height_m`` reaches ``threshold_mg_m3`` is untenable
    from t = 0, on every storey (the gas is taken to get in). Outside places never are."""
    zone = plume_zone(source_xy, rate_g_s, wind_m_s, wind_from_deg, stability, threshold_mg_m3, height_m)
    hit = [p for p in graph.places if p.kind != "outside" and p.footprint is not None and p.footprint.intersects(zone)]
    return Hazard(kind="gas", origin=f"{source_xy[0]:.2f},{source_xy[1]:.2f}",
                  untenable_s={p.id: 0.0 for p in hit}, zone=zone)


def _spill_m(graph: EvacuationGraph, p: int, q: int, opening: Opening) -> float:
    """Height above place ``p``'s floor down to which its smoke must fill to pass ``opening`` into ``q``:
    the top of the passage, the lowest of the door head and the two places' ceilings."""
    a, b = graph.places[p], graph.places[q]
    top_m = min(a.floor_m + a.height_m, b.floor_m + b.height_m, float(opening.point_m[2]) + opening.head_m)
    return top_m - a.floor_m
