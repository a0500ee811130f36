"""The live state of a park: the one versioned source of truth that pages read (decisions 5 and 7).

The MQTT thread writes (:meth:`State.update`, :meth:`State.set_online`), alarm rules set a status
(:meth:`State.set_status`), a periodic task calls :meth:`State.expire`, and each browser session
pulls what changed since its last look (:meth:`State.changes_since`). One lock guards everything;
each call holds it for a few dictionary operations.

Status per node, by severity (roll-up takes the worst)::

    unknown < normal < stale < offline < warning < alarm

A node's own status is the worst of what is known about it: heard from (normal), silent past its
type's heartbeat (stale), offline by its status topic or gateway's last will (offline), and the
status its alarm rules set (normal, warning, alarm). Its shown status rolls up the tree: the worst of
its own and of every node below it, so a device's status reaches its space, storey, building, site
and the park. Loss of contact ranks under warning and alarm because it says the condition is
unknown, while a warning or alarm says it is known to be bad: a gateway dropping out must not hide a
fire alarm in the same building. Offline ranks over stale because it is reported, not inferred
from silence.

>>> from datetime import datetime, timezone
>>> from live.clock import ManualClock
>>> from twin.park import Node, Park
>>> park = Park("demo")
>>> _ = park.add(Node("dev:T1", "device", parent="park"))
>>> state = State(park, ManualClock(datetime(2026, 1, 1, tzinfo=timezone.utc)), heartbeat_s=60)
>>> state.update("dev:T1", "temperature", 21.5, datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> version, changes = state.changes_since(0)
>>> str(changes["park"].status), changes["dev:T1"].metrics["temperature"][0]
('normal', 21.5)
"""
from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from live.clock import Clock
from twin.park import Node, Park

Value = float | bool | str


class Status(IntEnum):
    """A node's status; a higher value is more severe, so the worst of several is their ``max``."""

    UNKNOWN = 0
    NORMAL = 1
    STALE = 2
    OFFLINE = 3
    WARNING = 4
    ALARM = 5

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, status: Status | str) -> Status:
        """A status from itself or its lower-case name (``"alarm"``)."""
        if isinstance(status, Status):
            return status
        try:
            return cls[status.upper()]
        except KeyError:
            raise ValueError(f"no status {status!r}; one of {', '.join(map(str, cls))}") from None


#: The statuses alarm rules set; stale and offline come from heartbeats and status topics.
RULE_STATUSES = (Status.NORMAL, Status.WARNING, Status.ALARM)
_WORST_FIRST = tuple(reversed(Status))


@dataclass(frozen=True, slots=True)
class NodeChange:
    """What a session needs to redraw one node: its shown status, and ``{metric: (value, ts)}`` for
    the metrics whose value changed since the version asked about."""

    status: Status
    metrics: dict[str, tuple[Value, datetime]]


def device_type(node: Node) -> str | None:
    """The registry ``type`` of a device node (``smoke_detector``), None for other nodes."""
    return node.properties.get("device", {}).get("type") if node.kind == "device" else None


class _Tracked:
    """What State holds for one node it has heard of."""

    __slots__ = ("chain", "timeout", "metrics", "heard_at", "stale", "online", "rule", "own")

    def __init__(self, chain: tuple[str, ...], timeout: timedelta | None):
        self.chain = chain  # the node id, then its ancestors up to the park
        self.timeout = timeout  # heartbeat: silent this long means stale; None never goes stale
        self.metrics: dict[str, tuple[Value, datetime, int]] = {}  # metric → (value, ts, version)
        self.heard_at: datetime | None = None  # the clock's time when last heard from; None: never
        self.stale = False
        self.online: tuple[bool, datetime] | None = None
        self.rule = Status.UNKNOWN
        self.own = Status.UNKNOWN  # as counted in the roll-up

    def status(self) -> Status:
        """The node's own status: the worst of what is known about it."""
        return max(Status.NORMAL if self.heard_at is not None else Status.UNKNOWN, self.rule,
                   Status.STALE if self.stale else Status.UNKNOWN,
                   Status.OFFLINE if self.online is not None and not self.online[0] else Status.UNKNOWN)


