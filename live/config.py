"""The ``[live]`` table of a scene file: device types and their metrics, topic bindings, alarm rules.

Read by :func:`read_live` while the scene file is read (every problem goes to the scene's reader,
naming its field), checked against the built park by :func:`live_problems`. The format is in
``docs/scene-format.md``.

>>> spec = LiveSpec({"temperature_sensor": DeviceType("temperature_sensor", 300.0,
...                  {"temperature": MetricSpec("temperature", "°C")}, None)})
>>> spec.heartbeat_s(), spec.metric("temperature_sensor", "temperature").path
({'temperature_sensor': 300.0}, 'temperature')
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from live.bindings import Binding, StatusBinding, TopicTemplate
from live.state import device_type as type_of
from live.workorders import Priority
from twin.errors import InputError

if TYPE_CHECKING:
    from twin.park import Park
    from twin.scene import _Reader

Colour = tuple[int, int, int]
KINDS = ("number", "boolean", "text")
SEVERITIES = ("critical", "major", "minor", "warning")
CONDITIONS = ("above", "below", "outside", "equals", "rate_above_per_min")
_NUMBER_CONDITIONS = ("above", "below", "outside", "rate_above_per_min")
_COLOUR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
_LIVE_KEYS = {"gateway_status", "device_types", "bindings", "rules", "occupancy", "weather"}
_OCCUPANCY_KEYS = {"metric", "max_age_s"}
_WEATHER_KEYS = {"device", "wind_speed", "wind_from", "max_age_s"}
DEFAULT_MAX_AGE_S = 1800.0  #: live counts and weather older than this are not used (history keeps one per 15 min)
_TYPE_KEYS = {"type", "heartbeat_s", "metrics", "commands"}
_METRIC_KEYS = {"unit", "kind", "path", "deadband", "keepalive_s", "scale", "colours"}
_COMMAND_KEYS = {"actions", "timeout_s", "topic", "result_topic"}
_BINDING_KEYS = {"topic", "node", "metrics", "status"}
_RULE_KEYS = {"key", "device_type", "node", "metric", *CONDITIONS, "for_s", "severity", "message", "linkage",
              "workorder"}
#: What a rule's alarm opens when clicked, beside flying there: ``isolate`` runs burst isolation
#: (关阀分析) at the alarmed pipe (a leak detector's host pipe, a network node's pipe).
LINKAGES = ("isolate",)
PRIORITIES = tuple(Priority)  #: what a rule's ``workorder`` may name


@dataclass(frozen=True)
class MetricSpec:
    """One metric a device type reports: its unit, kind, where it is in the payload, how history keeps
    it (a change under ``deadband`` is not written, yet one sample every ``keepalive_s`` is) and how it
    looks (a blue → red ``scale`` for numbers, a colour per state for booleans and text)."""

    name: str
    unit: str = ""
    kind: str = "number"  # number | boolean | text
    path: str = ""  # JSON path in the payload; "" means the metric's name
    deadband: float = 0.0
    keepalive_s: float = 900.0
    scale: tuple[float, float] | None = None
    colours: dict[str, Colour] = field(default_factory=dict)  # "true" / "false" / a text value → RGB

    def __post_init__(self) -> None:
        if not self.path:
            object.__setattr__(self, "path", self.name)


@dataclass(frozen=True)
class CommandSpec:
    """The actions a device type accepts, the topics they go out and come back on, and how long to wait."""

    actions: tuple[str, ...]
    timeout_s: float = 5.0
    topic: str = "park/{device}/command"
    result_topic: str = "park/{device}/command/result"


@dataclass(frozen=True)
class DeviceType:
    """One ``[[live.device_types]]``: silence past ``heartbeat_s`` is stale (None: never)."""

    type: str
    heartbeat_s: float | None
    metrics: dict[str, MetricSpec]
    commands: CommandSpec | None = None


@dataclass(frozen=True)
class RuleSpec:
    """One ``[[live.rules]]``: exactly one condition on a metric of a device type's devices or of one node,
    holding ``for_s`` seconds, raises an alarm of ``severity``."""

    key: str
    metric: str
    severity: str
    device_type: str | None = None
    node: str | None = None
    above: float | None = None
    below: float | None = None
    outside: tuple[float, float] | None = None
    equals: float | bool | str | None = None
    rate_above_per_min: float | None = None
    for_s: float = 0.0
    message: dict[str, str] = field(default_factory=dict)  # language → text
    linkage: str | None = None  # one of LINKAGES
    workorder: str | None = None  # one of PRIORITIES: each alarm opens a work order of that priority


@dataclass(frozen=True)
class OccupancySpec:
    """``[live.occupancy]``: the metric by which devices count the persons in their host (a space,
    storey or building); counts older than ``max_age_s`` are not used."""

    metric: str
    max_age_s: float = DEFAULT_MAX_AGE_S


@dataclass(frozen=True)
class WeatherSpec:
    """``[live.weather]``: the weather station (a device code or node id) whose wind drives gas plumes."""

    device: str
    wind_speed: str = "wind_speed_m_s"  # its metric of the wind speed, m/s
    wind_from: str = "wind_from_deg"  # its metric of where the wind comes from, ° clockwise from north
    max_age_s: float = DEFAULT_MAX_AGE_S


@dataclass(frozen=True)
class LiveSpec:
    """The ``[live]`` table; empty when the scene has none."""

    device_types: dict[str, DeviceType] = field(default_factory=dict)
    bindings: tuple[Binding | StatusBinding, ...] = ()
    gateway_status: str | None = None  # topic template with {gateway}, e.g. park/gateways/{gateway}/status
    rules: tuple[RuleSpec, ...] = ()
    occupancy: OccupancySpec | None = None
    weather: WeatherSpec | None = None

    def heartbeat_s(self) -> dict[str, float]:
        """``{device type: seconds}`` for the types that go stale (the form :class:`live.state.State` takes)."""
        return {t.type: t.heartbeat_s for t in self.device_types.values() if t.heartbeat_s is not None}

    def metric(self, device_type: str, metric: str) -> MetricSpec | None:
        """A device type's metric, None when the type or metric is not declared."""
        found = self.device_types.get(device_type)
        return found.metrics.get(metric) if found is not None else None


