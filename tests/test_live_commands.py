"""Device commands through the real Mosquitto: a device answers, stays silent, refuses; bad requests."""
from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from live.clock import ManualClock
from live.commands import Commander
from live.config import CommandSpec
from live.ingest import broker_address
from twin.errors import InputError
from twin.park import Node, Park, PropertySet
from twin.ports import free_port
from twin.web.access import LOCAL, Principal

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
SPECS = {"street_light": CommandSpec(("on", "off")),
         "access_door": CommandSpec(("lock", "unlock"), timeout_s=0.5),
         "temperature_sensor": None}
OPERATOR = Principal("operator", frozenset({"device.command"}))
#: how the test device answers, by device code: (ok, detail), or None for silence
ANSWERS = {"SL-1": (True, "light on"), "DL-1": (False, "door jammed"), "DL-MUTE": None}


def device(park: Park, code: str, kind: str) -> None:
    park.add(Node(f"dev:{code}", "device", code, parent="space:lobby", code=code,
                  properties_loader=PropertySet("device", {"code": code, "type": kind})))


@pytest.fixture(scope="module")
def park() -> Park:
    park = Park("test")
    park.add(Node("space:lobby", "space", "Lobby", parent="park"))
    device(park, "SL-1", "street_light")
    device(park, "DL-1", "access_door")
    device(park, "DL-MUTE", "access_door")
    device(park, "TS-1", "temperature_sensor")
    device(park, "CAM-1", "camera")
    return park


