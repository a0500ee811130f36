"""What the live data says for a drill: the persons people counters count, and the wind a weather
station measures (``[live.occupancy]`` and ``[live.weather]`` of the scene).

A counter counts the persons in its host: a space, or a storey or building (an entrance counter).
A space's count goes to it; a storey's or building's count, less what counters inside it already
counted, is shared by floor area among its spaces that no counter covers. Counts older than the
scene's ``max_age_s`` are not used. The values come from the running park's state (the app) or from
its history (``twin evacuate --live``), as ``node id → (value, time)``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from twin.errors import InputError
from twin.evacuation.graph import EvacuationGraph
from twin.evacuation.occupants import share_by_area
from twin.park import Park

READER_RETENTION_DAYS = 36_500  #: opening the history only to read: a retention this long purges nothing
Reading = tuple[object, datetime]  #: (value, when measured), as the live state and history give it


@dataclass
class CountedOccupants:
    """Persons per space from the counters; spaces no fresh counter covers are left to the caller."""

    counts: dict[int, int] = field(default_factory=dict)  # place index → persons
    counters: int = 0  # fresh counters used
    stale: list[str] = field(default_factory=list)  # counters with no count within max_age_s
    elsewhere: list[str] = field(default_factory=list)  # counters whose host holds no space of the graph

    @property
    def persons(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Wind:
    """A measured wind: its speed, where it comes from (° clockwise from north), when, by which station."""

    speed_m_s: float
    from_deg: float
    at: datetime
    station: str


def counted_occupants(park: Park, graph: EvacuationGraph, readings: Mapping[str, Reading], now: datetime,
                      max_age_s: float) -> CountedOccupants:
    """The persons the counters (``readings``: counter node id → (persons, time)) count in the graph's spaces."""
    found = CountedOccupants()
    areas: list[tuple[list[int], float]] = []
    for counter, (value, at) in sorted(readings.items()):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or now - at > timedelta(seconds=max_age_s):
            found.stale.append(counter)
            continue
        spaces = _covered(park, graph, counter)
        if not spaces:
            found.elsewhere.append(counter)
            continue
        found.counters += 1
        if len(spaces) == 1 and graph.places[spaces[0]].id == _host(park, counter):
            found.counts[spaces[0]] = found.counts.get(spaces[0], 0) + max(0, round(value))
        else:
            areas.append((spaces, float(value)))
    for spaces, persons in sorted(areas, key=lambda pair: len(pair[0])):  # storeys before their building
        counted = sum(found.counts.get(i, 0) for i in spaces)
        free = [i for i in spaces if i not in found.counts]
        found.counts.update(share_by_area(graph, free, max(0, round(persons) - counted)))
    return found


def measured_wind(station: str, speed: Reading | None, from_deg: Reading | None, now: datetime,
                  max_age_s: float) -> Wind | None:
    """The station's wind, when both its speed and direction are numbers measured within ``max_age_s``."""
    if speed is None or from_deg is None:
        return None
    fresh = all(isinstance(v, (int, float)) and not isinstance(v, bool) and now - at <= timedelta(seconds=max_age_s)
                for v, at in (speed, from_deg))
    return Wind(float(speed[0]), float(from_deg[0]) % 360, min(speed[1], from_deg[1]), station) if fresh else None


def stored_readings(park: Park, metrics: list[str], since: datetime) -> dict[str, dict[str, Reading]]:
    """The last value of each metric per node written since ``since`` to the served park's history
    (``twin serve`` writes it): metric → node id → (value, time)."""
    from live.clock import SystemClock
    from live.history import SqliteHistory
    from live.runtime import live_folder

    path = live_folder(park.name) / "history.sqlite"
    if not path.is_file():
        raise InputError(f"--live: no live history at {path}: serve the park first (twin serve)")
    history = SqliteHistory(path, SystemClock(), retention_days=READER_RETENTION_DAYS)
    try:
        return {metric: history.latest(metric, since) for metric in metrics}
    finally:
        history.close()


def _host(park: Park, counter: str) -> str | None:
    node = park.nodes.get(counter)
    return node.links.get("host") if node is not None else None


def _covered(park: Park, graph: EvacuationGraph, counter: str) -> list[int]:
    """The graph's spaces a counter counts in: its host space, or every space inside its host."""
    host = _host(park, counter)
    if host is None or host not in park:
        return []
    if host in graph.place_index:
        return [graph.place_index[host]] if graph.places[graph.place_index[host]].kind == "space" else []
    inside = {n.id for n in park.descendants(host)}
    return [i for i in graph.spaces() if graph.places[i].id in inside]
