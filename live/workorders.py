"""The work-order book (工单): repairs and rounds raised by hand, from an alarm, or by an inspection plan.

An order concerns one park node (the asset or place) and moves ``open → acknowledged → in_progress →
resolved → closed``; it may skip ahead, be cancelled until resolved, and a resolved order may go back
to ``in_progress`` (the fix did not hold). Its first move past ``open`` (other than cancelling) is its
*response*, its move to ``resolved`` its *resolution*; both are measured from its creation, in seconds,
and :meth:`WorkOrderBook.stats` sums them per team (or assignee) and month. Every time comes from the
injected clock. An alarm has at most one pending order (:meth:`WorkOrderBook.from_alarm`), an
inspection period exactly one (:meth:`WorkOrderBook.create` with ``inspection`` and ``due_at``).

The book is journalled in SQLite (one row per order, rewritten on each change), attachments are
files in ``attachments/<id>/`` beside it; ``path=None`` keeps the book in memory, without attachments.

>>> from datetime import datetime, timezone
>>> from live.clock import ManualClock
>>> clock = ManualClock(datetime(2026, 3, 1, 8, tzinfo=timezone.utc))
>>> book = WorkOrderBook(None, clock)
>>> order = book.create("更换灯具", "dev:SL-001", "normal", assignee="张工", by="local")
>>> _ = clock.advance(600)
>>> book.update(order.id, status="in_progress", by="张工").response_s
600.0
"""
from __future__ import annotations

import json
import re
import sqlite3
import statistics
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from live.alarms import Alarm, AlarmBook, Severity
from live.clock import Clock
from live.journal import open_journal
from twin.errors import InputError, NotFound

if TYPE_CHECKING:
    from twin.park import Park

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  #: one attachment at most 10 MB
_NAME_RE = re.compile(r"[^\w.-]+")
PERIODS = {"month": "%Y-%m", "day": "%Y-%m-%d"}  #: stats periods → strftime of the order's creation (UTC)
GROUPS = ("team", "assignee")  #: what stats are grouped by, beside the period


def _choice(kind: type[StrEnum], value: str, field: str):
    """A member of ``kind`` from itself or its value; InputError naming ``field`` and the choices otherwise."""
    try:
        return kind(value)
    except ValueError:
        raise InputError(f"{field}: no {field} {value!r}; one of {', '.join(kind)}") from None


class UnknownOrder(NotFound):
    """No work order with the id asked for."""


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @classmethod
    def parse(cls, priority: Priority | str) -> Priority:
        """A priority from itself or its name; InputError naming the choices otherwise."""
        return _choice(cls, priority, "priority")


class OrderStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @classmethod
    def parse(cls, status: OrderStatus | str) -> OrderStatus:
        return _choice(cls, status, "status")


class Source(StrEnum):
    MANUAL = "manual"
    ALARM = "alarm"
    INSPECTION = "inspection"


_S = OrderStatus
#: status → the statuses it may move to
MOVES: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    _S.OPEN: (_S.ACKNOWLEDGED, _S.IN_PROGRESS, _S.RESOLVED, _S.CANCELLED),
    _S.ACKNOWLEDGED: (_S.IN_PROGRESS, _S.RESOLVED, _S.CANCELLED),
    _S.IN_PROGRESS: (_S.RESOLVED, _S.CANCELLED),
    _S.RESOLVED: (_S.CLOSED, _S.IN_PROGRESS),
    _S.CLOSED: (),
    _S.CANCELLED: (),
}
PENDING = (_S.OPEN, _S.ACKNOWLEDGED, _S.IN_PROGRESS)  #: still to be done
#: an alarm's severity → the priority of an order raised from it when none is given
SEVERITY_PRIORITY = {Severity.CRITICAL: Priority.URGENT, Severity.MAJOR: Priority.HIGH,
                     Severity.MINOR: Priority.NORMAL, Severity.WARNING: Priority.LOW}


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if end is not None else None


