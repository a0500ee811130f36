"""Each role's answer on every registered route, every page and every app action of the demo park
served with users (issue 9): the policy written out here by hand, checked against the server.

A route, page or action added without a line here fails the enumeration tests: every new way in
must be given its roles.
"""
from __future__ import annotations

import importlib
import json
import urllib.parse

import pytest

from conftest import DEMO, needs_chromium
from test_live_app import READY
from test_users import Client
from twin.networks.scene import scene_networks
from twin.roles import ROLES
from twin.scene import read_scene
from twin.users import UserBook
from twin.web.access import ACTIONS, Principal
from twin.web.auth import COOKIE, SignIn
from twin.web.server import BackgroundServer, park_pages, park_routes

PASSWORD = "Kx9!mQ2#vLp7"
ALL = frozenset(ROLES)
LIVE = ALL - {"tour"}  #: who reads what is live
ACTING = frozenset({"monitor", "commander", "maintainer", "admin"})  #: who acknowledges and raises orders
CLEARING = frozenset({"commander", "maintainer", "admin"})  #: who clears alarms and runs network analyses
ADMIN = frozenset({"admin"})


def q(node_id: str) -> str:
    return urllib.parse.quote(node_id, safe="")


def requests(park) -> list[tuple[str, str, str, str | None, frozenset[str]]]:
    """(route pattern, method, path, JSON body, roles allowed): at least one per registered route."""
    camera = next(d for d in park.of_kind("device") if d.properties["device"]["type"] == "camera")
    light = next(d for d in park.of_kind("device") if d.properties["device"]["type"] == "street_light")
    room = park.of_kind("space")[0]
    shown = next(b for b in park.batches if b.category == "buildings")
    secret = next(b for b in park.batches if b.category == "devices:camera")
    return [
        (r"/healthz", "GET", "/healthz", None, ALL),
        (r"/geometry/([0-9a-f]+)\.bin", "GET", f"/geometry/{shown.digest}.bin", None, ALL),
        (r"/geometry/([0-9a-f]+)\.bin", "GET", f"/geometry/{secret.digest}.bin", None, LIVE),
        (r"/api/scene", "GET", "/api/scene", None, ALL),
        (r"/api/nodes", "GET", "/api/nodes?q=B01", None, ALL),
        (r"/api/nodes/(.+)", "GET", f"/api/nodes/{q(room.id)}", None, ALL),
        (r"/api/nodes/(.+)", "GET", f"/api/nodes/{q(camera.id)}", None, LIVE),
        (r"/api/cameras/([^/]+)/snapshot\.png", "GET", f"/api/cameras/{q(camera.id)}/snapshot.png", None, LIVE),
        (r"/reports/([^/]+)", "GET", "/reports/none.html", None, LIVE),
        (r"/api/audit", "GET", "/api/audit?limit=5", None, ADMIN),
        (r"/api/networks", "GET", "/api/networks", None, LIVE),
        (r"/api/networks/check", "GET", "/api/networks/check", None, CLEARING),
        (r"/api/networks/([^/]+)/isolate", "GET", "/api/networks/none/isolate?pipe=x", None, CLEARING),
        (r"/api/networks/([^/]+)/trace", "GET", "/api/networks/none/trace?node=x", None, CLEARING),
        (r"/api/devices", "GET", "/api/devices", None, LIVE),
        (r"/api/devices/(.+)/commands", "POST", f"/api/devices/{q(light.id)}/commands", "{}",
         frozenset({"maintainer", "admin"})),
        (r"/api/state/(.+)", "GET", f"/api/state/{q(room.id)}", None, LIVE),
        (r"/api/alarms", "GET", "/api/alarms", None, LIVE),
        (r"/api/alarms/([^/]+)/(ack|clear)", "POST", "/api/alarms/none/ack", "{}", ACTING),
        (r"/api/alarms/([^/]+)/(ack|clear)", "POST", "/api/alarms/none/clear", "{}", CLEARING),
        (r"/api/diagnostics", "GET", "/api/diagnostics", None, frozenset({"maintainer", "admin"})),
        (r"/api/workorders", "GET", "/api/workorders", None, LIVE),
        (r"/api/workorders", "POST", "/api/workorders", "{}", ACTING),
        (r"/api/workorders/stats", "GET", "/api/workorders/stats", None, LIVE),
        (r"/api/workorders/([^/]+)", "GET", "/api/workorders/999", None, LIVE),
        (r"/api/workorders/([^/]+)", "POST", "/api/workorders/999", "{}", ACTING),
        (r"/api/workorders/([^/]+)/attachments", "POST", "/api/workorders/999/attachments?name=a.txt", "x", ACTING),
        (r"/api/workorders/([^/]+)/attachments/([^/]+)", "GET", "/api/workorders/999/attachments/a.txt", None, LIVE),
        (r"/api/energy", "GET", "/api/energy?month=2026-11", None, LIVE),
        (r"/reports/energy/([^/]+)\.(html|csv)", "GET", "/reports/energy/2026-11.csv", None, LIVE),
    ]


