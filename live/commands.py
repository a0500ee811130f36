"""Device commands: publish an action to a device's command topic and wait for its confirmation.

Twin publishes ``{"id", "action", "ts"}`` (QoS 1) on the device type's command topic
(``park/<device code>/command``); the device answers ``{"id", "ok", "detail"}`` on its result topic
(``park/<device code>/command/result``). :meth:`Commander.send` blocks until the answer with the
same id arrives or the type's timeout passes. Every command is written to the audit log with the
principal, the action, the node and the outcome; the last results are kept for the app.

Whether the principal may command at all (permission ``device.command``) is checked by the caller
(the web layer), through :func:`twin.web.access.check`, before :meth:`Commander.send`.

>>> with Commander(broker.url, {"street_light": CommandSpec(("on", "off"))}, park) as commander:  # doctest: +SKIP
...     commander.wait_ready(5)
...     commander.send("dev:SL-001", "on", LOCAL).ok
True
"""
from __future__ import annotations

import json
import logging
import math
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Self

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from live.bindings import TopicTemplate
from live.clock import Clock, SystemClock
from live.config import CommandSpec
from live.ingest import RECONNECT_DELAY_S
from live.mqtt import MqttPart, broker_address, mqtt_client
from live.state import device_type
from twin.errors import InputError
from twin.park import Node, Park
from twin.web.access import Principal, audit

log = logging.getLogger(__name__)

PLACEHOLDER = "device"  #: the one placeholder of command topics: the device's code
RECENT = 200  #: results kept for :meth:`Commander.recent`
LATE_IDS = 1_000  #: timed-out ids remembered, so that their late answers are counted as late


@dataclass(frozen=True)
class CommandResult:
    """What became of one command. ``answered_at`` is None when no answer came (``timed_out``) or
    the command could not be sent (``ok`` False, ``detail`` says why)."""

    id: str
    node: str
    action: str
    principal: str
    sent_at: datetime
    ok: bool
    detail: str
    answered_at: datetime | None = None
    timed_out: bool = False

    def record(self) -> dict:
        """JSON-ready: times in ISO 8601."""
        found = asdict(self)
        found["sent_at"] = self.sent_at.isoformat()
        found["answered_at"] = self.answered_at.isoformat() if self.answered_at else None
        return found

    @property
    def outcome(self) -> str:
        """One line for the audit log: ``ok``, ``failed: …``, ``timed out …`` or ``not sent: …``."""
        if self.ok:
            return f"ok (id {self.id})"
        if self.timed_out:
            return f"timed out: {self.detail} (id {self.id})"
        if self.answered_at is None:
            return f"not sent: {self.detail}"
        return f"failed: {self.detail} (id {self.id})"


@dataclass
class CommandCounters:
    """Commands by outcome, and answers that matched no waiting command."""

    sent: int = 0
    confirmed: int = 0
    failed: int = 0
    timed_out: int = 0
    not_sent: int = 0
    ignored: int = 0
    last_ignored: str | None = None


class _Pending:
    """A command waiting for its answer."""

    __slots__ = ("result_topic", "answered", "answer", "answered_at")

    def __init__(self, result_topic: str):
        self.result_topic = result_topic
        self.answered = threading.Event()
        self.answer: tuple[bool, str] | None = None
        self.answered_at: datetime | None = None


def _template(device_type_name: str, key: str, template: str) -> TopicTemplate:
    """A command topic template whose one placeholder is ``{device}``."""
    parsed = TopicTemplate(template, "")
    names = {s[1:-1] for s in template.split("/") if s.startswith("{") and s.endswith("}")}
    if names != {PLACEHOLDER}:
        raise InputError(f"device type {device_type_name!r}: commands {key} {template!r} must name "
                         f"exactly one placeholder, {{{PLACEHOLDER}}}")
    return parsed


