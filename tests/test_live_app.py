"""The live path end to end on the demo park: a real Mosquitto, ``mosquitto_pub`` as the device, the
REST API and the app in headless Chromium.

Screenshots are kept in ``tests/artifacts/`` (look at them).
"""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from conftest import DEMO, ROOT, needs_chromium
from live.broker import Broker
from live.runtime import Live
from live.state import Status
from twin.scene import read_scene
from twin.errors import InputError
from twin.web.access import LOCAL, audit_path
from twin.web.deltas import node_index
from twin.web.live_card import LiveCard
from twin.web.live_view import LiveView
from twin.web.looks import look_metrics, ramp_rgb, rooms_of_devices
from twin.web.viewport import Viewport, manifest

ARTIFACTS = ROOT / "tests" / "artifacts"
READY = "[data-twin-viewport][data-state=ready]"
SENSOR = "TS-B01-1F-A-103"  # a temperature sensor in the hall of building B01
DETECTOR = "SD-B01-1F-A-101-1"  # a smoke detector in a stair of building B01

needs_clients = pytest.mark.skipif(shutil.which("mosquitto_pub") is None,
                                   reason="mosquitto_pub not installed (apt-get install mosquitto-clients)")


def wait_for(condition: Callable[[], object], timeout_s: float = 10.0, what: str = "condition") -> object:
    """Poll until ``condition()`` is truthy and return it; fail the test on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not met within {timeout_s} s")
        time.sleep(0.05)


def publish(url: str, topic: str, payload: bytes | str, retain: bool = False, qos: int = 1) -> None:
    """Publish as a device would: with the ``mosquitto_pub`` command (payload on stdin)."""
    host, port = url.removeprefix("mqtt://").split(":")
    data = payload.encode() if isinstance(payload, str) else payload
    subprocess.run(["mosquitto_pub", "-h", host, "-p", port, "-t", topic, "-q", str(qos), "-s",
                    *(["-r"] if retain else [])], input=data, check=True, timeout=10)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def post_json(url: str, body: dict | None = None) -> tuple[int, object]:
    request = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def state_of(server, node_id: str) -> dict:
    return get_json(f"{server.url}/api/state/{urllib.parse.quote(node_id, safe='')}")


# --- REST: state, devices, alarms ------------------------------------------------------------------
@needs_clients
def test_a_published_value_reaches_the_state_api(server, live):
    publish(live.url, f"park/{SENSOR}/telemetry", json.dumps({"ts": now_iso(), "temperature": 23.5}))
    metrics = wait_for(lambda: state_of(server, f"dev:{SENSOR}")["metrics"].get("temperature"),
                       what="temperature in /api/state")
    assert metrics["value"] == 23.5 and metrics["ts"].startswith(now_iso()[:10])
    assert state_of(server, f"dev:{SENSOR}")["status"] == "normal"
    devices = {d["id"]: d for d in get_json(f"{server.url}/api/devices")}
    assert len(devices) == len(live.park.of_kind("device"))
    sensor = devices[f"dev:{SENSOR}"]
    assert sensor["code"] == SENSOR and sensor["type"] == "temperature_sensor"
    assert f"park/{SENSOR}/telemetry" in sensor["topics"] and f"park/{SENSOR}/status" in sensor["topics"]
    assert {"name": "temperature", "unit": "°C", "kind": "number"} in sensor["metrics"]


@needs_clients
def test_a_smoke_alarm_is_listed_rolled_up_and_acknowledged(server, live):
    publish(live.url, f"park/{DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "smoke": True}))
    alarms = wait_for(lambda: [a for a in get_json(f"{server.url}/api/alarms?active=1")
                               if a["node"] == f"dev:{DETECTOR}"], what="smoke alarm in /api/alarms")
    alarm = alarms[0]
    assert alarm["severity"] == "critical" and alarm["rule"] == "smoke" and alarm["acked_by"] is None
    building = live.park.ancestor(f"dev:{DETECTOR}", "building").id
    assert state_of(server, building)["status"] == "alarm", "the building rolls the alarm up"

    status, acked = post_json(f"{server.url}/api/alarms/{alarm['id']}/ack")
    assert status == 200 and acked["acked_by"] == "local" and acked["acked_at"]
    records = [json.loads(line) for line in audit_path().read_text(encoding="utf-8").splitlines()]
    assert {"action": "alarm.ack", "target": f"alarm/{alarm['id']}", "outcome": "allowed"}.items() <= records[-1].items()
    status, missing = post_json(f"{server.url}/api/alarms/999999/ack")
    assert status == 404 and "999999" in missing["error"]

    publish(live.url, f"park/{DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "smoke": False}))
    wait_for(lambda: state_of(server, building)["status"] != "alarm", what="the building back from alarm")
    assert not [a for a in get_json(f"{server.url}/api/alarms?active=1") if a["node"] == f"dev:{DETECTOR}"]


@needs_clients
def test_garbage_is_counted_and_the_park_keeps_updating(server, live):
    topic = f"park/{SENSOR}/telemetry"
    garbage = [b"not json", b'{"temperature": NaN}', b'{"temperature": "hot"}', b"\xff\xfe\x00",
               b'{"temperature": 1e999}', b'{"ts": "yesterday", "temperature": 20}', b"[1, 2, 3]",
               b'{"temperature": ' + b"1" * (1024 * 1024) + b"}"]
    for payload in garbage:
        publish(live.url, topic, payload)
    publish(live.url, "park/NO-SUCH-DEVICE/telemetry", json.dumps({"temperature": 20}))
    publish(live.url, topic, json.dumps({"ts": now_iso(), "temperature": 24.25}))
    wait_for(lambda: state_of(server, f"dev:{SENSOR}")["metrics"]["temperature"]["value"] == 24.25,
             what="a good value after the garbage")
    topics = get_json(f"{server.url}/api/diagnostics")["topics"]
    assert topics[topic]["rejected"] >= len(garbage)
    assert topic in topics[topic]["last_rejection"]
    assert "unknown device" in topics["park/NO-SUCH-DEVICE/telemetry"]["last_rejection"]


# --- the app in the browser -------------------------------------------------------------------------
@needs_chromium
@needs_clients
@pytest.mark.browser
def test_an_alarm_blinks_leads_the_camera_and_is_acknowledged_in_the_app(browser, server, live):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    foreign: list[str] = []
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith((server.url, "data:", "blob:"))
               else (foreign.append(r.request.url), r.abort()))
    page.goto(f"{server.url}/?lang=en")
    page.wait_for_selector(READY, state="attached", timeout=180_000)
    page.wait_for_timeout(1000)
    publish(live.url, f"park/{DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "smoke": True}))
    # earlier tests may have left other alarms (a warming room): take the smoke alarm's row
    row = page.locator(".twin-alarms .tabulator-row", has_text="Smoke detected").first
    row.wait_for(timeout=15_000)
    assert "Critical" in row.inner_text()
    pin = page.locator("[data-twin-pin]")
    pin.wait_for(state="attached", timeout=15_000)
    page.wait_for_function("el => el.dataset.flying !== '1'",
                           arg=page.locator("[data-twin-viewport]").element_handle(), timeout=20_000)
    page.locator(".twin-status[data-status=alarm]").wait_for(timeout=10_000)
    page.locator(".twin-cameras h4").wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live_alarm.png"))

    row.click()
    page.locator(".twin-ack button").click()
    wait_for(lambda: "local" in row.inner_text(), what="the row says who acknowledged it")
    acked = [a for a in live.alarms.list(active=True) if a.node == f"dev:{DETECTOR}"]
    assert acked and acked[0].acked_by == "local"
    publish(live.url, f"park/{DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "smoke": False}))
    wait_for(lambda: live.state.status(f"dev:{DETECTOR}") == Status.NORMAL, what="detector back to normal")
    page.close()
    assert not foreign, f"requests off the host: {foreign[:5]}"


# --- faults: the broker going away, retained state, the persistent session ---------------------------
@needs_clients
def test_broker_restart_retention_and_no_alarm_lost_in_the_gap(demo, tmp_path):
    spec = read_scene(DEMO).live
    with Broker(tmp_path / "broker") as broker:
        publish(broker.url, f"park/{SENSOR}/status", "online", retain=True)
        first = Live(demo, spec, broker_url=broker.url, folder=tmp_path / "live").start()
        wait_for(lambda: first.state.online(f"dev:{SENSOR}"), what="retained online status")

        broker.restart()
        started = time.monotonic()
        wait_for(lambda: first.ingest.ready, timeout_s=10, what="reconnected and resubscribed")
        assert time.monotonic() - started < 5
        publish(broker.url, f"park/{SENSOR}/telemetry", json.dumps({"ts": now_iso(), "temperature": 21.0}))
        wait_for(lambda: first.state.value(f"dev:{SENSOR}", "temperature") == 21.0, what="a value after restart")
        first.stop()

        publish(broker.url, f"park/{DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "smoke": True}), qos=1)
        broker.restart()  # the queued message survives in the broker's persistence too
        second = Live(demo, spec, broker_url=broker.url, folder=tmp_path / "live").start()
        try:
            wait_for(lambda: second.state.online(f"dev:{SENSOR}") and second.state.online(f"dev:{SENSOR}")[0],
                     what="online again from the retained message")
            wait_for(lambda: [a for a in second.alarms.list(active=True) if a.node == f"dev:{DETECTOR}"],
                     what="the alarm published while twin was away")
        finally:
            second.stop()


# --- the default path: private broker, simulator, commands ----------------------------------------
def test_the_default_path_breathes_and_takes_commands(demo, twin_home, tmp_path):
    """``twin serve`` with no broker: a private Mosquitto and the simulator drive every device."""
    scene = read_scene(DEMO)
    devices = [node.id for node in demo.of_kind("device")]
    with Live(demo, scene.live, simulated=scene, folder=tmp_path / "live") as running:
        assert running.broker is not None and running.broker.running
        heard = wait_for(lambda: (n := sum(bool(running.state.metrics(d)) for d in devices)) > 0.9 * len(devices)
                         and n, timeout_s=30, what="nine devices in ten heard from")
        assert heard > 0.9 * len(devices)
        room = demo.ancestor(f"dev:{SENSOR}", "space").id
        assert running.state.status(room) != Status.UNKNOWN, "rooms roll their sensors up"

        light = next(d for d in devices if d.startswith("dev:SL-"))
        result = running.commander.send(light, "off", LOCAL)
        assert result.ok and not result.timed_out and result.answered_at is not None, result
        wait_for(lambda: running.state.value(light, "on") is False, what="the light reports itself off")
        with pytest.raises(InputError, match="explode"):
            running.commander.send(light, "explode", LOCAL)
    assert not running.broker.running


# --- rooms shaded by a metric ----------------------------------------------------------------------
def cells(parts: str) -> set[tuple[int, int]]:
    """(batch, index) pairs of a style message's ``parts``."""
    flat, found, at = np.frombuffer(base64.b64decode(parts), "<i4").tolist(), set(), 0
    while at < len(flat):
        batch, count = flat[at], flat[at + 1]
        found |= {(batch, i) for i in flat[at + 2:at + 2 + count]}
        at += 2 + count
    return found