@dataclass(slots=True)
class WorkOrder:
    """One order. ``node``: the park node it concerns (the first stop of an inspection's ``route``);
    ``team``: a team key, for stats; ``checklist``: ``[{"item", "done"}]``; ``notes``:
    ``[{"at", "by", "text"}]``; ``attachments``: ``[{"name", "path", "at"}]``, ``path`` relative to the
    book's folder. ``closed_at``: when it was closed or cancelled."""

    id: int
    title: str
    priority: Priority
    node: str
    status: OrderStatus
    source: Source
    created_at: datetime
    created_by: str
    assignee: str = ""
    team: str = ""
    alarm_id: str | None = None
    inspection: str | None = None  # the inspection plan's key
    due_at: datetime | None = None  # an inspection's period start
    route: list[str] = field(default_factory=list)
    checklist: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)
    attachments: list[dict[str, str]] = field(default_factory=list)
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def pending(self) -> bool:
        """Still to be done: open, acknowledged or in progress."""
        return self.status in PENDING

    @property
    def response_s(self) -> float | None:
        """Seconds from creation to the first response (None before it)."""
        return _seconds(self.created_at, self.acknowledged_at)

    @property
    def resolution_s(self) -> float | None:
        """Seconds from creation to resolution (None while unresolved)."""
        return _seconds(self.created_at, self.resolved_at)

    def record(self) -> dict[str, Any]:
        """A JSON-ready dict: ISO 8601 times, names of the enums, response and resolution seconds."""
        return {"id": self.id, "title": self.title, "priority": str(self.priority), "node": self.node,
                "status": str(self.status), "source": str(self.source), "assignee": self.assignee,
                "team": self.team, "alarm_id": self.alarm_id, "inspection": self.inspection,
                "due_at": _iso(self.due_at), "route": list(self.route),
                "checklist": [dict(c) for c in self.checklist], "notes": [dict(n) for n in self.notes],
                "attachments": [dict(a) for a in self.attachments], "created_at": _iso(self.created_at),
                "created_by": self.created_by, "acknowledged_at": _iso(self.acknowledged_at),
                "resolved_at": _iso(self.resolved_at), "closed_at": _iso(self.closed_at),
                "response_s": self.response_s, "resolution_s": self.resolution_s, "pending": self.pending}


def _copy(order: WorkOrder) -> WorkOrder:
    """A copy whose lists the caller may keep (the book changes its own in place)."""
    return replace(order, route=list(order.route), checklist=[dict(c) for c in order.checklist],
                   notes=list(order.notes), attachments=list(order.attachments))


_COLUMNS = ("id", "title", "priority", "node", "status", "source", "created_at", "created_by", "assignee",
            "team", "alarm_id", "inspection", "due_at", "route", "checklist", "notes", "attachments",
            "acknowledged_at", "resolved_at", "closed_at")
_SCHEMA = ("CREATE TABLE IF NOT EXISTS workorders (id INTEGER PRIMARY KEY, title TEXT NOT NULL, "
           "priority TEXT NOT NULL, node TEXT NOT NULL, status TEXT NOT NULL, source TEXT NOT NULL, "
           "created_at TEXT NOT NULL, created_by TEXT NOT NULL, assignee TEXT NOT NULL, team TEXT NOT NULL, "
           "alarm_id TEXT, inspection TEXT, due_at TEXT, route TEXT NOT NULL, checklist TEXT NOT NULL, "
           "notes TEXT NOT NULL, attachments TEXT NOT NULL, acknowledged_at TEXT, resolved_at TEXT, "
           "closed_at TEXT)")
_UPSERT = f"INSERT OR REPLACE INTO workorders ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_JSON = {"route", "checklist", "notes", "attachments"}
_TIMES = {"created_at", "due_at", "acknowledged_at", "resolved_at", "closed_at"}


def _row(order: WorkOrder) -> tuple:
    def column(name: str) -> Any:
        value = getattr(order, name)
        if name in _JSON:
            return json.dumps(value, ensure_ascii=False)
        return _iso(value) if name in _TIMES else (str(value) if isinstance(value, StrEnum) else value)
    return tuple(column(name) for name in _COLUMNS)


