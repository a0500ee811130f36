"""Bindings: which MQTT topics feed which node, and how a payload becomes values (the ingest hot path).

A topic template names whole segments with placeholders: ``park/{device}/telemetry`` subscribes as
``park/+/telemetry`` and binds ``park/TS-1/telemetry`` to node ``dev:TS-1``. Telemetry payloads are
a JSON object ``{"ts": ISO 8601, "<metric>": value, ...}`` (metrics found by a dotted JSON path such
as ``"temperature"`` or ``"data.t"``) or a bare JSON scalar (path ``"$"``: ``21.5``, ``true``).
Status payloads are ``online`` / ``offline``, retained by the publisher.

>>> router = Router([Binding("park/{device}/telemetry", {"temperature": "t"})])
>>> reading = router.route("park/TS-1/telemetry", b'{"ts": "2026-01-01T08:00:00Z", "t": 21.5}',
...                        datetime.now(UTC))
>>> reading.node, reading.values
('dev:TS-1', {'temperature': 21.5})

Every payload that cannot be used raises :class:`Rejected`, whose message is one line naming the
topic and the cause.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from twin.errors import InputError

Value = float | bool | str
MAX_PAYLOAD_BYTES = 64 * 1024
STATUS_PAYLOADS = {b"online": True, b"offline": False}
_PLACEHOLDER = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_MISSING = object()


class Rejected(InputError):
    """A message that cannot be used; the message names the topic and the cause."""


@dataclass(frozen=True, slots=True)
class Reading:
    """Values of one node's metrics at one time."""
    node: str
    values: dict[str, Value]
    ts: datetime


@dataclass(frozen=True, slots=True)
class Presence:
    """A node going online or offline."""
    node: str
    online: bool
    ts: datetime


@dataclass(frozen=True, slots=True)
class GatewayPresence:
    """A gateway going online or offline (its last will says offline): all its devices with it."""
    gateway: str
    online: bool
    ts: datetime


class TopicTemplate:
    """``park/{device}/telemetry``: an MQTT filter, a matcher and the node id it names."""

    def __init__(self, template: str, node: str):
        self.template = template
        self.node = node
        self._segments: list[str | None] = []  # a literal segment, or None for a placeholder
        self._names: list[str] = []
        self._node_pattern: re.Pattern | None = None
        for segment in template.split("/"):
            if "+" in segment or "#" in segment:
                raise InputError(f"binding topic {template!r}: use {{name}} placeholders, not MQTT wildcards")
            found = _PLACEHOLDER.match(segment)
            if found:
                self._segments.append(None)
                self._names.append(found.group(1))
            elif "{" in segment or "}" in segment:
                raise InputError(f"binding topic {template!r}: a placeholder must fill a whole segment, "
                                 f"not {segment!r}")
            else:
                self._segments.append(segment)
        if len(set(self._names)) != len(self._names):
            raise InputError(f"binding topic {template!r}: a placeholder is repeated")
        try:
            node.format_map({name: "" for name in self._names})
        except (KeyError, ValueError, IndexError) as exc:
            raise InputError(f"binding topic {template!r}: node {node!r} uses a placeholder the topic "
                             f"does not have ({exc})") from None
        self.filter = "/".join("+" if s is None else s for s in self._segments)

    def match(self, topic: str) -> dict[str, str] | None:
        """The placeholder values of a topic, or None when the topic does not fit."""
        parts = topic.split("/")
        if len(parts) != len(self._segments):
            return None
        fields = {}
        for part, segment in zip(parts, self._segments):
            if segment is None:
                if not part:
                    return None
                fields[self._names[len(fields)]] = part
            elif part != segment:
                return None
        return fields

    def node_id(self, fields: dict[str, str]) -> str:
        return self.node.format_map(fields)

    def topic_for(self, node_id: str) -> str | None:
        """The topic that names ``node_id`` (``dev:TS-1`` → ``park/TS-1/telemetry``), None if none does."""
        if self._node_pattern is None:
            pattern = re.escape(self.node)
            for name in self._names:
                pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>[^/]+)", 1)
            self._node_pattern = re.compile(pattern + r"\Z")
        found = self._node_pattern.match(node_id)
        if found is None:
            return None
        fields = found.groupdict()
        return "/".join(segment if segment is not None else fields[name] for segment, name in
                        zip(self._segments, self._names_by_segment()))

    def _names_by_segment(self) -> list[str | None]:
        names = iter(self._names)
        return [next(names) if segment is None else None for segment in self._segments]


