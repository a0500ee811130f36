"""The viewer on the demo park, in headless Chromium: search-and-locate, ?node= links, tours, drill-down.

Every request to a host other than the test server is aborted and fails the test. Screenshots are
kept in ``tests/artifacts/`` (look at them).
"""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from conftest import ROOT, needs_chromium
from twin.cache import compile_scene
from twin.web.deltas import NodeIndex
from twin.web.server import BackgroundServer
from twin.web.view_state import GHOST_OPACITY, Storeys, View, batch_looks, look
from twin.web.viewport import manifest

ARTIFACTS = ROOT / "tests" / "artifacts"
READY = "[data-twin-viewport][data-state=ready]"


@pytest.fixture(scope="module")
def demo():
    return compile_scene(ROOT / "scenes" / "demo")


# --- view state and node index (no browser) -------------------------------------------------------
def test_node_index_sends_indices_per_batch_never_geometry(demo):
    index = NodeIndex(demo)
    space = next(n for n in demo.of_kind("space") if n.id in index)
    flat = np.frombuffer(base64.b64decode(index.parts([space.id, "no:such-node"])), "<i4")
    number, count, *local = flat.tolist()
    assert [number] == index.batches_of(space.id) and count == 1 == len(local)
    assert demo.batches[number].node_ids[local[0]] == space.id
    storey = demo.ancestor(space.id, "storey")
    assert space.id in index.drawn([storey.id]) and storey.id not in index.drawn([storey.id])


def test_drill_down_ghosts_other_buildings_and_hides_storeys_above(demo):
    entries = manifest(demo.batches)
    storeys = Storeys.of([(s.id, demo.ancestor(s.id, "building").id, s.elevation_m) for s in demo.of_kind("storey")])
    storey = next(s for s in demo.of_kind("storey") if storeys.rank[s.id] == 1)
    building = storeys.building[storey.id]
    looks = batch_looks(entries, storeys, View(building=building, storey=storey.id))
    for entry, seen in zip(entries, looks):
        if entry["building"] not in (None, building):
            assert seen.opacity <= GHOST_OPACITY
        elif entry["building"] == building and entry["storey"] in storeys.rank:
            assert seen.visible == (storeys.rank[entry["storey"]] <= 1), entry["key"]
    walls = next(e for e in entries if e["category"] == "walls" and e["storey"] == storey.id)
    assert look(walls, storeys, View(xray=True)).opacity < 0.5
    assert look(walls, storeys, View(exploded=True)).offset_z_m > 0
    ground = next(e for e in entries if e["category"] == "ground")
    assert look(ground, storeys, View(ground_translucent=True)).opacity < 1
    pipes = next(e for e in entries if e["category"].startswith("pipes:"))
    assert not look(pipes, storeys, View(hidden_layers=frozenset({"underground"}))).visible


# --- in the browser -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(demo, twin_home):
    with BackgroundServer(demo) as running:
        yield running


@pytest.fixture
def page(browser, server, request):
    """A page on the app (a touch screen for tests marked ``touch``); any request off the test
    server is aborted and fails the test."""
    touch = request.node.get_closest_marker("touch") is not None
    page = browser.new_page(viewport={"width": 1600, "height": 900}, has_touch=touch)
    foreign: list[str] = []

    def route(r):
        if r.request.url.startswith((server.url, "data:", "blob:")):
            r.continue_()
        else:
            foreign.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    yield page
    page.close()
    assert not foreign, f"requests off the host: {foreign[:5]}"


def open_app(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(READY, state="attached", timeout=120_000)
    settle(page)


def settle(page) -> None:
    """Wait until no camera flight is under way and a frame has been drawn."""
    root = page.locator("[data-twin-viewport]").element_handle()
    page.wait_for_function("root => root.dataset.flying !== '1'", arg=root, timeout=20_000)
    page.wait_for_timeout(600)


def shot(page, name: str) -> np.ndarray:
    """Screenshot of the viewport (kept as an artifact) as RGB floats."""
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = page.locator("[data-twin-viewport]").screenshot(path=str(ARTIFACTS / f"{name}.png"))
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)