class Responder:
    """A device gateway: answers commands as :data:`ANSWERS` says, each after two garbage results."""

    def __init__(self, url: str):
        host, port, _, _ = broker_address(url)
        self.received: list[tuple[str, dict]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"responder-{uuid.uuid4().hex[:6]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *_: c.subscribe("park/+/command", qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        code = message.topic.split("/")[1]
        command = json.loads(message.payload)
        self.received.append((message.topic, command))
        answer = ANSWERS.get(code)
        if answer is None:
            return
        result = f"park/{code}/command/result"
        client.publish(result, b"\xff not json", qos=1)
        client.publish(result, json.dumps({"id": "someone-else", "ok": True}), qos=1)
        client.publish(result, json.dumps({"id": command["id"], "ok": answer[0], "detail": answer[1]}), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def responder(mosquitto):
    responder = Responder(mosquitto.url)
    assert responder.subscribed.wait(5), "the test device did not subscribe"
    yield responder
    responder.close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TWIN_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def commander(mosquitto, park, responder, home):
    with Commander(mosquitto.url, SPECS, park, ManualClock(NOW)) as commander:
        assert commander.wait_ready(5), "the commander did not subscribe"
        yield commander


def audit_lines(home) -> list[dict]:
    newest = sorted((home / "audit").glob("*.jsonl"))[-1]  # this month's file
    return [json.loads(line) for line in newest.read_text(encoding="utf-8").splitlines()]


def test_confirmed_command_is_ok_recent_and_audited(commander, responder, home):
    result = commander.send("dev:SL-1", "on", OPERATOR)
    assert (result.ok, result.timed_out, result.detail) == (True, False, "light on")
    assert (result.node, result.action, result.principal) == ("dev:SL-1", "on", "operator")
    assert result.sent_at == result.answered_at == NOW
    topic, command = responder.received[-1]
    assert topic == "park/SL-1/command"
    assert command == {"id": result.id, "action": "on", "ts": NOW.isoformat()}
    assert commander.recent()[0] == result
    record = audit_lines(home)[-1]
    assert {key: record[key] for key in ("user", "action", "target", "remote", "outcome")} == {
        "user": "operator", "action": "command.on", "target": "dev:SL-1", "remote": "",
        "outcome": f"ok (id {result.id})"}
    counters = commander.diagnostics()
    assert (counters.sent, counters.confirmed, counters.ignored) == (1, 1, 2)
    assert "unknown command id 'someone-else'" in counters.last_ignored


def test_device_refusal_is_reported_not_ok(commander, home):
    result = commander.send("dev:DL-1", "unlock", LOCAL)
    assert (result.ok, result.timed_out, result.detail) == (False, False, "door jammed")
    assert audit_lines(home)[-1]["outcome"] == f"failed: door jammed (id {result.id})"


def test_silent_device_times_out_and_its_late_answer_is_ignored(commander, responder, home):
    result = commander.send("dev:DL-MUTE", "lock", LOCAL)
    assert (result.ok, result.timed_out, result.answered_at) == (False, True, None)
    assert result.detail == "no answer within 0.5 s"
    assert responder.received[-1][1]["id"] == result.id
    assert audit_lines(home)[-1]["outcome"] == f"timed out: no answer within 0.5 s (id {result.id})"
    assert commander.diagnostics().timed_out == 1

    responder.client.publish("park/DL-MUTE/command/result",
                             json.dumps({"id": result.id, "ok": True}), qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 5
    while commander.diagnostics().ignored < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert commander.diagnostics().last_ignored == \
        f"park/DL-MUTE/command/result: late answer (after the timeout) {result.id!r}"
    assert commander.recent()[0] == result, "a late answer does not change the result"


def test_commands_from_several_threads_each_get_their_own_answer(commander):
    results: list = [None] * 8
    def send(i: int) -> None:
        results[i] = commander.send("dev:SL-1" if i % 2 else "dev:DL-1", "on" if i % 2 else "lock", LOCAL,
                                    timeout_s=5)
    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(results))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [(r.ok, r.detail) for r in results] == [(False, "door jammed"), (True, "light on")] * 4
    assert len({r.id for r in results}) == len(results)
    assert commander.diagnostics().confirmed == 4


@pytest.mark.parametrize("node_id, action, cause", [
    ("dev:NOPE", "on", "command 'on': no node dev:NOPE in the park"),
    ("space:lobby", "on", "command 'on': space:lobby is a space, not a device"),
    ("dev:TS-1", "on", "dev:TS-1 is a temperature_sensor, which takes no commands"),
    ("dev:CAM-1", "on", "dev:CAM-1 is a camera, which takes no commands"),
    ("dev:SL-1", "blink", "command 'blink': unknown for dev:SL-1 (street_light); allowed: on, off"),
])
def test_bad_requests_are_refused_in_one_line_and_audited(commander, home, node_id, action, cause):
    with pytest.raises(InputError, match=re.escape(cause)) as refused:
        commander.send(node_id, action, OPERATOR)
    assert "\n" not in str(refused.value)
    assert audit_lines(home)[-1]["outcome"] == f"refused: {refused.value}"
    assert commander.diagnostics().sent == 0


def test_actions_per_node(commander):
    assert commander.actions("dev:SL-1") == ("on", "off")
    assert commander.actions("dev:TS-1") == commander.actions("space:lobby") == ()
    assert commander.filters == ["park/+/command/result"]


def test_a_given_client_carries_commands(mosquitto, park, responder, home):
    host, port, _, _ = broker_address(mosquitto.url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="shared-client", protocol=mqtt.MQTTv5)
    with pytest.raises(InputError, match="cannot subscribe park/\\+/command/result on the given MQTT client"):
        Commander(client, SPECS, park).start()
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect(host, port)
    client.loop_start()
    try:
        assert connected.wait(5)
        with Commander(client, SPECS, park) as commander:
            assert commander.wait_ready(5)
            assert commander.send("dev:SL-1", "on", LOCAL, timeout_s=5).ok
        assert client.is_connected(), "the commander must leave a given client connected"
    finally:
        client.disconnect()
        client.loop_stop()


def test_no_broker_means_not_sent(park, home):
    commander = Commander(f"mqtt://127.0.0.1:{free_port('127.0.0.1')}", SPECS, park)
    result = commander.send("dev:SL-1", "on", LOCAL)
    assert (result.ok, result.timed_out, result.detail) == (False, False, "no connection to the broker")
    assert audit_lines(home)[-1]["outcome"] == "not sent: no connection to the broker"


def test_topic_templates_must_name_the_device(park):
    bad = {"street_light": CommandSpec(("on",), topic="site/{building}/{device}/cmd")}
    with pytest.raises(InputError, match=r"commands topic .* exactly one placeholder, \{device\}"):
        Commander("mqtt://127.0.0.1:1883", bad, park)
