"""Work orders in the app: raised from an alarm row in one click, moved and noted in the orders panel
with every time from the clock, and the whole round in headless Chromium against a real Mosquitto.

The screenshot is kept in ``tests/artifacts/workorder.png`` (look at it).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape

import pytest

from conftest import DEMO, needs_chromium
from live.clock import ManualClock
from live.runtime import Live
from test_live_app import ARTIFACTS, DETECTOR, READY, get_json, needs_clients, now_iso, publish, wait_for
from twin.scene import read_scene
from twin.web.access import Principal, audit_path
from twin.web.alarm_list import AlarmList
from twin.web.live_card import LiveCard, local_naive
from twin.web.workorder_panel import WorkOrderPanel

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SMOKE = f"dev:{DETECTOR}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def idle(demo, twin_home, tmp_path, clock) -> Iterator[Live]:
    """The demo's live side on a manual clock, not started (no broker: the test raises the alarms)."""
    live = Live(demo, read_scene(DEMO).live, broker_url="mqtt://127.0.0.1:1", folder=tmp_path / "live", clock=clock)
    yield live
    live.stop()


def raise_smoke(live: Live):
    return live.alarms.raise_alarm("smoke", SMOKE, "smoke", "critical", {"zh": "烟感报警", "en": "Smoke detected"},
                                   True, live.clock.now())


def button(panel: WorkOrderPanel, label: str):
    return next(b for b in panel.moves if b.label == label)


def audited(action: str, target: str) -> bool:
    records = [json.loads(line) for line in audit_path().read_text(encoding="utf-8").splitlines()]
    return any(r["action"] == action and r["target"] == target and r["outcome"] == "allowed" for r in records)


# --- Python: the alarm list and the orders panel over a live side on a manual clock --------------------
def test_one_click_raises_one_order_linked_to_the_alarm(idle):
    alarm = raise_smoke(idle)
    chosen = []
    alarms = AlarmList(idle, chosen.append, "en")
    assert alarms.to_order.disabled, "nothing chosen yet"
    alarms.table.selection = [0]
    assert chosen == [alarm] and not alarms.to_order.disabled
    alarms.to_order.clicks += 1
    (order,) = idle.workorders.list()
    assert (order.alarm_id, order.node, order.source, order.priority, order.created_by) == (
        alarm.id, SMOKE, "alarm", "urgent", "local")
    assert alarms.notice.object == f"Work order #{order.id} raised"
    assert f"order #{order.id} Open" in alarms.table.value.loc[0, "state"]
    assert audited("workorder.write", "workorders")

    alarms.table.selection = [0]
    assert alarms.to_order.disabled, "the alarm has its pending order"
    alarms.raise_order()  # a second click (a stale button) gives the same order
    assert [o.id for o in idle.workorders.list()] == [order.id]


def test_the_panel_moves_an_order_with_times_from_the_clock_and_refuses_in_one_line(idle, clock):
    order = idle.workorders.from_alarm(raise_smoke(idle), by="local", team="security")
    located: list[str] = []
    panel = WorkOrderPanel(idle, located.append, "en")
    row = panel.table.value.iloc[0]
    assert (row["id"], row["who"], row["status"], row["response"]) == (order.id, "Security patrol", "Open", "—")
    panel.table.selection = [0]
    assert located == [SMOKE], "choosing the order shows its asset"
    assert f"data-order='{order.id}'" in panel.detail.object
    assert [b.label for b in panel.moves] == ["→ Acknowledged", "→ In progress", "→ Resolved", "→ Cancelled"]

    clock.advance(90)
    button(panel, "→ Acknowledged").clicks += 1
    assert idle.workorders.get(order.id).response_s == 90.0
    assert panel.table.value.loc[0, "response"] == "1 min 30 s" and panel.table.selection == [0]
    assert located == [SMOKE], "a redraw does not fly the camera again"
    resolve = button(panel, "→ Resolved")
    panel.note.value = "到场，探头积尘"
    panel.add_note.clicks += 1
    assert idle.workorders.get(order.id).notes[-1]["text"] == "到场，探头积尘" and panel.note.value == ""
    assert "到场，探头积尘" in panel.detail.object

    idle.workorders.update(order.id, status="cancelled", by="another")  # someone else, meanwhile
    resolve.clicks += 1  # the button drawn before that
    assert panel.notice.object.count("<span") == 1 and "\n" not in panel.notice.object
    assert f"work order {order.id} cannot go from cancelled to resolved" in panel.notice.object
    assert idle.workorders.get(order.id).status == "cancelled"
    panel.pull()
    assert len(panel.table.value) == 0, "cancelled: no longer pending"
    assert "Cancelled" in panel.detail.object and not panel.moves.objects, "the detail stays, with no moves left"
    assert audited("workorder.write", f"workorder/{order.id}")

    panel.shown.value = "all"
    assert panel.table.selection == [0] and len(panel.table.value) == 1, "all orders: the chosen one again"
    stats = panel.stats.object
    assert "2026-03" in stats and "Security patrol" in stats and stats.count("1 min 30 s") == 2, "mean and median"


