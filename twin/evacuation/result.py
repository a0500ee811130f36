"""What an evacuation run tells: per exit, per space, congestion, the curve, and every person's track.

Both models (flow and agents) fill one :class:`RunLog`; :func:`summarise` turns it into an
:class:`EvacuationResult`, whose :meth:`EvacuationResult.as_json` is the CLI and REST contract.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from twin.evacuation.graph import EvacuationGraph
from twin.evacuation.occupants import Occupants

CONGESTED_PPM2 = 4.0  #: density above which a place counts as jammed
CONGESTED_SHARE = 0.10  #: …for more than this share of the evacuation time
FLOW_WINDOW_S = 10.0  #: the window over which an exit's flow is measured


@dataclass
class RunLog:
    """What a model records: passes through openings, occupancy changes, and tracks."""

    passes: list[tuple[float, int, int, int]] = field(default_factory=list)  # (t_s, opening, person, from place)
    counts: list[tuple[float, int, int]] = field(default_factory=list)  # (t_s, place, persons after the change)
    tracks: list[list[tuple[float, float, float, float]]] = field(default_factory=list)  # per person: (t, x, y, z)
    out_s: np.ndarray | None = None  # per person: time out of the building (nan: never)
    stranded: set[int] = field(default_factory=set)  # persons with no route out


@dataclass
class ExitFlow:
    id: str
    name: str
    count: int
    first_out_s: float | None
    last_out_s: float | None
    max_flow_pps: float


@dataclass
class SpaceTimes:
    id: str
    name: str
    occupants: int
    rset_s: float | None  # when the last person has left it (None: someone never could)
    aset_s: float | None  # when it becomes untenable (None: not within the horizon, or no incident)

    @property
    def passed(self) -> bool:
        """Everyone got out of it, before it became untenable."""
        return self.rset_s is not None and (self.aset_s is None or self.rset_s <= self.aset_s)


@dataclass
class Congestion:
    space_id: str
    name: str
    duration_s: float
    max_density_ppm2: float


@dataclass
class StairUse:
    id: str
    name: str
    count: int


@dataclass
class EvacuationResult:
    model: str
    occupants: int
    evacuated: int
    total_time_s: float
    exits: list[ExitFlow]
    spaces: list[SpaceTimes]
    congestion: list[Congestion]
    stairs: list[StairUse]
    stranded: list[str]  # spaces whose people have no route out
    out_s: np.ndarray  # per person
    track_log: list[list[tuple[float, float, float, float]]] = field(repr=False)  # the model's, see tracks
    counts: np.ndarray  # (k, 3): t, place index, persons — every occupancy change, in time order
    passes: np.ndarray  # (k, 4): t, opening index, person, place left — every pass through an opening
    problems: list[str] = field(default_factory=list)
    hazard: Any = None
    assembled_s: np.ndarray | None = None  # per person: at the assembly point (with outdoors)
    assembly: list[Any] = field(default_factory=list)  # twin.evacuation.outdoor.AssemblyUse

    @cached_property
    def tracks(self) -> list[np.ndarray]:
        """Per person ``(m, 4)`` arrays of (t, x, y, z), made on first use (playback, reports)."""
        rows = np.array([row for track in self.track_log for row in track], float).reshape(-1, 4)
        return np.split(rows, np.cumsum([len(track) for track in self.track_log])[:-1])

    @property
    def passed(self) -> bool:
        """Every space cleared before it became untenable, and nobody stranded."""
        return not self.stranded and all(s.passed for s in self.spaces)

    @property
    def end_s(self) -> float:
        """When the last person is out, or at the assembly point when they walk on."""
        arrived = self.assembled_s[np.isfinite(self.assembled_s)] if self.assembled_s is not None else ()
        return max(self.total_time_s, float(np.max(arrived)) if len(arrived) else 0.0)

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """The evacuation curve: times and persons out by then."""
        t = np.sort(self.out_s[np.isfinite(self.out_s)])
        return t, np.arange(1, len(t) + 1)

    def positions_at(self, t_s: float) -> np.ndarray:
        """Everyone's ``(x, y, z)`` at a time (NaN once out, or once assembled when they walk on),
        interpolated along their tracks."""
        gone = self.out_s if self.assembled_s is None else np.where(np.isfinite(self.assembled_s),
                                                                     self.assembled_s, self.out_s)
        out = np.full((len(self.tracks), 3), np.nan)
        for i, track in enumerate(self.tracks):
            if len(track) and not (np.isfinite(gone[i]) and t_s >= gone[i]):
                out[i] = [np.interp(t_s, track[:, 0], track[:, k]) for k in (1, 2, 3)]
        return out

    def as_json(self) -> dict[str, Any]:
        """The CLI contract: total time, occupants, exits, spaces (RSET, ASET) and congestion."""
        return {
            "model": self.model,
            "total_time_s": _round(self.total_time_s),
            "occupants": self.occupants,
            "evacuated": self.evacuated,
            "passed": self.passed,
            "exits": [{"id": e.id, "name": e.name, "count": e.count, "first_out_s": _round(e.first_out_s),
                       "last_out_s": _round(e.last_out_s), "max_flow_pps": _round(e.max_flow_pps)}
                      for e in self.exits],
            "spaces": [{"id": s.id, "name": s.name, "occupants": s.occupants, "rset_s": _round(s.rset_s),
                        "aset_s": _round(s.aset_s), "passed": s.passed} for s in self.spaces],
            "congestion": [{"space_id": c.space_id, "name": c.name, "duration_s": _round(c.duration_s),
                            "max_density_ppm2": _round(c.max_density_ppm2)} for c in self.congestion],
            "stairs": [{"id": s.id, "name": s.name, "count": s.count} for s in self.stairs],
            "assembly": [{"id": a.id, "name": a.name, "count": a.count, "last_in_s": _round(a.last_in_s),
                          "capacity": a.capacity} for a in self.assembly],
            "stranded_spaces": self.stranded,
            "problems": self.problems,
        }


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 2)


def summarise(graph: EvacuationGraph, occupants: Occupants, log: RunLog, model: str,
              hazard: Any = None) -> EvacuationResult:
    """The result of a run from its log."""
    out_s = log.out_s if log.out_s is not None else np.full(len(occupants), np.nan)
    done = out_s[np.isfinite(out_s)]
    total = float(done.max()) if len(done) else 0.0
    passes = np.array(log.passes, float).reshape(-1, 4)
    counts = np.array(log.counts, float).reshape(-1, 3)
    stranded_places = sorted({int(occupants.place[i]) for i in log.stranded})
    return EvacuationResult(
        model=model, occupants=len(occupants), evacuated=len(done), total_time_s=total,
        exits=_exits(graph, passes), spaces=_spaces(graph, occupants, passes, hazard, stranded_places),
        congestion=_congestion(graph, counts, total), stairs=_stairs(graph, passes),
        stranded=[graph.places[i].id for i in stranded_places], out_s=out_s,
        track_log=log.tracks, counts=counts, passes=passes,
        problems=list(graph.problems), hazard=hazard)


def _exits(graph: EvacuationGraph, passes: np.ndarray) -> list[ExitFlow]:
    out = []
    for o in graph.exits:
        t = np.sort(passes[passes[:, 1] == o, 0])
        flow = (np.searchsorted(t, t + FLOW_WINDOW_S) - np.arange(len(t))).max() / FLOW_WINDOW_S if len(t) else 0.0
        opening = graph.openings[o]
        out.append(ExitFlow(opening.id, opening.name, len(t), float(t[0]) if len(t) else None,
                            float(t[-1]) if len(t) else None, float(flow)))
    return out


def _spaces(graph: EvacuationGraph, occupants: Occupants, passes: np.ndarray, hazard: Any,
            stranded: list[int]) -> list[SpaceTimes]:
    initial = np.bincount(occupants.place, minlength=len(graph.places))
    last_left = np.zeros(len(graph.places))
    np.maximum.at(last_left, passes[:, 3].astype(int), passes[:, 0])
    out = []
    for i in graph.spaces():
        place = graph.places[i]
        rset = None if i in stranded else float(last_left[i])
        aset = hazard.aset_s(place.id) if hazard is not None else None
        out.append(SpaceTimes(place.id, place.name, int(initial[i]), rset, aset))
    return out


def _congestion(graph: EvacuationGraph, counts: np.ndarray, total_s: float) -> list[Congestion]:
    """Places above 4 p/m² for more than 10 % of the evacuation time."""
    out = []
    order = np.argsort(counts[:, 1], kind="stable")
    by_place = counts[order]
    starts = np.flatnonzero(np.r_[True, by_place[1:, 1] != by_place[:-1, 1]])
    for rows in np.split(by_place, starts[1:]) if len(by_place) else ():
        place = graph.places[int(rows[0, 1])]
        if place.kind == "outside":
            continue
        density = rows[:, 2] / place.area_m2
        held = np.diff(np.r_[rows[:, 0], total_s])
        jammed = float(held[density > CONGESTED_PPM2].sum())
        if total_s > 0 and jammed > CONGESTED_SHARE * total_s:
            out.append(Congestion(place.id, place.name, jammed, float(density.max())))
    return sorted(out, key=lambda c: -c.duration_s)


def _stairs(graph: EvacuationGraph, passes: np.ndarray) -> list[StairUse]:
    """How many people went down each stair (counted at its foot)."""
    out = []
    for o, opening in enumerate(graph.openings):
        if opening.kind == "stair" and opening.id.endswith(":foot"):
            stair = graph.places[opening.places[1]]
            out.append(StairUse(stair.id, stair.name, int((passes[:, 1] == o).sum())))
    return out
