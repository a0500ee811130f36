"""The commander's fire drill in the served twin: a room picked on the 3rd floor, the drill run in the
worker process, its result listed, its playback drawn (rooms by smoke, people as points, routes).

With the demo's fire plan, the drill card ticks the plan's steps off as the timeline passes them and
keeps the drill's report. Screenshots are kept in ``tests/artifacts/drill_start.png``,
``drill_playing.png`` and ``drill_report.png`` (look at them).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import needs_chromium
from test_live_app import ARTIFACTS, DEMO, READY, wait_for
from test_web import pixels
from twin.cache import compile_scene
from twin.scene import read_scene
from twin.evacuation import EvacuationResult
from twin.evacuation.worker import DrillSpec, drill_worker, run_drill, submit
from twin.web.access import audit_path
from twin.web.drill_panel import PEOPLE_RGB, DrillPanel, park_graph
from twin.web.server import BackgroundServer


@pytest.fixture(scope="module")
def demo():
    return compile_scene(DEMO)


@pytest.fixture(scope="module")
def third_floor_office(demo) -> str:
    """An open office on the 3rd floor (3F) of building 1."""
    return next(n.id for n in demo.of_kind("space") if demo.ancestor(n.id, "storey").name == "3F"
                and demo.ancestor(n.id, "building").name == "1号研发楼" and "Open office" in (n.long_name or ""))


@pytest.fixture(scope="module")
def server(demo, twin_home):
    with BackgroundServer(demo, plans=read_scene(DEMO).plans) as running:
        yield running


def test_a_drill_runs_in_the_worker_process(demo, third_floor_office):
    assert drill_worker.submit(os.getpid).result(timeout=60) != os.getpid(), "drills run in another process"
    result = submit(park_graph(demo), DrillSpec(origin=third_floor_office, total_occupants=200)).result(timeout=120)
    assert isinstance(result, EvacuationResult) and result.occupants == 200 == result.evacuated
    assert result.hazard.origin == third_floor_office and result.hazard.aset_s(third_floor_office) is not None


def test_a_flood_drill_marks_its_rooms_untenable_at_once(demo, third_floor_office):
    """A placed incident (flood, intrusion, crowd) has no spread: its room and those it reaches are out at t = 0."""
    graph = park_graph(demo)
    result = run_drill(graph, DrillSpec(origin=third_floor_office, incident="flood", total_occupants=100))
    assert result.hazard.kind == "flood" and result.hazard.aset_s(third_floor_office) == 0.0
    assert {s.id for s in result.spaces if s.aset_s == 0.0} >= {third_floor_office}
    assert result.evacuated == 100


def test_the_panel_offers_runs_plays_and_clears_a_drill(demo, third_floor_office, twin_home):
    from twin.web.deltas import node_index
    from twin.web.navigator import Navigator
    from twin.web.viewport import Viewport, manifest

    viewport = Viewport(node_index(demo), batches=manifest(demo.batches))
    sent: list[dict] = []
    viewport.send = sent.append
    panel = DrillPanel(demo, viewport, Navigator(demo, viewport, "en"), "en")
    assert not panel.offer("gis:pipes:WS-P0001") and panel.go.disabled, "outdoors: no fire offered"
    detector = next(n.id for n in demo.descendants(third_floor_office) if n.id.startswith("dev:SD-"))
    assert panel.offer(detector) and "Incident here" in panel.where.object and not panel.go.disabled
    panel.run(panel.spec()).result(timeout=120)
    panel.tick()
    assert "演练 DRILL" in panel.card.title and "twin-drill-result" in panel.result_pane.object
    assert sent[-1]["op"] == "caption" and "演练 DRILL" in sent[-1]["text"]
    assert "drill/fire/" in audit_path().read_text(encoding="utf-8")
    before = len(sent)
    panel.seek(panel.time.end / 2)
    drawn = {m["op"] for m in sent[before:]}
    assert {"points", "caption"} <= drawn and any(s == "untenable" for s in panel.shown.values())
    again = len(sent)
    panel.seek(panel.time.end / 2)
    assert not any(m["op"] == "style" for m in sent[again:]), "a step sends only the rooms whose state changed"
    panel.clear()
    assert panel.shown == {} and panel.playback is None and panel.card.title == "Evacuation drill"
    assert {m["op"] for m in sent[-6:]} >= {"points", "paths", "zone", "caption", "pin"}


def people_pixels(png: bytes) -> int:
    """How many pixels show the people's colour."""
    image = pixels(png).astype(int)
    return int((np.abs(image[..., :3] - PEOPLE_RGB).sum(axis=-1) < 90).sum())


def opened(browser, server):
    """The app in English, its scene drawn."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server.url}/?lang=en")
    page.wait_for_selector(READY, state="attached", timeout=180_000)
    return page


def pick(page, node_id: str) -> None:
    """A pick, as the viewport sends one: the picked node id on the component's model."""
    page.evaluate("""(id) => { for (const doc of Bokeh.documents) for (const m of doc._all_models.values())
                               if (m.data && m.data.picked !== undefined) m.data.picked = id; }""", node_id)


