"""The large screen (``/wall``): its ``[wall]`` table, the figures it shows, and the page in headless
Chromium at 1920×1080 and 3840×2160 (screenshots kept in ``tests/artifacts/``; look at them)."""
from __future__ import annotations

import json
import math
from html import escape
from datetime import UTC, datetime

import pytest

from conftest import ROOT, needs_chromium
from live.alarms import Severity
from live.config import DeviceType, LiveSpec, MetricSpec
from live.runtime import Live
from live.workorders import Priority
from test_live_app import DETECTOR, READY, SENSOR, needs_clients, now_iso, publish, wait_for
from twin.cameras import cameras_seeing_node
from twin.cache import compile_scene
from twin.energy.today import EnergyToday
from twin.park import Node
from twin.scene import _Reader, read_scene
from twin.tours import TourSpec
from twin.wall import WallSpec, read_wall
from twin.web.server import BackgroundServer
from twin.web.wall import Wall
from twin.web.wall_figures import wall_figures

DEMO = ROOT / "scenes" / "demo"
ARTIFACTS = ROOT / "tests" / "artifacts"


# --- [wall] -------------------------------------------------------------------------------------------
LIVE = LiveSpec({"thermo": DeviceType("thermo", 300.0, {"temp_c": MetricSpec("temp_c", "°C")}, None),
                 "bay": DeviceType("bay", 900.0, {"taken": MetricSpec("taken", kind="boolean")}, None)})
TOURS = (TourSpec("welcome", "欢迎"),)


def test_wall_table_defaults_and_a_park_of_its_own_names(tmp_path):
    r = _Reader(tmp_path / "scene.toml")
    assert read_wall(r, {}, LIVE, TOURS) == WallSpec()
    spec = read_wall(r, {"wall": {"temperature": "temp_c", "parking": "taken", "air_quality": [],
                                  "idle_s": 30, "tour": "welcome"}}, LIVE, TOURS)
    assert r.problems == []
    assert (spec.temperature, spec.parking, spec.air_quality, spec.idle_s, spec.tour) == (
        "temp_c", "taken", (), 30.0, "welcome")


@pytest.mark.parametrize("table, expected", [
    ({"temperature": "temperature"}, "wall.temperature: no device type in [live] declares a number metric "
                                     "'temperature'"),
    ({"parking": "temp_c"}, "wall.parking: no device type in [live] declares a boolean metric 'temp_c'"),
    ({"air_quality": "co2"}, "wall.air_quality: must be a list of metric names, not 'co2'"),
    ({"air_quality": ["pm10"]}, "wall.air_quality: no device type in [live] declares a number metric 'pm10'"),
    ({"idle_s": 0}, "wall.idle_s: must be more than 0 s, not 0"),
    ({"tour": "night"}, "wall.tour: no [[tours]] with key 'night'"),
    ({"screens": 4}, "wall.screens: unknown key"),
])
def test_each_bad_wall_field_is_one_line_naming_it(tmp_path, table, expected):
    r = _Reader(tmp_path / "scene.toml")
    read_wall(r, {"wall": table}, LIVE, TOURS)
    assert len(r.problems) == 1 and r.problems[0].startswith(f"{tmp_path / 'scene.toml'}: {expected}"), r.problems


def test_the_scene_file_carries_the_wall_table(tmp_path):
    (tmp_path / "scene.toml").write_text('name = "p"\ncrs = "EPSG:4549"\norigin = [0.0, 0.0, 0.0]\n'
                                         '[wall]\nidle_s = 45\n', encoding="utf-8")
    assert read_scene(tmp_path).wall.idle_s == 45.0


# --- figures --------------------------------------------------------------------------------------------
def devices_of(park, kind: str) -> list[str]:
    return [d.id for d in park.of_kind("device") if d.properties["device"]["type"] == kind]