class State:
    """Latest values, statuses rolled up the park tree, and a version that every change bumps.

    ``heartbeat_s`` is the silence after which a device goes stale: one figure for every node, or
    ``{device type: seconds}`` (types not listed never go stale). ``log_size`` is how many recent
    changes :meth:`changes_since` answers from its log; older versions are answered by a scan over
    the nodes heard of. Node ids must be in the park (``KeyError`` otherwise).
    """

    def __init__(self, park: Park, clock: Clock, heartbeat_s: Mapping[str, float] | float,
                 log_size: int = 1 << 16):
        self._park = park
        self._clock = clock
        self._heartbeat_s = heartbeat_s
        self._log_size = log_size
        self._lock = threading.Lock()
        self._version = 0
        self._tracked: dict[str, _Tracked] = {}
        self._counts: dict[str, list[int]] = {}  # node id → own statuses at or below it, per Status
        self._rolled: dict[str, Status] = {}  # node id → shown status, where not unknown
        self._changed_at: dict[str, int] = {}  # node id → version of its last change
        self._log_versions: list[int] = []  # the change log, oldest first: version …
        self._log_ids: list[str] = []  # … and the node it changed
        self._log_floor = 0  # the log holds every change after this version

    # --- writing (the MQTT thread, alarm rules, a periodic task) ---------------------------------
    def update(self, node_id: str, metric: str, value: Value, ts: datetime) -> None:
        """Record one value measured at ``ts`` (see :meth:`record`)."""
        self.record(node_id, {metric: value}, ts)

    def record(self, node_id: str, values: Mapping[str, Value], ts: datetime) -> None:
        """Record the values of one message, measured at ``ts``, under one lock. A repeated value
        refreshes its timestamp without a new version (sessions redraw on change only); any message
        brings a stale node back."""
        now = self._clock.now()
        with self._lock:
            node = self._tracked.get(node_id) or self._track(node_id)
            recovers = node.stale or node.heard_at is None
            node.heard_at = now
            version = self._version + 1
            metrics, changed = node.metrics, False
            for metric, value in values.items():
                old = metrics.get(metric)
                if old is not None and old[0] == value and type(old[0]) is type(value):
                    metrics[metric] = (value, ts, old[2])
                else:
                    metrics[metric] = (value, ts, version)
                    changed = True
            if changed:
                self._note(node_id, version)
            if recovers:
                node.stale = False
                self._restatus(node, version)

    def set_online(self, node_id: str, online: bool, ts: datetime) -> None:
        """Online or offline as reported at ``ts`` (status topic, gateway's last will). Offline holds
        until an online report; an online report counts as hearing from the node."""
        now = self._clock.now()
        with self._lock:
            node = self._tracked.get(node_id) or self._track(node_id)
            node.online = (online, ts)
            if online:
                node.heard_at, node.stale = now, False
            self._restatus(node, self._version + 1)

    def set_status(self, node_id: str, status: Status | str) -> None:
        """The status alarm rules give a node: normal, warning or alarm (normal clears an alarm)."""
        status = Status.parse(status)
        if status not in RULE_STATUSES:
            raise ValueError(f"rules set {', '.join(map(str, RULE_STATUSES))}, not {status}")
        with self._lock:
            node = self._tracked.get(node_id) or self._track(node_id)
            node.rule = status
            self._restatus(node, self._version + 1)

    def expire(self) -> list[str]:
        """Mark stale every node silent past its heartbeat; return their ids. Costs one pass over
        the nodes heard of: call it about once a second, not per message."""
        now = self._clock.now()
        with self._lock:
            due = [node_id for node_id, node in self._tracked.items()
                   if not node.stale and node.timeout is not None and node.heard_at is not None
                   and node.heard_at + node.timeout <= now]
            version = self._version + 1
            for node_id in due:
                node = self._tracked[node_id]
                node.stale = True
                self._restatus(node, version)
        return due

    # --- reading (browser sessions, the REST API) ------------------------------------------------
    @property
    def version(self) -> int:
        """The version of the latest change (0 before any)."""
        return self._version

    def value(self, node_id: str, metric: str) -> Value | None:
        """The latest value of a metric, None if never heard."""
        with self._lock:
            node = self._tracked.get(node_id)
            found = node.metrics.get(metric) if node is not None else None
        return found[0] if found is not None else None

    def metrics(self, node_id: str) -> dict[str, tuple[Value, datetime]]:
        """``{metric: (latest value, its timestamp)}`` of a node."""
        with self._lock:
            node = self._tracked.get(node_id)
            return {m: (v, ts) for m, (v, ts, _) in node.metrics.items()} if node is not None else {}

    def status(self, node_id: str) -> Status:
        """The shown status of a node: the worst of its own and of every node below it."""
        with self._lock:
            return self._rolled.get(node_id, Status.UNKNOWN)

    def online(self, node_id: str) -> tuple[bool, datetime] | None:
        """The latest online report ``(online, ts)`` of a node, None if none came."""
        with self._lock:
            node = self._tracked.get(node_id)
            return node.online if node is not None else None

    def changes_since(self, version: int) -> tuple[int, dict[str, NodeChange]]:
        """``(current version, {node id: NodeChange})`` for the nodes that changed after ``version``:
        new values, new statuses, and ancestors whose rolled-up status changed. Costs in proportion
        to the changes; pass the returned version next time (0 the first time, for everything)."""
        with self._lock:
            current = self._version
            if version >= current:
                return current, {}
            if version >= self._log_floor:
                ids = set(self._log_ids[bisect_right(self._log_versions, version):])
            else:
                ids = {node_id for node_id, changed in self._changed_at.items() if changed > version}
            return current, {node_id: self._change(node_id, version) for node_id in ids}

    # --- inside the lock -------------------------------------------------------------------------
    def _track(self, node_id: str) -> _Tracked:
        chain = (node_id, *(n.id for n in reversed(self._park.path(node_id))))
        node = self._tracked[node_id] = _Tracked(chain, self._timeout(self._park.get(node_id)))
        for ancestor_id in chain:
            self._counts.setdefault(ancestor_id, [0] * len(Status))[Status.UNKNOWN] += 1
        return node

    def _timeout(self, node: Node) -> timedelta | None:
        if isinstance(self._heartbeat_s, Mapping):
            seconds = self._heartbeat_s.get(device_type(node) or "")
        else:
            seconds = self._heartbeat_s
        return timedelta(seconds=seconds) if seconds is not None else None

    def _restatus(self, node: _Tracked, version: int) -> None:
        """Recount a node's own status up its chain; note every node whose shown status changed."""
        old, new = node.own, node.status()
        if old == new:
            return
        node.own = new
        for node_id in node.chain:
            counts = self._counts[node_id]
            counts[old] -= 1
            counts[new] += 1
            rolled = next(s for s in _WORST_FIRST if counts[s])
            if rolled != self._rolled.get(node_id, Status.UNKNOWN):
                self._rolled[node_id] = rolled
                self._note(node_id, version)

    def _note(self, node_id: str, version: int) -> None:
        """Record that a node changed at ``version`` (which becomes the current one)."""
        self._version = version
        self._changed_at[node_id] = version
        self._log_versions.append(version)
        self._log_ids.append(node_id)
        if len(self._log_ids) > 2 * self._log_size:
            drop = len(self._log_ids) - self._log_size
            self._log_floor = self._log_versions[drop - 1]
            del self._log_versions[:drop], self._log_ids[:drop]

    def _change(self, node_id: str, version: int) -> NodeChange:
        node = self._tracked.get(node_id)
        metrics = {m: (v, ts) for m, (v, ts, changed) in node.metrics.items()
                   if changed > version} if node is not None else {}
        return NodeChange(self._rolled.get(node_id, Status.UNKNOWN), metrics)
