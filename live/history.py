"""History: every metric of every node over time, written on change (design decision 7, issue 5 item 6).

:meth:`SqliteHistory.record` is called on the MQTT thread for every accepted value and decides in
memory whether the value is worth a row: it is written when it moved more than the metric's deadband
from the last value written, when its type changed (number, boolean, text), or when the last row is
``keepalive_s`` old (the keep-alive sample), so a flat line still has points. Rows queue in memory
and one writer thread inserts them in batches (about once a second, or sooner every
``batch_rows``), so ingest never waits for the disk. The writer also drops rows older than
``retention_days`` (read from the injected clock), at most once an hour of that clock.

Schema (one SQLite file in WAL mode, compact for size)::

    series(id INTEGER PRIMARY KEY, node TEXT, metric TEXT, UNIQUE(node, metric))
    sample(series INTEGER, t INTEGER, v, PRIMARY KEY(series, t)) WITHOUT ROWID

``t`` is milliseconds since 1970 (UTC). ``v`` has no type affinity, so its SQLite storage class
says what it is: REAL for numbers, INTEGER 0/1 for booleans (no payload bytes), TEXT for text.

:class:`History` is the interface that pages, the REST API and the CLI use; a server database
(TimescaleDB, InfluxDB) can implement it instead.

>>> from datetime import datetime, timezone
>>> from live.clock import ManualClock
>>> day = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> with SqliteHistory(tmp_path / "history.sqlite", ManualClock(day)) as history:  # doctest: +SKIP
...     history.record("dev:TS-1", "temperature", 21.5, day)
...     history.flush()
...     history.series("dev:TS-1", "temperature", day, day.replace(hour=1))
[(datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), 21.5)]
"""
from __future__ import annotations

import csv
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self, TextIO

from live.clock import Clock
from live.state import device_type

if TYPE_CHECKING:
    from live.config import LiveSpec
    from twin.park import Park

log = logging.getLogger(__name__)

Value = float | bool | str
#: ``policy(node id, metric) -> (deadband, keepalive_s)``, asked once per series.
Policy = Callable[[str, str], tuple[float, float]]
DEFAULT_DEADBAND = 0.0
DEFAULT_KEEPALIVE_S = 900.0
PURGE_EVERY = timedelta(hours=1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, node TEXT NOT NULL, metric TEXT NOT NULL, UNIQUE (node, metric));
CREATE TABLE IF NOT EXISTS sample (
    series INTEGER NOT NULL, t INTEGER NOT NULL, v, PRIMARY KEY (series, t)) WITHOUT ROWID;
"""
_INSERT = "INSERT OR REPLACE INTO sample (series, t, v) VALUES (?, ?, ?)"
#: One row per bucket: mean time and mean value of its numbers, or the last value when any is not
#: a number (SQLite takes the bare column ``v`` from the row holding ``max(t)``).
_BUCKETS = """
SELECT CAST(avg(t) AS INTEGER), avg(v), max(t), v, count(*) = sum(typeof(v) = 'real')
FROM sample WHERE series = ? AND t >= ? AND t <= ? GROUP BY min((t - ?) / ?, ?) ORDER BY 1"""
_BEFORE = "SELECT v FROM sample WHERE series = ? AND t < ? ORDER BY t DESC LIMIT 1"
_LATEST = """
SELECT series.node, s.t, s.v FROM series JOIN sample AS s ON s.series = series.id
WHERE series.metric = ? AND s.t >= ? AND s.t = (SELECT max(t) FROM sample WHERE series = series.id)"""
_EXPORT = """
SELECT s.t, series.node, series.metric, s.v FROM sample AS s JOIN series ON series.id = s.series
WHERE series.node IN ({marks}) AND s.t >= ? AND s.t <= ? ORDER BY s.t, series.node, series.metric"""


class History(Protocol):
    """Where values go over time and come back for charts and exports."""

    def record(self, node_id: str, metric: str, value: Value, ts: datetime) -> None:
        """Offer a value measured at ``ts``; cheap, called for every accepted value."""

    def series(self, node_id: str, metric: str, start: datetime, end: datetime,
               max_points: int = 500) -> list[tuple[datetime, Value]]:
        """(time, value) pairs for a chart: the value holding at ``start``, then at most
        ``max_points`` downsampled points up to ``end``."""

    def latest(self, metric: str, since: datetime) -> dict[str, tuple[Value, datetime]]:
        """Every node's last value of ``metric``, when written at ``since`` or later: node → (value, time)."""

    def export_csv(self, node_ids: Iterable[str], start: datetime, end: datetime, out: TextIO) -> int:
        """Write every stored row of these nodes as ``ts,node,metric,value``; return the row count."""

    def purge(self, before: datetime) -> int:
        """Delete rows older than ``before``; return how many went."""

    def close(self) -> None:
        """Write what is queued and let go of the store."""