def highlight_box(image: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of the highlight's yellow pixels, lit or shaded."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    yellow = (r > 100) & (g > 0.75 * r) & (g < 1.1 * r) & (b < 0.4 * g)
    if yellow.sum() < 40:
        return None
    ys, xs = np.nonzero(yellow)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def assert_centred_and_lit(image: np.ndarray) -> None:
    box = highlight_box(image)
    assert box is not None, "the highlight shows in the picture"
    h, w = image.shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    assert w / 4 <= cx <= 3 * w / 4 and h / 4 <= cy <= 3 * h / 4, f"highlight at {box} in a {w}×{h} view"


def meeting_room(demo):
    return next(n for n in demo.of_kind("space") if "会议室" in (n.long_name or n.name)
                and demo.ancestor(n.id, "storey").elevation_m > 3)


@needs_chromium
@pytest.mark.browser
def test_the_park_is_drawn_in_chinese_with_north(page, server, demo):
    open_app(page, server.url)
    image = shot(page, "park")
    assert image.std() > 20 and len(np.unique(image.reshape(-1, 3)[::7], axis=0)) > 200, "a 3D park, not a blank"
    root = page.locator("[data-twin-viewport]")
    assert int(root.get_attribute("data-actors")) == len(demo.batches), "one actor per batch"
    assert page.get_by_text("楼宇导航").is_visible() and page.get_by_text("北", exact=True).is_visible()
    assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"')"), "a CJK font is installed"
    # Chinese glyphs have distinct shapes: two different characters do not render as the same box
    widths = page.evaluate("""() => {
        const c = document.createElement('canvas').getContext('2d');
        c.font = '32px "Noto Sans CJK SC", sans-serif';
        const ink = (s) => { c.clearRect(0, 0, 64, 64); c.fillText(s, 0, 40);
          return Array.from(c.getImageData(0, 0, 64, 64).data).join(); };
        return [ink('园'), ink('区')];
    }""")
    assert widths[0] != widths[1]


@needs_chromium
@pytest.mark.browser
def click_and_read_card(page, at: str) -> str:
    """The card's node id after a press at the viewport's ``at`` ("centre" or "corner")."""
    box = page.locator("[data-twin-viewport]").bounding_box()
    x = box["x"] + (box["width"] / 2 if at == "centre" else 30)
    y = box["y"] + (box["height"] / 2 if at == "centre" else box["height"] - 30)
    if page.evaluate("navigator.maxTouchPoints") > 0:
        page.touchscreen.tap(x, y)
    else:
        page.mouse.click(x, y)
    page.wait_for_timeout(1500)
    card = page.locator("table.twin-node")
    return card.get_attribute("data-node-id") if card.count() else ""


def check_building_card(page, server, demo) -> None:
    building = next(n for n in demo.of_kind("building") if n.id.startswith("gis:"))
    open_app(page, f"{server.url}/?node={building.id}")
    assert click_and_read_card(page, "corner") != building.id, "a press elsewhere shows something else"
    assert click_and_read_card(page, "centre") == building.id
    card = page.locator("table.twin-node").inner_text()
    assert building.name in card and "°" in card, "its name and WGS84 position"


@needs_chromium
@pytest.mark.browser
def test_clicking_a_building_shows_its_card(page, server, demo):
    check_building_card(page, server, demo)


@needs_chromium
@pytest.mark.browser
@pytest.mark.touch
def test_tapping_a_building_on_a_touch_screen_shows_its_card(page, server, demo):
    check_building_card(page, server, demo)


@needs_chromium
@pytest.mark.browser
def test_search_and_locate_isolates_the_storey_and_frames_the_room(page, server, demo):
    room = meeting_room(demo)
    open_app(page, server.url)
    box = page.get_by_placeholder("搜索编码、名称、类型或房间…")
    box.fill(room.name)
    box.press("Enter")
    card = page.locator("table.twin-node")
    card.wait_for(timeout=10_000)
    found = demo.get(card.get_attribute("data-node-id"))
    assert found.name == room.name and found.kind == "space"
    settle(page)
    assert_centred_and_lit(shot(page, "located"))
    storey, building = demo.ancestor(found.id, "storey"), demo.ancestor(found.id, "building")
    assert storey.name in card.inner_text() and building.name in card.inner_text(), "its breadcrumbs"
    pin = page.locator("[data-twin-pin]")
    assert pin.is_visible() and found.name in pin.inner_text(), "a pin marks it, however small"
    chosen = [select.input_value() for select in page.locator("select").all()]
    assert building.name in chosen and storey.name in chosen, f"its storey isolated: {chosen}"


