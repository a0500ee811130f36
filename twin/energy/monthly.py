"""A month's energy and carbon of a park from its history — the figures of ``twin energy`` and of the
served report (:mod:`twin.web.energy_routes`) — and the months around a time.

>>> summary, days = monthly_energy(park, scene.energy, history, "2026-11")   # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from live.history import History
from twin.energy.config import EnergySpec
from twin.energy.meters import meter_tree
from twin.energy.readings import read_counters
from twin.energy.report import label
from twin.energy.rollup import Rollup, bucket_edges, month_range, roll_up
from twin.energy.summary import EnergySummary, summarise
from twin.errors import InputError
from twin.park import Park


class NoMeters(InputError):
    """The park has no meters of the spec's device type: there is nothing to report."""


def monthly_energy(park: Park, spec: EnergySpec, history: History, month: str,
                   progress: Callable[[int], None] | None = None) -> tuple[EnergySummary, Rollup]:
    """The month's (``"2026-11"``, in the spec's zone) figures per park, building and tenant, and the
    same month by day (for the report's daily charts). One read of the history serves both.

    Raises :class:`InputError` for a bad month, :class:`NoMeters` for a park without meters."""
    start, end = month_range(month, spec.zone)
    tree = meter_tree(park, spec.device_type)
    if not tree.meters:
        raise NoMeters(f"{park.name}: no {spec.device_type} devices in the park")
    readings = read_counters(history, tree.meters, spec.metric, start, end, progress)
    summary = summarise(park, roll_up(tree, readings, [start, end]), spec.kg_co2e_per_kwh)
    return summary, roll_up(tree, readings, bucket_edges(start, end, "day"))


def report_title(park: Park, month: str) -> str:
    """The monthly report's title: the park, the month, what it is (in both languages)."""
    return f"{park.name} {month} {label('report')}"


def month_of(at: datetime, zone: tzinfo) -> str:
    """The month (``YYYY-MM``) that ``at`` (timezone-aware) falls in, in ``zone``."""
    return f"{at.astimezone(zone):%Y-%m}"


def recent_months(at: datetime, zone: tzinfo, count: int = 12) -> list[str]:
    """The month of ``at`` in ``zone`` and the ``count - 1`` before it, newest first."""
    local = at.astimezone(zone)
    index = local.year * 12 + local.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index, index - count, -1)]
