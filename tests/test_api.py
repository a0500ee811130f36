"""The REST API on a real server, and the node record and card it shares with the app."""
from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from pyproj import Transformer

from twin.park import Node, Park, PropertySet
from twin.search import node_row
from twin.web import api
from twin.web.access import Principal, audit_path
from twin.web.info import node_card, node_record
from twin.web.server import BackgroundServer

ORIGIN = (640060.0, 3457410.0, 4.0)
ROOM = "ifc:B01:2qSbY8FtD1MRq4IRZIzQ$Q"
DETECTOR = "dev:SD/B01 1F#1"  # a slash, a space and a hash: only its URL-encoded form reaches the route


def api_park() -> Park:
    """A building in EPSG:4549 with a room, a detector in it (an awkward id) and a road placed nowhere."""
    park = Park("测试园区", origin_m=ORIGIN, crs="EPSG:4549")
    park.add(Node("ifc:B01:building", "building", "办公楼 A", parent="park", ifc_class="IfcBuilding",
                  bounds_m=(0.0, 0.0, 0.0, 20.0, 10.0, 12.0)))
    park.add(Node(ROOM, "space", "A-101", parent="ifc:B01:building", ifc_class="IfcSpace",
                  long_name="会议室 Meeting room", bounds_m=(0.0, 0.0, 0.0, 6.0, 4.0, 3.0),
                  properties_loader=PropertySet("Qto_SpaceBaseQuantities", {
                      "NetFloorArea": np.float64(24.0), "Height": float("nan"), "Tags": ("a", "b")})))
    park.add(Node(DETECTOR, "device", "<烟感> 1", parent=ROOM, code="SD/B01 1F#1",
                  type_name="smoke_detector 点型光电感烟探测器", links={"host": ROOM},
                  bounds_m=(2.0, 2.0, 2.8, 2.2, 2.2, 3.0)))
    park.add(Node("gis:roads:R1", "road", "环园路", parent="park"))
    return park


@pytest.fixture(scope="module")
def park() -> Park:
    return api_park()


@pytest.fixture(scope="module")
def server(park, twin_home):
    with BackgroundServer(park) as running:
        yield running


