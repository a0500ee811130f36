"""A month's energy roll-up of the demo park: every energy meter (142), one cumulative reading every
15 minutes, rolled up per hour, day and month (issue 8 item 2).

    .venv/bin/python bench/energy.py [--days 30] [--out bench/out/energy] [--keep]

The readings go through :meth:`live.history.SqliteHistory.record` into a real store (a day either
side of the month too), each meter drawing its own day/night power. Then, in the same run:

- **roll-up** (:mod:`twin.energy`): one :meth:`~live.history.SqliteHistory.series` read per meter
  (:func:`~twin.energy.readings.read_counters`), then :func:`~twin.energy.rollup.roll_up` per hour,
  day and month, sub-meters summed up the tree;
- **baseline**, the naive way with the same history interface: per meter, the reading at every hour
  edge asked of the store one query at a time, hourly use as their differences, days and the month
  summed from the hours, the tree summed meter by meter in Python.

The samples sit on the hour edges, so both must give the same figures: the run checks it, then
prints both times and their ratio.

Then the live app's figures on the month's last day (:func:`~twin.energy.today.energy_today`: today,
the last 24 hours, the month so far), refreshed a minute after a first computation as the wall's
cache does each minute: with the readings kept from the first (read again: the last minutes only)
vs a full read, the baseline. Same figures, two times and their ratio.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from live.clock import ManualClock  # noqa: E402
from live.history import SqliteHistory  # noqa: E402
from twin.cache import compile_scene  # noqa: E402
from twin.energy.meters import MeterTree, meter_tree  # noqa: E402
from twin.energy.readings import KeptReadings, read_counters  # noqa: E402
from twin.energy.rollup import bucket_edges, month_range, roll_up  # noqa: E402
from twin.energy.today import energy_today  # noqa: E402
from twin.park import Park  # noqa: E402
from twin.scene import read_scene  # noqa: E402

STEP = timedelta(minutes=15)
ZONE = ZoneInfo("Asia/Shanghai")


def fill(history: SqliteHistory, tree: MeterTree, start, end, seed: int = 2026) -> int:
    """Cumulative readings every 15 min for every meter: its own day (08–18 h) and night power."""
    rng = np.random.default_rng(seed)
    times = [start + k * STEP for k in range(int((end - start) / STEP) + 1)]
    day = np.array([8 <= t.astimezone(ZONE).hour < 18 for t in times[:-1]])
    rows = 0
    for meter_id in tree.meters:
        day_kw, night_kw = rng.uniform(5, 50), rng.uniform(0.5, 5)
        kwh = 1000 + np.r_[0.0, np.cumsum(np.where(day, day_kw, night_kw) * STEP.total_seconds() / 3600)]
        for at, value in zip(times, kwh):
            history.record(meter_id, "energy_kwh", round(float(value), 2), at)
            rows += 1
    history.flush()
    return rows


def rolled_up(history: SqliteHistory, tree: MeterTree, start, end) -> tuple[list[np.ndarray], float, float]:
    """The library's hourly, daily and monthly totals, and the seconds spent reading and computing."""
    t0 = time.perf_counter()
    readings = read_counters(history, tree.meters, "energy_kwh", start, end)
    t1 = time.perf_counter()
    totals = [roll_up(tree, readings, edges).total_kwh for edges in (
        bucket_edges(start, end, "hour"), bucket_edges(start, end, "day"), [start, end])]
    return totals, t1 - t0, time.perf_counter() - t1


def naive(history: SqliteHistory, tree: MeterTree, start, end) -> list[np.ndarray]:
    """Hourly, daily and monthly totals the naive way: one query per meter and hour edge, sums in
    Python (days of 24 hours: the month starts at a local midnight, and Shanghai has no summer time)."""
    edges = bucket_edges(start, end, "hour")
    hourly: dict[str, list[float]] = {}
    for meter_id in tree.meters:
        at_edges = []
        for edge in edges:
            points = history.series(meter_id, "energy_kwh", edge, edge, 1)
            at_edges.append(points[-1][1] if points else float("nan"))
        hourly[meter_id] = [b - a for a, b in zip(at_edges, at_edges[1:])]
    for meter_id in tree.bottom_up():  # a parent without readings: the sum of its children
        meter = tree.meters[meter_id]
        if meter.children and all(np.isnan(v) for v in hourly[meter_id]):
            hourly[meter_id] = [sum(hourly[c][i] for c in meter.children) for i in range(len(edges) - 1)]
    daily = {m: [sum(h[i:i + 24]) for i in range(0, len(h), 24)] for m, h in hourly.items()}
    monthly = {m: [sum(d)] for m, d in daily.items()}
    return [np.array([figures[m] for m in tree.meters]) for figures in (hourly, daily, monthly)]


def live_refresh(park: Park, history: SqliteHistory, now) -> tuple[float, float]:
    """Seconds for the live figures' refresh a minute after a first one: readings kept, and read whole."""
    spec = read_scene(ROOT / "scenes" / "demo").energy
    kept = KeptReadings(history, spec.metric)
    energy_today(park, spec, history, now - timedelta(minutes=1), kept)
    t0 = time.perf_counter()
    refreshed = energy_today(park, spec, history, now, kept)
    t1 = time.perf_counter()
    whole = energy_today(park, spec, history, now)
    t2 = time.perf_counter()
    assert (refreshed.kwh_today, refreshed.kwh_month, refreshed.hourly_kwh) == \
        (whole.kwh_today, whole.kwh_month, whole.hourly_kwh), "kept readings must give the same figures"
    return t1 - t0, t2 - t1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=30, help="days of readings (from 2026-11-01, Shanghai)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "energy")
    p.add_argument("--keep", action="store_true", help="keep the history store")
    args = p.parse_args()
    park = compile_scene(ROOT / "scenes" / "demo")
    tree = meter_tree(park)
    start = month_range("2026-11", ZONE)[0]
    end = start + timedelta(days=args.days)
    args.out.mkdir(parents=True, exist_ok=True)
    store = args.out / "history.sqlite"
    store.unlink(missing_ok=True)
    with SqliteHistory(store, ManualClock(end), retention_days=3650) as history:
        t0 = time.perf_counter()
        rows = fill(history, tree, start - timedelta(days=1), end + timedelta(days=1))
        print(f"{len(tree.meters)} meters, {args.days} days at 15 min: {rows:,} rows written in "
              f"{time.perf_counter() - t0:.1f} s ({store.stat().st_size / 1e6:.1f} MB)")
        ours, read_s, compute_s = rolled_up(history, tree, start, end)
        t0 = time.perf_counter()
        theirs = naive(history, tree, start, end)
        naive_s = time.perf_counter() - t0
        kept_s, whole_s = live_refresh(park, history, end - timedelta(hours=1))
    for mine, baseline in zip(ours, theirs):
        np.testing.assert_allclose(mine, baseline, rtol=1e-9, atol=1e-6)
    print(f"roll-up (hour, day, month): {read_s + compute_s:.2f} s (reading {read_s:.2f} s, "
          f"computing {compute_s:.3f} s)")
    print(f"baseline, a query per meter and hour edge: {naive_s:.2f} s — the same figures; "
          f"the roll-up is {naive_s / (read_s + compute_s):.1f}× faster")
    print(f"live figures on the month's last day, refreshed a minute later: {kept_s:.3f} s with the readings "
          f"kept vs {whole_s:.2f} s read whole (baseline) — the same figures, {whole_s / kept_s:.0f}× faster")
    if not args.keep:
        for path in args.out.glob("history.sqlite*"):
            path.unlink()


if __name__ == "__main__":
    main()
