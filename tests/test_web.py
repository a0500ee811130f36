"""The web layer: access and audit, the geometry route, and the app driven in headless Chromium."""
from __future__ import annotations

import gzip
import io
import json
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import panel as pn
import pytest
import pyvista as pv

from app import create_app
from conftest import needs_chromium
from live.clock import ManualClock
from live.config import LiveSpec
from live.runtime import Live
from twin.batches import MeshPart, merge
from twin.park import Node, Park
from twin.web.access import LOCAL, AccessDenied, Principal, audit_path, check
from twin.web.deltas import node_index
from twin.web.info import node_card
from twin.web.server import BackgroundServer
from twin.web.viewport import Viewport, browser_strings, manifest

SCREENSHOT = Path("/tmp/twin_web_viewport.png")
READY = "[data-twin-viewport][data-state=ready]"


def box(node_id: str, bounds: tuple[float, ...]) -> MeshPart:
    mesh = pv.Box(bounds=bounds).triangulate()
    return MeshPart(node_id, np.asarray(mesh.points, float), mesh.faces.reshape(-1, 4)[:, 1:])


def box_park() -> Park:
    """A storey of four corner towers round a central core (the node at the view's centre), in a hall."""
    park = Park("测试园区", origin_m=(500_000.0, 3_400_000.0, 0.0))
    x0, y0, _ = park.origin_m
    park.add(Node("ifc:site", "site", "场地", parent="park"))
    park.add(Node("ifc:b1", "building", "办公楼 A", parent="ifc:site"))
    park.add(Node("ifc:s1", "storey", "一层", parent="ifc:b1"))
    towers = []
    for i, (x, y) in enumerate([(0, 0), (30, 0), (0, 30), (30, 30)]):
        park.add(Node(f"ifc:w{i}", "element", f"角楼 {i}", parent="ifc:s1", ifc_class="IfcWall"))
        towers.append(box(f"ifc:w{i}", (x0 + x, x0 + x + 8, y0 + y, y0 + y + 8, 0, 6 + 3 * i)))
    park.add(Node("ifc:core", "element", "核心筒", parent="ifc:s1", ifc_class="IfcSlab",
                  long_name="中央<核心筒>",
                  properties_loader=lambda: {"Pset_SlabCommon": {"IsExternal": False, "Thickness": 0.25}}))
    park.add(Node("ifc:hall", "space", "大厅", parent="ifc:s1", ifc_class="IfcSpace"))
    o = park.origin_m
    park.batches = [
        merge("b1/s1/walls", "walls", "ifc:b1", "ifc:s1", towers, o),
        merge("b1/s1/slabs", "slabs", "ifc:b1", "ifc:s1", [box("ifc:core", (x0 + 10, x0 + 28, y0 + 10, y0 + 28, 0, 12))], o),
        merge("b1/s1/spaces", "spaces", "ifc:b1", "ifc:s1", [box("ifc:hall", (x0 - 5, x0 + 43, y0 - 5, y0 + 43, 0, 3))], o),
    ]
    return park


@pytest.fixture(scope="module")
def park() -> Park:
    return box_park()


@pytest.fixture(scope="module")
def server(park, twin_home):
    with BackgroundServer(park) as running:
        yield running


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET without raising on 3xx/4xx: (status, headers, body)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def audit_records() -> list[dict]:
    return [json.loads(line) for line in audit_path().read_text(encoding="utf-8").splitlines()]


# --- access and audit ----------------------------------------------------------------------------
def test_check_audits_allowed_and_denied(twin_home):
    check(LOCAL, "node.read", "ifc:x")
    with pytest.raises(AccessDenied):
        check(Principal("visitor", frozenset({"view.home"})), "node.read", "ifc:secret")
    *_, allowed, denied = audit_records()
    assert (allowed["user"], allowed["action"], allowed["target"], allowed["outcome"]) == \
        ("local", "node.read", "ifc:x", "allowed")
    assert (denied["user"], denied["target"], denied["outcome"]) == ("visitor", "ifc:secret", "denied")
    assert datetime.fromisoformat(denied["ts"]).tzinfo is not None


