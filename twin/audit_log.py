"""The audit log (issue 9, 等保二级 安全审计): append-only, hash-chained, one file per month.

Each record is a JSON line ``{"ts", "user", "action", "target", "remote", "outcome", "prev", "hash"}``
where ``hash = sha256(prev + canonical JSON of the six other fields)`` and ``prev`` is the hash of the
record before it (:data:`GENESIS` for the very first). Files are ``YYYY-MM.jsonl`` (the month of ``ts``
in UTC) and the chain runs on across them, so editing, deleting or reordering a record, or removing a
month file between two others, breaks it where :meth:`AuditLog.verify` can name it. Nothing here
deletes a file (they are kept for years; the law asks for 6 months).

Appending is cheap: the last hash stays in memory; an ``flock`` on the month file and its size tell
whether another writer (another process, another :class:`AuditLog` on the folder) appended meanwhile,
and only then is the tail read again.

>>> log = log_at(Path(".twin/audit"))                                 # doctest: +SKIP
>>> log.append("local", "node.read", "ifc:x", "allowed", "127.0.0.1")  # doctest: +SKIP
>>> log.verify().line()                                                # doctest: +SKIP
'audit: 1 records in 1 files, chain intact'
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

GENESIS = "0" * 64
FIELDS = ("ts", "user", "action", "target", "remote", "outcome")
KEYS = (*FIELDS, "prev", "hash")
MONTH_FILE = re.compile(r"^(\d{4})-(\d{2})\.jsonl$")
_BLOCK = 1 << 16
_canonical = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
_line = json.JSONEncoder(ensure_ascii=False).encode


def utc_now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    """``moment`` as records write it (UTC, milliseconds), which sorts as text: ``2026-12-01T08:00:00.000+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def record_hash(prev: str, fields: dict[str, str]) -> str:
    """sha256 (hex) of ``prev`` followed by the canonical JSON of the record's :data:`FIELDS`."""
    return hashlib.sha256((prev + _canonical({key: fields[key] for key in FIELDS})).encode("utf-8")).hexdigest()


def next_month(month: str) -> str:
    """``2026-12`` → ``2027-01``."""
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def parse_record(raw: bytes) -> dict[str, str] | None:
    """A record line as its dict, or None when it is not JSON of exactly :data:`KEYS` (all strings)."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict) or set(record) != set(KEYS) or not all(isinstance(v, str) for v in record.values()):
        return None
    return record


def lines_backwards(path: Path) -> Iterator[bytes]:
    """The file's non-empty lines, last first, read in blocks from the end."""
    with path.open("rb") as f:
        end = f.seek(0, os.SEEK_END)
        head = b""
        while end > 0:
            start = max(0, end - _BLOCK)
            f.seek(start)
            lines = (f.read(end - start) + head).split(b"\n")
            head = lines.pop(0)
            yield from (line for line in reversed(lines) if line)
            end = start
        if head:
            yield head


@dataclass(frozen=True)
class Verdict:
    """What :meth:`AuditLog.verify` found: records and files read, and the first break ("" when intact)."""

    records: int
    files: int
    problem: str = ""

    @property
    def intact(self) -> bool:
        return not self.problem

    def line(self) -> str:
        if self.intact:
            return f"audit: {self.records} records in {self.files} files, chain intact"
        return f"audit: chain broken at {self.problem}; the {self.records} records before it are intact"