# --- reading -----------------------------------------------------------------------------------
def read_live(r: _Reader, data: dict[str, Any]) -> LiveSpec:
    """The ``[live]`` table of a scene file; every problem goes to ``r`` naming its field."""
    if "live" not in data:
        return LiveSpec()
    live = r.table(data, "live")
    r.unknown(live, _LIVE_KEYS, "live.")
    types: dict[str, DeviceType] = {}
    before = len(r.problems)
    for where, table in _tables(r, live, "device_types"):
        found = _device_type(r, where, table)
        if found is not None and found.type in types:
            r.problem(f"{where}type", f"device type {found.type!r} is declared twice")
        elif found is not None:
            types[found.type] = found
    gateway_status = _template(r, live, "gateway_status", "live.", "gateway")
    known = types if len(r.problems) == before else None  # None: skip checks against broken types
    bindings = [b for where, t in _tables(r, live, "bindings") if (b := _binding(r, where, t, known))]
    rules = [s for where, t in _tables(r, live, "rules") if (s := _rule(r, where, t, known))]
    keys = [s.key for s in rules]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        r.problem("live.rules", f"key {key!r} is used twice")
    return LiveSpec(types, tuple(bindings), gateway_status, tuple(rules), _occupancy(r, live, known),
                    _weather(r, live))


def _optional_table(r: _Reader, live: dict, key: str, allowed: set[str]) -> dict | None:
    """``[live.<key>]`` when given and a table (its unknown keys reported), else None."""
    if key not in live:
        return None
    if not isinstance(live[key], dict):
        r.problem(f"live.{key}", f"must be a table ([live.{key}])")
        return None
    r.unknown(live[key], allowed, f"live.{key}.")
    return live[key]