# --- manifest and info card ----------------------------------------------------------------------
def test_manifest_names_batches_by_url_without_geometry(park):
    entries = manifest(park.batches)
    assert [e["url"] for e in entries] == [f"/geometry/{b.digest}.bin" for b in park.batches]
    assert {e["category"]: e["opacity"] for e in entries}["spaces"] < 0.5
    assert len(json.dumps(entries)) < 2000  # a few hundred bytes per batch, whatever its size


def test_node_card_shows_path_and_properties_escaped(park):
    html = node_card(park, "ifc:core")
    assert "测试园区 › 场地 › 办公楼 A › 一层" in html
    assert "中央&lt;核心筒&gt;" in html and "<核心筒>" not in html
    assert "Pset_SlabCommon" in html and "0.25" in html


# --- geometry route ------------------------------------------------------------------------------
def test_geometry_route_serves_cacheable_batches(server, park):
    batch = park.batches[0]
    url = f"{server.url}/geometry/{batch.digest}.bin"
    status, headers, body = fetch(url)
    assert status == 200 and body == batch.payload
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Etag"] == f'"{batch.digest}"'

    status, headers, body = fetch(url, {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == batch.payload

    status, _, body = fetch(url, {"If-None-Match": f'"{batch.digest}"'})
    assert status == 304 and body == b""
    assert fetch(f"{server.url}/geometry/{'0' * 24}.bin")[0] == 404

    reads = [r for r in audit_records() if r["target"] == f"geometry/{batch.digest}"]
    assert len(reads) == 3 and all(r["action"] == "geometry.read" and r["user"] == "local" for r in reads)


# --- the app in a browser ------------------------------------------------------------------------


def open_app(browser, url: str):
    """(page, requested URLs, websocket frames received), once every batch is drawn."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    requests, frames = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(f)))
    page.goto(url + "/")
    page.wait_for_selector(READY, state="attached", timeout=30_000)
    return page, requests, frames


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)


@needs_chromium
@pytest.mark.browser
def test_app_draws_the_park_and_picks_a_node(browser, server, park):
    page, requests, frames = open_app(browser, server.url)
    viewport = page.locator("[data-twin-viewport]")
    assert viewport.get_attribute("data-loaded") == str(len(park.batches))
    page.screenshot(path=str(SCREENSHOT))
    drawn = pixels(viewport.screenshot())
    assert drawn.std() > 10 and len(np.unique(drawn.reshape(-1, 3), axis=0)) > 50

    box = viewport.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)
    card = page.locator("table.twin-node[data-node-id='ifc:core']")
    card.wait_for(timeout=10_000)
    assert "核心筒" in card.inner_text() and "IfcSlab" in card.inner_text()
    page.wait_for_timeout(300)
    r, g, b = pixels(page.screenshot())[int(y), int(x)]
    assert r > 100 and 0.75 * r < g < 1.1 * r and b < 0.4 * g, f"the picked node is highlighted in yellow, not {(r, g, b)}"
    assert any(rec["action"] == "node.read" and rec["target"] == "ifc:core" for rec in audit_records())

    page.get_by_role("button").first.click()  # home view: no error, scene still drawn
    assert page.locator(READY).count() == 1

    local = [u for u in requests if not u.startswith(("blob:", "data:"))]
    assert local and all(u.startswith(server.url + "/") for u in local), "no CDN, nothing off the host"
    received = b"".join(f if isinstance(f, bytes) else f.encode() for f in frames)
    assert b'"n_points":' not in received, "no batch header crosses the websocket"
    for batch in park.batches:
        header_length = int.from_bytes(batch.payload[4:8], "little")
        assert batch.payload[8 + header_length:8 + header_length + 36] not in received, "nor its points"
    page.close()


@needs_chromium
@pytest.mark.browser
def test_app_on_an_imported_ifc_house(browser, twin_home, sample):
    from ifc.importer import import_ifc

    park = import_ifc(sample("AC20-FZK-Haus.ifc"))
    with BackgroundServer(park) as running:
        page, _, _ = open_app(browser, running.url)
        viewport = page.locator("[data-twin-viewport]")
        assert pixels(viewport.screenshot()).std() > 10
        box = viewport.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        card = page.locator("table.twin-node")
        card.wait_for(timeout=10_000)
        node = park.get(card.get_attribute("data-node-id"))
        assert node.name in card.inner_text()
        page.close()


def test_every_node_kind_has_a_label_in_both_languages():
    from twin.park import KINDS
    from twin.web.messages import MESSAGES

    for lang in ("zh", "en"):
        assert all(f"kind.{kind}" in MESSAGES[lang] for kind in KINDS), lang


@needs_chromium
@pytest.mark.browser
def test_deltas_recolour_blink_and_hide_nodes_without_geometry(browser, park, twin_home):
    """Python styles nodes of a drawn park through small messages; the browser blinks them itself."""
    sessions: list[tuple[Viewport, object]] = []

    def page_of_one_viewport() -> Viewport:
        viewport = Viewport(node_index(park), batches=manifest(park.batches), strings=browser_strings(),
                            sizing_mode="stretch_both", min_height=600)
        sessions.append((viewport, pn.state.curdoc))
        return viewport

    with BackgroundServer(park, page=page_of_one_viewport) as running:
        page, _, frames = open_app(browser, running.url)
        viewport, doc = sessions[0]
        root = page.locator("[data-twin-viewport]")
        box = root.bounding_box()
        x, y = int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] / 2)

        def centre() -> np.ndarray:
            return pixels(page.screenshot())[y, x]

        def send(change) -> None:
            doc.add_next_tick_callback(change)
            page.wait_for_timeout(700)

        before = len(frames)
        send(lambda: viewport.style(["ifc:core"], rgb=(0, 0, 255)))
        blue = centre()
        r, g, b = blue
        assert b > 100 and b > 2 * r and b > 2 * g, f"the core turned blue, not {(r, g, b)}"
        sent = b"".join(f if isinstance(f, bytes) else f.encode() for f in frames[before:])
        assert b'["op","style"]' in sent and len(sent) < 2000, "a small message, no geometry"

        send(lambda: viewport.style(["ifc:core"], blink=True))
        seen = set()
        for _ in range(8):
            r, g, b = centre()
            seen.add("blue" if b > 2 * r else "red" if r > 2 * b else "other")
            page.wait_for_timeout(110)
        assert {"blue", "red"} <= seen, f"blinking between its colour and red in the browser: {seen}"

        send(lambda: viewport.style(["ifc:core"], visible=False, blink=False))
        behind = centre()
        assert np.abs(behind - blue).sum() > 80 and not behind[0] > 2 * behind[2], \
            f"the core is hidden: {behind} shows what lies behind it"
        page.screenshot(path=str(SCREENSHOT.with_name("twin_web_deltas.png")))
        page.close()


@needs_chromium
@pytest.mark.browser
def test_the_app_follows_the_live_state(browser, park, twin_home):
    """A status set in the State (as ingest and alarm rules do) reaches the viewport within a pull."""
    live = Live(park, LiveSpec(), broker_url="mqtt://127.0.0.1:1", folder=twin_home / "live-box",
                clock=ManualClock(datetime(2026, 11, 21, tzinfo=timezone.utc)))  # not started: no broker needed
    state = live.state

    def live_app():
        return create_app(park, {}, live)

    with BackgroundServer(park, page=live_app) as running:
        page, _, _ = open_app(browser, running.url)
        box = page.locator("[data-twin-viewport]").bounding_box()
        x, y = int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] / 2)
        base = pixels(page.screenshot())[y, x]
        state.set_status("ifc:core", "alarm")
        reds = 0
        for _ in range(12):
            page.wait_for_timeout(150)
            r, g, b = pixels(page.screenshot())[y, x]
            reds += r > 80 and r > 2.5 * g and r > 2.5 * b
        assert reds >= 10, f"the alarmed core turns red, blinking red on red ({reds} of 12 frames red)"
        state.set_status("ifc:core", "normal")
        page.wait_for_timeout(800)
        assert np.abs(pixels(page.screenshot())[y, x] - base).sum() < 30, "back to its own colour"
        page.close()