def _order(row: tuple) -> WorkOrder:
    values = dict(zip(_COLUMNS, row))
    for name in _JSON:
        values[name] = json.loads(values[name])
    for name in _TIMES:
        values[name] = _when(values[name])
    values["priority"], values["status"] = Priority(values["priority"]), OrderStatus(values["status"])
    values["source"] = Source(values["source"])
    return WorkOrder(**values)


def attachment_name(name: str) -> str:
    """A file name safe in a folder: the last path part, odd characters as ``_``, no leading dot."""
    base = re.split(r"[\\/]", name.strip())[-1]
    return _NAME_RE.sub("_", base).lstrip("._")[:100] or "attachment"


class WorkOrderBook:
    """Work orders by id; thread-safe, journalled in ``path`` (SQLite, created if missing, reloaded if
    there; None: in memory). :attr:`version` grows with every change."""

    def __init__(self, path: Path | None, clock: Clock):
        self._clock = clock
        self._lock = threading.Lock()
        self._orders: dict[int, WorkOrder] = {}
        self._version = 0
        self._folder = path.parent if path is not None else None
        self._db = self._connect(path) if path is not None else None

    def _connect(self, path: Path) -> sqlite3.Connection:
        db, orders = open_journal(path, _SCHEMA, f"SELECT {', '.join(_COLUMNS)} FROM workorders ORDER BY id", _order,
                                  "work-order book")
        self._orders = {order.id: order for order in orders}
        return db

    def close(self) -> None:
        """Close the journal (the book stays readable in memory)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def version(self) -> int:
        """Grows with every change (0 before any since the book was opened)."""
        return self._version

    # --- writing ----------------------------------------------------------------------------------
    def create(self, title: str, node: str, priority: Priority | str = Priority.NORMAL, *, by: str,
               assignee: str = "", team: str = "", source: Source | str = Source.MANUAL,
               alarm_id: str | None = None, inspection: str | None = None, due_at: datetime | None = None,
               route: Sequence[str] = (), checklist: Iterable[str] = (), note: str | None = None) -> WorkOrder:
        """Open an order now. The pending order of the same ``alarm_id``, or the order of the same
        inspection period (``inspection`` and ``due_at``), is returned instead of a second one."""
        title, node = title.strip() if isinstance(title, str) else "", node if isinstance(node, str) else ""
        if not title:
            raise InputError("title: missing")
        if not node:
            raise InputError("node: missing")
        if not by:
            raise InputError("work order: created by whom? the principal is empty")
        priority, source = Priority.parse(priority), Source(source)
        now = self._clock.now()
        with self._lock:
            found = next((o for o in self._orders.values()
                          if (alarm_id is not None and o.alarm_id == alarm_id and o.pending)
                          or (inspection is not None and o.inspection == inspection and o.due_at == due_at)),
                         None)
            if found is not None:
                return _copy(found)
            order = WorkOrder(max(self._orders, default=0) + 1, title, priority, node, OrderStatus.OPEN,
                              source, now, by, assignee or "", team or "", alarm_id, inspection, due_at,
                              list(route), [{"item": item, "done": False} for item in checklist])
            if note:
                order.notes.append({"at": now.isoformat(), "by": by, "text": note})
            return self._save(order)

    def from_alarm(self, alarm: Alarm, priority: Priority | str | None = None, *, by: str,
                   assignee: str = "", team: str = "") -> WorkOrder:
        """The pending order of an alarm, else a new one (source alarm) on its node, titled by its
        message; ``priority`` None: from the alarm's severity (critical → urgent … warning → low)."""
        message = alarm.message.get("zh") or next(iter(alarm.message.values()), alarm.rule)
        return self.create(f"{message} · {alarm.node}", alarm.node,
                           SEVERITY_PRIORITY[alarm.severity] if priority is None else priority,
                           by=by, assignee=assignee, team=team, source=Source.ALARM, alarm_id=alarm.id)

    def update(self, order_id: int | str, *, by: str, status: OrderStatus | str | None = None,
               note: str | None = None, assignee: str | None = None,
               checklist: Sequence[bool] | None = None) -> WorkOrder:
        """Move an order to ``status``, add a ``note``, (re)assign it, or tick its ``checklist`` (one
        flag per item), as ``by`` now. A move :data:`MOVES` does not allow raises InputError naming
        the order and both statuses."""
        if not by:
            raise InputError(f"work order {order_id}: changed by whom? the principal is empty")
        if status is None and not note and assignee is None and checklist is None:
            raise InputError(f"work order {order_id}: nothing to change (give status, note, assignee or checklist)")
        status = OrderStatus.parse(status) if status is not None else None
        now = self._clock.now()
        with self._lock:
            order = self._get(order_id)
            if checklist is not None and not (isinstance(checklist, list | tuple)
                                              and len(checklist) == len(order.checklist)
                                              and all(isinstance(d, bool) for d in checklist)):
                raise InputError(f"checklist: work order {order.id} has {len(order.checklist)} items; "
                                 f"give as many true/false, not {checklist!r}")
            if status is not None and status != order.status:
                self._move(order, status, now)
            if checklist is not None:
                for item, done in zip(order.checklist, checklist):
                    item["done"] = done
            if assignee is not None:
                order.assignee = assignee
            if note:
                order.notes.append({"at": now.isoformat(), "by": by, "text": note})
            return self._save(order)

    def attach(self, order_id: int | str, name: str, data: bytes, by: str) -> WorkOrder:
        """Keep ``data`` as a file of the order (its name made safe; a name taken gets ``-2``, ``-3``…)."""
        if self._folder is None:
            raise InputError(f"work order {order_id}: an in-memory book keeps no attachments")
        if not data:
            raise InputError("attachment: the file is empty")
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise InputError(f"attachment: {len(data)} bytes is over the limit of {MAX_ATTACHMENT_BYTES} bytes")
        safe = attachment_name(name)
        with self._lock:
            order = self._get(order_id)
            folder = self._folder / "attachments" / str(order.id)
            folder.mkdir(parents=True, exist_ok=True)
            stem, dot, suffix = safe.rpartition(".") if "." in safe else (safe, "", "")
            file, n = folder / safe, 1
            while file.exists():
                n += 1
                file = folder / f"{stem}-{n}{dot}{suffix}"
            file.write_bytes(data)
            order.attachments.append({"name": file.name, "path": file.relative_to(self._folder).as_posix(),
                                      "at": self._clock.now().isoformat(), "by": by})
            return self._save(order)

    def attachment(self, order_id: int | str, name: str) -> Path:
        """The file of one of an order's attachments; UnknownOrder when the order or file is not there."""
        with self._lock:
            order = self._get(order_id)
            found = next((a for a in order.attachments if a["name"] == name), None)
        if found is None or self._folder is None:
            raise UnknownOrder(f"work order {order_id}: no attachment {name!r}")
        return self._folder / found["path"]

    # --- reading ----------------------------------------------------------------------------------
    def get(self, order_id: int | str) -> WorkOrder:
        """A copy of one order; UnknownOrder if there is none with that id."""
        with self._lock:
            return _copy(self._get(order_id))

    def list(self, status: OrderStatus | str | Iterable[OrderStatus | str] | None = None,
             pending: bool | None = None, node_prefix: str | None = None, assignee: str | None = None,
             source: Source | str | None = None, since: datetime | None = None) -> list[WorkOrder]:
        """Orders newest first. Each filter left None lets everything through: ``status`` (one or
        several), ``pending`` (True: still to be done), ``node_prefix``, ``assignee``, ``source``,
        ``since`` (created at or after)."""
        wanted = None if status is None else {OrderStatus.parse(s) for s in
                                              ([status] if isinstance(status, str) else status)}
        if source is not None:
            try:
                source = Source(source)
            except ValueError:
                raise InputError(f"source: no source {source!r}; one of {', '.join(Source)}") from None
        with self._lock:
            found = [_copy(o) for o in self._orders.values()
                     if (wanted is None or o.status in wanted)
                     and (pending is None or o.pending == pending)
                     and (node_prefix is None or o.node.startswith(node_prefix))
                     and (assignee is None or o.assignee == assignee)
                     and (source is None or o.source == source)
                     and (since is None or o.created_at >= since)]
        return sorted(found, key=lambda o: (o.created_at, o.id), reverse=True)

    def for_node(self, node_id: str, park: Park | None = None) -> list[WorkOrder]:
        """An asset's orders, newest first: its own, and with ``park`` those of every node below it
        (a building's, a room's devices')."""
        orders = self.list()
        if park is None:
            return [o for o in orders if o.node == node_id]
        return [o for o in orders if o.node == node_id
                or (o.node in park and any(n.id == node_id for n in park.path(o.node)))]

    def last_inspections(self) -> dict[str, datetime]:
        """``{inspection key: period start of its latest order}``."""
        last: dict[str, datetime] = {}
        with self._lock:
            for o in self._orders.values():
                if o.inspection is not None and o.due_at is not None and (
                        o.inspection not in last or o.due_at > last[o.inspection]):
                    last[o.inspection] = o.due_at
        return last

    def stats(self, by: str = "team", period: str = "month") -> list[dict[str, Any]]:
        """Per ``by`` (team or assignee; "" for none) and ``period`` (month or day of creation, UTC):
        ``count``, ``pending``, ``responded``, ``resolved`` and the mean and median ``response_s`` and
        ``resolution_s`` (None when no order has one), sorted by period then group."""
        if by not in GROUPS:
            raise InputError(f"by: no grouping {by!r}; one of {', '.join(GROUPS)}")
        if period not in PERIODS:
            raise InputError(f"period: no period {period!r}; one of {', '.join(PERIODS)}")
        groups: dict[tuple[str, str], list[WorkOrder]] = defaultdict(list)
        for o in self.list():
            groups[o.created_at.astimezone(timezone.utc).strftime(PERIODS[period]), getattr(o, by)].append(o)
        rows = []
        for (when, who), orders in sorted(groups.items()):
            response = [o.response_s for o in orders if o.response_s is not None]
            resolution = [o.resolution_s for o in orders if o.resolution_s is not None]
            rows.append({"period": when, by: who, "count": len(orders),
                         "pending": sum(o.pending for o in orders), "responded": len(response),
                         "resolved": len(resolution),
                         "mean_response_s": statistics.fmean(response) if response else None,
                         "median_response_s": statistics.median(response) if response else None,
                         "mean_resolution_s": statistics.fmean(resolution) if resolution else None,
                         "median_resolution_s": statistics.median(resolution) if resolution else None})
        return rows

    # --- inside the lock ----------------------------------------------------------------------------
    def _get(self, order_id: int | str) -> WorkOrder:
        try:
            order = self._orders.get(int(order_id))
        except (TypeError, ValueError):
            order = None
        if order is None:
            raise UnknownOrder(f"no work order {order_id!r}")
        return order

    def _move(self, order: WorkOrder, status: OrderStatus, now: datetime) -> None:
        if status not in MOVES[order.status]:
            allowed = ", ".join(MOVES[order.status]) or "none, it is finished"
            raise InputError(f"status: work order {order.id} cannot go from {order.status} to {status} "
                             f"(from {order.status}: {allowed})")
        if order.acknowledged_at is None and status != OrderStatus.CANCELLED:
            order.acknowledged_at = now
        if status == OrderStatus.RESOLVED:
            order.resolved_at = now
        elif order.status == OrderStatus.RESOLVED and status == OrderStatus.IN_PROGRESS:
            order.resolved_at = None  # reopened: resolved again later
        if status in (OrderStatus.CLOSED, OrderStatus.CANCELLED):
            order.closed_at = now
        order.status = status

    def _save(self, order: WorkOrder) -> WorkOrder:
        """Journal a new or changed order and return a copy."""
        if self._db is not None:
            self._db.execute(_UPSERT, _row(order))
        self._orders[order.id] = order
        self._version += 1
        return _copy(order)


def open_on_alarm(orders: WorkOrderBook, alarms: AlarmBook, priorities: Mapping[str, Priority | str]) -> None:
    """Whenever a rule in ``priorities`` (rule key → priority) raises an alarm, open its order (created
    by ``rule:<key>``)."""
    def raised(alarm: Alarm) -> None:
        if alarm.rule in priorities:
            orders.from_alarm(alarm, priorities[alarm.rule], by=f"rule:{alarm.rule}")
    alarms.on_raise(raised)

