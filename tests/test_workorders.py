"""Work orders (工单): the book (moves, response and resolution times, attachments, stats, the journal),
orders from alarms (by hand, and by a rule through a real Mosquitto), inspection rounds on a schedule,
and the REST API on a real server, audited."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from paho.mqtt import publish

from live.alarms import AlarmBook
from live.clock import ManualClock
from live.inspections import MAX_CATCH_UP, InspectionSpec, due, inspection_problems, run_inspections
from live.runtime import Live
from live.workorders import MAX_ATTACHMENT_BYTES, UnknownOrder, WorkOrderBook, open_on_alarm
from twin.errors import InputError
from twin.park import Node, Park, PropertySet
from twin.scene import SceneError, read_scene
from twin.teams import TeamSpec
from twin.web.access import audit_path
from twin.web.server import BackgroundServer

T0 = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
BUILDING, ROOM, SMOKE, LIGHT = "ifc:B1", "ifc:R101", "dev:SD-101", "dev:SL-1"
HEAD = 'name = "工单园区"\ncrs = "EPSG:4549"\norigin = [640060.0, 3457410.0, 4.0]\n'
LIVE = ('[[live.device_types]]\ntype = "smoke_detector"\n[live.device_types.metrics.smoke]\nkind = "boolean"\n'
        '[[live.bindings]]\ntopic = "park/{device}/telemetry"\n'
        '[[live.rules]]\nkey = "smoke"\ndevice_type = "smoke_detector"\nmetric = "smoke"\nequals = true\n'
        'severity = "critical"\nmessage = { zh = "烟感报警", en = "Smoke detected" }\nworkorder = "high"\n')
ROUND = ('[[inspections]]\nkey = "fire-kit"\ntitle = "消防设施巡检"\nroute = ["ifc:R101", "dev:SD-101"]\n'
         'assignee = "王工"\nteam = "engineering"\nchecklist = ["灭火器压力正常", "消火栓无遮挡"]\nevery_h = 8\n'
         'start = 2026-01-01T08:00:00+08:00\n')


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def wait_for(condition: Callable[[], object], timeout_s: float = 10.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout_s
    while not (found := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not met within {timeout_s} s")
        time.sleep(0.05)
    return found


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def book(tmp_path, clock) -> WorkOrderBook:
    return WorkOrderBook(tmp_path / "workorders.sqlite", clock)


def new(book: WorkOrderBook, **fields) -> int:
    fields = {"title": "更换灯具", "node": LIGHT, "priority": "normal", "by": "local", **fields}
    return book.create(fields.pop("title"), fields.pop("node"), fields.pop("priority"), **fields).id


# --- the book -----------------------------------------------------------------------------------------
def test_an_order_moves_to_closed_and_its_response_and_resolution_come_from_the_clock(book, clock):
    order = book.get(new(book, assignee="张工", team="engineering"))
    assert (order.status, order.source, order.created_at, order.pending) == ("open", "manual", T0, True)
    assert order.response_s is None and order.resolution_s is None
    clock.advance(300)
    acked = book.update(order.id, status="acknowledged", by="张工")
    assert (acked.acknowledged_at, acked.response_s) == (at(300), 300.0)
    clock.advance(1200)
    working = book.update(order.id, status="in_progress", note="到场，灯具烧毁", by="张工")
    assert working.acknowledged_at == at(300), "the response is the first move past open"
    assert working.notes == [{"at": at(1500).isoformat(), "by": "张工", "text": "到场，灯具烧毁"}]
    clock.advance(1800)
    resolved = book.update(order.id, status="resolved", by="张工")
    assert (resolved.resolved_at, resolved.resolution_s, resolved.pending) == (at(3300), 3300.0, False)
    clock.advance(60)
    closed = book.update(order.id, status="closed", by="主管")
    assert closed.closed_at == at(3360) and closed.record()["response_s"] == 300.0
    assert json.loads(json.dumps(closed.record(), ensure_ascii=False))["resolution_s"] == 3300.0


def test_illegal_moves_are_refused_naming_the_order_and_both_statuses(book, clock):
    order_id = new(book)
    with pytest.raises(InputError, match=rf"^status: work order {order_id} cannot go from open to closed "
                                         r"\(from open: acknowledged, in_progress, resolved, cancelled\)$"):
        book.update(order_id, status="closed", by="local")
    clock.advance(60)
    skipped = book.update(order_id, status="resolved", by="local")  # skipping ahead answers and resolves
    assert skipped.acknowledged_at == skipped.resolved_at == at(60)
    clock.advance(60)
    reopened = book.update(order_id, status="in_progress", note="复发", by="local")
    assert reopened.resolved_at is None and reopened.acknowledged_at == at(60)
    book.update(order_id, status="cancelled", by="local")
    with pytest.raises(InputError, match=f"work order {order_id} cannot go from cancelled to open "
                                         r"\(from cancelled: none, it is finished\)"):
        book.update(order_id, status="open", by="local")
    cancelled = book.get(new(book))
    assert book.update(cancelled.id, status="cancelled", by="local").acknowledged_at is None
    with pytest.raises(InputError, match="status: no status 'done'"):
        book.update(order_id, status="done", by="local")
    with pytest.raises(InputError, match="nothing to change"):
        book.update(order_id, by="local")
    with pytest.raises(UnknownOrder, match="no work order '99'"):
        book.update("99", status="resolved", by="local")
    with pytest.raises(InputError, match="priority: no priority 'asap'"):
        new(book, priority="asap")
    with pytest.raises(InputError, match="title: missing"):
        new(book, title=" ")


def test_assignee_notes_and_checklist_ticks(book):
    order_id = new(book, checklist=["断电", "更换", "试亮"])
    order = book.update(order_id, assignee="李工", checklist=[True, True, False], by="local")
    assert order.assignee == "李工" and [c["done"] for c in order.checklist] == [True, True, False]
    with pytest.raises(InputError, match="checklist: work order 1 has 3 items"):
        book.update(order_id, checklist=[True], by="local")


def test_attachments_are_saved_under_the_order_with_safe_names(book, tmp_path):
    order_id = new(book)
    book.attach(order_id, "现场 photo (1).jpg", b"\xff\xd8jpeg", by="张工")
    book.attach(order_id, "../../etc/passwd", b"root", by="张工")
    order = book.attach(order_id, "现场 photo (1).jpg", b"again", by="张工")
    names = [a["name"] for a in order.attachments]
    assert names == ["现场_photo_1_.jpg", "passwd", "现场_photo_1_-2.jpg"]
    assert order.attachments[0]["path"] == f"attachments/{order_id}/现场_photo_1_.jpg"
    assert (tmp_path / "attachments" / str(order_id) / "现场_photo_1_.jpg").read_bytes() == b"\xff\xd8jpeg"
    assert book.attachment(order_id, "passwd").read_bytes() == b"root"
    assert not (tmp_path / "etc").exists()
    with pytest.raises(InputError, match=f"attachment: {MAX_ATTACHMENT_BYTES + 1} bytes is over the limit"):
        book.attach(order_id, "big.bin", bytes(MAX_ATTACHMENT_BYTES + 1), by="张工")
    with pytest.raises(InputError, match="attachment: the file is empty"):
        book.attach(order_id, "empty.txt", b"", by="张工")
    with pytest.raises(InputError, match="an in-memory book keeps no attachments"):
        WorkOrderBook(None, ManualClock(T0)).attach(1, "a.txt", b"x", by="local")


def test_the_book_survives_a_restart(tmp_path, clock):
    book = WorkOrderBook(tmp_path / "w.sqlite", clock)
    first = new(book, checklist=["a"])
    book.update(first, status="acknowledged", note="收到", by="local")
    book.close()
    again = WorkOrderBook(tmp_path / "w.sqlite", clock)
    assert again.get(first).record() == book.get(first).record()
    assert new(again) == first + 1


def test_list_filters_and_orders_below_an_asset(book, clock):
    park = Park("p")
    park.add(Node(BUILDING, "building", parent="park"))
    park.add(Node(ROOM, "space", parent=BUILDING))
    park.add(Node(SMOKE, "device", parent=ROOM))
    light, smoke = new(book), new(book, node=SMOKE, assignee="王工")
    clock.advance(10)
    room = new(book, node=ROOM, source="inspection")
    book.update(light, status="resolved", by="local")
    assert [o.id for o in book.list()] == [room, smoke, light]
    assert [o.id for o in book.list(pending=True)] == [room, smoke]
    assert [o.id for o in book.list(status=["resolved", "closed"])] == [light]
    assert [o.id for o in book.list(node_prefix="dev:SD")] == [smoke]
    assert [o.id for o in book.list(assignee="王工")] == [smoke]
    assert [o.id for o in book.list(source="inspection")] == [room]
    assert [o.id for o in book.list(since=at(5))] == [room]
    assert [o.id for o in book.for_node(ROOM)] == [room]
    assert [o.id for o in book.for_node(BUILDING, park)] == [room, smoke]
    with pytest.raises(InputError, match="source: no source 'phone'"):
        book.list(source="phone")


def test_stats_per_team_and_month_from_the_clock(book, clock):
    def order(team: str, response_s: float, resolution_s: float | None) -> None:
        order_id = new(book, team=team, assignee=f"{team}-1")
        clock.advance(response_s)
        book.update(order_id, status="acknowledged", by="local")
        if resolution_s is not None:
            clock.advance(resolution_s - response_s)
            book.update(order_id, status="resolved", by="local")

    order("engineering", 60, 600)   # created 03-31 22:00
    order("engineering", 180, 1200)  # 03-31 22:10
    order("security", 30, None)  # 03-31 22:30
    clock.advance(2 * 3600)  # into April
    order("engineering", 120, None)
    rows = book.stats()
    assert [(r["period"], r["team"], r["count"], r["pending"]) for r in rows] == [
        ("2026-03", "engineering", 2, 0), ("2026-03", "security", 1, 1), ("2026-04", "engineering", 1, 1)]
    march = rows[0]
    assert (march["mean_response_s"], march["median_response_s"]) == (120.0, 120.0)
    assert (march["mean_resolution_s"], march["resolved"]) == (900.0, 2)
    assert rows[1]["mean_resolution_s"] is None and rows[1]["responded"] == 1
    assert [r["assignee"] for r in book.stats(by="assignee", period="day")] == [
        "engineering-1", "security-1", "engineering-1"]
    with pytest.raises(InputError, match="by: no grouping 'floor'"):
        book.stats(by="floor")


# --- from alarms ------------------------------------------------------------------------------------
def test_an_alarm_becomes_one_pending_order(book, clock):
    alarms = AlarmBook(None, clock)
    alarm = alarms.raise_alarm("smoke", SMOKE, "smoke", "critical", {"zh": "烟感报警"}, True, T0)
    order = book.from_alarm(alarm, by="local")
    assert (order.source, order.alarm_id, order.node, order.priority) == ("alarm", alarm.id, SMOKE, "urgent")
    assert order.title == f"烟感报警 · {SMOKE}"
    assert book.from_alarm(alarm, "low", by="local").id == order.id, "raising twice gives the pending one"
    book.update(order.id, status="resolved", by="local")
    assert book.from_alarm(alarm, by="local").id != order.id, "after resolution a recurrence opens another"


def test_a_rule_with_a_priority_opens_orders_on_its_alarms(book, clock):
    alarms = AlarmBook(None, clock)
    open_on_alarm(book, alarms, {"smoke": "high"})
    smoke = alarms.raise_alarm("smoke", SMOKE, "smoke", "critical", {"en": "Smoke"}, True, T0)
    alarms.raise_alarm("hot", "dev:TS-1", "temperature", "minor", {}, 40.0, T0)
    alarms.raise_alarm("smoke", SMOKE, "smoke", "critical", {"en": "Smoke"}, True, at(5))  # a repeat
    (order,) = book.list()
    assert (order.alarm_id, order.priority, order.source, order.created_by) == (smoke.id, "high", "alarm", "rule:smoke")


# --- inspections ------------------------------------------------------------------------------------
EVERY_8H = InspectionSpec("fire-kit", "消防设施巡检", (ROOM, SMOKE), "王工", 8.0, ("灭火器压力正常",), "engineering",
                          datetime.fromisoformat("2026-01-01T08:00:00+08:00"))


def test_due_gives_each_period_begun_once(book, clock):
    start = EVERY_8H.start
    assert due([EVERY_8H], {}, start - timedelta(seconds=1)) == []
    assert due([EVERY_8H], {}, T0) == [(EVERY_8H, datetime.fromisoformat("2026-04-01T00:00:00+08:00"))]
    (first,) = run_inspections(book, [EVERY_8H], T0)
    assert (first.source, first.inspection, first.node, first.route) == ("inspection", "fire-kit", ROOM, [ROOM, SMOKE])
    assert (first.assignee, first.team, first.checklist) == ("王工", "engineering", [{"item": "灭火器压力正常", "done": False}])
    assert first.title == "消防设施巡检 2026-04-01 00:00" and first.due_at == at(-6 * 3600)
    assert run_inspections(book, [EVERY_8H], at(60)) == [], "the same period: no second order"
    later = run_inspections(book, [EVERY_8H], at(24 * 3600))
    assert [o.title[-16:] for o in later] == ["2026-04-01 08:00", "2026-04-01 16:00", "2026-04-02 00:00"]
    assert run_inspections(book, [EVERY_8H], at(24 * 3600)) == []
    assert len(book.list(source="inspection")) == 4
    # the same period asked for again, e.g. by a second server racing the first: the order there is
    assert book.create("x", ROOM, by="inspection", inspection="fire-kit", due_at=first.due_at).id == first.id
    assert len(run_inspections(book, [EVERY_8H], at(30 * 24 * 3600))) == MAX_CATCH_UP


def test_inspections_are_read_from_the_scene_and_checked_on_the_park(tmp_path):
    (tmp_path / "scene.toml").write_text(HEAD + ROUND, encoding="utf-8")
    (spec,) = read_scene(tmp_path).inspections
    assert spec == replace(EVERY_8H, checklist=("灭火器压力正常", "消火栓无遮挡"))
    park = Park("p")
    park.add(Node(ROOM, "space", parent="park"))
    assert inspection_problems([spec], [], park, tmp_path / "scene.toml") == [
        f"{tmp_path / 'scene.toml'}: inspections[0].route[1]: no node '{SMOKE}' in the park",
        f"{tmp_path / 'scene.toml'}: inspections[0].team: no team 'engineering' in [[teams]]"]
    team = TeamSpec("engineering", "工程部", "engineering", ROOM)
    park.add(Node(SMOKE, "device", parent=ROOM))
    assert inspection_problems([spec], [team], park, tmp_path / "scene.toml") == []


@pytest.mark.parametrize("change, problem", [
    (("every_h = 8", "every_h = 0"), "inspections[0].every_h: must be more than 0, not 0"),
    (("start = 2026-01-01T08:00:00+08:00", "start = 2026-01-01T08:00:00"),
     "inspections[0].start: 2026-01-01T08:00:00 needs a UTC offset"),
    (("start = 2026-01-01T08:00:00+08:00", 'start = "soon"'), "inspections[0].start: must be an ISO 8601 time"),
    (('route = ["ifc:R101", "dev:SD-101"]', "route = []"), "inspections[0].route: must be a non-empty list"),
    (('assignee = "王工"\n', ""), "inspections[0].assignee: missing"),
    (("every_h = 8", "every_h = 8\nevery_d = 1"), "inspections[0].every_d: unknown key"),
    (('key = "fire-kit"', 'key = "fire kit"'), "inspections[0].key: 'fire kit': use letters"),
])
def test_each_inspection_problem_is_one_line_naming_file_and_field(tmp_path, change, problem):
    file = tmp_path / "scene.toml"
    file.write_text(HEAD + ROUND.replace(*change), encoding="utf-8")
    with pytest.raises(SceneError) as caught:
        read_scene(file)
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(f"{file}: {problem}"), caught.value.problems


# --- live: a real broker, a real server ---------------------------------------------------------------
def orders_park() -> Park:
    park = Park("工单园区", origin_m=(640060.0, 3457410.0, 4.0), crs="EPSG:4549")
    park.add(Node(BUILDING, "building", "1号楼", parent="park", bounds_m=(0.0, 0.0, 0.0, 20.0, 10.0, 12.0)))
    park.add(Node(ROOM, "space", "101", parent=BUILDING, bounds_m=(0.0, 0.0, 0.0, 6.0, 4.0, 3.0)))
    park.add(Node(SMOKE, "device", "烟感", parent=ROOM, code="SD-101", links={"host": ROOM},
                  bounds_m=(2.0, 2.0, 2.8, 2.2, 2.2, 3.0),
                  properties_loader=PropertySet("device", {"code": "SD-101", "type": "smoke_detector"})))
    return park


@pytest.fixture(scope="module")
def live(mosquitto, twin_home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("scene")
    (folder / "scene.toml").write_text(HEAD + LIVE + ROUND, encoding="utf-8")
    scene = read_scene(folder)
    assert scene.live.rules[0].workorder == "high"
    with Live(orders_park(), scene.live, broker_url=mosquitto.url, folder=tmp_path_factory.mktemp("live"),
              clock=ManualClock(T0), inspections=scene.inspections) as running:
        assert running.ingest.wait_ready(10)
        yield running


@pytest.fixture(scope="module")
def server(live):
    with BackgroundServer(live.park, live=live) as running:
        yield running


def call(server, path: str, body: dict | bytes | None = None) -> tuple[int, object]:
    """GET (no body) or POST (a JSON object, or raw bytes): (status, decoded JSON)."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def audited(action: str, target: str) -> bool:
    records = [json.loads(line) for line in audit_path().read_text(encoding="utf-8").splitlines()]
    return any(r["action"] == action and r["target"] == target and r["outcome"] == "allowed" for r in records)