def _occupancy(r: _Reader, live: dict, types: dict[str, DeviceType] | None) -> OccupancySpec | None:
    """``[live.occupancy]``: its metric must be a number some device type declares."""
    where, t = "live.occupancy.", _optional_table(r, live, "occupancy", _OCCUPANCY_KEYS)
    if t is None:
        return None
    metric = r.text(t, "metric", where, required=True)
    max_age_s = _at_least(r, t, "max_age_s", where, 0.0, strict=True, default=DEFAULT_MAX_AGE_S)
    if metric is not None and types is not None and not any(
            metric in d.metrics and d.metrics[metric].kind == "number" for d in types.values()):
        r.problem(f"{where}metric", f"no device type declares a number metric {metric!r}")
        return None
    return OccupancySpec(metric, max_age_s) if metric is not None and max_age_s is not None else None


def _weather(r: _Reader, live: dict) -> WeatherSpec | None:
    """``[live.weather]``: the station's device; its metrics are checked against the park."""
    where, t = "live.weather.", _optional_table(r, live, "weather", _WEATHER_KEYS)
    if t is None:
        return None
    device = r.text(t, "device", where, required=True)
    names = {key: r.text(t, key, where) or getattr(WeatherSpec, key) for key in ("wind_speed", "wind_from")}
    max_age_s = _at_least(r, t, "max_age_s", where, 0.0, strict=True, default=DEFAULT_MAX_AGE_S)
    return WeatherSpec(device, **names, max_age_s=max_age_s) if device is not None and max_age_s is not None else None


def _tables(r: _Reader, live: dict, key: str) -> list[tuple[str, dict]]:
    value = live.get(key, [])
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        r.problem(f"live.{key}", f"must be a list of tables ([[live.{key}]])")
        return []
    return [(f"live.{key}[{i}].", t) for i, t in enumerate(value)]


def _subtable(r: _Reader, table: dict, key: str, where: str, form: str) -> dict:
    value = table.get(key, {})
    if not isinstance(value, dict):
        r.problem(f"{where}{key}", f"must be a table ({form})")
        return {}
    return value


def _at_least(r: _Reader, table: dict, key: str, where: str, low: float, strict: bool,
              default: float | None = None) -> float | None:
    """A number ≥ ``low`` (> ``low`` when ``strict``); None when absent without default, or wrong."""
    if key not in table:
        return default
    value = r.number(table, key, where)
    if value is not None and (value <= low if strict else value < low):
        r.problem(f"{where}{key}", f"must be {'more than' if strict else 'at least'} {low:g}, not {value:g}")
        return None
    return value


def _pair(r: _Reader, table: dict, key: str, where: str) -> tuple[float, float] | None:
    """``[low, high]`` with low < high."""
    value = table.get(key)
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        r.problem(f"{where}{key}", f"must be [low, high], two finite numbers, not {value!r}")
        return None
    low, high = map(float, value)
    if not low < high:
        r.problem(f"{where}{key}", f"low must be under high, not [{low:g}, {high:g}]")
        return None
    return low, high


def parse_colour(text: str) -> Colour:
    """``"#e53935"`` → ``(229, 57, 53)``."""
    if not isinstance(text, str) or not _COLOUR_RE.match(text):
        raise InputError(f"colour must be \"#rrggbb\", not {text!r}")
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


def _template(r: _Reader, table: dict, key: str, where: str, name: str, default: str | None = None) -> str | None:
    """A topic template with a ``{name}`` segment (``{device}``, ``{gateway}``)."""
    value = r.text(table, key, where) if key in table else default
    if value is None:
        return None
    if f"{{{name}}}" not in value.split("/"):
        r.problem(f"{where}{key}", f"{value!r} must have a {{{name}}} segment")
        return None
    try:
        TopicTemplate(value, f"{{{name}}}")
    except InputError as exc:
        r.problem(f"{where}{key}", str(exc))
        return None
    return value


def _device_type(r: _Reader, where: str, t: dict) -> DeviceType | None:
    r.unknown(t, _TYPE_KEYS, where)
    name = r.text(t, "type", where, required=True)
    heartbeat_s = _at_least(r, t, "heartbeat_s", where, 0.0, strict=True)
    metrics = {}
    for metric, m in _subtable(r, t, "metrics", where, "[live.device_types.metrics.<name>]").items():
        at = f"{where}metrics.{metric}"
        if not isinstance(m, dict):
            r.problem(at, "must be a table of unit, kind, path…")
        elif (spec := _metric(r, f"{at}.", metric, m)) is not None:
            metrics[metric] = spec
    commands = None
    if "commands" in t:
        c = _subtable(r, t, "commands", where, "[live.device_types.commands]")
        commands = _commands(r, f"{where}commands.", c) if isinstance(t["commands"], dict) else None
    return DeviceType(name, heartbeat_s, metrics, commands) if name is not None else None


