"""Alarm rules: conditions on a metric that raise and clear alarms, and set their node's status.

A rule applies to every device of a type (``device_type``, the registry ``type``) or to one node
(``node``), and watches one metric with one condition: ``above``, ``below``, ``outside [lo, hi]``,
``equals`` (a bool, number or string), or ``rate_above_per_min`` (the absolute change per minute
between consecutive samples, by their timestamps). With ``for_s`` the condition must hold that long
before the alarm is raised: checked on each sample and on :meth:`Rules.tick`. When the condition
stops holding the alarm's condition clears. After every change to a node's alarms, the node's rule
status in State becomes the worst of its active alarms (normal when none).

:meth:`Rules.observe` runs on the MQTT thread for every value: a node or metric no rule watches
costs two dictionary lookups. A value of the wrong type for a rule (a string for ``above``) is
ignored by that rule and counted (:meth:`Rules.ignored`).

Durations and rates use the messages' timestamps; :meth:`tick` compares a waiting condition's start
with the clock, so device clocks are assumed to agree with the twin's.
"""
from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from live.alarms import AlarmBook, Severity
from live.clock import Clock
from live.state import State, Status, Value, device_type
from twin.errors import InputError
from twin.park import Park

if TYPE_CHECKING:
    from live.config import RuleSpec

CONDITIONS = ("above", "below", "outside", "equals", "rate_above_per_min")


def _is_number(value: object) -> bool:
    return type(value) is float or type(value) is int


class _Rule:
    """A checked rule: ``test(value)`` says whether the condition holds, None for a wrong type."""

    __slots__ = ("for_s", "key", "message", "metric", "rate_per_min", "severity", "test")

    def __init__(self, spec: RuleSpec):
        self.key = spec.key
        self.metric = spec.metric
        if not self.key or not self.metric:
            raise InputError(f"rule {spec.key!r}: needs a key and a metric")
        if (spec.device_type is None) == (spec.node is None):
            raise InputError(f"rule {spec.key!r}: give either device_type or node")
        try:
            self.severity = Severity.parse(spec.severity)
        except InputError as exc:
            raise InputError(f"rule {spec.key!r}: {exc}") from None
        self.message = dict(spec.message)
        if not (_is_number(spec.for_s) and 0 <= spec.for_s < math.inf):
            raise InputError(f"rule {spec.key!r}: for_s must be a number of seconds ≥ 0, not {spec.for_s!r}")
        self.for_s = timedelta(seconds=spec.for_s)
        given = [name for name in CONDITIONS if getattr(spec, name) is not None]
        if len(given) != 1:
            raise InputError(f"rule {spec.key!r}: give exactly one condition of {', '.join(CONDITIONS)}"
                             f"{', not ' + ' and '.join(given) if given else ''}")
        self.rate_per_min: float | None = None
        self.test = self._condition(spec, given[0], getattr(spec, given[0]))

    def _condition(self, spec: RuleSpec, name: str, limit: object) -> Callable[[Value], bool | None]:
        def number(x: object) -> float:
            if not (_is_number(x) and math.isfinite(x)):
                raise InputError(f"rule {spec.key!r}: {name} needs finite numbers, not {limit!r}")
            return x
        if name == "above":
            above = number(limit)
            return lambda v: v > above if _is_number(v) else None
        if name == "below":
            below = number(limit)
            return lambda v: v < below if _is_number(v) else None
        if name == "outside":
            if not (isinstance(limit, tuple | list) and len(limit) == 2):
                raise InputError(f"rule {spec.key!r}: outside needs [low, high], not {limit!r}")
            low, high = number(limit[0]), number(limit[1])
            if low > high:
                raise InputError(f"rule {spec.key!r}: outside [{low}, {high}] has low above high")
            return lambda v: (v < low or v > high) if _is_number(v) else None
        if name == "equals":
            if type(limit) is bool:
                return lambda v: v == limit if type(v) is bool else None
            if type(limit) is str:
                return lambda v: v == limit if type(v) is str else None
            target = number(limit)
            return lambda v: v == target if _is_number(v) else None
        self.rate_per_min = number(limit)
        return lambda v: True if _is_number(v) else None  # the rate itself needs the last sample


class _Watch:
    """One rule on one node: since when its condition holds, and whether its alarm is raised."""

    __slots__ = ("last", "node", "raised", "rule", "since", "value")

    def __init__(self, rule: _Rule, node: str):
        self.rule, self.node = rule, node
        self.since: datetime | None = None  # timestamp of the first sample of the current hold
        self.raised = False
        self.value: Value | None = None  # the latest value while waiting for for_s
        self.last: tuple[float, datetime] | None = None  # rate rules: the previous sample


