"""MQTT → bindings → State: a persistent paho-mqtt client that never lets a bad message stop it.

The client keeps a persistent MQTT v5 session (a stable client id, ``clean_start`` off, a session
expiry longer than any outage worth surviving), subscribes with QoS 1 on every connect and
reconnects on its own, so QoS 1 messages published while it was away arrive when it is back.

>>> with Ingest(broker.url, [Binding("park/{device}/telemetry", {"temperature": "temperature"}),
...                          StatusBinding()], state) as ingest:      # doctest: +SKIP
...     ingest.wait_ready(5)
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from dataclasses import dataclass, replace
from typing import Self

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from live.bindings import Binding, GatewayPresence, Presence, Rejected, Router, StatusBinding, Value
from live.clock import Clock, SystemClock
from live.mqtt import MqttPart, broker_address, mqtt_client
from live.state import State
from twin.park import Park

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600
RECONNECT_DELAY_S = (0.5, 2.0)
MAX_TOPICS = 10_000  #: topics counted one by one; the rest share OTHER_TOPICS
OTHER_TOPICS = "(other topics)"

#: Called with every accepted value after the State has it: alarm rules, the history store.
Listener = Callable[[str, str, Value, datetime], None]


@dataclass(slots=True)
class TopicCounters:
    """Messages seen on one topic, and why the last bad one was refused."""
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    last_rejection: str | None = None


class Ingest(MqttPart):
    """Subscribes to the bindings' topics and writes what they say into ``state``.

    ``park``, when given, refuses messages for nodes it does not hold. ``clock`` dates messages
    without a ``ts`` (and status changes). ``listeners`` hear every accepted value after the state.
    ``gateways`` maps a gateway code to the node ids of its devices: while a gateway is offline
    (its last will), its devices are offline whatever their retained status says.
    """

    def __init__(self, url: str, bindings: Iterable[Binding | StatusBinding], state: State,
                 park: Park | None = None, client_id: str = "twin-ingest",
                 session_expiry_s: int = SESSION_EXPIRY_S, clock: Clock | None = None,
                 listeners: Sequence[Listener] = (), gateways: Mapping[str, Sequence[str]] | None = None):
        self.host, self.port, _user, _password = broker_address(url)
        self.router = Router(bindings)
        self.filters = self.router.filters
        self.state = state
        self.park = park
        self.listeners = tuple(listeners)
        self.gateways = gateways or {}
        self._gateway_of = {node: gateway for gateway, nodes in self.gateways.items() for node in nodes}
        self._gateways_down: set[str] = set()
        self.clock = clock or SystemClock()
        self._counters: dict[str, TopicCounters] = {}
        self._lock = threading.Lock()
        super().__init__()
        self._session_expiry_s = session_expiry_s
        self.client = mqtt_client(url, client_id)
        self.client.reconnect_delay_set(*RECONNECT_DELAY_S)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        """Connect in the background (retrying until the broker is there) and run the network loop."""
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self._session_expiry_s
        self.client.connect_async(self.host, self.port, clean_start=False, properties=properties)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        """Disconnect (the broker keeps the session) and end the network loop."""
        self.client.disconnect()
        self.client.loop_stop()
        self._ready.clear()

    # --- diagnostics ---------------------------------------------------------------------------
    def diagnostics(self) -> dict[str, TopicCounters]:
        """A snapshot of the counters per topic."""
        with self._lock:
            return {topic: replace(counters) for topic, counters in self._counters.items()}

    def _count(self, topic: str) -> TopicCounters:
        """The counters of a topic not counted yet (past MAX_TOPICS, those of OTHER_TOPICS)."""
        key = topic if len(self._counters) < MAX_TOPICS else OTHER_TOPICS
        return self._counters.setdefault(key, TopicCounters())

    # --- paho callbacks (network thread) -------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags,
                    reason: mqtt.ReasonCode, properties: Properties | None) -> None:
        if reason.is_failure:
            log.warning("mqtt %s:%s refused the connection: %s", self.host, self.port, reason)
            return
        log.info("mqtt %s:%s connected (session present: %s)", self.host, self.port, flags.session_present)
        if self.filters:
            client.subscribe([(topic, 1) for topic in self.filters])
        else:  # a park without live bindings: nothing to listen to, connected all the same
            self._ready.set()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        """Route one message into the state; count it; never raise."""
        topic = "(topic not UTF-8)"
        try:
            topic = message.topic
            reason = self._dispatch(topic, message.payload)
        except Exception as exc:  # the network thread must survive anything, the state included
            reason = f"{topic}: not applied ({type(exc).__name__}: {exc})"
            log.exception("mqtt message on %s not applied", topic)
        with self._lock:
            counters = self._counters.get(topic) or self._count(topic)
            counters.received += 1
            if reason is None:
                counters.accepted += 1
                return
            counters.rejected += 1
            repeated = counters.last_rejection == reason
            counters.last_rejection = reason
        if not repeated:
            log.warning("rejected: %s", reason)

    def _dispatch(self, topic: str, payload: bytes) -> str | None:
        """Write one message into the state; the reason it was refused, or None."""
        try:
            found = self.router.route(topic, payload, self.clock.now())
        except Rejected as exc:
            return str(exc)
        if isinstance(found, GatewayPresence):
            return self._gateway(topic, found)
        node, ts = found.node, found.ts
        if self.park is not None and node not in self.park:
            return f"{topic}: unknown device (no node {node} in the park)"
        if isinstance(found, Presence):
            down = self._gateway_of.get(node) in self._gateways_down
            self.state.set_online(node, found.online and not down, ts)
            return None
        self.state.record(node, found.values, ts)
        for listener in self.listeners:
            for metric, value in found.values.items():
                listener(node, metric, value, ts)
        return None

    def _gateway(self, topic: str, found: GatewayPresence) -> str | None:
        """A gateway offline takes its devices offline; back online, they report their own status."""
        devices = self.gateways.get(found.gateway)
        if devices is None:
            return f"{topic}: unknown gateway {found.gateway!r} (no device names it)"
        if found.online:
            self._gateways_down.discard(found.gateway)
            return None
        self._gateways_down.add(found.gateway)
        for node_id in devices:
            self.state.set_online(node_id, False, found.ts)
        return None