@needs_chromium
@pytest.mark.browser
def test_a_node_link_opens_the_app_focused_on_it(page, server, demo):
    device = next(n for n in demo.of_kind("device") if demo.ancestor(n.id, "storey") is not None
                  and n.id in NodeIndex(demo))
    room = demo.ancestor(device.id, "space") or device
    open_app(page, f"{server.url}/?node={room.id}&lang=en")
    page.locator(f"table.twin-node[data-node-id='{room.id}']").wait_for(timeout=10_000)
    settle(page)
    assert_centred_and_lit(shot(page, "node_link"))
    assert page.get_by_text("Buildings", exact=True).is_visible(), "English labels with ?lang=en"


@needs_chromium
@pytest.mark.browser
def test_a_tour_plays_with_captions(page, server, demo):
    open_app(page, server.url)
    before = shot(page, "tour_before")
    page.get_by_role("button", name="播放").click()
    caption = page.locator("[data-twin-caption]")
    page.wait_for_function("c => c.textContent.length > 0", arg=caption.element_handle(), timeout=15_000)
    first = caption.inner_text()
    assert first == demo.tours[0].stops[0].caption
    page.get_by_role("button", name="下一站").click()
    page.wait_for_function("([c, first]) => c.textContent !== first", arg=[caption.element_handle(), first],
                           timeout=15_000)
    settle(page)
    after = shot(page, "tour_stop_2")
    assert np.abs(after - before).mean() > 5, "the camera moved"
    page.get_by_role("button", name="暂停").click()


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("width, height", [(1920, 1080), (3840, 2160)])
def test_the_layout_holds_on_large_screens(browser, server, width, height):
    page = browser.new_page(viewport={"width": width, "height": height})
    open_app(page, server.url)
    page.screenshot(path=str(ARTIFACTS / f"screen_{width}x{height}.png"))
    boxes = [page.locator("[data-twin-viewport]").bounding_box(),
             *(side.bounding_box() for side in page.locator(".twin-side").all())]
    assert len(boxes) == 3
    for i, a in enumerate(boxes):
        assert a["x"] >= 0 and a["x"] + a["width"] <= width + 1, f"panel {i} inside the screen"
        for b in boxes[i + 1:]:
            overlap_x = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
            overlap_y = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
            assert overlap_x <= 1 or overlap_y <= 1, f"panels overlap: {a} {b}"
    view = boxes[0]
    assert view["width"] * view["height"] > 0.4 * width * height, "the 3D park takes most of the screen"
    page.close()


@needs_chromium
@pytest.mark.browser
def test_the_investment_tour_opens_each_vacant_unit_on_its_floor(page, server, demo):
    tour = next(t for t in demo.tours if t.key == "vacant-units")
    unit = demo.get(tour.stops[0].highlight[0])
    storey, building = demo.ancestor(unit.id, "storey"), demo.ancestor(unit.id, "building")
    open_app(page, server.url)
    page.locator("select").nth(1).select_option(label=tour.title)
    page.get_by_role("button", name="播放").click()
    caption = page.locator("[data-twin-caption]")
    page.wait_for_function("c => c.textContent.length > 0", arg=caption.element_handle(), timeout=15_000)
    assert "m²" in caption.inner_text() and storey.name in caption.inner_text(), "area and floor"
    settle(page)
    chosen = [select.input_value() for select in page.locator("select").all()]
    assert building.name in chosen and storey.name in chosen, f"its floor isolated: {chosen}"
    assert_centred_and_lit(shot(page, "vacant_unit"))
    page.get_by_role("button", name="暂停").click()


@needs_chromium
@pytest.mark.browser
def test_a_link_to_an_unknown_node_says_so_and_shows_the_park(page, server):
    open_app(page, f"{server.url}/?node=ifc:no-such-asset")
    assert "node=ifc:no-such-asset" in page.locator(".twin-error").inner_text()
    assert shot(page, "unknown_node").std() > 20, "the park is drawn all the same"