class Rules:
    """The rules of a scene bound to the park's nodes, feeding an AlarmBook and State's statuses.

    Unknown severities, missing or extra conditions, duplicate keys and nodes not in the park raise
    InputError naming the rule. Alarms left active in the book by a rule that no longer exists
    are cleared at start; the others are picked up, so the next sample can clear them.
    """

    def __init__(self, specs: Iterable[RuleSpec], park: Park, state: State, alarms: AlarmBook,
                 clock: Clock):
        self._park, self._state, self._alarms, self._clock = park, state, alarms, clock
        self._lock = threading.Lock()  # the watches (MQTT thread, tick)
        self._status_lock = threading.Lock()  # one node status decided and set at a time
        self._index: dict[str, dict[str, list[_Watch]]] = {}  # node → metric → watches
        self._pending: set[_Watch] = set()  # conditions holding, waiting for for_s
        self._ignored: Counter[str] = Counter()
        by_type: dict[str, list[_Rule]] = {}
        keys: set[str] = set()
        for spec in specs:
            rule = _Rule(spec)
            if rule.key in keys:
                raise InputError(f"rule {rule.key!r}: the key is used twice")
            keys.add(rule.key)
            if spec.node is not None:
                if spec.node not in park:
                    raise InputError(f"rule {rule.key!r}: node {spec.node!r} is not in the park")
                self._watch(rule, spec.node)
            else:
                by_type.setdefault(spec.device_type, []).append(rule)
        if by_type:
            for node in park:
                for rule in by_type.get(device_type(node) or "", ()):
                    self._watch(rule, node.id)
        self._resume()
        alarms.listen(self._restatus)

    def _watch(self, rule: _Rule, node: str) -> None:
        self._index.setdefault(node, {}).setdefault(rule.metric, []).append(_Watch(rule, node))

    def _resume(self) -> None:
        """Take over the active alarms of the book; clear those no rule watches any more."""
        watches = {(w.rule.key, w.node): w for metrics in self._index.values()
                   for group in metrics.values() for w in group}
        now = self._clock.now()
        for alarm in self._alarms.list(active=True):
            watch = watches.get((alarm.rule, alarm.node))
            if watch is not None:
                watch.raised = True
            else:
                self._alarms.clear_condition(alarm.rule, alarm.node, now)
        for node in self._alarms.worst_by_node():
            self._restatus(node)

    # --- the MQTT thread, the server's timer --------------------------------------------------------
    def observe(self, node_id: str, metric: str, value: Value, ts: datetime) -> None:
        """Judge a value measured at ``ts`` by every rule on that node and metric."""
        metrics = self._index.get(node_id)
        if metrics is None:
            return
        watches = metrics.get(metric)
        if watches is None:
            return
        with self._lock:
            for watch in watches:
                self._judge(watch, value, ts)

    def tick(self) -> None:
        """Raise the alarms whose condition has now held for its ``for_s`` (about once a second)."""
        if not self._pending:
            return
        now = self._clock.now()
        with self._lock:
            for watch in [w for w in self._pending if now >= w.since + w.rule.for_s]:
                self._pending.discard(watch)
                self._raise(watch, watch.value, watch.since + watch.rule.for_s)

    def ignored(self) -> dict[str, int]:
        """``{rule key: values ignored for being of the wrong type}``."""
        with self._lock:
            return dict(self._ignored)

    # --- inside the lock ----------------------------------------------------------------------------
    def _judge(self, watch: _Watch, value: Value, ts: datetime) -> None:
        rule = watch.rule
        holds = rule.test(value)
        if holds is None:
            self._ignored[rule.key] += 1
            return
        if rule.rate_per_min is not None:
            last = watch.last
            if last is not None and ts <= last[1]:
                return  # out of order or repeated: no rate
            watch.last = (value, ts)
            if last is None:
                return
            holds = abs(value - last[0]) * 60.0 / (ts - last[1]).total_seconds() > rule.rate_per_min
        if not holds:
            watch.since = None
            self._pending.discard(watch)
            if watch.raised:
                watch.raised = False
                self._alarms.clear_condition(rule.key, watch.node, ts)
            return
        if watch.since is None:
            watch.since = ts
        if watch.raised:
            if not self._alarms.is_active(rule.key, watch.node):  # cleared by hand, still holding
                self._raise(watch, value, ts)
            return
        due = watch.since + rule.for_s
        if ts >= due:
            self._pending.discard(watch)
            self._raise(watch, value, due)
        else:
            watch.value = value
            self._pending.add(watch)

    def _raise(self, watch: _Watch, value: Value, ts: datetime) -> None:
        rule = watch.rule
        watch.raised = True
        self._alarms.raise_alarm(rule.key, watch.node, rule.metric, rule.severity, rule.message, value, ts)

    def _restatus(self, node: str) -> None:
        """Give a node the status of its worst active alarm (normal when none)."""
        if node not in self._park:
            return
        with self._status_lock:
            worst = self._alarms.worst(node)
            self._state.set_status(node, worst.status if worst is not None else Status.NORMAL)
