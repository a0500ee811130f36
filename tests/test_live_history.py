"""The history store on real SQLite files: written on change, downsampled for charts, kept 30 days."""
from __future__ import annotations

import csv
import io
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from live.clock import ManualClock
from live.history import SqliteHistory, policy_from
from twin.park import Node, Park, PropertySet

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return DAY0 + timedelta(seconds=seconds)


def policy(node_id: str, metric: str) -> tuple[float, float]:
    return {"temperature": (0.2, 900.0)}.get(metric, (0.0, 900.0))


@pytest.fixture
def clock():
    return ManualClock(DAY0)


@pytest.fixture
def history(tmp_path, clock):
    with SqliteHistory(tmp_path / "history.sqlite", clock, policy) as store:
        yield store


def stored(store: SqliteHistory, node_id: str, metric: str) -> list[tuple[datetime, object]]:
    """Every row of a series (no downsampling: one bucket per millisecond)."""
    store.flush()
    start, end = at(-10 * 86400), at(100 * 86400)
    return store.series(node_id, metric, start, end, max_points=(end - start) // timedelta(milliseconds=1))


def test_deadband_skips_small_changes(history):
    for i, value in enumerate([21.0, 21.1, 21.2, 21.25, 20.9, 20.85]):
        history.record("dev:TS-1", "temperature", value, at(60 * i))
    assert stored(history, "dev:TS-1", "temperature") == [(at(0), 21.0), (at(180), 21.25), (at(240), 20.9)]


def test_keepalive_writes_a_repeat(history):
    for minute in range(0, 31):
        history.record("dev:TS-1", "temperature", 21.0, at(60 * minute))
    assert stored(history, "dev:TS-1", "temperature") == [(at(0), 21.0), (at(900), 21.0), (at(1800), 21.0)]


def test_booleans_and_text_are_written_on_change_and_read_back_as_such(history):
    for i, value in enumerate([False, False, True, True, False]):
        history.record("dev:SD-1", "smoke", value, at(i))
    for i, value in enumerate(["idle", "idle", "moving"]):
        history.record("dev:LF-1", "mode", value, at(i))
    smoke = stored(history, "dev:SD-1", "smoke")
    assert smoke == [(at(0), False), (at(2), True), (at(4), False)]
    assert all(type(v) is bool for _, v in smoke)
    assert stored(history, "dev:LF-1", "mode") == [(at(0), "idle"), (at(2), "moving")]


def test_a_change_of_type_is_written_even_within_the_deadband(history):
    history.record("dev:TS-1", "temperature", 1.0, at(0))
    history.record("dev:TS-1", "temperature", True, at(1))
    history.record("dev:TS-1", "temperature", 1, at(2))  # an integer is a number
    assert stored(history, "dev:TS-1", "temperature") == [(at(0), 1.0), (at(1), True), (at(2), 1.0)]


def test_series_downsamples_within_bounds_and_starts_with_the_value_before(history):
    for minute in range(-60, 24 * 60):
        history.record("dev:TS-1", "temperature", float(minute % 2 * 10), at(60 * minute))
    history.flush()
    start, end = at(0), at(86400)
    points = history.series("dev:TS-1", "temperature", start, end, max_points=48)
    assert points[0] == (start, 10.0)  # minute -1 held 10 until minute 0
    buckets = points[1:]
    assert 1 < len(buckets) <= 48
    assert all(start <= ts <= end for ts, _ in buckets)
    assert [ts for ts, _ in buckets] == sorted(ts for ts, _ in buckets)
    assert all(v == pytest.approx(5.0) for _, v in buckets)  # half-hour averages of 0, 10, 0, 10 …


def test_series_keeps_the_last_boolean_of_each_bucket(history):
    history.record("dev:SD-1", "smoke", False, at(0))
    history.record("dev:SD-1", "smoke", True, at(10))
    history.record("dev:SD-1", "smoke", False, at(20))  # same hour as the alarm
    history.record("dev:SD-1", "smoke", True, at(3700))
    history.flush()
    assert history.series("dev:SD-1", "smoke", at(0), at(7199), max_points=2) == [(at(20), False), (at(3700), True)]


def test_latest_gives_each_nodes_last_value_of_a_metric_written_since(history):
    history.record("dev:PC-1", "people", 3.0, at(0))
    history.record("dev:PC-1", "people", 7.0, at(600))
    history.record("dev:PC-2", "people", 2.0, at(0))
    history.record("dev:TS-1", "temperature", 21.0, at(600))
    history.flush()
    assert history.latest("people", at(0)) == {"dev:PC-1": (7.0, at(600)), "dev:PC-2": (2.0, at(0))}
    assert history.latest("people", at(300)) == {"dev:PC-1": (7.0, at(600))}
    assert history.latest("wind", at(0)) == {}


def test_unknown_series_is_empty(history):
    assert history.series("dev:none", "temperature", at(0), at(60)) == []


def test_retention_purges_rows_older_than_30_days(tmp_path, clock):
    with SqliteHistory(tmp_path / "history.sqlite", clock, policy, flush_s=0.01) as store:
        for day in range(40):
            store.record("dev:TS-1", "temperature", float(day), at(86400 * day))
        store.flush()
        clock.advance(40 * 86400)
        for _ in range(1000):  # the writer purges on its own, within one of its rounds
            if stored(store, "dev:TS-1", "temperature")[0][1] == 10.0:
                break
            threading.Event().wait(0.01)
        assert [v for _, v in stored(store, "dev:TS-1", "temperature")] == [float(d) for d in range(10, 40)]
        assert store.purge(at(35 * 86400)) == 25
        assert [v for _, v in stored(store, "dev:TS-1", "temperature")] == [35.0, 36.0, 37.0, 38.0, 39.0]


def test_export_csv_writes_rows_of_the_nodes_asked_by_time(history):
    history.record("dev:TS-1", "temperature", 21.5, at(60))
    history.record("dev:SD-1", "smoke", True, at(30))
    history.record("dev:SD-1", "smoke", False, at(90))
    history.record("dev:TS-2", "temperature", 19.0, at(60))  # not asked for
    history.record("dev:TS-1", "temperature", 25.0, at(3600))  # after the end
    history.flush()
    out = io.StringIO()
    assert history.export_csv(["dev:TS-1", "dev:SD-1"], at(0), at(120), out) == 3
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["ts", "node", "metric", "value"],
        ["2026-03-01T00:00:30.000Z", "dev:SD-1", "smoke", "true"],
        ["2026-03-01T00:01:00.000Z", "dev:TS-1", "temperature", "21.5"],
        ["2026-03-01T00:01:30.000Z", "dev:SD-1", "smoke", "false"]]