def policy_from(spec: LiveSpec, park: Park) -> Policy:
    """The deadband and keep-alive of a node's metric, from its device type in the scene's [live]
    table; (0, 900 s) for nodes, types and metrics it does not describe."""
    def policy(node_id: str, metric: str) -> tuple[float, float]:
        kind = device_type(park.get(node_id)) if node_id in park else None
        found = spec.metric(kind, metric) if kind is not None else None
        return (found.deadband, found.keepalive_s) if found is not None else (
            DEFAULT_DEADBAND, DEFAULT_KEEPALIVE_S)
    return policy


def to_ms(ts: datetime) -> int:
    """Milliseconds since 1970 UTC of an aware datetime."""
    return round(ts.timestamp() * 1000)


def from_ms(t_ms: int) -> datetime:
    return datetime.fromtimestamp(t_ms / 1000, UTC)


def _stored(v: int | float | str) -> Value:
    """A value as read back: INTEGER is a boolean."""
    return bool(v) if type(v) is int else v


class _Written:
    """The last row written for one series, and that series' deadband and keep-alive."""

    __slots__ = ("series", "deadband", "keepalive_ms", "value", "t_ms")

    def __init__(self, series: int, deadband: float, keepalive_s: float):
        self.series = series
        self.deadband = deadband
        self.keepalive_ms = keepalive_s * 1000
        self.value: Value | None = None  # none yet: the first value is always written
        self.t_ms = -(1 << 62)