def test_the_figures_count_what_reports_now_and_no_person_twice(tmp_path):
    demo = compile_scene(DEMO)  # its own: a counter is added
    building = demo.ancestor(f"dev:{DETECTOR}", "building")
    entrance = demo.add(Node("dev:PC-TEST-ENTRANCE", "device", parent=building.id, links={"host": building.id},
                             properties_loader=lambda: {"device": {"type": "people_counter"}}))
    spec = read_scene(DEMO)
    live = Live(demo, spec.live, broker_url="mqtt://127.0.0.1:1", folder=tmp_path / "live")  # not started
    now = datetime.now(UTC)
    thermometers = devices_of(demo, "temperature_sensor")
    for device, value in zip(thermometers, (20.0, 24.0)):
        live.state.update(device, "temperature", value, now)
    live.state.update(thermometers[2], "temperature", 90.0, now)
    live.state.set_online(thermometers[2], False, now)  # offline: its value is left out
    counters = [c for c in devices_of(demo, "people_counter") if c != entrance.id]
    inside = next(c for c in counters if demo.ancestor(c, "building").id == building.id)
    outside = next(c for c in counters if demo.ancestor(c, "building").id != building.id)
    for device, persons in ((entrance.id, 30), (inside, 5), (outside, 7)):
        live.state.update(device, "people", persons, now)
    bays = devices_of(demo, "parking_sensor")
    for device, taken in zip(bays, (True, True, False)):
        live.state.update(device, "occupied", taken, now)
    live.alarms.raise_alarm("smoke", f"dev:{DETECTOR}", "smoke", "critical", {"en": "Smoke"}, True, now)
    live.workorders.create("换灯", f"dev:{DETECTOR}", "high", by="local")

    figures = wall_figures(live, spec.wall)
    temperature = next(m for m in figures.environment if m.metric == "temperature")
    assert (temperature.value, temperature.devices, temperature.unit) == (22.0, 2, "°C")
    assert figures.persons == 37, "the entrance counter covers the room counter inside its building"
    assert figures.persons_by_building[building.id] == 30
    assert (figures.parking_taken, figures.parking_bays) == (2, len(bays))
    assert figures.devices_online == 2 + 3 + 3 + 1, "the offline thermometer is not online; the alarmed detector is"
    assert figures.devices == len([d for d in demo.of_kind("device")
                                   if d.properties["device"]["type"] in spec.live.device_types])
    assert figures.alarms[Severity.CRITICAL] == 1 and figures.alarms[Severity.MINOR] == 0
    assert figures.orders[Priority.HIGH] == 1 and sum(figures.orders.values()) == 1
    live.history.close()


# --- the page in Chromium ----------------------------------------------------------------------------------
IDLE_S = 12.0  #: longer than a demo tour stop (8 s): a paused tour is seen not to move on
SIZES = ((1920, 1080), (3840, 2160))


@pytest.fixture(scope="module")
def server(demo, live):
    with BackgroundServer(demo, live=live, wall=WallSpec(idle_s=IDLE_S)) as running:
        yield running


def open_wall(browser, server, width: int, height: int):
    """The wall in a fresh page of the given size, its scene drawn; requests off the host are refused."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.foreign = []
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith((server.url, "data:", "blob:"))
               else (page.foreign.append(r.request.url), r.abort()))
    page.goto(f"{server.url}/wall")
    page.wait_for_selector(READY, state="attached", timeout=180_000)
    return page


def overlaps(boxes: list[dict]) -> list[tuple[int, int]]:
    """Pairs of boxes that overlap by more than a pixel."""
    def apart(a, b) -> bool:
        return (a["x"] + a["width"] <= b["x"] + 1 or b["x"] + b["width"] <= a["x"] + 1
                or a["y"] + a["height"] <= b["y"] + 1 or b["y"] + b["height"] <= a["y"] + 1)
    return [(i, j) for i, a in enumerate(boxes) for j, b in enumerate(boxes[i + 1:], i + 1) if not apart(a, b)]


def fonts_drawing(page, text: str) -> list[str]:
    """The platform fonts Chromium draws ``text`` with (DevTools protocol, through shadow roots)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})
    search = cdp.send("DOM.performSearch", {"query": text})
    nodes = cdp.send("DOM.getSearchResults", {"searchId": search["searchId"], "fromIndex": 0,
                                              "toIndex": search["resultCount"]})["nodeIds"]
    return [f["familyName"] for node in nodes for f in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]]


@needs_chromium
@needs_clients
@pytest.mark.parametrize("width, height", SIZES)
def test_the_wall_fills_the_screen_without_overlap_in_chinese(browser, server, live, width, height):
    page = open_wall(browser, server, width, height)
    publish(live.url, f"park/{SENSOR}/telemetry", json.dumps({"ts": now_iso(), "temperature": 23.5}))
    page.locator(".twin-wall-box", has_text="平均温度").filter(has_text="°C").wait_for(timeout=20_000)
    page.wait_for_timeout(1500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"wall_{width}x{height}.png"))
    panels = [page.locator(s) for s in (".twin-wall-box", "[data-twin-viewport]", ".twin-ticker", ".twin-wall-header")]
    boxes = [box for locator in panels for item in locator.all() if (box := item.bounding_box())]
    assert len(boxes) >= 10, boxes
    assert not overlaps(boxes), f"panels overlap: {[(boxes[i], boxes[j]) for i, j in overlaps(boxes)]}"
    assert all(b["x"] >= -1 and b["y"] >= -1 and b["x"] + b["width"] <= width + 1 and b["y"] + b["height"] <= height + 1
               for b in boxes), f"a panel leaves the {width}×{height} screen: {boxes}"
    side = page.locator(".twin-wall-box", has_text="当前告警").bounding_box()
    assert side["width"] >= 0.18 * width, "the panels grow with the wall"
    assert any("CJK" in family for family in fonts_drawing(page, "园区运行监测")), "Chinese is drawn in a CJK font"
    page.close()
    assert not page.foreign, f"requests off the host: {page.foreign[:5]}"