class RecordingViewport(Viewport):
    """The real viewport component, keeping the messages it would send to the browser."""

    def send(self, message: dict) -> None:
        self.sent.append(message)


def test_rooms_shade_by_their_sensors_and_alarms_show_over_the_shade(demo, tmp_path):
    spec = read_scene(DEMO).live
    live = Live(demo, spec, broker_url="mqtt://127.0.0.1:1", folder=tmp_path / "live")  # not started
    viewport = RecordingViewport(node_index(demo), batches=manifest(demo.batches))
    viewport.sent = []
    view = LiveView(live.state, viewport, scales={"temperature": (16.0, 32.0)})
    sensor, room = f"dev:{SENSOR}", demo.ancestor(f"dev:{SENSOR}", "space").id
    assert rooms_of_devices(demo)[sensor] == room
    assert ramp_rgb(0) == (33, 102, 172) and ramp_rgb(1) == (229, 57, 53) and ramp_rgb(-5) == ramp_rgb(0)

    live.state.update(sensor, "temperature", 32.0, datetime.now(UTC))
    view.shade_rooms("temperature")
    view.pull()
    index = node_index(demo)
    room_cells = cells(index.parts([room]))
    hot = [m for m in viewport.sent if m.get("rgb") == [229, 57, 53] and not m.get("blink")]
    assert hot and room_cells <= cells(hot[-1]["parts"]), "the room is as red as its scale's top"

    viewport.sent.clear()
    live.state.set_status(sensor, "warning")
    view.pull()
    amber = [m for m in viewport.sent if m.get("rgb") == [255, 193, 7]]
    assert any(room_cells <= cells(m["parts"]) for m in amber), "a warning shows over the shade"

    viewport.sent.clear()
    live.state.set_status(sensor, "normal")
    live.state.update(sensor, "temperature", 16.0, datetime.now(UTC))
    view.pull()
    assert [m for m in viewport.sent if m.get("rgb") == [33, 102, 172] and room_cells <= cells(m["parts"])]
    with pytest.raises(ValueError, match="co2"):
        view.shade_rooms("co2")


