"""The alarm book: every alarm the rules raised, its acknowledgement and clearing (issue 5, item 3).

An alarm concerns one rule on one node. The book keeps one *open* alarm per rule and node: a repeat
of the condition while it is open updates that alarm (value, time, count) instead of adding one.
An alarm is *active* while its condition holds; when the condition goes away it turns inactive and
stays open (listed) until someone acknowledges or clears it. Acknowledging an active alarm keeps it
open until its condition goes away; clearing closes it at once (a condition still holding raises a
new alarm on the rule's next sample). Who acknowledged or cleared, and when, is recorded.

Every change bumps :attr:`AlarmBook.version`; :meth:`AlarmBook.changes_since` gives the alarms
changed since a version, as State does for nodes. The book is journalled in SQLite (one row per
alarm, rewritten on each change), so alarms survive a restart; ``path=None`` keeps it in memory.

>>> from datetime import datetime, timezone
>>> from live.clock import ManualClock
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> book = AlarmBook(None, ManualClock(t0))
>>> alarm = book.raise_alarm("smoke", "dev:SD-1", "smoke", "critical", {"en": "Smoke"}, True, t0)
>>> book.ack(alarm.id, "local").acked_by, book.clear_condition("smoke", "dev:SD-1", t0).open
('local', False)
"""
from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from live.clock import Clock
from live.journal import open_journal
from live.state import Status, Value
from twin.errors import InputError, NotFound


class UnknownAlarm(NotFound):
    """No alarm with the id asked for."""


class Severity(StrEnum):
    """How bad an alarm is; critical and major set their node to alarm, minor and warning to warning."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"

    @property
    def status(self) -> Status:
        """The node status an active alarm of this severity gives."""
        return Status.ALARM if self in (Severity.CRITICAL, Severity.MAJOR) else Status.WARNING

    @property
    def rank(self) -> int:
        """A higher rank is more severe (warning 1 … critical 4): the worst of several is their max."""
        return _RANK[self]

    @classmethod
    def parse(cls, severity: Severity | str) -> Severity:
        """A severity from itself or its name; InputError naming the choices otherwise."""
        try:
            return cls(severity)
        except ValueError:
            raise InputError(f"no severity {severity!r}; one of {', '.join(cls)}") from None


_RANK = {Severity.WARNING: 1, Severity.MINOR: 2, Severity.MAJOR: 3, Severity.CRITICAL: 4}


@dataclass(slots=True)
class Alarm:
    """One alarm. ``active``: its condition holds now; ``ended_at``: when the condition went away
    (None while it holds, or if cleared by hand before); ``count``: how many times the condition
    came on while this alarm was open. Times of raising and ending are the messages' timestamps,
    of acknowledging and clearing the clock's."""

    id: str
    rule: str
    node: str
    metric: str
    severity: Severity
    message: dict[str, str]
    value: Value
    raised_at: datetime
    updated_at: datetime
    active: bool = True
    ended_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    cleared_by: str | None = None
    cleared_at: datetime | None = None
    count: int = 1
    version: int = field(default=0, compare=False)  # the book's version at its last change

    @property
    def acked(self) -> bool:
        return self.acked_by is not None

    @property
    def open(self) -> bool:
        """Still listed: not cleared, and active or not yet acknowledged."""
        return self.cleared_by is None and (self.active or self.acked_by is None)

    def record(self) -> dict:
        """A JSON-ready dict: ISO 8601 times, the severity's name, the node id under ``node``."""
        def iso(ts: datetime | None) -> str | None:
            return ts.isoformat() if ts is not None else None
        return {"id": self.id, "rule": self.rule, "node": self.node, "metric": self.metric,
                "severity": str(self.severity), "message": dict(self.message), "value": self.value,
                "raised_at": iso(self.raised_at), "updated_at": iso(self.updated_at),
                "active": self.active, "ended_at": iso(self.ended_at), "acked": self.acked,
                "acked_by": self.acked_by, "acked_at": iso(self.acked_at),
                "cleared_by": self.cleared_by, "cleared_at": iso(self.cleared_at),
                "count": self.count, "open": self.open}


_COLUMNS = ("id", "rule", "node", "metric", "severity", "message", "value", "raised_at", "updated_at",
            "active", "ended_at", "acked_by", "acked_at", "cleared_by", "cleared_at", "count")
_SCHEMA = ("CREATE TABLE IF NOT EXISTS alarms (id INTEGER PRIMARY KEY, rule TEXT NOT NULL, "
           "node TEXT NOT NULL, metric TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL, "
           "value TEXT NOT NULL, raised_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
           "active INTEGER NOT NULL, ended_at TEXT, acked_by TEXT, acked_at TEXT, cleared_by TEXT, "
           "cleared_at TEXT, count INTEGER NOT NULL)")
_UPSERT = f"INSERT OR REPLACE INTO alarms ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