class AuditLog:
    """The month files under ``folder``; ``now`` the clock stamping new records (tests inject one)."""

    def __init__(self, folder: Path, now: Callable[[], datetime] = utc_now):
        self.folder, self.now = folder, now
        self._lock = threading.Lock()
        self._last = GENESIS
        self._end: tuple[Path, int] | None = None  # the file and size right after this log's last append
        self._verified: tuple[float, Verdict] | None = None  # (time.monotonic(), verdict) of the last verify
        self._verify_lock = threading.Lock()
        self._verifying = False  # a verify is running for verdict()

    def path_for(self, month: str) -> Path:
        return self.folder / f"{month}.jsonl"

    def current_path(self) -> Path:
        """The month file records are appended to now."""
        return self.path_for(timestamp(self.now())[:7])

    def files(self) -> list[Path]:
        """The month files, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if MONTH_FILE.match(p.name) and p.is_file())

    def append(self, user: str, action: str, target: str, outcome: str, remote: str = "") -> dict[str, str]:
        """Write one record after the last one, and return it."""
        fields = {"ts": timestamp(self.now()), "user": user, "action": action, "target": target,
                  "remote": remote, "outcome": outcome}
        path = self.path_for(fields["ts"][:7])
        with self._lock:
            if self._end is not None and self._end[0] > path:  # the clock went back a month: stay in order
                path = self._end[0]
            if self._end is None or self._end[0] != path:
                path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # released on close
                size = os.fstat(fd).st_size
                if self._end != (path, size):
                    self._last = self.last_hash()
                record = {**fields, "prev": self._last, "hash": record_hash(self._last, fields)}
                line = (_line(record) + "\n").encode("utf-8")
                os.write(fd, line)
            finally:
                os.close(fd)
            self._last, self._end = record["hash"], (path, size + len(line))
        return record

    def last_hash(self) -> str:
        """The hash of the newest record on disk (:data:`GENESIS` when there is none)."""
        for path in reversed(self.files()):
            for raw in lines_backwards(path):
                record = parse_record(raw)
                if record is None:
                    log.warning("audit: the last line of %s is not a record; the chain restarts after it", path)
                    return GENESIS
                return record["hash"]
        return GENESIS

    def records(self, since: str = "", until: str = "") -> Iterator[dict[str, str]]:
        """Readable records newest first, with ``since <= ts <= until`` (:func:`timestamp` strings, "" = open)."""
        for path in reversed(self.files()):
            if since and path.stem < since[:7]:
                return
            if until and path.stem > until[:7]:
                continue
            for raw in lines_backwards(path):
                record = parse_record(raw)
                if record is not None and since <= record["ts"] and (not until or record["ts"] <= until):
                    yield record

    def query(self, since: str = "", until: str = "", user: str | None = None, action: str | None = None,
              limit: int = 500) -> list[dict[str, str]]:
        """Up to ``limit`` records newest first, without their chain fields, filtered by time, user and action."""
        rows = []
        for record in self.records(since, until):
            if (user is None or record["user"] == user) and (action is None or record["action"] == action):
                rows.append({key: record[key] for key in FIELDS})
                if len(rows) == limit:
                    break
        return rows

    def verify(self, progress: Callable[[int], None] | None = None) -> Verdict:
        """Walk every file in order and recompute the chain; the first break, named by file and line."""
        files = self.files()
        total = sum(p.stat().st_size for p in files) or 1
        done = records = 0
        prev, before = GENESIS, None
        for path in files:
            name = f"{self.folder.name}/{path.name}"
            with path.open("rb") as f:
                for number, raw in enumerate(f, 1):
                    if not raw.endswith(b"\n") and path == files[-1]:
                        break  # the newest record, still being written
                    done += len(raw)
                    record = parse_record(raw)
                    where = f"{name} line {number}"
                    if record is None:
                        return Verdict(records, len(files), f"{where}: unreadable JSON or not an audit record")
                    if record["prev"] != prev:
                        gap = _missing_months(before, path.stem) if number == 1 else []
                        what = (f"month file {', '.join(m + '.jsonl' for m in gap)} missing between {before}.jsonl "
                                f"and {path.name}" if gap
                                else "prev mismatch (a record before it was deleted, moved or changed)")
                        return Verdict(records, len(files), f"{where}: {what}")
                    if record_hash(prev, record) != record["hash"]:
                        return Verdict(records, len(files), f"{where}: hash mismatch (the record was changed)")
                    prev, records = record["hash"], records + 1
                    if progress is not None and records % 10_000 == 0:
                        progress(100 * done // total)
            before = path.stem
        return Verdict(records, len(files))

    def verdict(self, max_age_s: float = 600) -> Verdict | None:
        """The last :meth:`verify` verdict, at once (None before the first). When it is older than
        ``max_age_s``, or there is none, a new one is computed on a thread of its own: a page never
        waits for a long log (a million records take tens of seconds)."""
        with self._verify_lock:
            stale = self._verified is None or time.monotonic() - self._verified[0] > max_age_s
            if stale and not self._verifying:
                self._verifying = True
                threading.Thread(target=self._verify_later, name="twin-audit-verify", daemon=True).start()
            return None if self._verified is None else self._verified[1]

    def _verify_later(self) -> None:
        try:
            verdict = self.verify()
            with self._verify_lock:
                self._verified = (time.monotonic(), verdict)
        finally:
            self._verifying = False


def _missing_months(before: str | None, month: str) -> list[str]:
    """The months strictly between ``before`` and ``month`` (none when ``before`` is None)."""
    missing = []
    if before is not None:
        current = next_month(before)
        while current < month:
            missing.append(current)
            current = next_month(current)
    return missing


@functools.cache
def log_at(folder: Path) -> AuditLog:
    """The one :class:`AuditLog` of this process for ``folder`` (its last hash kept in memory)."""
    return AuditLog(folder)