class SqliteHistory:
    """The embedded history store: one SQLite file (``":memory:"`` is refused: the writer and the
    readers each hold their own connection). Reads see rows once the writer has committed them
    (within about ``flush_s``); :meth:`flush` commits what is queued now. ``max_pending`` bounds
    the queue: when the disk cannot keep up, new rows are dropped and counted in ``dropped``
    rather than stalling ingest.
    """

    def __init__(self, path: Path | str, clock: Clock, policy: Policy | None = None,
                 retention_days: float = 30, flush_s: float = 1.0, batch_rows: int = 20_000,
                 max_pending: int = 1_000_000):
        if str(path) == ":memory:":
            raise ValueError("history: give a file path, not ':memory:'")
        self.path = Path(path)
        self.clock = clock
        self.retention = timedelta(days=retention_days)
        self.dropped = 0
        self._policy = policy or (lambda node_id, metric: (DEFAULT_DEADBAND, DEFAULT_KEEPALIVE_S))
        self._flush_s = flush_s
        self._batch_rows = batch_rows
        self._max_pending = max_pending
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)
        self._reader = self._connect()
        self._ids = {(node, metric): sid for sid, node, metric
                     in self._writer.execute("SELECT id, node, metric FROM series")}
        self._next_id = max(self._ids.values(), default=0) + 1
        self._written: dict[tuple[str, str], _Written] = {}
        self._lock = threading.Lock()  # the in-memory state and the queue
        self._write_lock = threading.Lock()  # the writer connection
        self._read_lock = threading.Lock()  # the reader connection
        self._rows: list[tuple[int, int, Value]] = []
        self._new_series: list[tuple[int, str, str]] = []
        self._purged_at: datetime | None = None
        self._wake = threading.Event()
        self._closed = False
        self._ts_ms: tuple[datetime | None, int] = (None, 0)
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing (the MQTT thread) ---------------------------------------------------------------
    def record(self, node_id: str, metric: str, value: Value, ts: datetime) -> None:
        """Queue the value if it moved past the deadband, changed type, or the keep-alive is due.
        A value dated before the last one written is queued if it differs from it, and does not
        become the reference."""
        cached = self._ts_ms  # the metrics of one message share its ts: convert it once
        if cached[0] is ts:
            t_ms = cached[1]
        else:
            t_ms = round(ts.timestamp() * 1000)
            self._ts_ms = (ts, t_ms)
        kind = type(value)
        if kind is int:
            value, kind = float(value), float
        with self._lock:
            last = self._written.get((node_id, metric))
            if last is None:
                if self._closed:
                    raise RuntimeError(f"history {self.path} is closed")
                last = self._track((node_id, metric))
            old = last.value
            if type(old) is not kind:
                changed = True
            elif kind is float:
                changed = abs(value - old) > last.deadband
            else:
                changed = value != old
            if t_ms >= last.t_ms:
                if not changed and t_ms - last.t_ms < last.keepalive_ms:
                    return
                last.value, last.t_ms = value, t_ms
            elif not changed:
                return
            if len(self._rows) >= self._max_pending:
                self.dropped += 1
                return
            self._rows.append((last.series, t_ms, value))
            if len(self._rows) >= self._batch_rows:
                self._wake.set()

    def _track(self, key: tuple[str, str]) -> _Written:
        """Start following a series; a new one gets its id now and its row at the next write."""
        sid = self._ids.get(key)
        if sid is None:
            sid = self._ids[key] = self._next_id
            self._next_id += 1
            self._new_series.append((sid, *key))
        written = self._written[key] = _Written(sid, *self._policy(*key))
        return written

    def flush(self) -> int:
        """Write and commit everything queued so far; return the rows written."""
        with self._write_lock:
            return self._write()

    def _write(self) -> int:
        """Insert the queue in one transaction (holding the write lock)."""
        with self._lock:
            rows, self._rows = self._rows, []
            new_series, self._new_series = self._new_series, []
        if not rows and not new_series:
            return 0
        try:
            with self._writer:
                self._writer.execute("BEGIN")
                self._writer.executemany("INSERT INTO series (id, node, metric) VALUES (?, ?, ?)",
                                         new_series)
                self._writer.executemany(_INSERT, rows)
        except sqlite3.Error as exc:
            log.error("history %s: %d rows lost: %s", self.path, len(rows), exc)
            with self._lock:  # keep the series known to the file, or later rows would orphan
                self._new_series[:0] = new_series
            return 0
        return len(rows)

    def _run(self) -> None:
        """The writer thread: write the queue every ``flush_s`` (sooner when it fills), purge hourly."""
        while not self._closed:
            self._wake.wait(self._flush_s)
            self._wake.clear()
            with self._write_lock:
                if self._closed:
                    return
                self._write()
                now = self.clock.now()
                if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
                    self._purged_at = now
                    self._purge(now - self.retention)

    def purge(self, before: datetime) -> int:
        """Delete every row dated before ``before``; return how many went."""
        with self._write_lock:
            return self._purge(before)

    def _purge(self, before: datetime) -> int:
        cutoff = to_ms(before)
        try:
            with self._writer:
                self._writer.execute("BEGIN")
                ids = [(sid, cutoff) for (sid,) in self._writer.execute("SELECT id FROM series")]
                # one range delete per series walks the primary key; a delete by t alone would scan
                return self._writer.executemany("DELETE FROM sample WHERE series = ? AND t < ?",
                                                ids).rowcount
        except sqlite3.Error as exc:
            log.error("history %s: purge before %s failed: %s", self.path, before.isoformat(), exc)
            return 0

    @property
    def pending(self) -> int:
        """Rows queued and not yet written."""
        return len(self._rows)

    # --- reading (sessions, the REST API, the CLI) -----------------------------------------------
    def _series_id(self, node_id: str, metric: str) -> int | None:
        row = self._reader.execute("SELECT id FROM series WHERE node = ? AND metric = ?",
                                   (node_id, metric)).fetchone()
        return row[0] if row else None

    def series(self, node_id: str, metric: str, start: datetime, end: datetime,
               max_points: int = 500) -> list[tuple[datetime, Value]]:
        """At most ``max_points`` buckets of equal width between ``start`` and ``end``: numbers
        averaged (dated at their mean time), booleans and text the last of their bucket (dated
        then). When a row precedes ``start``, the list opens with its value dated ``start``, so a
        chart starts at the value that held then."""
        if max_points < 1:
            raise ValueError(f"max_points must be at least 1, not {max_points}")
        start_ms, end_ms = to_ms(start), to_ms(end)
        width_ms = max(1, -(-(end_ms - start_ms) // max_points))  # the last bucket holds ``end``
        with self._read_lock:
            sid = self._series_id(node_id, metric)
            if sid is None:
                return []
            before = self._reader.execute(_BEFORE, (sid, start_ms)).fetchone()
            buckets = self._reader.execute(_BUCKETS, (sid, start_ms, end_ms, start_ms, width_ms,
                                                     max_points - 1)).fetchall()
        points = [(start, _stored(before[0]))] if before else []
        for mean_t, mean_v, last_t, last_v, numbers in buckets:
            points.append((from_ms(mean_t), mean_v) if numbers else (from_ms(last_t), _stored(last_v)))
        return points

    def latest(self, metric: str, since: datetime) -> dict[str, tuple[Value, datetime]]:
        """Every node's last value of ``metric``, when written at ``since`` or later: node → (value, time)."""
        with self._read_lock:
            rows = self._reader.execute(_LATEST, (metric, to_ms(since))).fetchall()
        return {node: (_stored(v), from_ms(t)) for node, t, v in rows}

    def export_csv(self, node_ids: Iterable[str], start: datetime, end: datetime, out: TextIO) -> int:
        """Write a header and every row of these nodes from ``start`` to ``end`` (inclusive) as
        ``ts,node,metric,value`` (ISO 8601 UTC, booleans ``true``/``false``), by time; return the
        number of rows."""
        node_ids = list(dict.fromkeys(node_ids))
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("ts", "node", "metric", "value"))
        if not node_ids:
            return 0
        query = _EXPORT.format(marks=", ".join("?" * len(node_ids)))
        count = 0
        with self._read_lock:
            for t_ms, node, metric, v in self._reader.execute(query, (*node_ids, to_ms(start), to_ms(end))):
                value = _stored(v)
                text = ("true" if value else "false") if type(value) is bool else value
                writer.writerow((from_ms(t_ms).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                                 node, metric, text))
                count += 1
        return count

    def close(self) -> None:
        """Stop the writer, write what is queued, close the file. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._written.clear()  # so that record() finds nothing and says the store is closed
        self._wake.set()
        self._thread.join()
        with self._write_lock:
            self._write()
            self._writer.close()
        with self._read_lock:
            self._reader.close()