def get(server: BackgroundServer, path: str) -> tuple[int, str, bytes]:
    """GET without raising on 4xx: (status, Content-Type, body)."""
    try:
        with urllib.request.urlopen(server.url + path, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def get_json(server: BackgroundServer, path: str, status: int = 200):
    code, content_type, body = get(server, path)
    assert (code, content_type) == (status, "application/json; charset=utf-8"), body
    return json.loads(body.decode("utf-8"))


def last_audit() -> dict:
    return json.loads(audit_path().read_text(encoding="utf-8").splitlines()[-1])


def node_url(node_id: str) -> str:
    return "/api/nodes/" + urllib.parse.quote(node_id, safe="")


def lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    to_wgs84 = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
    return to_wgs84.transform(ORIGIN[0] + x_m, ORIGIN[1] + y_m)


# --- routes ---------------------------------------------------------------------------------------
def test_scene(server, park):
    assert get_json(server, "/api/scene") == {"name": "测试园区", "crs": "EPSG:4549", "origin_m": list(ORIGIN),
                                              "counts": park.counts()}
    record = last_audit()
    assert (record["user"], record["action"], record["target"], record["outcome"]) == \
        ("local", "scene.read", "park/测试园区", "allowed")


def test_nodes_search_returns_find_rows_with_raw_utf8(server, park):
    status, _, body = get(server, "/api/nodes?" + urllib.parse.urlencode({"q": "会议室 烟感"}))
    assert status == 200 and "烟感".encode() in body  # ensure_ascii=False
    assert json.loads(body) == [node_row(park, park.get(DETECTOR))]
    assert (last_audit()["action"], last_audit()["target"]) == ("node.search", "nodes?q=会议室 烟感")
    rows = get_json(server, "/api/nodes?q=A-101")
    assert [row["id"] for row in rows] == [ROOM, DETECTOR]  # the room by name, then what is in it
    assert list(rows[0]) == ["id", "kind", "ifc_class", "name", "path"]
    assert rows[1]["path"][-1] == {"id": ROOM, "name": "A-101"}


def test_nodes_without_query_list_a_kind(server):
    assert [row["id"] for row in get_json(server, "/api/nodes?kind=space")] == [ROOM]
    assert [row["id"] for row in get_json(server, "/api/nodes?limit=2")] == ["ifc:B01:building", ROOM]
    assert len(get_json(server, "/api/nodes")) == 4  # every node but the root
    assert last_audit()["target"] == "nodes"


@pytest.mark.parametrize("query, parameter", [
    ("limit=ten", "limit"), ("limit=0", "limit"), ("limit=1001", "limit"), ("q=x&limit=-1", "limit"),
    ("kind=tower", "kind"), ("q=A&kind=Space", "kind"),
])
def test_nodes_bad_parameter_is_400_naming_it(server, query, parameter):
    error = get_json(server, f"/api/nodes?{query}", status=400)
    assert list(error) == ["error"] and error["error"].startswith(f"{parameter}: ")
    assert "\n" not in error["error"]


def test_node_by_url_encoded_id(server, park):
    for node_id in (ROOM, DETECTOR):
        record = get_json(server, node_url(node_id))
        assert record == json.loads(json.dumps(node_record(park, node_id)))
        assert (last_audit()["action"], last_audit()["target"]) == ("node.read", node_id)
    assert record["path"][-1] == {"id": ROOM, "name": "A-101", "kind": "space"}


def test_unknown_node_is_404(server):
    error = get_json(server, node_url("ifc:nope$1"), status=404)
    assert list(error) == ["error"] and "ifc:nope$1" in error["error"]
    assert last_audit()["target"] == "ifc:nope$1"


def test_refused_principal_gets_403_and_is_audited(server, monkeypatch):
    """A principal without the permission (the users to come), standing in for ``local``."""
    visitor = Principal("visitor", frozenset({"scene.read"}))
    monkeypatch.setattr(api, "current_principal", lambda request=None: visitor)
    assert get_json(server, "/api/scene")["name"] == "测试园区"
    error = get_json(server, node_url(ROOM), status=403)
    assert error == {"error": f"visitor may not node.read on {ROOM}"}
    record = last_audit()
    assert (record["user"], record["action"], record["target"], record["outcome"]) == \
        ("visitor", "node.read", ROOM, "denied")


# --- the node record and card ---------------------------------------------------------------------
def test_node_record_is_json_with_wgs84_position(park):
    record = node_record(park, ROOM)
    assert json.loads(json.dumps(record, allow_nan=False)) == record
    lon, lat = lonlat(3.0, 2.0)
    assert math.isclose(record["lon"], lon, abs_tol=1e-9) and math.isclose(record["lat"], lat, abs_tol=1e-9)
    assert math.isclose(record["z"], ORIGIN[2] + 1.5)
    assert record["bounds_m"] == [0.0, 0.0, 0.0, 6.0, 4.0, 3.0]
    assert record["properties"] == {"Qto_SpaceBaseQuantities": {"NetFloorArea": 24.0, "Height": None,
                                                                "Tags": ["a", "b"]}}
    assert [(p["id"], p["kind"]) for p in record["path"]] == [("park", "park"), ("ifc:B01:building", "building")]
    assert (record["long_name"], record["code"], record["type_name"]) == ("会议室 Meeting room", "", "")


def test_node_record_without_position(park):
    record = node_record(park, "gis:roads:R1")
    assert (record["lon"], record["lat"], record["z"], record["bounds_m"]) == (None, None, None, None)
    unplaced = Park("无坐标")
    unplaced.add(Node("ifc:x", "building", "X", parent="park", bounds_m=(0, 0, 0, 1, 1, 1)))
    assert node_record(unplaced, "ifc:x")["lon"] is None
    assert "WGS84" not in node_card(unplaced, "ifc:x", "en")


def test_node_card_in_both_languages(park):
    lon, lat = lonlat(2.1, 2.1)
    en = node_card(park, DETECTOR, "en")
    assert f"{lat:.6f}° N, {lon:.6f}° E, 6.9 m" in en and "Position (WGS84)" in en
    assert "Code" in en and "SD/B01 1F#1" in en and "Type" in en
    zh = node_card(park, DETECTOR)
    assert f"北纬 {lat:.6f}°, 东经 {lon:.6f}°, 高程 6.9 m" in zh and "编码" in zh
    assert "&lt;烟感&gt; 1" in zh and "<烟感>" not in zh
    assert "title='测试园区 › 办公楼 A › A-101'" in zh
    assert f"data-node-id='{ROOM}'" in zh and zh.count("class='twin-crumb'") == 3
    assert node_card(park, "", "en").startswith("<p>Click")
