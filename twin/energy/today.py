"""Energy for the live app: the park's kWh since local midnight, each of its last 24 hours, the month so
far in kWh and tCO2e, and each building's kWh/m² this month — from the live history, through the same
roll-up as ``twin energy`` — and :class:`EnergyTodayCache`, which computes them at most once a minute
for every session of a served park.

The park's figure is the sum of its root meters (sub-meters are not counted again); days, hours and
months are the scene's local ones (``[energy] timezone``). One read of the history covers the month
and the last 24 hours: reading is nearly all the cost, the three roll-ups from it are cheap; the cache
keeps what it read (:class:`~twin.energy.readings.KeptReadings`) and reads only what is new.

>>> live.energy.get().kwh_today          # doctest: +SKIP  (a Live's shared cache)
1834.5
"""
from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

import numpy as np

from live.clock import Clock
from live.history import History
from twin.energy.colours import intensities_kwh_m2
from twin.energy.config import EnergySpec
from twin.energy.meters import meter_tree
from twin.energy.readings import KeptReadings
from twin.energy.rollup import Rollup, bucket_edges, month_range, roll_up
from twin.park import Park

TREND_HOURS = 24  #: the hours of the trend: those that start in the last 24 hours (the current one runs to now)
DEFAULT_MAX_AGE_S = 60.0


@dataclass(frozen=True)
class EnergyToday:
    """The park's energy at ``at`` (local time): kWh since midnight, per hour over the last 24 hours
    (hour start → kWh; the current hour runs to ``at``), this month so far, and each metered
    building's kWh/m² this month (building node id → kWh/m²). NaN: unknown (no readings)."""

    at: datetime
    kwh_today: float
    hourly_kwh: tuple[tuple[datetime, float], ...]
    kwh_month: float
    buildings_kwh_m2_month: Mapping[str, float]
    kg_co2e_per_kwh: float

    @property
    def kg_co2e_today(self) -> float:
        return self.kwh_today * self.kg_co2e_per_kwh

    @property
    def tco2e_today(self) -> float:
        return self.kg_co2e_today / 1000

    @property
    def tco2e_month(self) -> float:
        return self.kwh_month * self.kg_co2e_per_kwh / 1000


def energy_today(park: Park, spec: EnergySpec, history: History, now: datetime,
                 kept: KeptReadings | None = None) -> EnergyToday:
    """Today's, the last 24 hours' and this month's energy of ``park`` at ``now`` (timezone-aware);
    ``kept``: the readings kept from the last call (the history is then read only for what is new)."""
    if now.tzinfo is None:
        raise ValueError(f"energy_today: now ({now.isoformat()}) must be timezone-aware")
    local = now.astimezone(spec.zone)
    month_start = month_range(f"{local:%Y-%m}", spec.zone)[0]
    midnight = datetime(local.year, local.month, local.day, tzinfo=spec.zone)
    since = (local.astimezone(UTC) - timedelta(hours=TREND_HOURS)).astimezone(spec.zone)
    first_hour = since.replace(minute=0, second=0, microsecond=0)
    if first_hour < since:  # the trend's first hour is the first to start within the last 24 hours
        first_hour = (first_hour.astimezone(UTC) + timedelta(hours=1)).astimezone(spec.zone)
    tree = meter_tree(park, spec.device_type)
    readings = (kept or KeptReadings(history, spec.metric)).read(tree.meters, min(month_start, first_hour), local)
    month = roll_up(tree, readings, [month_start, local])
    hours = roll_up(tree, readings, bucket_edges(first_hour, local, "hour"))
    return EnergyToday(
        at=local, kwh_today=float(_park_kwh(roll_up(tree, readings, [midnight, local]))[0]),
        hourly_kwh=tuple(zip(hours.edges[:-1], _park_kwh(hours).tolist())), kwh_month=float(_park_kwh(month)[0]),
        buildings_kwh_m2_month=intensities_kwh_m2(park, month), kg_co2e_per_kwh=spec.kg_co2e_per_kwh)


def _park_kwh(rollup: Rollup) -> np.ndarray:
    """Per bucket, the sum of the root meters' totals (NaN when one is unknown, or there are none)."""
    roots = list(rollup.tree.roots)
    return rollup.total_of(roots) if roots else np.full(len(rollup.edges) - 1, math.nan)


class EnergyTodayCache:
    """One park's :class:`EnergyToday`, recomputed at most every ``max_age_s`` of ``clock``; one per
    served park, shared by all its sessions (:attr:`live.runtime.Live.energy`). Thread-safe: a
    session asking while another computes waits for that result."""

    def __init__(self, park: Park, spec: EnergySpec, history: History, clock: Clock,
                 max_age_s: float = DEFAULT_MAX_AGE_S):
        if not max_age_s >= 0:
            raise ValueError(f"max_age_s must be ≥ 0 s, not {max_age_s}")
        self.park, self.spec, self.history, self.clock, self.max_age_s = park, spec, history, clock, max_age_s
        self._lock = threading.Lock()
        self._today: EnergyToday | None = None
        self._kept = KeptReadings(history, spec.metric)

    @cached_property
    def metered(self) -> bool:
        """Whether the park has meters of the spec's device type."""
        return bool(meter_tree(self.park, self.spec.device_type).meters)

    def get(self) -> EnergyToday:
        """The figures, computed now when the last are ``max_age_s`` old or there are none yet."""
        with self._lock:
            now = self.clock.now()
            if self._today is None or (now - self._today.at).total_seconds() >= self.max_age_s:
                self._today = energy_today(self.park, self.spec, self.history, now, self._kept)
            return self._today