def a_detector_a_camera_sees(park) -> str:
    return next(d.id for d in park.of_kind("device") if d.properties["device"]["type"] == "smoke_detector"
                and cameras_seeing_node(park, d.id))


@needs_chromium
@needs_clients
def test_a_ticker_alarm_flies_to_its_place_and_shows_the_cameras_that_see_it(browser, server, live, demo):
    detector = a_detector_a_camera_sees(demo)
    page = open_wall(browser, server, 1920, 1080)
    publish(live.url, f"park/{detector.removeprefix('dev:')}/telemetry", json.dumps({"ts": now_iso(), "smoke": True}))
    item = page.locator(".twin-ticker-item", has_text="烟感报警").first
    item.wait_for(timeout=20_000)
    page.locator(".twin-wall-box", has_text="紧急").filter(has_text="1").first.wait_for(timeout=20_000)
    item.click()
    cameras = page.locator(".twin-wall-box .twin-camera img")
    cameras.first.wait_for(timeout=20_000)
    camera = cameras_seeing_node(demo, detector)[0].camera_id
    assert page.locator(f".twin-camera[data-camera-id='{camera}']").count() == 1, "the nearest camera's picture"
    page.wait_for_function("el => el.dataset.flying !== '1'",
                           arg=page.locator("[data-twin-viewport]").element_handle(), timeout=20_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "wall_alarm.png"))
    publish(live.url, f"park/{detector.removeprefix('dev:')}/telemetry", json.dumps({"ts": now_iso(), "smoke": False}))
    wait_for(lambda: not live.alarms.is_active("smoke", detector), what="the smoke alarm ends")
    page.close()


@needs_chromium
def test_an_untouched_wall_tours_and_a_touch_stops_the_tour(browser, server):
    page = open_wall(browser, server, 1920, 1080)
    caption = page.locator("[data-twin-caption]")
    wait_for(lambda: caption.is_visible() and caption.inner_text(), timeout_s=IDLE_S + 20, what="the idle tour")
    first = caption.inner_text()
    page.screenshot(path=str(ARTIFACTS / "wall_tour.png"))
    page.mouse.click(960, 500)  # a touch on the 3D view
    page.wait_for_timeout(10_000)
    assert caption.inner_text() == first, "the tour stopped where it was touched"
    page.close()


def test_the_idle_tour_waits_for_quiet_and_never_leaves_an_urgent_alarm(demo, tmp_path):
    live = Live(demo, read_scene(DEMO).live, broker_url="mqtt://127.0.0.1:1", folder=tmp_path / "live")
    now_s = [0.0]
    wall = Wall(demo, live, WallSpec(idle_s=10), None, "en", clock=lambda: now_s[0])

    def tick_at(seconds: float) -> bool:
        now_s[0] = seconds
        wall.step()
        return wall.tour.stepper.playing

    assert not tick_at(5) and tick_at(11), "the tour plays after idle_s untouched"
    wall.touch()
    assert not wall.tour.stepper.playing and not tick_at(15), "a touch stops it and restarts the wait"
    alarm = live.alarms.raise_alarm("smoke", f"dev:{DETECTOR}", "smoke", "critical", {"en": "Smoke"}, True,
                                    datetime.now(UTC))
    assert not tick_at(40)
    assert "Smoke" in wall.ticker_items[0].label and wall.ticker_items[0].visible and not wall.no_alarms.visible
    assert escape(wall.place(alarm.node)) in wall.panes["cameras"].object, "the new alarm took the camera"
    assert not tick_at(55), "idle, yet an unacknowledged critical alarm holds the wall"
    live.alarms.ack(alarm.id, "local")
    assert tick_at(56), "acknowledged, the tour comes back"
    live.history.close()


def test_the_energy_box_says_it_waits_for_the_main_meters_second_reading(demo, tmp_path):
    live = Live(demo, read_scene(DEMO).live, broker_url="mqtt://127.0.0.1:1", folder=tmp_path / "live")
    wall, at = Wall(demo, live, WallSpec(), None, "en"), datetime.now(UTC)
    waiting = wall.energy_html(EnergyToday(at, math.nan, (), math.nan, {}, 0.58))
    assert "—" in waiting and "Waiting for the meters" in waiting
    known = wall.energy_html(EnergyToday(at, 1234.0, (), 5678.0, {}, 0.58))
    assert "1,234 kWh" in known and "5,678 kWh" in known and "Waiting" not in known
    live.history.close()
