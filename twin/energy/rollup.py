"""Consumption per meter per hour, day or month, rolled up the meter tree.

A meter's consumption in a bucket is the rise of its cumulative reading between the bucket's edges,
the reading at an edge interpolated linearly between the samples either side of it (so the buckets
of a range add up exactly to the range). A drop in the reading is a reset or a new meter: nothing is
counted over that interval, and counting goes on from the new value. A bucket outside the span of a
meter's samples is unknown (NaN), not zero.

Up the tree, every bucket of a meter with sub-meters has three figures:

- ``metered_kwh``: what its own reading says (NaN without readings);
- ``children_kwh``: the sum of its sub-meters' totals (NaN when one of them is unknown);
- ``total_kwh``: its own reading when known, else the sum of its sub-meters;

and ``unmetered_kwh = metered_kwh - children_kwh`` is what no sub-meter counts: losses, common areas,
plant. Days and months are the park's local ones (``[energy] timezone``); hours are 3,600 s steps
from the range's start.

>>> edges = bucket_edges(*month_range("2026-11", ZoneInfo("Asia/Shanghai")), "day")   # doctest: +SKIP
>>> readings = read_counters(history, tree.meters, "energy_kwh", edges[0], edges[-1])  # doctest: +SKIP
>>> days = roll_up(tree, readings, edges)                                               # doctest: +SKIP
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cached_property

import numpy as np

from twin.energy.meters import MeterTree
from twin.energy.readings import Readings
from twin.errors import InputError

PERIODS = ("hour", "day", "month")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def month_range(month: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """The local start of a month (``"2026-11"``) and of the next one."""
    found = _MONTH_RE.match(month)
    if not found or not 1 <= int(found[2]) <= 12:
        raise InputError(f"--month {month!r}: not a month (write it YYYY-MM)")
    year, number = int(found[1]), int(found[2])
    return (datetime(year, number, 1, tzinfo=zone),
            datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone))


def bucket_edges(start: datetime, end: datetime, period: str) -> list[datetime]:
    """``start``, the hour, day or month starts after it (in ``start``'s zone) before ``end``, ``end``."""
    if period not in PERIODS:
        raise ValueError(f"period {period!r}: one of {', '.join(PERIODS)}")
    if end <= start:
        raise ValueError(f"the range ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    edges, at = [start], start
    while True:
        if period == "hour":  # in UTC: aware arithmetic in a zone is wall-clock arithmetic
            at = (at.astimezone(UTC) + timedelta(hours=1)).astimezone(start.tzinfo)
        elif period == "day":
            day = at.date() + timedelta(days=1)
            at = datetime(day.year, day.month, day.day, tzinfo=start.tzinfo)
        else:
            at = datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=start.tzinfo)
        if at >= end:
            return [*edges, end]
        edges.append(at)


def consumption(readings: Readings | None, edges_s: np.ndarray) -> np.ndarray:
    """The rise of a cumulative reading in each bucket between ``edges_s`` (seconds since 1970); NaN
    where the bucket does not overlap the samples' span (fewer than two samples: all NaN)."""
    used = np.full(len(edges_s) - 1, np.nan)
    if readings is None or len(readings.t_s) < 2:
        return used
    t_s = readings.t_s
    rise = np.diff(readings.value)
    rise[rise < 0] = 0.0  # a reset or a new meter: count on from its new value
    counted = np.interp(edges_s, t_s, np.r_[0.0, np.cumsum(rise)])
    covered = np.minimum(edges_s[1:], t_s[-1]) > np.maximum(edges_s[:-1], t_s[0])
    used[covered] = np.diff(counted)[covered]
    return used


@dataclass(frozen=True)
class Rollup:
    """Per meter (rows in ``tree.meters`` order) and bucket (columns between ``edges``), kWh."""

    tree: MeterTree
    edges: tuple[datetime, ...]
    metered_kwh: np.ndarray
    children_kwh: np.ndarray
    total_kwh: np.ndarray

    @cached_property
    def row(self) -> dict[str, int]:
        return {meter_id: i for i, meter_id in enumerate(self.tree.meters)}

    @property
    def unmetered_kwh(self) -> np.ndarray:
        """Metered minus sub-metered: losses and common areas (NaN where either is unknown)."""
        return self.metered_kwh - self.children_kwh

    def total_of(self, meter_ids: list[str]) -> np.ndarray:
        """Per bucket, the sum of these meters' totals (NaN where one is unknown)."""
        return self.total_kwh[[self.row[m] for m in meter_ids]].sum(axis=0)

    def over_range(self, figures: np.ndarray) -> np.ndarray:
        """Per meter, the sum of its known buckets (NaN when none is known)."""
        known = ~np.isnan(figures)
        return np.where(known.any(axis=1), np.where(known, figures, 0.0).sum(axis=1), np.nan)


def roll_up(tree: MeterTree, readings: Mapping[str, Readings], edges: list[datetime]) -> Rollup:
    """Each meter's consumption between ``edges``, and the sums up the tree."""
    edges_s = np.array([e.timestamp() for e in edges])
    metered = np.array([consumption(readings.get(m), edges_s) for m in tree.meters]).reshape(
        len(tree.meters), len(edges) - 1)
    row = {meter_id: i for i, meter_id in enumerate(tree.meters)}
    children, total = np.full_like(metered, np.nan), metered.copy()
    for meter_id in tree.bottom_up():
        kids = tree.meters[meter_id].children
        if kids:
            i = row[meter_id]
            children[i] = total[[row[k] for k in kids]].sum(axis=0)
            total[i] = np.where(np.isnan(metered[i]), children[i], metered[i])
    return Rollup(tree, tuple(edges), metered, children, total)
