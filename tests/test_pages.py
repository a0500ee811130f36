"""Each role's page in headless Chromium holds what that role works with, and nothing it does not:
the workstation (``/``), command, tour, maintenance and administration pages of the demo park."""
from __future__ import annotations

import pytest

from conftest import needs_chromium
from test_live_app import READY

PARTS = {"drill": ".twin-drill-card", "alarms": ".twin-alarm-card", "orders": ".twin-order-card",
         "tours": ".twin-tour", "shade": ".twin-shade"}
PAGES = {
    "/": {"drill", "alarms", "orders", "tours", "shade"},
    "/command": {"drill", "alarms"},
    "/tour": {"tours"},
    "/maintenance": {"alarms", "orders", "shade"},
}


@needs_chromium
@pytest.mark.parametrize("path", PAGES)
def test_each_role_page_holds_its_parts_and_no_others(browser, server, path):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{server.url}{path}")
    page.wait_for_selector(READY, state="attached", timeout=180_000)
    present = {part for part, selector in PARTS.items() if page.locator(selector).count()}
    menu = page.locator(".twin-menu").all_inner_texts()
    page.close()
    assert present == PAGES[path]
    assert len(menu) == (4 if path == "/tour" else 5), f"the menu leads to the other pages: {menu}"


@needs_chromium
def test_the_admin_page_shows_the_scene_devices_and_diagnostics(browser, server, live, demo):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{server.url}/admin?lang=en")
    devices = page.locator(".twin-admin-devices")
    devices.wait_for(timeout=60_000)
    row = devices.locator("tr", has_text="smoke_detector").inner_text().split()
    smoke = sum(d.properties["device"]["type"] == "smoke_detector" for d in demo.of_kind("device"))
    assert row[:2] == ["smoke_detector", str(smoke)]
    kinds = page.locator(".twin-admin-kinds").inner_text()
    assert f"device\t{len(demo.of_kind('device'))}" in kinds
    page.locator(".twin-diag-summary").wait_for(timeout=10_000)
    page.close()