def test_reopen_keeps_data_and_series_ids(tmp_path, clock):
    path = tmp_path / "history.sqlite"
    with SqliteHistory(path, clock, policy) as store:
        store.record("dev:TS-1", "temperature", 21.0, at(0))
        store.record("dev:SD-1", "smoke", True, at(0))
    with SqliteHistory(path, clock, policy) as store:
        store.record("dev:TS-2", "temperature", 19.0, at(60))
        store.record("dev:TS-1", "temperature", 21.5, at(60))
        assert stored(store, "dev:TS-1", "temperature") == [(at(0), 21.0), (at(60), 21.5)]
        assert stored(store, "dev:SD-1", "smoke") == [(at(0), True)]
        assert stored(store, "dev:TS-2", "temperature") == [(at(60), 19.0)]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert sorted(db.execute("SELECT id, node, metric FROM series")) == [
        (1, "dev:TS-1", "temperature"), (2, "dev:SD-1", "smoke"), (3, "dev:TS-2", "temperature")]
    db.close()


def test_the_writer_thread_writes_full_batches_on_its_own_and_flush_writes_the_rest(tmp_path, clock):
    with SqliteHistory(tmp_path / "history.sqlite", clock, flush_s=3600, batch_rows=500) as store:
        def device(n: int) -> None:
            for i in range(2000):
                store.record(f"dev:M-{n}", "energy", float(i), at(i))
        threads = [threading.Thread(target=device, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        store.record("dev:M-0", "energy", -1.0, at(5000))  # one more, below a batch
        for _ in range(1000):  # no timer (flush_s is an hour): full batches wake the writer
            if store.series("dev:M-3", "energy", at(0), at(1999), max_points=2000):
                break
            threading.Event().wait(0.01)
        else:
            pytest.fail("the writer wrote no full batch by itself")
        store.flush()
        assert store.pending == 0 and store.dropped == 0
        for n in range(4):
            values = [v for _, v in stored(store, f"dev:M-{n}", "energy")]
            assert values == [float(i) for i in range(2000)] + ([-1.0] if n == 0 else [])


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path, clock):
    with SqliteHistory(tmp_path / "history.sqlite", clock, flush_s=3600, max_pending=3) as store:
        for i in range(5):
            store.record("dev:M-1", "energy", float(i), at(i))
        assert store.dropped == 2
        assert [v for _, v in stored(store, "dev:M-1", "energy")] == [0.0, 1.0, 2.0]


def test_a_late_value_is_written_without_moving_the_reference(history):
    history.record("dev:TS-1", "temperature", 21.0, at(600))
    history.record("dev:TS-1", "temperature", 25.0, at(300))  # arrives late, differs
    history.record("dev:TS-1", "temperature", 21.1, at(660))  # within the deadband of 21.0
    assert stored(history, "dev:TS-1", "temperature") == [(at(300), 25.0), (at(600), 21.0)]


def test_closed_history_refuses_values(tmp_path, clock):
    store = SqliteHistory(tmp_path / "history.sqlite", clock)
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.record("dev:TS-1", "temperature", 21.0, at(0))


def test_policy_from_reads_the_device_type_of_the_node():
    config = pytest.importorskip("live.config")
    park = Park("demo")
    park.add(Node("dev:TS-1", "device", parent="park",
                  properties_loader=PropertySet("device", {"type": "temperature_sensor"})))
    park.add(Node("space:1", "space", parent="park"))
    metric = config.MetricSpec("temperature", deadband=0.3, keepalive_s=600.0)
    spec = config.LiveSpec(device_types={"temperature_sensor": config.DeviceType(
        "temperature_sensor", None, {"temperature": metric}, None)})
    policy = policy_from(spec, park)
    assert policy("dev:TS-1", "temperature") == (0.3, 600.0)
    assert policy("dev:TS-1", "humidity") == (0.0, 900.0)
    assert policy("space:1", "temperature") == (0.0, 900.0)
    assert policy("dev:missing", "temperature") == (0.0, 900.0)


def test_twin_history_export_writes_csv_of_the_served_park(tmp_path, monkeypatch):
    """``twin history export`` reads the store ``twin serve`` keeps for the scene."""
    from conftest import ROOT, run_twin
    from live.clock import SystemClock
    from live.runtime import live_folder
    from twin.scene import read_scene

    monkeypatch.setenv("TWIN_HOME", str(tmp_path))
    scene = ROOT / "scenes" / "demo"
    path = live_folder(read_scene(scene).name) / "history.sqlite"
    path.parent.mkdir(parents=True)
    now = datetime.now(UTC).replace(microsecond=0)
    with SqliteHistory(path, SystemClock()) as store:
        for minutes, value in ((90, 20.5), (30, 21.0), (10, 22.5)):
            store.record("dev:TS-B01-1F-A-103", "temperature", value, now - timedelta(minutes=minutes))
        store.record("dev:SD-B01-1F-A-101-1", "smoke", True, now - timedelta(minutes=5))
    out = tmp_path / "export.csv"
    done = run_twin("history", "export", "dev:TS-B01-1F-A-103", "dev:SD-B01-1F-A-101-1", "--scene", scene,
                    "--from", (now - timedelta(hours=1)).isoformat(), "--out", out)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["node"], r["metric"], r["value"]) for r in rows] == [
        ("dev:TS-B01-1F-A-103", "temperature", "21.0"), ("dev:TS-B01-1F-A-103", "temperature", "22.5"),
        ("dev:SD-B01-1F-A-101-1", "smoke", "true")]
    assert "3 rows" in done.stderr
    bad = run_twin("history", "export", "dev:X", "--scene", scene, "--from", "last tuesday")
    assert bad.returncode == 2 and "--from/--to 'last tuesday'" in bad.stderr