def _compile_path(metric: str, path: str) -> tuple[str, ...]:
    """``"data.t"`` → ``("data", "t")``; ``"$"`` → ``()`` (the whole payload)."""
    if path == "$":
        return ()
    keys = tuple((path.removeprefix("$.")).split("."))
    if not all(keys):
        raise InputError(f"binding metric {metric!r}: JSON path {path!r} has an empty key")
    return keys


class _NotFinite(Exception):
    """JSON's non-standard NaN, Infinity or -Infinity."""


def _reject_constant(name: str) -> float:
    raise _NotFinite(name)


#: One decoder for every payload (``json.loads`` with an option builds a new one per call).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _decode(topic: str, payload: bytes) -> object:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Rejected(f"{topic}: payload too large ({len(payload)} bytes, limit {MAX_PAYLOAD_BYTES})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(f"{topic}: payload is not UTF-8 (byte {exc.start})") from None
    try:
        return _DECODER.decode(text)
    except _NotFinite as exc:
        raise Rejected(f"{topic}: {exc} is not a finite number") from None
    except ValueError as exc:
        raise Rejected(f"{topic}: payload is not JSON ({str(exc).splitlines()[0]})") from None


def _value(topic: str, path: str, raw: object) -> Value:
    if type(raw) is float and math.isfinite(raw):  # the usual case first
        return raw
    if isinstance(raw, (bool, str)):
        return raw
    if isinstance(raw, (int, float)):
        try:
            number = float(raw)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise Rejected(f"{topic}: {path} is not a finite number")
        return number
    raise Rejected(f"{topic}: {path} must be a number, boolean or string, not {type(raw).__name__}")


def _timestamp(topic: str, raw: object, received: datetime) -> datetime:
    if raw is _MISSING:
        return received
    if not isinstance(raw, str):
        raise Rejected(f"{topic}: ts must be an ISO 8601 string, not {type(raw).__name__}")
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise Rejected(f"{topic}: ts {raw[:40]!r} is not ISO 8601") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


#: The JSON values each metric kind accepts (a boolean is not a number, nor a number a boolean).
KIND_TYPES: dict[str, tuple[type, ...]] = {"number": (float,), "boolean": (bool,), "text": (str,)}


@dataclass(frozen=True, slots=True)
class _Bound:
    """One bound metric as :meth:`Binding.parse` looks it up: under a top-level key of the payload."""
    metric: str
    rest: tuple[str, ...]  # the keys below the top-level one (``data.t`` → ``("t",)``)
    path: str  # as written, for messages
    kind: str | None


@dataclass(frozen=True)
class Binding:
    """Telemetry on ``topic`` for ``node``: metric name → JSON path (``"$"`` for a bare value).
    ``kinds`` (metric → ``number``, ``boolean`` or ``text``) refuses a value of the wrong type."""
    topic: str
    metrics: dict[str, str]
    node: str = "dev:{device}"
    units: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    template: TopicTemplate = field(init=False, repr=False, compare=False)
    _bare: _Bound | None = field(init=False, repr=False, compare=False)  # the one metric of path "$"
    _by_key: dict[str, list[_Bound]] = field(init=False, repr=False, compare=False)  # top-level key → metrics

    def __post_init__(self) -> None:
        if not self.metrics:
            raise InputError(f"binding {self.topic!r}: give at least one metric")
        for given, what in ((self.units, "unit"), (self.kinds, "kind")):
            unknown = set(given) - set(self.metrics)
            if unknown:
                raise InputError(f"binding {self.topic!r}: {what} given for unknown metric {min(unknown)!r}")
        wrong = {kind for kind in self.kinds.values() if kind not in KIND_TYPES}
        if wrong:
            raise InputError(f"binding {self.topic!r}: unknown kind {min(wrong)!r} (one of {', '.join(KIND_TYPES)})")
        paths = {metric: _compile_path(metric, path) for metric, path in self.metrics.items()}
        if () in paths.values() and len(paths) > 1:
            raise InputError(f"binding {self.topic!r}: a bare-value path '$' binds exactly one metric")
        bare, by_key = None, {}
        for metric, keys in paths.items():
            bound = _Bound(metric, keys[1:], self.metrics[metric], self.kinds.get(metric))
            if keys:
                by_key.setdefault(keys[0], []).append(bound)
            else:
                bare = bound
        object.__setattr__(self, "_bare", bare)
        object.__setattr__(self, "_by_key", by_key)
        object.__setattr__(self, "template", TopicTemplate(self.topic, self.node))

    def parse(self, topic: str, payload: bytes, received: datetime) -> tuple[dict[str, Value], datetime]:
        """The metric values and timestamp of a payload (``received`` when it carries no ts)."""
        data = _decode(topic, payload)
        bare = self._bare
        if (bare is not None) == isinstance(data, dict):
            wanted = "a bare value" if bare is not None else "a JSON object"
            raise Rejected(f"{topic}: payload must be {wanted}, not {type(data).__name__}")
        if bare is not None:
            return {bare.metric: _typed(topic, bare, "payload", data)}, received
        values = {}
        for key, top in data.items():  # a payload names a few metrics; a binding may have many
            for bound in self._by_key.get(key, ()):
                raw = top
                for below in bound.rest:
                    raw = raw.get(below, _MISSING) if isinstance(raw, dict) else _MISSING
                if raw is not _MISSING:
                    values[bound.metric] = _typed(topic, bound, bound.path, raw)
        if not values:
            raise Rejected(f"{topic}: no bound metric in payload (paths {', '.join(self.metrics.values())})")
        return values, _timestamp(topic, data.get("ts", _MISSING), received)