def test_a_smoke_alarm_through_mosquitto_becomes_an_order_answered_over_rest(server, live, mosquitto):
    clock = live.clock
    publish.single("park/SD-101/telemetry", json.dumps({"smoke": True}), qos=1,
                   hostname=mosquitto.host, port=mosquitto.port)
    alarm = wait_for(lambda: live.alarms.list(active=True), what="the smoke alarm")[0]
    order = wait_for(lambda: live.workorders.list(source="alarm"), what="the rule's work order")[0]
    assert (order.alarm_id, order.node, order.priority, order.status) == (alarm.id, SMOKE, "high", "open")
    assert order.created_at == T0

    status, listed = call(server, "/api/workorders?source=alarm&open=1")
    assert status == 200 and [o["id"] for o in listed] == [order.id]
    status, same = call(server, "/api/workorders", {"alarm_id": alarm.id, "note": "值班室确认"})
    assert status == 201 and same["id"] == order.id and same["notes"][0]["by"] == "local"

    clock.advance(90)
    status, acked = call(server, f"/api/workorders/{order.id}", {"status": "acknowledged", "assignee": "王工"})
    assert status == 200 and (acked["response_s"], acked["assignee"]) == (90.0, "王工")
    clock.advance(600)
    call(server, f"/api/workorders/{order.id}", {"status": "in_progress", "note": "到场"})
    status, resolved = call(server, f"/api/workorders/{order.id}", {"status": "resolved"})
    assert (status, resolved["resolution_s"], resolved["resolved_at"]) == (200, 690.0, at(690).isoformat())
    status, refused = call(server, f"/api/workorders/{order.id}", {"status": "acknowledged"})
    assert status == 400 and refused["error"].startswith(f"status: work order {order.id} cannot go from resolved")
    assert call(server, f"/api/workorders/{order.id}", {"status": "closed"})[0] == 200
    assert audited("workorder.write", f"workorder/{order.id}") and audited("workorder.write", "workorders")
    assert audited("workorder.read", "workorders?source=alarm&open=1")