def test_devices_take_the_colour_of_their_state_and_unchanged_looks_send_nothing(demo, tmp_path):
    spec = read_scene(DEMO).live
    live = Live(demo, spec, broker_url="mqtt://127.0.0.1:1", folder=tmp_path / "live")  # not started
    viewport = RecordingViewport(node_index(demo), batches=manifest(demo.batches))
    viewport.sent = []
    view = LiveView(live.state, viewport, looks=look_metrics(spec))
    light = next(n.id for n in demo.of_kind("device") if n.id.startswith("dev:SL-"))
    live.state.update(light, "on", True, datetime.now(UTC))
    view.pull()
    yellow = [m for m in viewport.sent if m.get("rgb") == [253, 216, 53]]
    assert yellow and cells(node_index(demo).parts([light])) <= cells(yellow[0]["parts"]), "a lit lamp is yellow"

    viewport.sent.clear()
    live.state.update(light, "power_w", 95.0, datetime.now(UTC))  # its look does not change
    view.pull()
    assert viewport.sent == []
    live.state.update(light, "on", False, datetime.now(UTC))
    view.pull()
    assert [m for m in viewport.sent if m.get("rgb") == [117, 117, 117]], "an unlit lamp is grey"


def test_the_card_chart_follows_a_new_value_beyond_its_range(demo, tmp_path):
    spec = read_scene(DEMO).live
    live = Live(demo, spec, broker_url="mqtt://127.0.0.1:1", folder=tmp_path / "live")  # not started
    detector, now = f"dev:{DETECTOR}", datetime.now(UTC)
    live.history.record(detector, "smoke", False, now - timedelta(hours=2))
    live.history.flush()
    live.state.update(detector, "smoke", False, now - timedelta(hours=2))
    card = LiveCard(live, "en")
    card.show(detector)
    assert card.chart_box.visible and card.chart.object.y_range.end < 1, "a flat false line"
    live.state.update(detector, "smoke", True, now)
    _, changes = live.state.changes_since(0)
    card.refresh(changes)
    assert card.source.data["v"][-1] == 1.0 and card.chart.object.y_range.end > 1, "the new value is in view"
    assert "✔" in card.values.object
    live.history.close()


def test_a_part_that_fails_to_start_leaves_no_broker_behind(demo, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "scene.toml").write_text('name = "bare"\ncrs = "EPSG:4549"\norigin = [0.0, 0.0, 0.0]\n', encoding="utf-8")
    live = Live(demo, read_scene(DEMO).live, simulated=read_scene(bare), folder=tmp_path / "live")
    with pytest.raises(InputError, match="registry"):
        live.start()
    assert live.broker is not None and not live.broker.running