def _row(alarm: Alarm) -> tuple:
    def iso(ts: datetime | None) -> str | None:
        return ts.isoformat() if ts is not None else None
    return (int(alarm.id), alarm.rule, alarm.node, alarm.metric, str(alarm.severity),
            json.dumps(alarm.message, ensure_ascii=False), json.dumps(alarm.value),
            iso(alarm.raised_at), iso(alarm.updated_at), int(alarm.active), iso(alarm.ended_at),
            alarm.acked_by, iso(alarm.acked_at), alarm.cleared_by, iso(alarm.cleared_at), alarm.count)


def _alarm(row: tuple) -> Alarm:
    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text is not None else None
    (alarm_id, rule, node, metric, severity, message, value, raised_at, updated_at, active, ended_at,
     acked_by, acked_at, cleared_by, cleared_at, count) = row
    return Alarm(str(alarm_id), rule, node, metric, Severity(severity), json.loads(message),
                 json.loads(value), when(raised_at), when(updated_at), bool(active), when(ended_at),
                 acked_by, when(acked_at), cleared_by, when(cleared_at), count)


class AlarmBook:
    """Alarms by id, at most one open per rule and node; thread-safe, versioned, journalled.

    ``path``: the SQLite file (created if missing, reloaded if there); None keeps the book in memory.
    Callbacks given to :meth:`listen` hear the node id of every alarm that changed (after the change,
    outside the book's lock): Rules uses that to set the node's status.
    """

    def __init__(self, path: Path | None, clock: Clock):
        self._clock = clock
        self._lock = threading.Lock()
        self._alarms: dict[str, Alarm] = {}
        self._open: dict[tuple[str, str], str] = {}  # (rule, node) → id of its open alarm
        self._active: dict[str, set[str]] = {}  # node → ids of its active, uncleared alarms
        self._changed: dict[str, int] = {}  # id → version of its last change, oldest change first
        self._version = 0
        self._next_id = 1
        self._listeners: list[Callable[[str], None]] = []
        self._raised: list[Callable[[Alarm], None]] = []
        self._db = self._connect(path) if path is not None else None

    def _connect(self, path: Path) -> sqlite3.Connection:
        db, alarms = open_journal(path, _SCHEMA, f"SELECT {', '.join(_COLUMNS)} FROM alarms ORDER BY id", _alarm,
                                  "alarm book")
        for alarm in alarms:  # each reloaded alarm gets a version, so changes_since(0) lists it
            self._index(alarm)
            self._version += 1
            self._note(alarm)
            self._next_id = int(alarm.id) + 1
        return db

    def close(self) -> None:
        """Close the journal (the book stays readable in memory)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def listen(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(node_id)`` after every change to an alarm of that node."""
        self._listeners.append(callback)

    def on_raise(self, callback: Callable[[Alarm], None]) -> None:
        """Call ``callback(alarm)`` (a copy) after every :meth:`raise_alarm`, new or repeated
        (work orders open on it)."""
        self._raised.append(callback)

    # --- writing (rules, the access layer) --------------------------------------------------------
    def raise_alarm(self, rule: str, node: str, metric: str, severity: Severity | str,
                    message: Mapping[str, str], value: Value, ts: datetime) -> Alarm:
        """The condition of ``rule`` holds on ``node`` (measured ``value`` at ``ts``). Updates the open
        alarm of that rule and node (value, time, count; active again) or opens a new one."""
        severity = Severity.parse(severity)
        with self._lock:
            alarm_id = self._open.get((rule, node))
            if alarm_id is not None:
                alarm = self._alarms[alarm_id]
                alarm.value, alarm.updated_at, alarm.count = value, ts, alarm.count + 1
                alarm.active, alarm.ended_at, alarm.severity = True, None, severity
            else:
                alarm = Alarm(str(self._next_id), rule, node, metric, severity, dict(message), value, ts, ts)
                self._next_id += 1
            self._save(alarm)
            copy = replace(alarm)
        self._tell(node)
        for callback in self._raised:
            callback(copy)
        return copy

    def clear_condition(self, rule: str, node: str, ts: datetime) -> Alarm | None:
        """The condition of ``rule`` on ``node`` went away at ``ts``: its open alarm turns inactive
        (closed if it was acknowledged). Returns it, or None when there was none active."""
        with self._lock:
            alarm_id = self._open.get((rule, node))
            alarm = self._alarms[alarm_id] if alarm_id is not None else None
            if alarm is None or not alarm.active:
                return None
            alarm.active, alarm.ended_at, alarm.updated_at = False, ts, ts
            self._save(alarm)
            copy = replace(alarm)
        self._tell(node)
        return copy

    def ack(self, alarm_id: str, principal: str) -> Alarm:
        """Acknowledge an alarm as ``principal`` now; acknowledging again changes nothing."""
        return self._act(alarm_id, principal, "acked")

    def clear(self, alarm_id: str, principal: str) -> Alarm:
        """Clear (close) an alarm as ``principal`` now, active or not; clearing again changes nothing."""
        return self._act(alarm_id, principal, "cleared")

    def _act(self, alarm_id: str, principal: str, what: str) -> Alarm:
        if not principal:
            raise InputError(f"alarm {alarm_id}: {what} by whom? the principal is empty")
        with self._lock:
            alarm = self._get(alarm_id)
            if getattr(alarm, f"{what}_by") is not None:
                return replace(alarm)
            setattr(alarm, f"{what}_by", principal)
            setattr(alarm, f"{what}_at", self._clock.now())
            if what == "cleared":
                alarm.active = False
            self._save(alarm)
            copy = replace(alarm)
        self._tell(copy.node)
        return copy

    # --- reading (sessions, the REST API, rules) --------------------------------------------------
    @property
    def version(self) -> int:
        """The version of the latest change (0 before any)."""
        return self._version

    def get(self, alarm_id: str) -> Alarm:
        """A copy of one alarm; UnknownAlarm if there is none with that id."""
        with self._lock:
            return replace(self._get(alarm_id))

    def list(self, active: bool | None = None, severity: Severity | str | None = None,
             node_prefix: str | None = None, unacked: bool | None = None,
             open: bool | None = True, limit: int | None = None) -> list[Alarm]:
        """Alarms newest first (by time raised). Each filter left None lets everything through:
        ``active`` (condition holds), ``severity``, ``node_prefix`` (``"dev:SD-"``), ``unacked``
        (True: not yet acknowledged), ``open`` (default True: the listed ones; None: the history too)."""
        severity = Severity.parse(severity) if severity is not None else None
        with self._lock:
            found = [replace(a) for a in self._alarms.values()
                     if (active is None or a.active == active)
                     and (severity is None or a.severity == severity)
                     and (node_prefix is None or a.node.startswith(node_prefix))
                     and (unacked is None or (a.acked_by is None) == unacked)
                     and (open is None or a.open == open)]
        found.sort(key=lambda a: (a.raised_at, int(a.id)), reverse=True)
        return found[:limit] if limit is not None else found

    def changes_since(self, version: int) -> tuple[int, list[Alarm]]:
        """``(current version, alarms changed after version)``, oldest change first; pass the returned
        version next time (0 the first time, for every alarm in the book)."""
        with self._lock:
            changed: list[Alarm] = []
            for alarm_id, changed_at in reversed(self._changed.items()):
                if changed_at <= version:
                    break
                changed.append(replace(self._alarms[alarm_id]))
            return self._version, changed[::-1]

    def is_active(self, rule: str, node: str) -> bool:
        """Whether ``rule`` has an open, active alarm on ``node`` (a dictionary lookup)."""
        with self._lock:
            alarm_id = self._open.get((rule, node))
            return alarm_id is not None and self._alarms[alarm_id].active

    def worst(self, node: str) -> Severity | None:
        """The worst severity among a node's active alarms, None when it has none."""
        with self._lock:
            ids = self._active.get(node)
            return max((self._alarms[i].severity for i in ids), key=_RANK.__getitem__) if ids else None

    def worst_by_node(self) -> dict[str, Severity]:
        """``{node: worst severity of its active alarms}`` for every node with an active alarm."""
        with self._lock:
            return {node: max((self._alarms[i].severity for i in ids), key=_RANK.__getitem__)
                    for node, ids in self._active.items() if ids}

    # --- inside the lock ----------------------------------------------------------------------------
    def _get(self, alarm_id: str) -> Alarm:
        alarm = self._alarms.get(str(alarm_id))
        if alarm is None:
            raise UnknownAlarm(f"no alarm {alarm_id!r}")
        return alarm

    def _save(self, alarm: Alarm) -> None:
        """Journal a changed alarm, re-index it and give it the next version."""
        if self._db is not None:
            self._db.execute(_UPSERT, _row(alarm))
        self._index(alarm)
        self._version += 1
        self._note(alarm)

    def _index(self, alarm: Alarm) -> None:
        self._alarms[alarm.id] = alarm
        key = (alarm.rule, alarm.node)
        if alarm.open:
            self._open[key] = alarm.id
        elif self._open.get(key) == alarm.id:
            del self._open[key]
        active = self._active.setdefault(alarm.node, set())
        if alarm.active and alarm.cleared_by is None:
            active.add(alarm.id)
        else:
            active.discard(alarm.id)
            if not active:
                del self._active[alarm.node]

    def _note(self, alarm: Alarm) -> None:
        """Record that an alarm changed at the current version (move it to the end of the log)."""
        alarm.version = self._version
        self._changed.pop(alarm.id, None)
        self._changed[alarm.id] = self._version

    def _tell(self, node: str) -> None:
        for callback in self._listeners:
            callback(node)
