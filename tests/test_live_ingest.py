"""Live ingest: bindings (pure), the dispatch into State, and the real path through Mosquitto."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt import publish

from live.bindings import (
    MAX_PAYLOAD_BYTES,
    Binding,
    Presence,
    Reading,
    Rejected,
    Router,
    StatusBinding,
)
from live.broker import Broker
from live.clock import ManualClock
from live.ingest import Ingest, broker_address
from live.state import State, Status
from twin.errors import InputError
from twin.park import Node, Park

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
TELEMETRY = Binding("park/{device}/telemetry", {"temperature": "temperature", "smoke": "smoke",
                                                "co2": "data.co2"}, units={"temperature": "°C"})
PLAIN = Binding("park/{device}/temperature", {"temperature": "$"})
STATUS = StatusBinding()
BINDINGS = [TELEMETRY, PLAIN, STATUS]


class Recorder:
    """A stand-in for ``live.state.State``: records the two calls ingest makes (``record``, ``set_online``)."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, str, object, datetime]] = []
        self.presence: list[tuple[str, bool, datetime]] = []

    def record(self, node_id: str, values: dict[str, float | bool | str], ts: datetime) -> None:
        self.updates.extend((node_id, metric, value, ts) for metric, value in values.items())

    def set_online(self, node_id: str, online: bool, ts: datetime) -> None:
        self.presence.append((node_id, online, ts))

    def values(self, node_id: str, metric: str) -> list[object]:
        return [u[2] for u in list(self.updates) if u[0] == node_id and u[1] == metric]