def _metric(r: _Reader, where: str, name: str, m: dict) -> MetricSpec | None:
    r.unknown(m, _METRIC_KEYS, where)
    problems = len(r.problems)
    kind = r.text(m, "kind", where) or "number"
    if kind not in KINDS:
        r.problem(f"{where}kind", f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
        return None
    path = r.text(m, "path", where) or name
    if path != "$" and not all(path.removeprefix("$.").split(".")):
        r.problem(f"{where}path", f"JSON path {path!r} has an empty key")
    scale = _pair(r, m, "scale", where)
    if scale is not None and kind != "number":
        r.problem(f"{where}scale", f"only a number metric has a scale, not a {kind} one")
    colours: dict[str, Colour] = {}
    given = _subtable(r, m, "colours", where, "{ state = \"#rrggbb\" }")
    for state, text in given.items():
        try:
            colours[state] = parse_colour(text)
        except InputError as exc:
            r.problem(f"{where}colours.{state}", str(exc))
    if kind == "number" and given:
        r.problem(f"{where}colours", "a number metric is coloured by its scale; colours are for boolean or text")
    if kind == "boolean":
        for state in sorted(set(given) - {"true", "false"}):
            r.problem(f"{where}colours.{state}", "a boolean metric has colours for true and false only")
    spec = MetricSpec(name, r.text(m, "unit", where) or "", kind, path,
                      _at_least(r, m, "deadband", where, 0.0, strict=False, default=0.0) or 0.0,
                      _at_least(r, m, "keepalive_s", where, 0.0, strict=True, default=900.0) or 900.0,
                      scale, colours)
    return spec if len(r.problems) == problems else None


def _commands(r: _Reader, where: str, c: dict) -> CommandSpec | None:
    r.unknown(c, _COMMAND_KEYS, where)
    actions = c.get("actions")
    if not (isinstance(actions, list) and actions
            and all(isinstance(a, str) and a.strip() for a in actions)):
        r.problem(f"{where}actions", f"must be a non-empty list of action names, not {actions!r}")
        actions = None
    elif len(set(actions)) != len(actions):
        r.problem(f"{where}actions", "an action is listed twice")
        actions = None
    timeout_s = _at_least(r, c, "timeout_s", where, 0.0, strict=True, default=5.0)
    topic = _template(r, c, "topic", where, "device", CommandSpec.topic)
    result_topic = _template(r, c, "result_topic", where, "device", CommandSpec.result_topic)
    if None in (actions, timeout_s, topic, result_topic):
        return None
    return CommandSpec(tuple(actions), timeout_s, topic, result_topic)


def _union(r: _Reader, where: str, types: dict[str, DeviceType]) -> dict[str, str] | None:
    """Every declared metric by its path; None (a problem) when a metric is declared with two paths."""
    paths: dict[str, str] = {}
    for t in types.values():
        for m in t.metrics.values():
            if paths.setdefault(m.name, m.path) != m.path:
                r.problem(f"{where}metrics", f"metric {m.name!r} has two paths ({paths[m.name]!r}, {m.path!r}) "
                          "in [[live.device_types]]; give this binding its metrics")
                return None
    return paths


def _binding(r: _Reader, where: str, t: dict,
             types: dict[str, DeviceType] | None) -> Binding | StatusBinding | None:
    """A ``[[live.bindings]]``; ``types`` None when the device types have problems (nothing to check against)."""
    r.unknown(t, _BINDING_KEYS, where)
    topic = r.text(t, "topic", where, required=True)
    node = r.text(t, "node", where) or "dev:{device}"
    status = t.get("status", False)
    if not isinstance(status, bool):
        r.problem(f"{where}status", f"must be true or false, not {status!r}")
        return None
    if status and "metrics" in t:
        r.problem(f"{where}metrics", "a status binding (status = true) carries no metrics")
        return None
    if topic is None:
        return None
    if status:
        try:
            return StatusBinding(topic, node)
        except InputError as exc:
            r.problem(f"{where}topic", str(exc))
            return None
    if "metrics" in t:
        given = _subtable(r, t, "metrics", where, "{ metric = \"json.path\" }")
        metrics = {}
        for metric, path in given.items():
            if not isinstance(path, str) or not path.strip():
                r.problem(f"{where}metrics.{metric}", f"must be a JSON path string (\"$\" for a bare value), "
                          f"not {path!r}")
            elif types is not None and not any(metric in d.metrics for d in types.values()):
                r.problem(f"{where}metrics.{metric}", "not a metric of any [[live.device_types]]")
            else:
                metrics[metric] = path
        if len(metrics) != len(given):
            return None
    elif types is None or (metrics := _union(r, where, types)) is None:
        return None
    if not metrics:
        r.problem(f"{where}metrics", "no metrics: give metrics, or declare them in [[live.device_types]]")
        return None
    units: dict[str, str] = {}
    kinds: dict[str, str] = {}
    for d in (types or {}).values():
        for m in d.metrics.values():
            if m.name in metrics and m.unit:
                units.setdefault(m.name, m.unit)
            if m.name in metrics and kinds.setdefault(m.name, m.kind) != m.kind:
                r.problem(f"{where}metrics", f"metric {m.name!r} is a {kinds[m.name]} in one device type and "
                          f"a {m.kind} in {d.type}; name them apart")
                return None
    try:
        return Binding(topic, metrics, node, units, kinds)
    except InputError as exc:
        r.problem(f"{where}{'topic' if str(exc).startswith('binding topic') else 'metrics'}", str(exc))
        return None


def _condition_fits(kind: str, condition: str, value: object) -> str | None:
    """Why a condition does not suit a metric of ``kind``; None when it does."""
    if condition in _NUMBER_CONDITIONS and kind != "number":
        return f"{condition} needs a number metric, not a {kind} one"
    if condition == "equals":
        wanted = {"number": (int, float), "boolean": (bool,), "text": (str,)}[kind]
        if not isinstance(value, wanted) or (kind == "number" and isinstance(value, bool)):
            return f"a {kind} metric cannot equal {value!r}"
    return None


def _rule(r: _Reader, where: str, t: dict, types: dict[str, DeviceType] | None) -> RuleSpec | None:
    """A ``[[live.rules]]``; ``types`` None when the device types have problems (nothing to check against)."""
    from twin.scene import _KEY_RE

    r.unknown(t, _RULE_KEYS, where)
    problems = len(r.problems)
    key = r.text(t, "key", where, required=True)
    if key is not None and not _KEY_RE.match(key):
        r.problem(f"{where}key", f"{key!r}: use letters, digits, '_' or '-'")
    metric = r.text(t, "metric", where, required=True)
    device_type, node = r.text(t, "device_type", where), r.text(t, "node", where)
    if "device_type" in t and "node" in t:
        r.problem(f"{where}node", "give device_type or node, not both")
    elif "device_type" not in t and "node" not in t:
        r.problem(f"{where}device_type", "missing (give device_type, or node for one node)")
    severity = r.text(t, "severity", where, required=True)
    if severity is not None and severity not in SEVERITIES:
        r.problem(f"{where}severity", f"unknown severity {severity!r} (one of {', '.join(SEVERITIES)})")
    given = [c for c in CONDITIONS if c in t]
    if len(given) != 1:
        r.problem(where.rstrip("."), f"give exactly one condition of {', '.join(CONDITIONS)}"
                  + (f", not {len(given)} ({', '.join(given)})" if given else ""))
    above = r.number(t, "above", where) if "above" in t else None
    below = r.number(t, "below", where) if "below" in t else None
    outside = _pair(r, t, "outside", where)
    rate = _at_least(r, t, "rate_above_per_min", where, 0.0, strict=True)
    equals = t.get("equals")
    if equals is not None and (not isinstance(equals, (bool, int, float, str))
                               or isinstance(equals, float) and not math.isfinite(equals)):
        r.problem(f"{where}equals", f"must be a finite number, true/false or a string, not {equals!r}")
    for_s = _at_least(r, t, "for_s", where, 0.0, strict=False, default=0.0)
    message = t.get("message", {})
    if not isinstance(message, dict) or not all(isinstance(v, str) and v.strip() for v in message.values()):
        r.problem(f"{where}message", f"must be a table of language = \"text\", e.g. {{ zh = \"…\", en = \"…\" }}, "
                  f"not {message!r}")
    linkage = r.text(t, "linkage", where)
    if linkage is not None and linkage not in LINKAGES:
        r.problem(f"{where}linkage", f"unknown linkage {linkage!r} (one of {', '.join(LINKAGES)})")
    workorder = r.text(t, "workorder", where)
    if workorder is not None and workorder not in PRIORITIES:
        r.problem(f"{where}workorder", f"unknown priority {workorder!r} (one of {', '.join(PRIORITIES)})")
    if device_type is not None and metric is not None and types is not None:
        declared = types.get(device_type)
        if declared is None:
            r.problem(f"{where}device_type", f"{device_type!r} has no [[live.device_types]]")
        elif metric not in declared.metrics:
            r.problem(f"{where}metric", f"{device_type} declares no metric {metric!r} "
                      f"(known: {', '.join(declared.metrics) or 'none'})")
        elif len(given) == 1 and len(r.problems) == problems:
            why = _condition_fits(declared.metrics[metric].kind, given[0], t[given[0]])
            if why is not None:
                r.problem(f"{where}{given[0]}", why)
    if len(r.problems) != problems:
        return None
    if isinstance(equals, int) and not isinstance(equals, bool):
        equals = float(equals)
    return RuleSpec(key, metric, severity, device_type, node, above, below, outside, equals, rate, for_s,
                    dict(message), linkage, workorder)


# --- checking against the park -----------------------------------------------------------------
def live_problems(spec: LiveSpec, park: Park, file: str | os.PathLike = "scene.toml") -> list[str]:
    """Problems only the built park shows: a rule's node that is not in the park (or whose device type
    does not declare its metric), a rule's device type that no device has. One line each, naming the
    scene ``file`` and field."""
    types = {t for node in park.of_kind("device") if (t := type_of(node))}
    problems = []
    for i, rule in enumerate(spec.rules):
        where = f"{file}: live.rules[{i}]"
        if rule.device_type is not None and rule.device_type not in types:
            problems.append(f"{where}.device_type: no device of type {rule.device_type!r} in the park")
        if rule.node is None:
            continue
        if rule.node not in park:
            problems.append(f"{where}.node: no node {rule.node!r} in the park")
            continue
        kind = type_of(park.get(rule.node))
        declared = spec.device_types.get(kind or "")
        if declared is None:
            continue
        metric = declared.metrics.get(rule.metric)
        condition = next(c for c in CONDITIONS if getattr(rule, c) is not None)
        if metric is None:
            problems.append(f"{where}.metric: {kind} declares no metric {rule.metric!r} "
                            f"(known: {', '.join(declared.metrics) or 'none'})")
        elif why := _condition_fits(metric.kind, condition, getattr(rule, condition)):
            problems.append(f"{where}.{condition}: {why}")
    return problems + _weather_problems(spec, park, file)


def weather_station(spec: WeatherSpec, park: Park) -> str | None:
    """The station's node id (its ``device`` is a node id or a device code), None when not in the park."""
    return next((key for key in (spec.device, f"dev:{spec.device}") if key in park), None)


def _weather_problems(spec: LiveSpec, park: Park, file: str | os.PathLike) -> list[str]:
    """The weather station must be in the park, and its type must declare the wind metrics."""
    if spec.weather is None:
        return []
    where = f"{file}: live.weather"
    node = weather_station(spec.weather, park)
    if node is None:
        return [f"{where}.device: no device {spec.weather.device!r} in the park"]
    declared = spec.device_types.get(type_of(park.get(node)) or "")
    return [f"{where}.{key}: {type_of(park.get(node))} declares no metric {name!r}"
            for key, name in (("wind_speed", spec.weather.wind_speed), ("wind_from", spec.weather.wind_from))
            if declared is None or name not in declared.metrics]