@needs_chromium
@pytest.mark.browser
def test_a_fire_drill_on_the_third_floor_plays_in_the_browser(browser, server, third_floor_office):
    page = opened(browser, server)
    pick(page, third_floor_office)
    page.locator(".twin-drill-where h4", has_text="Incident here").wait_for(timeout=15_000)
    page.get_by_role("button", name="Run drill").click()
    page.locator(".twin-drill-result").wait_for(timeout=120_000)
    exits = page.locator(".twin-drill-table").first.locator("tr")
    counts = [int(exits.nth(i).locator("td").nth(1).inner_text()) for i in range(1, exits.count())]
    assert counts and max(counts) > 0
    assert page.get_by_text("演练 DRILL · Evacuation drill", exact=True).is_visible(), "the card marked as a drill"
    viewport = page.locator("[data-twin-viewport]")
    wait_for(lambda: int(viewport.get_attribute("data-points") or 0) > 0, what="people drawn as points")
    assert int(viewport.get_attribute("data-paths") or 0) > 0, "the routes drawn"
    assert "演练 DRILL" in page.locator("[data-twin-caption]").inner_text()
    page.wait_for_function("el => el.dataset.flying !== '1'", arg=viewport.element_handle(), timeout=20_000)
    page.wait_for_timeout(1000)
    ARTIFACTS.mkdir(exist_ok=True)
    assert people_pixels(page.screenshot(path=str(ARTIFACTS / "drill_start.png"))) > 50, "people show in 3D"

    card = page.locator(".twin-drill-card")
    card.get_by_role("button", name="30×").click()
    card.get_by_role("button", name="Play").click()
    caption = page.locator("[data-twin-caption]")
    wait_for(lambda: float(caption.inner_text().rsplit("=", 1)[1].split()[0]) >= 180, timeout_s=30,
             what="the timeline played on to 180 s")
    card.get_by_role("button", name="Pause").click()
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "drill_playing.png"))
    steps = card.locator(".twin-plan-step[data-state=drill]")
    assert steps.count() >= 5 and "✓ drill" in steps.nth(2).inner_text(), "the plan's steps ticked off as a drill"
    assert card.locator(".twin-plan-step", has_text="Unlock the building's access doors · 17 targets").count() == 1

    card.get_by_role("button", name="Report").click()
    link = card.locator(".twin-report-list a").first
    link.wait_for(timeout=30_000)
    assert link.inner_text().startswith("Drill · Fire · ")
    report = browser.new_page(viewport={"width": 1200, "height": 1000})
    report.goto(f"{server.url}/{link.get_attribute('href')}")
    report.get_by_text("Unlock the building's access doors").first.wait_for(timeout=10_000)
    report.screenshot(path=str(ARTIFACTS / "drill_report.png"), full_page=True)
    report.close()

    page.get_by_role("button", name="End drill").click()
    wait_for(lambda: viewport.get_attribute("data-points") == "0", what="the people taken away")
    assert not caption.is_visible()
    page.close()


GAS_INLET = "gis:pipes:GS-P0001"  # building 1's gas service pipe, by its east side
GAS_RGB = np.array([205, 220, 57])


@needs_chromium
@pytest.mark.browser
def test_a_gas_leak_outdoors_draws_its_plume_and_evacuates_the_building_it_reaches(browser, server, third_floor_office):
    page = opened(browser, server)
    pick(page, third_floor_office)  # the card opens on a room …
    page.locator(".twin-drill-where h4", has_text="Incident here").wait_for(timeout=15_000)
    pick(page, GAS_INLET)  # … then takes a spot outdoors, for a gas leak
    card = page.locator(".twin-drill-card")
    card.locator(".twin-drill-where h4", has_text="燃气接入管").wait_for(timeout=15_000)
    card.locator(".twin-drill-wind", has_text="type the wind in").wait_for(timeout=10_000)  # no live: no station
    wind_from = card.locator(".bk-input-group", has_text="Wind from").locator("input")
    wind_from.fill("105")
    wind_from.press("Enter")
    page.wait_for_timeout(300)
    card.get_by_role("button", name="Run drill").click()
    card.locator(".twin-drill-gas").wait_for(timeout=120_000)
    assert "from 105°" in card.locator(".twin-drill-gas").inner_text()
    viewport = page.locator("[data-twin-viewport]")
    wait_for(lambda: int(viewport.get_attribute("data-zone") or 0) > 0, what="the plume's area drawn")
    page.wait_for_function("el => el.dataset.flying !== '1'", arg=viewport.element_handle(), timeout=20_000)
    page.wait_for_timeout(1000)
    png = page.screenshot(path=str(ARTIFACTS / "drill_gas.png"))
    image = pixels(png).astype(int)[..., :3]
    assert (np.abs(image - GAS_RGB).sum(axis=-1) < 120).sum() > 500, "the plume shows over the ground"
    page.get_by_role("button", name="End drill").click()
    wait_for(lambda: viewport.get_attribute("data-zone") == "0", what="the plume taken away")
    page.close()
