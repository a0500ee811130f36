"""The monthly energy report served: ``/api/energy``, ``/reports/energy/YYYY-MM.html|csv`` (the same
figures and files as ``twin energy``), and the report links of the ``/admin`` page."""
from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import DEMO, needs_chromium
from live.clock import ManualClock
from live.config import LiveSpec
from live.history import SqliteHistory
from live.runtime import Live, live_folder
from twin.cli import main
from twin.energy.meters import meter_tree
from twin.energy.monthly import recent_months
from twin.park import Park
from twin.scene import read_scene
from twin.web.access import audit_path
from twin.web.admin import AdminPage
from twin.web.server import BackgroundServer

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 10, 9, 0, tzinfo=SHANGHAI)  # the live clock: December; the report is of November
STEP = timedelta(minutes=15)
FACTOR = 0.5703


@pytest.fixture(scope="module")
def power_kw(demo) -> dict[str, float]:
    """Each meter's constant draw: 1 to 7 kW."""
    return {m.id: 1.0 + i % 7 for i, m in enumerate(meter_tree(demo).meters.values())}


@pytest.fixture(scope="module")
def live(demo, power_kw, twin_home):
    """The demo's live side (not started) over the history ``twin energy`` reads: readings every 15 min
    from 29 November 00:00 to 1 December 02:00 (48 hours of November)."""
    scene = read_scene(DEMO)
    folder = live_folder(scene.name)
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 11, 29, tzinfo=SHANGHAI)
    with SqliteHistory(folder / "history.sqlite", ManualClock(NOW), retention_days=3650) as history:
        for meter_id, kw in power_kw.items():
            for k in range(4 * 50 + 1):
                history.record(meter_id, "energy_kwh", 500.0 + kw * k / 4, start + k * STEP)
    live = Live(demo, scene.live, broker_url="mqtt://127.0.0.1:1", folder=folder, clock=ManualClock(NOW),
                energy=scene.energy)
    yield live
    live.history.close()


@pytest.fixture(scope="module")
def server(demo, live):
    with BackgroundServer(demo, live=live) as running:
        yield running


def fetch(server, path: str) -> tuple[int, str, bytes]:
    """Status, content type and body of a GET."""
    try:
        with urllib.request.urlopen(server.url + path, timeout=60) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_the_api_and_the_csv_are_what_twin_energy_prints_and_writes(server, demo, power_kw, tmp_path, capsys):
    status, kind, body = fetch(server, "/api/energy?month=2026-11")
    assert status == 200 and kind.startswith("application/json")
    served = json.loads(body)
    csv_path = tmp_path / "energy.csv"
    capsys.readouterr()
    assert main(["energy", str(DEMO), "--month", "2026-11", "--json", "--csv", str(csv_path)]) == 0
    assert served == json.loads(capsys.readouterr().out)
    assert served["park"]["kwh"] == pytest.approx(48 * power_kw["dev:EM-PARK"])

    status, kind, body = fetch(server, "/reports/energy/2026-11.csv")
    assert status == 200 and kind.startswith("text/csv") and body == csv_path.read_bytes()
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    tree = meter_tree(demo)
    buildings = [r for r in rows if r["kind"] == "building"]
    assert len(buildings) == len(served["buildings"]) == 10
    for row in buildings:
        kwh = float(row["kwh"])
        assert kwh == pytest.approx(48 * sum(power_kw[m.id] for m in tree.mains(row["id"])), abs=1e-3)
        assert float(row["tco2e"]) == pytest.approx(kwh * FACTOR / 1000, abs=1e-6)
        if row["submetered_kwh"]:
            assert float(row["submetered_kwh"]) + float(row["unmetered_kwh"]) == pytest.approx(kwh, abs=2e-3)


def test_the_html_report_and_the_current_month_by_the_live_clock(server, demo):
    status, kind, body = fetch(server, "/reports/energy/2026-11.html")
    page = body.decode("utf-8")
    assert status == 200 and kind.startswith("text/html")
    assert f"{demo.name} 2026-11" in page and "2026-12-10 09:00" in page  # the title; made by the live clock
    assert all(demo.get(b).name in page for b in meter_tree(demo).buildings())
    status, _, body = fetch(server, "/api/energy")
    assert status == 200 and json.loads(body)["start"] == "2026-12-01T00:00:00+08:00"


@pytest.mark.parametrize("path", ["/api/energy?month=2026-13", "/reports/energy/November.html"])
def test_a_bad_month_is_400_and_one_line(server, twin_home, path):
    status, kind, body = fetch(server, path)
    error = json.loads(body)["error"]
    assert status == 400 and kind.startswith("application/json")
    assert "not a month (write it YYYY-MM)" in error and len(error.splitlines()) == 1
    audit = audit_path().read_text(encoding="utf-8")
    assert '"action": "energy.read"' in audit


def test_a_park_without_meters_is_404_and_has_no_report_links(tmp_path):
    park = Park("无电表园区 No meters")
    live = Live(park, LiveSpec(), broker_url="mqtt://127.0.0.1:1", folder=tmp_path / "live", clock=ManualClock(NOW))
    try:
        with BackgroundServer(park, live=live) as server:
            status, _, body = fetch(server, "/reports/energy/2026-11.csv")
        assert status == 404 and json.loads(body) == {"error": f"{park.name}: no energy_meter devices in the park"}
        assert AdminPage(park, live, "en").energy is None
    finally:
        live.history.close()


def test_the_admin_page_links_the_report_of_a_chosen_month(demo, live):
    links = AdminPage(demo, live, "en").energy
    assert links.month.options == recent_months(NOW, SHANGHAI) and links.month.value == "2026-12"
    assert links.month.options[-1] == "2026-01"
    assert "href='/reports/energy/2026-12.html' target='_blank'" in links.links.object
    links.month.value = "2026-11"
    assert "href='/reports/energy/2026-11.csv'" in links.links.object and "Report (HTML)" in links.links.object


def test_recent_months_count_back_across_the_year_in_the_zone():
    at = datetime(2026, 1, 31, 16, 30, tzinfo=ZoneInfo("UTC"))  # already 1 February in Shanghai
    assert recent_months(at, SHANGHAI, 3) == ["2026-02", "2026-01", "2025-12"]


@needs_chromium
def test_the_admin_page_in_the_browser_opens_the_chosen_months_report(browser, server, demo):
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(f"{server.url}/admin?lang=en")
    page.locator(".twin-admin-energy a").first.wait_for(timeout=60_000)
    page.locator("select").filter(has_text="2026-11").select_option("2026-11")
    html = page.locator(".twin-admin-energy a", has_text="Report (HTML)")
    html.and_(page.locator("[href='/reports/energy/2026-11.html']")).wait_for(timeout=10_000)
    with page.expect_popup() as opened:
        html.click()
    report = opened.value
    report.wait_for_load_state()
    assert f"{demo.name} 2026-11" in report.title()
    page.close()
