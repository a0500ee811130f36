"""A 30-day history of the demo park: store size and the 24 h chart query (issue 5, item 11).

    .venv/bin/python bench/history.py [--days 30] [--out bench/out/history] [--keep]

Every device of ``scenes/demo/devices.csv`` reports its type's metrics (the table ``METRICS``:
1–3 per device) once a simulated minute, through :meth:`live.history.SqliteHistory.record` — the
same deadband and keep-alive decision and the same writer batches as the live path, driven by a
:class:`~live.clock.ManualClock`. Values follow the real daily shapes in ``live/profiles`` (room
temperature, humidity and CO2 of the UCI office room; the hourly building load of Cambridge b77),
each device with its own offset and sensor noise rounded to the sensor's resolution, so the
deadband applies as it would. Booleans flip as Markov chains (a parking bay a few times a day, a
smoke detector almost never).

Then it prints the rows written, the store size (goal ≤ 2 GB over 30 days) and the median time of
20 chart queries — :meth:`~live.history.SqliteHistory.series` over the last 24 h, ``max_points``
500, on random series and again on the densest series — beside two baselines from the same store
in the same run: the same 24 h as raw rows without downsampling, and one full scan of the sample
table (warm page cache: the store was just written). Results also go to
``OUT/result.json``; the store (``OUT/history.sqlite``) is deleted unless ``--keep``.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sqlite3
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from live.clock import ManualClock  # noqa: E402
from live.history import SqliteHistory, to_ms  # noqa: E402

DEVICES = ROOT / "scenes" / "demo" / "devices.csv"
PROFILES = ROOT / "live" / "profiles"
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
STEP_S = 60
QUERIES = 20

#: type → (metric, signal, deadband, keep-alive s). Signals: ``room:<column>`` (UCI room profile),
#: ``load`` / ``meter`` (building load, power and its running total), ``bool:<p_on>:<p_off>``
#: (per-minute flip chances), ``battery``, ``night`` (street lights), ``floor``, ``pm25``, ``level``.
METRICS: dict[str, tuple[tuple[str, str, float, float], ...]] = {
    "smoke_detector": (("smoke", "bool:0.000003:0.2", 0, 900), ("battery_pct", "battery", 1, 3600)),
    "parking_sensor": (("occupied", "bool:0.004:0.005", 0, 900), ("battery_pct", "battery", 1, 3600)),
    "manhole_cover": (("open", "bool:0.00001:0.05", 0, 900), ("battery_pct", "battery", 1, 3600)),
    "energy_meter": (("power_kw", "load", 1.0, 900), ("energy_kwh", "meter", 1.0, 900)),
    "temperature_sensor": (("temperature", "room:temperature_c", 0.2, 900),),
    "humidity_sensor": (("humidity", "room:humidity_pct", 1.0, 900),),
    "air_quality_sensor": (("co2", "room:co2_ppm", 20, 900), ("pm25", "pm25", 5, 900)),
    "street_light": (("on", "night", 0, 900), ("power_w", "lamp", 5, 900)),
    "camera": (("recording", "bool:0.2:0.0001", 0, 900),),
    "pressure_sensor": (("pressure_kpa", "pressure", 2, 900),),
    "charging_pile": (("charging", "bool:0.01:0.008", 0, 900), ("power_kw", "charge", 0.5, 900)),
    "access_door": (("open", "bool:0.02:0.6", 0, 900), ("locked", "locked", 0, 900)),
    "water_meter": (("volume_m3", "meter", 0.1, 900),),
    "flow_sensor": (("flow_m3h", "load", 0.5, 900),),
    "lift": (("floor", "floor", 0, 900), ("moving", "moving", 0, 900)),
    "level_sensor": (("level_m", "level", 0.05, 900),),
}


def profiles() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Room columns as ``{column: [weekday/weekend, minute of day]}`` and load as ``[weekday, hour]``."""
    with (PROFILES / "room.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    room = {}
    for column in ("temperature_c", "humidity_pct", "co2_ppm"):
        table = np.zeros((2, 24 * 60))
        for kind, day in enumerate(("weekday", "weekend")):
            slots = [(int(r["minute"]), float(r[column])) for r in rows if r["day"] == day]
            minutes, values = zip(*sorted(slots))
            table[kind] = np.interp(np.arange(24 * 60), minutes, values, period=24 * 60)
        room[column] = table
    load = np.ones((7, 24))
    with (PROFILES / "load.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            load[int(r["weekday"]), int(r["hour"])] = float(r["load"])
    return room, load


class Signal:
    """``n`` devices' values of one metric, one simulated minute at a time."""

    def __init__(self, kind: str, n: int, rng: np.random.Generator, room: dict, load: np.ndarray):
        self.kind, self.n, self.rng, self.room, self.load = kind, n, rng, room, load
        self.noise = np.zeros(n)
        self.offset = rng.normal(0, 1, n)
        self.scale = rng.uniform(0.5, 2.0, n)
        self.state = rng.random(n) < 0.3
        self.total = rng.uniform(1e3, 1e5, n)
        self.battery = rng.uniform(60, 100, n)
        self.floor = rng.integers(1, 7, n)
        self.moved = np.zeros(n, bool)

    def ar(self, sigma: float) -> np.ndarray:
        """Correlated sensor noise (AR(1), φ 0.9) of standard deviation ``sigma``."""
        self.noise = 0.9 * self.noise + self.rng.normal(0, sigma * 0.436, self.n)
        return self.noise

    def values(self, at: datetime) -> list:
        minute = at.hour * 60 + at.minute
        weekend = at.weekday() >= 5
        load = self.load[at.weekday(), at.hour]
        kind, _, arg = self.kind.partition(":")
        if kind == "room":
            spread = {"temperature_c": (0.8, 0.03, 0.1), "humidity_pct": (4, 0.2, 0.5),
                      "co2_ppm": (60, 5, 1)}[arg]
            base = self.room[arg][int(weekend), minute]
            value = base + spread[0] * self.offset + self.ar(spread[1])
            return (np.round(value / spread[2]) * spread[2]).round(3).tolist()
        if kind == "bool":
            p_on, p_off = map(float, arg.split(":"))
            flip = self.rng.random(self.n) < np.where(self.state, p_off, p_on)
            self.state = self.state ^ flip
            return self.state.tolist()
        if kind in ("load", "meter"):
            power = 40 * self.scale * load * (1 + self.ar(0.02))
            if kind == "load":
                return power.round(1).tolist()
            self.total += power / 60
            return self.total.round(2).tolist()
        if kind == "battery":
            self.battery -= 0.0004
            return self.battery.round(0).tolist()
        if kind in ("night", "lamp"):
            lit = ((minute + 10 * self.offset) % 1440 >= 18 * 60) | ((minute + 10 * self.offset) % 1440 < 6 * 60)
            if kind == "night":
                return lit.tolist()
            return (lit * (120 * self.scale.clip(0.8, 1.2)) * (1 + self.ar(0.01))).round(0).tolist()
        if kind == "charge":
            self.state = self.state ^ (self.rng.random(self.n) < np.where(self.state, 0.008, 0.01))
            return (self.state * (7 + self.ar(0.2))).round(1).tolist()
        if kind == "locked":
            return [weekend or minute < 7 * 60 or minute >= 20 * 60] * self.n
        if kind in ("floor", "moving"):
            move = self.rng.random(self.n) < (0.15 if 7 * 60 <= minute < 20 * 60 and not weekend else 0.02)
            self.floor = np.where(move, self.rng.integers(1, 7, self.n), self.floor)
            return self.floor.astype(float).tolist() if kind == "floor" else move.tolist()
        if kind == "pm25":
            return (25 + 8 * self.offset + self.ar(3)).clip(0).round(0).tolist()
        if kind == "pressure":
            return (300 + 20 * self.offset - 15 * load + self.ar(1)).round(1).tolist()
        if kind == "level":
            return (2 + 0.3 * np.sin(2 * np.pi * minute / 1440) + self.offset + self.ar(0.01)).round(2).tolist()
        raise ValueError(f"bench: no signal {self.kind!r}")


def park_series() -> tuple[list[tuple[str, str]], list[tuple[str, str]], dict[tuple[str, str], tuple[float, float]]]:
    """The demo's device codes by type, as (node id, metric) keys, signals and policies."""
    with DEVICES.open(encoding="utf-8") as fh:
        devices = [(row["code"], row["type"]) for row in csv.DictReader(fh)]
    keys, signals, policy = [], [], {}
    for code, kind in devices:
        for metric, signal, deadband, keepalive_s in METRICS.get(kind, ()):
            key = (f"dev:{code}", metric)
            keys.append(key)
            signals.append((kind, metric, signal))
            policy[key] = (float(deadband), float(keepalive_s))
    return keys, signals, policy


def write(days: float, path: Path) -> dict:
    """Record ``days`` of the park's telemetry into a new store at ``path``."""
    room, load = profiles()
    keys, signals, policy = park_series()
    rng = np.random.default_rng(0)
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, signal in enumerate(signals):
        groups.setdefault(signal, []).append(i)
    order = [i for members in groups.values() for i in members]
    ordered_keys = [keys[i] for i in order]
    makers = [Signal(signal[2], len(members), rng, room, load) for signal, members in groups.items()]
    clock = ManualClock(START)
    history = SqliteHistory(path, clock, lambda node, metric: policy[(node, metric)])
    record = history.record
    steps = int(days * 86400 / STEP_S)
    calls = 0
    generate_s = 0.0
    started = time.perf_counter()
    for step in range(steps):
        at = clock.now()
        tick = time.perf_counter()
        values = [v for maker in makers for v in maker.values(at)]
        generate_s += time.perf_counter() - tick
        for (node, metric), value in zip(ordered_keys, values):
            record(node, metric, value, at)
        calls += len(values)
        if step % 60 == 59 and history.pending > 400_000:
            history.flush()  # the bench runs ~5,000× real time; live ingest never waits here
        clock.advance(STEP_S)
    history.close()
    elapsed = time.perf_counter() - started
    return {"devices": len({node for node, _ in keys}), "series": len(keys), "record_calls": calls,
            "write_s": round(elapsed, 1), "generate_s": round(generate_s, 1),
            "record_calls_per_s": round(calls / (elapsed - generate_s)), "dropped": history.dropped,
            "series_per_type": dict(Counter(kind for kind, _, _ in signals))}


def timed(query, *args) -> tuple[float, int]:
    """Seconds and result length of one call."""
    tick = time.perf_counter()
    found = query(*args)
    return time.perf_counter() - tick, len(found)


def query_times(path: Path, days: float) -> dict:
    """Median 24 h chart query (downsampled) on random series and on the densest one, each beside
    the same 24 h as raw rows, and one full scan of the store (which also finds the densest)."""
    end = START + timedelta(days=days)
    start = end - timedelta(hours=24)
    history = SqliteHistory(path, ManualClock(end), retention_days=max(30, days + 1))
    db = sqlite3.connect(path)

    def chart(node: str, metric: str) -> list:
        return history.series(node, metric, start, end, max_points=500)

    def raw(node: str, metric: str) -> list:
        return [(datetime.fromtimestamp(t / 1000, UTC), v) for t, v in db.execute(
            "SELECT t, v FROM sample WHERE series = (SELECT id FROM series WHERE node = ? AND metric = ?)"
            " AND t >= ? AND t <= ? ORDER BY t", (node, metric, to_ms(start), to_ms(end)))]

    tick = time.perf_counter()
    counts = db.execute("SELECT series, count(*) FROM sample GROUP BY series").fetchall()
    scan_s = time.perf_counter() - tick
    names = {sid: (node, metric) for sid, node, metric in db.execute("SELECT id, node, metric FROM series")}
    densest = names[max(counts, key=lambda c: c[1])[0]]
    picks = random.Random(1).sample(sorted(names.values()), QUERIES)
    figures = {"rows": sum(n for _, n in counts), "full_scan_ms": round(scan_s * 1e3, 1),
               "densest_series": "/".join(densest)}
    for name, series in (("random", picks), ("densest", [densest] * QUERIES)):
        for what, query in (("chart", chart), ("raw", raw)):
            runs = [timed(query, *key) for key in series]
            figures[f"{name}_{what}_ms_median"] = round(statistics.median(s for s, _ in runs) * 1e3, 2)
            figures[f"{name}_{what}_ms_max"] = round(max(s for s, _ in runs) * 1e3, 2)
            figures[f"{name}_{what}_points_median"] = statistics.median(n for _, n in runs)
    db.close()
    history.close()
    return figures


def measure(days: float = 30, out: Path = ROOT / "bench" / "out" / "history", keep: bool = False) -> dict:
    """Build the history in ``out/history.sqlite``, measure it, return the figures."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "history.sqlite"
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    result = {"days": days, **write(days, path)}
    size = sum(p.stat().st_size for p in out.glob("history.sqlite*"))
    result.update(query_times(path, days))
    result.update({"store_mb": round(size / 1e6, 1), "bytes_per_row": round(size / result["rows"], 1),
                   "rows_per_series_day": round(result["rows"] / result["series"] / days, 1),
                   "written_share": round(result["rows"] / result["record_calls"], 4),
                   "store_mb_per_30_days": round(size / 1e6 * 30 / days, 1)})
    if not keep:
        for p in out.glob("history.sqlite*"):
            p.unlink()
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "history")
    ap.add_argument("--keep", action="store_true", help="keep the store (OUT/history.sqlite)")
    args = ap.parse_args()
    r = measure(args.days, args.out, args.keep)
    print(f"demo park: {r['devices']} devices, {r['series']} series, {r['days']:g} days at one sample a minute")
    print(f"record calls  {r['record_calls']:,} in {r['write_s']} s "
          f"({r['record_calls_per_s']:,}/s excluding {r['generate_s']} s generating values)")
    print(f"rows written  {r['rows']:,} ({r['written_share']:.1%} of the values; "
          f"{r['rows_per_series_day']} per series a day; {r['dropped']} dropped)")
    print(f"store size    {r['store_mb']} MB ({r['bytes_per_row']} bytes a row; "
          f"{r['store_mb_per_30_days']} MB per 30 days; goal ≤ 2000)")
    for name in ("random", "densest"):
        label = f"{QUERIES} random series" if name == "random" else f"the densest, {r['densest_series']}"
        print(f"24 h chart    {label}: median {r[f'{name}_chart_ms_median']} ms "
              f"(max {r[f'{name}_chart_ms_max']}), {r[f'{name}_chart_points_median']:g} points; "
              f"raw rows {r[f'{name}_raw_ms_median']} ms, {r[f'{name}_raw_points_median']:g} rows "
              f"(goal ≤ 200 ms)")
    print(f"baseline      full scan of the store {r['full_scan_ms']} ms "
          f"(chart / scan = {r['random_chart_ms_median'] / r['full_scan_ms']:.5f})")


if __name__ == "__main__":
    main()