def test_orders_are_raised_by_hand_with_attachments_and_stats_over_rest(server, live):
    status, order = call(server, "/api/workorders", {"title": "烟感底座松动", "node": SMOKE, "priority": "low",
                                                     "assignee": "李工", "team": "engineering", "note": "巡查发现"})
    assert status == 201 and (order["source"], order["status"], order["priority"]) == ("manual", "open", "low")
    status, one = call(server, f"/api/workorders/{order['id']}")
    assert status == 200 and one == order
    status, attached = call(server, f"/api/workorders/{order['id']}/attachments?name={urllib.parse.quote('底座.jpg')}", b"\xff\xd8photo")
    assert status == 201 and attached["attachments"][0]["name"] == "底座.jpg"
    with urllib.request.urlopen(f"{server.url}/api/workorders/{order['id']}/attachments/"
                                + urllib.parse.quote("底座.jpg"), timeout=10) as response:
        assert (response.read(), response.headers["Content-Type"]) == (b"\xff\xd8photo", "image/jpeg")
        assert response.headers["Content-Disposition"] == "attachment; filename*=UTF-8''%E5%BA%95%E5%BA%A7.jpg"
    assert audited("workorder.write", f"workorder/{order['id']}/attachments")

    building = [o["id"] for o in call(server, f"/api/workorders?asset={urllib.parse.quote(BUILDING)}")[1]]
    assert order["id"] in building and all(o in building for o in
                                           [o["id"] for o in call(server, "/api/workorders?node=dev:SD-101")[1]])
    status, rows = call(server, "/api/workorders/stats?by=assignee")
    mine = [r for r in rows if r["assignee"] == "李工"]
    assert status == 200 and [(r["period"], r["count"], r["pending"]) for r in mine] == [("2026-03", 1, 1)]

    for body, error in [({"node": SMOKE}, "title: missing"),
                        ({"title": "x", "node": "dev:NOPE"}, "node: no node 'dev:NOPE'"),
                        ({"title": "x", "node": SMOKE, "priority": "asap"}, "priority: no priority 'asap'"),
                        ({"title": "x", "node": SMOKE, "colour": "red"}, "colour: unknown key"),
                        ({"title": 3, "node": SMOKE}, "title: must be a string"),
                        ({"alarm_id": "999"}, "alarm_id: no alarm '999'")]:
        status, answer = call(server, "/api/workorders", body)
        assert (status, answer["error"][:len(error)]) == (400, error), answer
    assert call(server, "/api/workorders/9999")[0] == 404
    assert call(server, "/api/workorders/9999", {"note": "x"})[0] == 404
    assert call(server, "/api/workorders?status=done") == (400, {"error": "status: no status 'done'; one of "
                                                                 "open, acknowledged, in_progress, resolved, "
                                                                 "closed, cancelled"})
    assert call(server, f"/api/workorders/{order['id']}/attachments", b"x")[1]["error"].startswith("name: missing")


