"""Burst isolation in the served twin: the REST route answers what the CLI answers, and a leak alarm
leads in one click to the isolation drawn in the viewport (a real Mosquitto, headless Chromium).

The screenshot is kept in ``tests/artifacts/isolation.png`` (look at it).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse

import pytest

from conftest import needs_chromium, run_twin
from live.runtime import Live
from test_live_app import ARTIFACTS, DEMO, READY, get_json, needs_clients, now_iso, publish, wait_for
from twin.cache import compile_scene
from twin.networks.isolate import isolate
from twin.networks.scene import scene_networks
from twin.scene import read_scene
from twin.web.access import audit_path
from twin.web.server import BackgroundServer

LEAK_DETECTOR = "LD-WS-P0003"  # a noise logger on water main WS-P0003


@pytest.fixture(scope="module")
def demo():
    return compile_scene(DEMO)


@pytest.fixture(scope="module")
def networks():
    return scene_networks(read_scene(DEMO))


@pytest.fixture(scope="module")
def live(demo, mosquitto, twin_home, tmp_path_factory):
    with Live(demo, read_scene(DEMO).live, broker_url=mosquitto.url,
              folder=tmp_path_factory.mktemp("live")) as running:
        assert running.ingest.wait_ready(10)
        yield running


@pytest.fixture(scope="module")
def server(demo, live, networks):
    with BackgroundServer(demo, live=live, networks=networks) as running:
        yield running


def get_error(url: str) -> tuple[int, str]:
    try:
        urllib.request.urlopen(url, timeout=30)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())["error"]
    pytest.fail(f"{url} answered without an error")


def test_the_isolation_route_answers_what_the_cli_prints_and_is_audited(server, networks, demo):
    listed = {n["name"]: n for n in get_json(f"{server.url}/api/networks")}
    assert listed["water"]["pressurised"] and listed["water"]["valves"] > 0 and not listed["rain"]["pressurised"]
    query = urllib.parse.urlencode([("burst", "WS-P0001"), ("failed", "WS-0026")])
    answer = get_json(f"{server.url}/api/networks/water/isolate?{query}")
    cli = run_twin("network", "isolate", DEMO, "--network", "water", "--burst", "WS-P0001",
                   "--failed-valve", "WS-0026", "--json")
    assert cli.returncode == 0, cli.stderr
    assert answer == json.loads(cli.stdout)
    assert "gis:network_nodes:WS-0026" not in answer["valves_to_close"] and answer["valves_to_close"]
    record = json.loads(audit_path().read_text(encoding="utf-8").splitlines()[-1])
    assert record["action"] == "network.isolate" and "burst=WS-P0001" in record["target"]

    assert get_error(f"{server.url}/api/networks/water/isolate?burst=NOPE")[0] == 400
    assert "not pressurised" in get_error(f"{server.url}/api/networks/sewage/isolate?burst=SW-P0001")[1]
    status, message = get_error(f"{server.url}/api/networks/steam/isolate?burst=X")
    assert status == 404 and "steam" in message
    assert "burst: give" in get_error(f"{server.url}/api/networks/water/isolate")[1]
    assert "at: must be" in get_error(f"{server.url}/api/networks/water/isolate?at=here")[1]
    # a burst reported by where it is: the middle of WS-P0001 in the scene's CRS (EPSG:4549)
    pipe = networks.networks["water"].links.loc["gis:pipes:WS-P0001", "geometry"].interpolate(0.5, normalized=True)
    at = f"{pipe.x + demo.origin_m[0]:.3f},{pipe.y + demo.origin_m[1]:.3f}"
    assert get_json(f"{server.url}/api/networks/water/isolate?at={at}") == get_json(
        f"{server.url}/api/networks/water/isolate?burst=WS-P0001")


def test_the_trace_and_check_routes_answer_what_the_cli_prints(server):
    answer = get_json(f"{server.url}/api/networks/sewage/trace?start=SW-P0042&direction=downstream")
    cli = run_twin("network", "trace", DEMO, "--network", "sewage", "--start", "SW-P0042", "--downstream", "--json")
    assert cli.returncode == 0, cli.stderr
    assert answer == json.loads(cli.stdout) and answer["outfalls"], "a spill reaches an outfall"
    assert "no flow to follow" in get_error(f"{server.url}/api/networks/water/trace?start=WS-P0001&direction=upstream")[1]
    assert "start: missing" in get_error(f"{server.url}/api/networks/sewage/trace")[1]
    report = get_json(f"{server.url}/api/networks/check")
    cli = run_twin("network", "check", DEMO, "--json")
    assert report == json.loads(cli.stdout) and set(report["networks"]) >= {"water", "sewage", "power"}
    assert get_json(f"{server.url}/api/networks/check?network=gas")["networks"].keys() == {"gas"}
    assert "'steam' is not one of" in get_error(f"{server.url}/api/networks/check?network=steam")[1]


@needs_chromium
@needs_clients
@pytest.mark.browser
def test_a_leak_alarm_leads_in_one_click_to_its_isolation(browser, server, live, networks):
    expected = isolate(networks.networks["water"], "gis:pipes:WS-P0003")
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server.url}/?lang=en")
    page.wait_for_selector(READY, state="attached", timeout=180_000)
    publish(live.url, f"park/{LEAK_DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "leak": True, "noise_db": 68.0}))
    row = page.locator(".twin-alarms .tabulator-row", has_text="Water pipe leak").first
    row.wait_for(timeout=15_000)
    row.click()  # the one click
    result = page.locator(".twin-isolation h4", has_text="WS-P0003")
    result.wait_for(timeout=15_000)
    text = page.locator(".twin-isolation-result").inner_text()
    assert f"{len(expected.valves_to_close)} valves to close" in text
    assert all(v.rsplit(":", 1)[1] in text for v in expected.valves_to_close)
    viewport = page.locator("[data-twin-viewport]")
    wait_for(lambda: viewport.get_attribute("data-labels") == str(len(expected.valves_to_close)),
             what="a label on every valve to shut")
    page.wait_for_function("el => el.dataset.flying !== '1'", arg=viewport.element_handle(), timeout=20_000)
    page.wait_for_timeout(1500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "isolation.png"))

    # a valve sticks: the second round (二次关阀) takes the segment behind it
    stuck = expected.valves_to_close[0]
    second = isolate(networks.networks["water"], "gis:pipes:WS-P0003", [stuck])
    choices = page.locator(".twin-isolation-failed input")
    choices.fill(stuck.rsplit(":", 1)[1])
    choices.press("Enter")
    page.locator(".twin-isolation h4", has_text="Failed valves").wait_for(timeout=15_000)
    text = page.locator(".twin-isolation-result").inner_text()
    assert f"{len(second.valves_to_close)} valves to close" in text
    publish(live.url, f"park/{LEAK_DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "leak": False, "noise_db": 30.0}))
    page.close()


@needs_clients
def test_a_pipe_card_lists_the_sensors_on_the_pipe_and_its_ends(demo, live):
    from twin.web.live_card import LiveCard

    publish(live.url, f"park/{LEAK_DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "leak": False, "noise_db": 31.5}))
    wait_for(lambda: live.state.metrics(f"dev:{LEAK_DETECTOR}").get("noise_db"), what="the detector's noise level")
    card = LiveCard(live, "en")
    card.show("gis:pipes:WS-P0003")
    assert f"dev:{LEAK_DETECTOR}" in card.sensors and "noise_db 31.5 dB" in card.values.object
    sensor = next(n for n in demo.of_kind("device") if n.id.startswith("dev:PT-WS-") and "消火栓" in n.name)
    hydrant = sensor.links["host"]
    hydrant_pipe = next(n.id for n in demo.of_kind("pipe") if hydrant in (n.links.get("end"), n.links.get("start")))
    card.show(hydrant_pipe)
    assert sensor.id in card.sensors, "the hydrant's pressure sensor sits at the pipe's end"
    card.show(f"dev:{LEAK_DETECTOR}")
    assert card.sensors == [], "a device lists no sensors on itself"


def test_the_panel_traces_a_spill_downstream_and_names_a_wrong_request(demo, networks):
    from twin.web.deltas import node_index
    from twin.web.navigator import Navigator
    from twin.web.network_panel import NetworkPanel
    from twin.web.viewport import Viewport, manifest

    viewport = Viewport(node_index(demo), batches=manifest(demo.batches))
    panel = NetworkPanel(demo, networks, viewport, Navigator(demo, viewport, "en"), "en")
    panel.offer("gis:pipes:SW-P0042")
    assert (panel.network.value, panel.analysis.value, panel.element.value) == ("sewage", "downstream", "SW-P0042")
    result = panel.run(panel.network.value, panel.analysis.value, panel.element.value)
    assert result.outfalls and all(o.rsplit(":", 1)[1] in panel.result_pane.object for o in result.outfalls)
    assert set(result.pipes) <= set(panel.styled) and not panel.card.collapsed
    assert not any(n.startswith(("ifc:", "gis:buildings:")) for n in panel.styled), \
        "a downstream trace lists no buildings, so it colours none"
    assert panel.network.options["Sewage"] == "sewage"
    assert panel.run("water", "upstream", "WS-P0001") is None
    assert "no flow to follow" in panel.result_pane.object
    panel.clear()
    assert panel.styled == [] and panel.result is None