def _typed(topic: str, bound: _Bound, path: str, raw: object) -> Value:
    value = _value(topic, path, raw)
    if bound.kind is not None and type(value) not in KIND_TYPES[bound.kind]:
        raise Rejected(f"{topic}: {path} must be a {bound.kind}, not {type(raw).__name__} {str(raw)[:20]!r}")
    return value


@dataclass(frozen=True)
class StatusBinding:
    """Online status on ``topic`` for ``node``: payload ``online`` or ``offline`` (retained)."""
    topic: str = "park/{device}/status"
    node: str = "dev:{device}"
    template: TopicTemplate = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "template", TopicTemplate(self.topic, self.node))

    def parse(self, topic: str, payload: bytes) -> bool:
        """True for ``online``, False for ``offline``."""
        online = STATUS_PAYLOADS.get(payload.strip())
        if online is None:
            raise Rejected(f"{topic}: status must be 'online' or 'offline', not {payload[:40]!r}")
        return online


@dataclass(frozen=True)
class GatewayBinding(StatusBinding):
    """A gateway's own status on ``topic`` (``online``, or ``offline`` from its last will); the
    devices behind it are those whose registry ``gateway`` is the ``{gateway}`` placeholder's value."""
    topic: str = "park/gateways/{gateway}/status"
    node: str = "{gateway}"


class Router:
    """Routes a topic to the first binding whose template it fits, caching the result per topic."""

    MAX_CACHED_TOPICS = 100_000

    def __init__(self, bindings: Iterable[Binding | StatusBinding | GatewayBinding]):
        self.bindings = list(bindings)
        self._cache: dict[str, tuple[Binding | StatusBinding, str]] = {}

    @property
    def filters(self) -> list[str]:
        """The MQTT subscription filters, without repeats, in binding order."""
        return list(dict.fromkeys(b.template.filter for b in self.bindings))

    def _resolve(self, topic: str) -> tuple[Binding | StatusBinding, str]:
        found = self._cache.get(topic)
        if found is None:
            for binding in self.bindings:
                fields = binding.template.match(topic)
                if fields is not None:
                    found = binding, binding.template.node_id(fields)
                    break
            else:
                raise Rejected(f"{topic}: unknown topic (no binding fits it)")
            if len(self._cache) < self.MAX_CACHED_TOPICS:
                self._cache[topic] = found
        return found

    def route(self, topic: str, payload: bytes, received: datetime) -> Reading | Presence | GatewayPresence:
        """What one message says; raises :class:`Rejected` with a one-line reason."""
        binding, node = self._resolve(topic)
        if isinstance(binding, Binding):
            values, ts = binding.parse(topic, payload, received)
            return Reading(node, values, ts)
        if isinstance(binding, GatewayBinding):
            return GatewayPresence(node, binding.parse(topic, payload), received)
        return Presence(node, binding.parse(topic, payload), received)