def test_inspection_rounds_open_their_orders_once(server, live):
    live.inspect()
    live.inspect()
    status, rounds = call(server, "/api/workorders?source=inspection")
    assert status == 200 and [(o["inspection"], o["node"], o["team"]) for o in rounds] == [
        ("fire-kit", ROOM, "engineering")]
    assert rounds[0]["due_at"] == "2026-04-01T00:00:00+08:00"
    status, ticked = call(server, f"/api/workorders/{rounds[0]['id']}", {"checklist": [True, False]})
    assert status == 200 and [c["done"] for c in ticked["checklist"]] == [True, False]
    status, refused = call(server, f"/api/workorders/{rounds[0]['id']}", {"checklist": "all"})
    assert status == 400 and refused["error"].startswith(f"checklist: work order {rounds[0]['id']} has 2 items")


def test_the_asset_card_lists_the_orders_of_the_asset_and_below_it(live):
    from twin.web.live_card import LiveCard

    order = live.workorders.create("烟感报修", SMOKE, priority="normal", by="local")
    card = LiveCard(live, "en")
    card.show(BUILDING)
    assert f"data-order='{order.id}'" in card.orders.object and "烟感报修" in card.orders.object
    assert "Open" in card.orders.object and audited("workorder.read", f"workorders?asset={BUILDING}")