def wait_for(condition: Callable[[], object], timeout_s: float = 5.0) -> float:
    """Poll until ``condition()`` is true; the seconds it took. Fails the test on timeout."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(0.01)
    return time.monotonic() - start


def demo_park(*codes: str) -> Park:
    park = Park("test")
    for code in codes:
        park.add(Node(f"dev:{code}", "device", code, parent="park", code=code))
    return park


# --- bindings: pure ------------------------------------------------------------------------------
def route(topic: str, payload: bytes, bindings=BINDINGS) -> Reading | Presence:
    return Router(bindings).route(topic, payload, NOW)


def test_template_gives_filter_fields_and_node():
    template = Binding("site/{building}/{device}/data", {"t": "t"}, node="dev:{building}-{device}").template
    assert template.filter == "site/+/+/data"
    assert template.match("site/B1/TS-1/data") == {"building": "B1", "device": "TS-1"}
    assert template.node_id({"building": "B1", "device": "TS-1"}) == "dev:B1-TS-1"
    assert template.match("site/B1/TS-1/other") is None
    assert template.match("site/B1/data") is None
    assert template.match("site//TS-1/data") is None
    assert Router(BINDINGS).filters == ["park/+/telemetry", "park/+/temperature", "park/+/status"]


@pytest.mark.parametrize("kwargs, cause", [
    ({"topic": "park/+/telemetry", "metrics": {"t": "t"}}, "wildcards"),
    ({"topic": "park/x{device}/telemetry", "metrics": {"t": "t"}}, "whole segment"),
    ({"topic": "park/{device}/telemetry", "metrics": {"t": "t"}, "node": "dev:{code}"}, "placeholder"),
    ({"topic": "park/{device}/telemetry", "metrics": {}}, "at least one metric"),
    ({"topic": "park/{device}/telemetry", "metrics": {"t": "a..b"}}, "empty key"),
    ({"topic": "park/{device}/telemetry", "metrics": {"t": "$", "h": "h"}}, "exactly one"),
    ({"topic": "park/{device}/telemetry", "metrics": {"t": "t"}, "units": {"h": "%"}}, "unknown metric"),
])
def test_bad_bindings_are_refused_with_a_reason(kwargs, cause):
    with pytest.raises(InputError, match=cause):
        Binding(**kwargs)


def test_json_object_with_ts_and_nested_path():
    reading = route("park/TS-1/telemetry",
                    b'{"ts": "2026-05-01T09:30:00+08:00", "temperature": 21, "smoke": false, '
                    b'"data": {"co2": 640.5}, "extra": [1]}')
    assert reading == Reading("dev:TS-1", {"temperature": 21.0, "smoke": False, "co2": 640.5},
                              datetime(2026, 5, 1, 1, 30, tzinfo=UTC))
    assert isinstance(reading.values["temperature"], float)


def test_missing_ts_is_receive_time_and_naive_ts_is_utc():
    assert route("park/TS-1/telemetry", b'{"temperature": 20.5}').ts == NOW
    assert route("park/TS-1/telemetry", b'{"ts": "2026-05-01T07:00:00", "smoke": true}').ts == \
        datetime(2026, 5, 1, 7, tzinfo=UTC)


@pytest.mark.parametrize("payload, value", [(b"22.5", 22.5), (b" 7 ", 7.0), (b"true", True),
                                            (b"false", False), (b'"high"', "high")])
def test_plain_payloads(payload, value):
    assert route("park/TS-1/temperature", payload) == Reading("dev:TS-1", {"temperature": value}, NOW)


def test_status_payloads():
    assert route("park/TS-1/status", b"online") == Presence("dev:TS-1", True, NOW)
    assert route("park/TS-1/status", b"offline\n") == Presence("dev:TS-1", False, NOW)


@pytest.mark.parametrize("topic, payload, cause", [
    ("park/TS-1/telemetry", b"hello", "not JSON"),
    ("park/TS-1/telemetry", b'{"temperature": 2', "not JSON"),
    ("park/TS-1/telemetry", b"\xff\xfe{}", "not UTF-8"),
    ("park/TS-1/telemetry", b'{"temperature": NaN}', "NaN is not a finite number"),
    ("park/TS-1/telemetry", b'{"temperature": -Infinity}', "-Infinity is not a finite number"),
    ("park/TS-1/telemetry", b'{"temperature": 1e999}', "temperature is not a finite number"),
    ("park/TS-1/telemetry", b'{"temperature": ' + b"9" * 400 + b"}", "not a finite number"),
    ("park/TS-1/telemetry", b"x" * (MAX_PAYLOAD_BYTES + 1), "too large"),
    ("park/TS-1/telemetry", b"[1, 2]", "must be a JSON object, not list"),
    ("park/TS-1/telemetry", b"21.5", "must be a JSON object, not float"),
    ("park/TS-1/telemetry", b'{"temperature": null}', "not NoneType"),
    ("park/TS-1/telemetry", b'{"temperature": {"v": 1}}', "not dict"),
    ("park/TS-1/telemetry", b'{"humidity": 40}', "no bound metric"),
    ("park/TS-1/telemetry", b'{"data": 5}', "no bound metric"),
    ("park/TS-1/telemetry", b'{"temperature": 1, "ts": 1714550400}', "ts must be an ISO 8601 string"),
    ("park/TS-1/telemetry", b'{"temperature": 1, "ts": "yesterday"}', "not ISO 8601"),
    ("park/TS-1/temperature", b'{"temperature": 1}', "must be a bare value"),
    ("park/TS-1/temperature", b"[1]", "payload must be a number, boolean or string, not list"),
    ("park/TS-1/temperature", b"", "not JSON"),
    ("park/TS-1/status", b"maybe", "'online' or 'offline'"),
    ("park/TS-1/status/extra", b"online", "unknown topic"),
    ("other/TS-1", b"1", "unknown topic"),
])
def test_garbage_is_rejected_in_one_line_naming_topic_and_cause(topic, payload, cause):
    with pytest.raises(Rejected) as caught:
        route(topic, payload)
    message = str(caught.value)
    assert message.startswith(f"{topic}: ") and cause in message and "\n" not in message
    assert len(message) < 200


def test_metrics_are_found_under_their_top_level_key_and_others_ignored():
    binding = Binding("park/{device}/telemetry", {"t": "data.t", "h": "data.h", "co2": "co2", "v": "$.v"})
    payload = b'{"noise": [1], "data": {"h": 40, "x": 1}, "t": 3, "co2": 500, "v": "ok"}'
    assert binding.parse("park/TS-1/telemetry", payload, NOW) == ({"h": 40.0, "co2": 500.0, "v": "ok"}, NOW)
    values, _ = binding.parse("park/TS-1/telemetry", b'{"data": {"t": 1, "h": 2}}', NOW)
    assert values == {"t": 1.0, "h": 2.0}


@pytest.mark.parametrize("payload, cause", [
    (b'{"smoke": 1}', "smoke must be a boolean, not int '1'"),
    (b'{"temperature": true}', "temperature must be a number, not bool 'True'"),
    (b'{"state": 2.5}', "state must be a text, not float '2.5'"),
])
def test_kinds_refuse_a_value_of_the_wrong_type(payload, cause):
    binding = Binding("park/{device}/telemetry", {"temperature": "temperature", "smoke": "smoke", "state": "state"},
                      kinds={"temperature": "number", "smoke": "boolean", "state": "text"})
    assert binding.parse("park/TS-1/telemetry", b'{"temperature": 1, "smoke": false, "state": "ok"}', NOW) == \
        ({"temperature": 1.0, "smoke": False, "state": "ok"}, NOW)
    with pytest.raises(Rejected, match=f"^park/TS-1/telemetry: {cause}$"):
        binding.parse("park/TS-1/telemetry", payload, NOW)


def test_routing_is_fast():
    router = Router(BINDINGS)
    messages = [(f"park/TS-{i % 500}/telemetry", b'{"ts": "2026-05-01T08:00:00Z", "temperature": %d.5}' % i)
                for i in range(20_000)]
    start = time.perf_counter()
    for topic, payload in messages:
        router.route(topic, payload, NOW)
    rate = len(messages) / (time.perf_counter() - start)
    assert rate > 20_000, f"{rate:.0f} messages/s"


# --- dispatch into the state (no broker: messages handed to the callback) ------------------------
def message(topic: str, payload: bytes) -> mqtt.MQTTMessage:
    msg = mqtt.MQTTMessage(topic=topic.encode())
    msg.payload = payload
    return msg


class Exploding(Recorder):
    def record(self, node_id, values, ts):
        raise RuntimeError("disk full")


def test_dispatch_counts_and_never_raises():
    state = Recorder()
    ingest = Ingest("mqtt://127.0.0.1:1", BINDINGS, state, park=demo_park("TS-1"), clock=ManualClock(NOW))
    for topic, payload in [("park/TS-1/telemetry", b'{"temperature": 20, "smoke": true}'),
                           ("park/TS-1/telemetry", b"NaN"),
                           ("park/TS-9/telemetry", b'{"temperature": 20}'),
                           ("park/TS-1/status", b"offline")]:
        ingest._on_message(ingest.client, None, message(topic, payload))
    assert state.updates == [("dev:TS-1", "temperature", 20.0, NOW), ("dev:TS-1", "smoke", True, NOW)]
    assert state.presence == [("dev:TS-1", False, NOW)]
    diagnostics = ingest.diagnostics()
    assert (diagnostics["park/TS-1/telemetry"].received, diagnostics["park/TS-1/telemetry"].accepted,
            diagnostics["park/TS-1/telemetry"].rejected) == (2, 1, 1)
    assert "NaN is not a finite number" in diagnostics["park/TS-1/telemetry"].last_rejection
    assert "unknown device" in diagnostics["park/TS-9/telemetry"].last_rejection
    assert diagnostics["park/TS-1/status"].accepted == 1

    broken = Ingest("mqtt://127.0.0.1:1", BINDINGS, Exploding())
    broken._on_message(broken.client, None, message("park/TS-1/telemetry", b'{"temperature": 1}'))
    assert "RuntimeError: disk full" in broken.diagnostics()["park/TS-1/telemetry"].last_rejection


def test_broker_url():
    assert broker_address("mqtt://u:p@example.org:1884") == ("example.org", 1884, "u", "p")
    assert broker_address("mqtt://localhost") == ("localhost", 1883, None, None)
    with pytest.raises(InputError, match="expected mqtt://"):
        broker_address("http://localhost")


# --- the real path through Mosquitto -------------------------------------------------------------
def send(broker: Broker, topic: str, payload: bytes | str, retain: bool = False) -> None:
    """Publish one QoS 1 message as a device would."""
    publish.single(topic, payload, qos=1, retain=retain, hostname=broker.host, port=broker.port)


@pytest.fixture
def ingests(request, mosquitto):
    """Start an Ingest on the test broker (client id unique to the test); all stopped afterwards."""
    started: list[Ingest] = []

    def start(state: Recorder, bindings=BINDINGS, park: Park | None = None, suffix: str = "",
              broker: Broker = mosquitto) -> Ingest:
        ingest = Ingest(broker.url, bindings, state, park=park,
                        client_id=f"test-{request.node.name}{suffix}").start()
        started.append(ingest)
        assert ingest.wait_ready(5), "ingest did not connect and subscribe within 5 s"
        return ingest

    yield start
    for ingest in started:
        ingest.stop()


def test_broker_start_stop_and_log(tmp_path, mosquitto):
    with Broker(tmp_path / "b") as broker:
        assert broker.running and broker.url == f"mqtt://127.0.0.1:{broker.port}"
        assert broker.port != mosquitto.port
        send(broker, "hello", b"1")
    assert not broker.running
    assert (tmp_path / "b" / "mosquitto.conf").exists() and "mosquitto" in broker.log_tail()


def test_broker_failure_names_log_tail(tmp_path, mosquitto):
    with pytest.raises(InputError, match=f"mosquitto on port {mosquitto.port} exited.*Address"):
        Broker(tmp_path / "clash", port=mosquitto.port).start()



def test_a_park_without_live_bindings_connects_and_is_ready(ingests):
    ingest = ingests(Recorder(), bindings=[])  # the fixture asserts ready: connected, nothing to subscribe
    assert ingest.filters == [] and ingest.client.is_connected()

def test_json_telemetry_reaches_state(mosquitto, ingests):
    state = Recorder()
    ingests(state, park=demo_park("TS-1"))
    send(mosquitto, "park/TS-1/telemetry",
         json.dumps({"ts": "2026-05-01T08:00:00Z", "temperature": 23.25, "data": {"co2": 700}}))
    wait_for(lambda: len(state.updates) == 2)
    assert sorted(state.updates) == [("dev:TS-1", "co2", 700.0, NOW), ("dev:TS-1", "temperature", 23.25, NOW)]


def test_real_state_gets_values_and_presence(mosquitto, ingests):
    park = demo_park("SD-1")
    state = State(park, ManualClock(NOW), heartbeat_s=60)
    ingests(state, park=park)
    send(mosquitto, "park/SD-1/status", b"online")
    send(mosquitto, "park/SD-1/telemetry", b'{"ts": "2026-05-01T08:00:00Z", "smoke": false}')
    wait_for(lambda: state.value("dev:SD-1", "smoke") is False)
    assert state.metrics("dev:SD-1") == {"smoke": (False, NOW)}
    assert state.online("dev:SD-1")[0] is True and state.status("park") == Status.NORMAL


@pytest.mark.skipif(not shutil.which("mosquitto_pub"), reason="mosquitto_pub is not installed")
def test_plain_number_from_mosquitto_pub(mosquitto, ingests):
    state = Recorder()
    ingests(state)
    subprocess.run(["mosquitto_pub", "-h", mosquitto.host, "-p", str(mosquitto.port), "-q", "1",
                    "-t", "park/TS-2/temperature", "-m", "19.75"], check=True, timeout=10)
    wait_for(lambda: state.values("dev:TS-2", "temperature") == [19.75])
    assert state.updates[0][3].tzinfo is not None


def test_retained_status_is_restored_for_a_later_subscriber(mosquitto, ingests):
    send(mosquitto, "park/ST-1/status", "online", retain=True)
    send(mosquitto, "park/ST-2/status", "online", retain=True)
    send(mosquitto, "park/ST-2/status", "offline", retain=True)
    state = Recorder()
    ingests(state)
    wait_for(lambda: {"dev:ST-1", "dev:ST-2"} <= {p[0] for p in state.presence})
    latest = {node: online for node, online, _ in state.presence}
    assert latest["dev:ST-1"] is True and latest["dev:ST-2"] is False
    for topic in ("park/ST-1/status", "park/ST-2/status"):
        send(mosquitto, topic, b"", retain=True)  # clear the retained message for later tests


def test_garbage_is_counted_and_good_messages_still_arrive(mosquitto, ingests):
    # a subscription left in the persistent session by an earlier run whose bindings had another topic
    ingests(Recorder(), bindings=[Binding("legacy/{device}", {"v": "$"})], suffix="-session").stop()
    state = Recorder()
    ingest = ingests(state, park=demo_park("TS-1"), suffix="-session")
    garbage = {"park/TS-1/telemetry": [b"not json", b'{"temperature": NaN}', b"x" * 1_000_000,
                                       b'{"temperature": "\xff"}'],
               "park/TS-9/telemetry": [b'{"temperature": 20}'],
               "legacy/TS-1": [b"1"]}
    for topic, payloads in garbage.items():
        for payload in payloads:
            send(mosquitto, topic, payload)
    send(mosquitto, "park/TS-1/telemetry", b'{"temperature": 24}')
    wait_for(lambda: state.values("dev:TS-1", "temperature") == [24.0])
    wait_for(lambda: sum(c.received for c in ingest.diagnostics().values()) == 7)
    diagnostics = ingest.diagnostics()
    telemetry = diagnostics["park/TS-1/telemetry"]
    assert (telemetry.received, telemetry.accepted, telemetry.rejected) == (5, 1, 4)
    assert "unknown device" in diagnostics["park/TS-9/telemetry"].last_rejection
    assert "unknown topic" in diagnostics["legacy/TS-1"].last_rejection
    assert len(state.updates) == 1


def test_broker_restart_reconnects_within_5_s_and_values_flow_again(mosquitto, ingests):
    state = Recorder()
    ingest = ingests(state)
    mosquitto.stop()
    wait_for(lambda: not ingest.ready)
    mosquitto.start()
    assert wait_for(lambda: ingest.ready) < 5
    send(mosquitto, "park/TS-3/temperature", b"30")
    wait_for(lambda: state.values("dev:TS-3", "temperature") == [30.0])


def test_resubscribes_when_the_broker_lost_the_session(tmp_path, ingests):
    with Broker(tmp_path / "amnesiac") as broker:
        state = Recorder()
        ingest = ingests(state, broker=broker)
        broker.stop()
        (tmp_path / "amnesiac" / "mosquitto.db").unlink()
        wait_for(lambda: not ingest.ready)
        broker.start()
        assert wait_for(lambda: ingest.ready) < 5
        send(broker, "park/TS-4/temperature", b"12")
        wait_for(lambda: state.values("dev:TS-4", "temperature") == [12.0])


def test_qos1_messages_sent_while_away_arrive_after_reconnect(mosquitto, ingests):
    state = Recorder()
    ingests(state).stop()
    send(mosquitto, "park/TS-5/temperature", b"31")
    send(mosquitto, "park/TS-5/status", b"offline")
    mosquitto.restart()  # the persistent session and its queue survive a broker restart too
    ingests(state)
    wait_for(lambda: state.values("dev:TS-5", "temperature") == [31.0])
    wait_for(lambda: [p[:2] for p in state.presence] == [("dev:TS-5", False)])