#: Who may open each page.
PAGES = {"/": frozenset({"monitor", "commander", "maintainer", "admin"}), "/wall": LIVE - {"tour"},
         "/command": frozenset({"commander", "admin"}), "/tour": frozenset({"tour", "commander", "admin"}),
         "/maintenance": frozenset({"maintainer", "admin"}), "/admin": ADMIN}

#: Who may do each app action (guarded) or direct check in the app, by permission.
ACTION_ROLES = {
    "view.navigate": ALL, "view.section": ALL, "view.home": ALL, "node.search": ALL, "node.locate": ALL,
    "node.read": ALL, "tour.choose": ALL, "tour.play": ALL, "tour.pause": ALL, "tour.next": ALL, "tour.loop": ALL,
    "alarm.read": LIVE, "workorder.read": LIVE, "report.list": LIVE, "camera.read": LIVE,
    "alarm.ack": ACTING, "workorder.write": ACTING, "alarm.clear": CLEARING, "network.analyse": CLEARING,
    "drill.run": frozenset({"commander", "admin"}), "drill.play": frozenset({"commander", "admin"}),
    "drill.clear": frozenset({"commander", "admin"}), "plan.open": frozenset({"commander", "admin"}),
    "plan.step": frozenset({"commander", "admin"}), "plan.confirm": frozenset({"commander", "admin"}),
    "report.save": frozenset({"commander", "admin"}), "device.command": frozenset({"maintainer", "admin"}),
    "diagnostics.read": frozenset({"maintainer", "admin"}), "admin.read": ADMIN, "audit.read": ADMIN,
    "personal.read": frozenset({"commander", "maintainer", "admin"}),
}
#: The app's direct checks (not through ``guarded``), by permission.
DIRECT = {"alarm.ack", "alarm.clear", "workorder.write", "workorder.read", "device.command"}


@pytest.fixture(scope="module")
def served(demo, live, tmp_path_factory):
    folder = tmp_path_factory.mktemp("roles")
    book = UserBook(folder / "users.toml")
    for role in ROLES:
        book.add(f"{role}-1", role, PASSWORD)
    networks = scene_networks(read_scene(DEMO))
    with BackgroundServer(demo, live=live, networks=networks, sign_in=SignIn(book)) as server:
        client = Client(server.url)
        tokens = {}
        for role in ROLES:
            status, _, body = client("/login", {"Accept": "application/json"}, {"name": f"{role}-1", "password": PASSWORD})
            assert status == 200, body
            tokens[role] = json.loads(body)["token"]
        yield server, client, tokens, networks


def test_every_registered_route_has_its_roles_written_down(demo, live, served):
    registered = {pattern for pattern, *_ in park_routes(demo, live, served[3])}
    assert registered == {pattern for pattern, *_ in requests(demo)}


def test_each_role_gets_each_route_or_403_and_nobody_gets_in_unsigned(demo, served):
    _, client, tokens, _ = served
    wrong = []
    for pattern, method, path, body, allowed in requests(demo):
        data = None if body is None else body.encode()
        if pattern != "/healthz":
            status = client.raw(method, path, data, {})[0]
            if status != 401:
                wrong.append((path, "nobody", status))
        for role, token in tokens.items():
            status = client.raw(method, path, data, {"Authorization": f"Bearer {token}"})[0]
            if (status == 403 or status == 401) == (role in allowed):
                wrong.append((method, path, role, status))
    assert not wrong, wrong


def test_each_role_may_open_its_pages_only(demo, live):
    assert set(park_pages(demo, live)) == set(PAGES)
    wrong = [(path, role) for path, allowed in PAGES.items() for role in ROLES
             if Principal(role, ROLES[role], role).may(f"page.{path.strip('/') or 'workstation'}") != (role in allowed)]
    assert not wrong, wrong


@needs_chromium
def test_a_visitor_is_refused_the_command_page_and_tours_without_cameras(browser, demo, served):
    server, _, tokens, _ = served
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.add_cookies([{"name": COOKIE, "value": tokens["tour"], "url": server.url}])
    page = context.new_page()
    page.goto(f"{server.url}/command?lang=en")
    page.locator(".twin-refused").wait_for(timeout=60_000)
    assert page.locator("[data-twin-viewport]").count() == 0
    assert page.locator(".twin-menu").all_inner_texts() == ["Tour"], "the menu leads to the visitor's page"
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(f"{server.url}/tour?lang=en")
    page.wait_for_selector(READY, state="attached", timeout=180_000)
    cameras = {b.digest for b in demo.batches if b.category in ("devices:camera", "devices:access_door")}
    geometry = [url for url in fetched if "/geometry/" in url]
    assert geometry and not [url for url in geometry if any(digest in url for digest in cameras)]
    assert "visitor" not in page.content() and "tour-1" in page.locator(".twin-sign-out").inner_text()
    context.close()


def test_each_app_action_is_allowed_to_its_roles_only():
    importlib.import_module("app")  # every page's modules: their guarded actions register

    permissions = set(ACTIONS.values()) | DIRECT
    assert permissions <= set(ACTION_ROLES), f"actions without roles written down: {permissions - set(ACTION_ROLES)}"
    wrong = [(permission, role) for permission, allowed in ACTION_ROLES.items() for role in ROLES
             if Principal(role, ROLES[role], role).may(permission) != (role in allowed)]
    assert not wrong, wrong
