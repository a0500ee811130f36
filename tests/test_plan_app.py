"""Emergency plans in the served twin: a real smoke alarm opens the fire plan, a confirmed step reaches
the doors through a real Mosquitto and the simulator; a drill ticks the same plan off and sends
nothing; a drill's report is kept and served.

Screenshots are kept in ``tests/artifacts/plan_alarm.png`` and ``plan_sent.png`` (look at them).
"""
from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from html import unescape

import pytest

from conftest import needs_chromium
from live.mqtt import mqtt_client
from live.runtime import Live
from test_live_app import ARTIFACTS, DEMO, DETECTOR, READY, RecordingViewport, now_iso, publish
from twin.cache import compile_scene
from twin.scene import read_scene
from twin.web.access import audit_path
from twin.web.deltas import node_index
from twin.web.drill_panel import DrillPanel
from twin.web.navigator import Navigator
from twin.web.server import BackgroundServer
from twin.web.viewport import manifest


class CommandWatch:
    """Every message the broker carries on ``park/+/command``, heard by a client of its own."""

    def __init__(self, url: str):
        self.topics: list[str] = []
        self.ready = threading.Event()
        self.client = mqtt_client(url, "plan-test-watch")
        self.client.on_connect = lambda c, *_: c.subscribe("park/+/command", qos=1)
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = lambda _c, _u, message: self.topics.append(message.topic)
        host, port = url.removeprefix("mqtt://").split(":")
        self.client.connect(host, int(port))
        self.client.loop_start()
        assert self.ready.wait(10), "the watch subscribed"

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def audit_records() -> list[dict]:
    return [json.loads(line) for line in audit_path().read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def demo():
    return compile_scene(DEMO)


@pytest.fixture(scope="module")
def scene():
    return read_scene(DEMO)


@pytest.fixture(scope="module")
def live(demo, scene, twin_home, tmp_path_factory) -> Iterator[Live]:
    """The demo's default path: a private Mosquitto, the simulator answering every command."""
    with Live(demo, scene.live, simulated=scene, folder=tmp_path_factory.mktemp("live")) as running:
        assert running.ingest.wait_ready(10) and running.commander.wait_ready(10)
        yield running


@pytest.fixture(scope="module")
def watch(live) -> Iterator[CommandWatch]:
    watching = CommandWatch(live.url)
    yield watching
    watching.close()


@pytest.fixture(scope="module")
def server(demo, live, scene):
    with BackgroundServer(demo, live=live, plans=scene.plans) as running:
        yield running


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_drill_ticks_the_plan_off_sends_nothing_and_keeps_its_report(demo, scene, live, watch, server):
    viewport = RecordingViewport(node_index(demo), batches=manifest(demo.batches))
    viewport.sent = []
    shown: list[tuple[str, ...]] = []
    panel = DrillPanel(demo, viewport, Navigator(demo, viewport, "en"), "en", scene.plans, shown.append)
    office = next(n.id for n in demo.of_kind("space") if demo.ancestor(n.id, "storey").name == "3F"
                  and demo.ancestor(n.id, "building").name == "1号研发楼" and "Open office" in (n.long_name or ""))
    assert panel.offer(office)
    audited = len(audit_records())
    panel.run(panel.spec()).result(timeout=120)
    panel.tick()
    assert [item.state for item in panel.lists.items] == ["drill", "drill", "pending", "pending", "pending",
                                                          "pending", "pending"], "at 0 s: cameras and the fire team"
    panel.seek(45.0)
    html = unescape(re.sub(r"<[^>]+>", "", panel.checklist_pane.object))
    assert "30 s Unlock the building's access doors · 17 targets · Unlock ✓ drill" in html
    assert "60 s Dispatch the security patrol" in html and html.count("✓ drill") == 5
    assert re.search(r"Dispatch the micro fire station · 1 targets · arrives ≈ \d+ s", html), "the team's arrival"
    assert "Response teams" in panel.result_pane.object and "微型消防站 (6)" in panel.result_pane.object
    panel.seek(panel.time.end)
    assert all(item.state == "drill" and item.done_s == item.at_s for item in panel.lists.items)
    panel.cameras.clicks += 1
    assert shown and all(node.startswith("dev:CAM-") for node in shown[-1])

    name = panel.save_report()
    assert f"reports/{urllib.parse.quote(name)}" in panel.reports_pane.object
    assert "Drill · Fire · " in panel.reports_pane.object
    assert not watch.topics, f"a drill published commands: {watch.topics[:3]}"
    assert not [r for r in audit_records()[audited:] if r["action"].startswith(("command.", "device.command"))]

    status, page = get(f"{server.url}/reports/{urllib.parse.quote(name)}")
    assert status == 200 and "Unlock the building's access doors" in unescape(page) and "<img" in page
    for missing in ("no-such-report.html", "..%2Faudit.jsonl", "%2E%2E"):
        status, body = get(f"{server.url}/reports/{missing}")
        assert status == 404 and "no report" in json.loads(body)["error"], missing
    assert {"user": "local", "action": "report.read", "outcome": "allowed"}.items() <= audit_records()[-1].items()
    panel.clear()


@needs_chromium
@pytest.mark.browser
def test_a_smoke_alarm_opens_the_fire_plan_and_a_confirmed_step_unlocks_the_doors(browser, server, live, watch):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server.url}/?lang=en")
    page.wait_for_selector(READY, state="attached", timeout=180_000)
    page.wait_for_timeout(1000)
    sent_before = len(watch.topics)
    publish(live.url, f"park/{DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "smoke": True}))
    card = page.locator(".twin-plan-card")
    space = live.park.ancestor(f"dev:{DETECTOR}", "space")
    card.get_by_text(f"真实警情 REAL ALARM · Fire emergency plan · {space.name}").wait_for(timeout=20_000)
    page.wait_for_timeout(1500)
    assert len(watch.topics) == sent_before, "nothing is sent before a confirmation"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "plan_alarm.png"))

    unlock = card.locator(".twin-plan-row", has_text="Unlock the building's access doors")
    unlock.get_by_role("button", name="Confirm").click()
    unlock.locator("[data-state=sent]").wait_for(timeout=30_000)
    outcomes = unlock.locator(".twin-plan-target")
    assert outcomes.count() == 17 and unlock.locator("[data-outcome=sent]").count() == 17
    doors = [outcomes.nth(i).get_attribute("data-node") for i in range(outcomes.count())]
    assert all(door.startswith("dev:AC-B01-") for door in doors)
    assert {f"park/{door.removeprefix('dev:')}/command" for door in doors} <= set(watch.topics)
    assert not any("LIFT" in topic for topic in watch.topics), "the lift step was not confirmed: not sent"
    records = audit_records()
    assert any(r["user"] == "local" and r["action"] == "plan.confirm" for r in records), "who confirmed"
    for door in doors:
        assert any(r["user"] == "plan:fire" and r["action"] == "command.unlock" and r["target"] == door
                   and r["outcome"].startswith("ok") for r in records), door

    team = card.locator(".twin-plan-row", has_text="Dispatch the security patrol")
    team.get_by_role("button", name="Done").click()
    team.locator("[data-state=done]", has_text="done (t =").wait_for(timeout=10_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "plan_sent.png"))
    publish(live.url, f"park/{DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "smoke": False}))
    page.close()
