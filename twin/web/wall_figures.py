"""The park at a glance: the figures the wall's panels show, read from the live state, alarm book and
work-order book (energy comes from :mod:`twin.energy.today`).

Only devices that report now count: a stale, offline or never-heard device adds no value to a mean.
People counters may nest (an entrance counter counts a building whose rooms have their own): only the
outermost fresh counter of each place is summed, so no person is counted twice.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from live.alarms import Severity
from live.runtime import Live
from live.state import Status, device_type
from live.workorders import PENDING, Priority
from twin.park import Park
from twin.wall import WallSpec

#: statuses of a device that reports now
REPORTING = frozenset({Status.NORMAL, Status.WARNING, Status.ALARM})


@dataclass(frozen=True)
class Mean:
    """The mean of a metric over the devices that report it now."""

    metric: str
    unit: str
    value: float | None
    devices: int


@dataclass(frozen=True)
class WallFigures:
    """One look at the park: environment means, persons, parking, devices online, active alarms by
    severity and pending work orders by priority."""

    environment: tuple[Mean, ...]
    persons: int | None  # None: the park counts no persons ([live.occupancy])
    persons_by_building: dict[str, int]  # building node id → persons counted in it
    parking_taken: int
    parking_bays: int
    devices_online: int
    devices: int
    alarms: dict[Severity, int] = field(default_factory=dict)
    orders: dict[Priority, int] = field(default_factory=dict)

    @property
    def online_ratio(self) -> float | None:
        return self.devices_online / self.devices if self.devices else None


def wall_figures(live: Live, spec: WallSpec) -> WallFigures:
    """The figures now: one pass over the park's live devices, the active alarms and pending orders."""
    park, state = live.park, live.state
    watched = [d for d in park.of_kind("device") if device_type(d) in live.spec.device_types]
    reporting = [d for d in watched if state.status(d.id) in REPORTING]
    reporting_ids = {d.id for d in reporting}
    environment = tuple(_mean(live, reporting, metric) for metric in (spec.temperature, spec.humidity,
                                                                     *spec.air_quality))
    bays = [d for d in watched if live.spec.metric(device_type(d) or "", spec.parking) is not None]
    taken = sum(state.value(d.id, spec.parking) is True for d in bays if d.id in reporting_ids)
    occupancy = live.spec.occupancy
    persons = _persons(park, live, reporting, occupancy.metric) if occupancy is not None else None
    alarms = Counter(a.severity for a in live.alarms.list(active=True))
    orders = Counter(o.priority for o in live.workorders.list(status=PENDING))
    return WallFigures(tuple(m for m in environment if m.devices or _declared(live, m.metric)),
                       sum(persons.values()) if persons is not None else None, persons or {},
                       taken, len(bays), len(reporting), len(watched),
                       {s: alarms.get(s, 0) for s in Severity}, {p: orders.get(p, 0) for p in Priority})


def _declared(live: Live, metric: str) -> bool:
    return any(metric in kind.metrics for kind in live.spec.device_types.values())


def _mean(live: Live, reporting: Iterable, metric: str) -> Mean:
    values = [v for d in reporting if isinstance(v := live.state.value(d.id, metric), (int, float))
              and not isinstance(v, bool)]
    unit = next((kind.metrics[metric].unit for kind in live.spec.device_types.values() if metric in kind.metrics), "")
    return Mean(metric, unit, sum(values) / len(values) if values else None, len(values))


def _persons(park: Park, live: Live, reporting: list, metric: str) -> dict[str, int]:
    """Building id (or the host's id, outside buildings) → persons, from the outermost counters."""
    hosts = {}
    for device in reporting:
        value = live.state.value(device.id, metric)
        host = device.links.get("host") or device.parent
        if isinstance(value, (int, float)) and not isinstance(value, bool) and host in park:
            hosts.setdefault(host, 0)
            hosts[host] += max(0, round(value))
    persons: dict[str, int] = defaultdict(int)
    for host, count in hosts.items():
        if {node.id for node in park.path(host)}.isdisjoint(hosts):  # not inside a place another counter counts
            building = park.within(host, "building")
            persons[building.id if building is not None else host] += count
    return dict(persons)