class Commander(MqttPart):
    """Sends commands to devices of the types in ``command_specs`` (device type → its CommandSpec;
    types mapped to None take none) and collects their answers.

    ``url_or_client``: a broker URL (``mqtt://host:port``; the commander runs its own MQTT v5
    client, started by :meth:`start`), or a connected paho client owned by the caller (then
    :meth:`start` only subscribes the result topics and routes them here; keep its session, with
    ``clean_start`` off, so a reconnect keeps the subscriptions).
    """

    def __init__(self, url_or_client: str | mqtt.Client, command_specs: Mapping[str, CommandSpec | None],
                 park: Park, clock: Clock | None = None, client_id: str | None = None, recent: int = RECENT):
        self.specs = {name: spec for name, spec in command_specs.items() if spec is not None}
        self.park = park
        self.clock = clock or SystemClock()
        for name, spec in self.specs.items():
            _template(name, "topic", spec.topic)
        #: MQTT filters of the result topics (``park/+/command/result``), without repeats
        self.filters = list(dict.fromkeys(_template(name, "result_topic", spec.result_topic).filter
                                          for name, spec in self.specs.items()))
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._late: deque[str] = deque(maxlen=LATE_IDS)
        self._recent: deque[CommandResult] = deque(maxlen=recent)
        self._counters = CommandCounters()
        super().__init__()
        if isinstance(url_or_client, mqtt.Client):
            self.client, self._owned = url_or_client, False
            return
        self.host, self.port, _user, _password = broker_address(url_or_client)
        self.client = mqtt_client(url_or_client, client_id or f"twin-commands-{uuid.uuid4().hex[:8]}")
        self._owned = True
        self.client.reconnect_delay_set(*RECONNECT_DELAY_S)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        """Route result topics here; with an own client, connect in the background and run its loop;
        with a given one, subscribe on it now (:class:`InputError` when it is not connected)."""
        if not self._owned and self.filters:
            rc, _ = self.client.subscribe([(topic_filter, 1) for topic_filter in self.filters])
            if rc != mqtt.MQTT_ERR_SUCCESS:
                raise InputError(f"commands: cannot subscribe {', '.join(self.filters)} on the given "
                                 f"MQTT client ({mqtt.error_string(rc)}); connect it first")
        for topic_filter in self.filters:
            self.client.message_callback_add(topic_filter, self._on_result)
        if self._owned:
            self.client.connect_async(self.host, self.port, clean_start=True)
            self.client.loop_start()
        else:
            self._ready.set()  # the broker handles the subscription before any command sent after it
        return self

    def stop(self) -> None:
        """Stop routing results; with an own client, disconnect and end its loop."""
        for topic_filter in self.filters:
            self.client.message_callback_remove(topic_filter)
        if self._owned:
            self.client.disconnect()
            self.client.loop_stop()
        self._ready.clear()

    # --- what the app reads --------------------------------------------------------------------
    def actions(self, node_id: str) -> tuple[str, ...]:
        """The actions a node takes (empty for nodes that are not devices or take no commands)."""
        node = self.park.nodes.get(node_id)
        spec = self.specs.get(device_type(node)) if node is not None else None
        return spec.actions if spec is not None else ()

    def recent(self) -> list[CommandResult]:
        """The last results, newest first."""
        with self._lock:
            return list(reversed(self._recent))

    def diagnostics(self) -> CommandCounters:
        """A snapshot of the counters."""
        with self._lock:
            return replace(self._counters)

    # --- sending -------------------------------------------------------------------------------
    def send(self, node_id: str, action: str, principal: Principal, timeout_s: float | None = None) -> CommandResult:
        """Publish ``action`` to the device ``node_id`` and wait for its answer (the type's timeout
        unless ``timeout_s``). Raises :class:`InputError` (one line) for a node that is not a device,
        a device type without commands or an unknown action; every call is audited."""
        try:
            node, spec = self._command_spec(node_id, action)
        except InputError as exc:
            audit(principal, f"command.{action}", node_id, f"refused: {exc}")
            raise
        wait_s = spec.timeout_s if timeout_s is None else timeout_s
        pending = _Pending(spec.result_topic.format_map({PLACEHOLDER: node.code}))
        result = CommandResult(uuid.uuid4().hex, node_id, action, principal.name, self.clock.now(), False, "")
        with self._lock:
            self._pending[result.id] = pending
        try:
            problem = self._publish(spec.topic.format_map({PLACEHOLDER: node.code}), result, wait_s)
            if problem is None:
                pending.answered.wait(wait_s)
        finally:
            with self._lock:
                self._pending.pop(result.id, None)
        result = self._settle(result, pending, problem, wait_s)
        audit(principal, f"command.{action}", node_id, result.outcome)
        return result

    def _settle(self, result: CommandResult, pending: _Pending, problem: str | None, wait_s: float) -> CommandResult:
        """The result of a command no longer waited for; counted and kept in :meth:`recent`."""
        with self._lock:
            if problem is not None:
                result = replace(result, detail=problem)
                self._counters.not_sent += 1
            elif pending.answer is None:
                result = replace(result, detail=f"no answer within {wait_s:g} s", timed_out=True)
                self._late.append(result.id)
                self._counters.timed_out += 1
            else:
                ok, detail = pending.answer
                result = replace(result, ok=ok, detail=detail, answered_at=pending.answered_at)
                if ok:
                    self._counters.confirmed += 1
                else:
                    self._counters.failed += 1
            self._recent.append(result)
        return result

    def _command_spec(self, node_id: str, action: str) -> tuple[Node, CommandSpec]:
        node = self.park.nodes.get(node_id)
        if node is None:
            raise InputError(f"command {action!r}: no node {node_id} in the park")
        if node.kind != "device":
            raise InputError(f"command {action!r}: {node_id} is a {node.kind}, not a device")
        kind = device_type(node)
        spec = self.specs.get(kind)
        if spec is None:
            raise InputError(f"command {action!r}: {node_id} is a {kind or 'device of no type'}, "
                             "which takes no commands")
        if action not in spec.actions:
            raise InputError(f"command {action!r}: unknown for {node_id} ({kind}); "
                             f"allowed: {', '.join(spec.actions)}")
        if not node.code:
            raise InputError(f"command {action!r}: {node_id} has no code to name its topic")
        return node, spec

    def _publish(self, topic: str, command: CommandResult, wait_s: float) -> str | None:
        """Publish one command; why it could not be, or None. A device that reconnects after the
        timeout does not receive it (the message expires with the wait)."""
        if not self.client.is_connected():
            return "no connection to the broker"
        properties = Properties(PacketTypes.PUBLISH)
        properties.MessageExpiryInterval = max(1, math.ceil(wait_s))
        payload = json.dumps({"id": command.id, "action": command.action, "ts": command.sent_at.isoformat()})
        try:
            info = self.client.publish(topic, payload, qos=1, properties=properties)
        except ValueError as exc:  # paho refuses a topic with wildcards (a device code with + or #)
            return f"publish on {topic} refused: {exc}"
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return f"publish on {topic} failed: {mqtt.error_string(info.rc)}"
        with self._lock:
            self._counters.sent += 1
        return None

    # --- paho callbacks (network thread) -------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags,
                    reason: mqtt.ReasonCode, properties: Properties | None) -> None:
        if reason.is_failure:
            log.warning("mqtt %s:%s refused the commander's connection: %s", self.host, self.port, reason)
            return
        if self.filters:
            client.subscribe([(topic_filter, 1) for topic_filter in self.filters])
        else:
            self._ready.set()

    def _on_result(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        """Match an answer to its waiting command; count anything else. Never raises."""
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = "(topic not UTF-8)"
        try:
            reason = self._answer(topic, message.payload)
        except Exception as exc:  # the network thread must survive anything
            reason = f"{topic}: not read ({type(exc).__name__}: {exc})"
        if reason is not None:
            with self._lock:
                self._counters.ignored += 1
                repeated = self._counters.last_ignored == reason
                self._counters.last_ignored = reason
            if not repeated:
                log.warning("command result ignored: %s", reason)

    def _answer(self, topic: str, payload: bytes) -> str | None:
        """Hand one answer to its command; why it was ignored, or None."""
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            return f"{topic}: result is not JSON"
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            return f"{topic}: result must be a JSON object with a string id"
        ok, detail = data.get("ok"), data.get("detail", "")
        if not isinstance(ok, bool) or not isinstance(detail, str):
            return f"{topic}: result id {data['id'][:40]!r} needs ok true/false and a string detail"
        with self._lock:
            pending = self._pending.get(data["id"])
            if pending is None:
                late = data["id"] in self._late
                return f"{topic}: {'late answer (after the timeout)' if late else 'unknown command id'} " \
                       f"{data['id'][:40]!r}"
            if topic != pending.result_topic:
                return f"{topic}: answer for {data['id']!r} expected on {pending.result_topic}"
            if pending.answer is not None:
                return f"{topic}: repeated answer for {data['id']!r}"
            pending.answer = ok, detail
            pending.answered_at = self.clock.now()
        pending.answered.set()
        return None