def test_a_new_order_from_the_form_and_refusals_in_one_line(idle, monkeypatch):
    panel = WorkOrderPanel(idle, lambda _node: None, "en")
    panel.offer(SMOKE)
    panel.create_button.clicks += 1
    assert "title: missing" in panel.form_notice.object and not idle.workorders.list()
    panel.title.value, panel.node.value, panel.new_team.value = "探头更换", "dev:NOPE", "engineering"
    panel.create_button.clicks += 1
    assert "node: no node 'dev:NOPE' in the park" in unescape(panel.form_notice.object)
    panel.node.value = SMOKE
    panel.create_button.clicks += 1
    (order,) = idle.workorders.list()
    assert (order.title, order.node, order.team, order.created_at) == ("探头更换", SMOKE, "engineering", T0)
    assert panel.form_notice.object == f"Work order #{order.id} raised"
    assert f"#{order.id} 探头更换" in panel.detail.object

    monkeypatch.setattr("twin.web.workorder_panel.current_principal",
                        lambda: Principal("guest", frozenset({"workorder.read"})))
    button(panel, "→ In progress").clicks += 1
    assert "guest may not workorder.write on workorder/" in panel.notice.object
    assert idle.workorders.get(order.id).status == "open"


def test_the_asset_card_shows_response_and_resolution_as_they_come(idle, clock):
    order = idle.workorders.create("更换探头", SMOKE, by="local")
    card = LiveCard(idle, "en")
    card.show(SMOKE)
    card.pull_orders()
    assert "<td>Open</td><td>—</td><td>—</td>" in card.orders.object
    clock.advance(7530)
    idle.workorders.update(order.id, status="resolved", by="local")
    card.pull_orders()
    created = f"{local_naive(T0):%m-%d %H:%M}"
    assert re.search(rf"<tr data-order='{order.id}'>.*>{created}<.*<td>2 h 5 min</td><td>2 h 5 min</td></tr>",
                     card.orders.object)
    assert "<th>Response</th><th>Resolution</th>" in card.orders.object


# --- the app in the browser ----------------------------------------------------------------------
@needs_chromium
@needs_clients
@pytest.mark.browser
def test_from_an_alarm_to_an_order_to_its_asset_in_the_app(browser, server, live):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(server.url)
    page.wait_for_selector(READY, state="attached", timeout=180_000)
    page.wait_for_timeout(1000)
    publish(live.url, f"park/{DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "smoke": True}))
    row = page.locator(".twin-alarms .tabulator-row", has_text="烟感报警").first
    row.wait_for(timeout=15_000)
    row.click()
    page.locator(".twin-raise-order button", has_text="生成工单").click()
    order = wait_for(lambda: live.workorders.list(source="alarm"), what="the alarm's order")[0]
    wait_for(lambda: f"工单 #{order.id} 待处理" in row.inner_text(), what="the row names its order")

    page.locator(".twin-order-card .card-header").click()
    listed = page.locator(".twin-orders-table .tabulator-row", has_text=order.title)
    listed.wait_for(timeout=10_000)
    listed.click()
    page.locator(f".twin-order-detail h4[data-order='{order.id}']").wait_for(timeout=10_000)
    page.locator(".twin-order-move button", has_text="→ 已响应").click()
    record = wait_for(lambda: [o for o in get_json(f"{server.url}/api/workorders")
                               if o["id"] == order.id and o["status"] == "acknowledged"], what="acknowledged")[0]
    assert record["response_s"] is not None and record["alarm_id"] == order.alarm_id
    page.locator(".twin-order-status[data-status=acknowledged]").wait_for(timeout=10_000)
    page.locator(f".twin-orders tr[data-order='{order.id}']", has_text="已响应").wait_for(timeout=10_000)
    page.locator("[data-twin-pin]").wait_for(state="attached", timeout=15_000)
    page.wait_for_timeout(1500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "workorder.png"))
    page.locator(".twin-order-tabs .bk-tab", has_text="统计").click()
    page.locator(".twin-order-stats td", has_text="秒").first.wait_for(timeout=10_000)
    publish(live.url, f"park/{DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "smoke": False}))
    page.close()


def test_the_shown_asset_filters_the_orders_to_it_and_what_lies_below_it(idle, demo):
    room = demo.ancestor(SMOKE, "space").id
    elsewhere = next(d.id for d in demo.of_kind("device") if demo.ancestor(d.id, "building")
                     != demo.ancestor(SMOKE, "building"))
    mine = idle.workorders.create("检查烟感", SMOKE, by="local")
    idle.workorders.create("别处", elsewhere, by="local")
    located = []
    panel = WorkOrderPanel(idle, located.append, "en")
    panel.shown.value = "asset"
    assert panel.rows == [], "no asset shown yet"
    panel.offer(room)
    assert [o.id for o in panel.rows] == [mine.id] and panel.node.value == room
    panel.table.selection = [0]
    assert located == [SMOKE], "choosing the order flies to its asset"
