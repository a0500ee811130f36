"""The maintainer's search box: ranking, Chinese and English, full width, several words, rooms;
on a small park built here and on the demo park."""
from __future__ import annotations

import json
import time

import pytest

from conftest import ROOT, run_twin
from twin.park import Node, Park
from twin.search import EXACT, IN_NAME, IN_TYPE_OR_ROOM, PREFIX, node_row, room_of, search, search_index

DEMO = ROOT / "scenes" / "demo"


def small_park() -> Park:
    """One building, one storey, two rooms; a smoke detector in each, a door bounding room 301."""
    park = Park("测试园区")
    park.add(Node("ifc:b1", "building", "办公楼 A", parent="park", long_name="Office Building A"))
    park.add(Node("ifc:s3", "storey", "3F", parent="ifc:b1"))
    park.add(Node("ifc:r301", "space", "A-301", parent="ifc:s3", long_name="会议室 Meeting room"))
    park.add(Node("ifc:r302", "space", "A-302", parent="ifc:s3", long_name="机房 Server room"))
    park.add(Node("dev:SD-301", "device", "3F会议室烟感", parent="ifc:r301", code="SD-301",
                  type_name="smoke_detector 点型光电感烟探测器", links={"host": "ifc:r301"}))
    park.add(Node("dev:SD-302", "device", "3F机房烟感", parent="ifc:r302", code="SD-302",
                  type_name="smoke_detector 点型光电感烟探测器", links={"host": "ifc:r302"}))
    park.add(Node("dev:SD-3010", "device", "3F走廊烟感探测器", parent="ifc:s3", code="SD-3010",
                  type_name="smoke_detector"))
    park.add(Node("ifc:door1", "element", "M1021", parent="ifc:s3", ifc_class="IfcDoor",
                  type_name="M1021 木门 Timber door", links={"space": "ifc:r301"}))
    return park


@pytest.fixture(scope="module")
def park() -> Park:
    return small_park()


def ids(hits) -> list[str]:
    return [hit.node.id for hit in hits]


def test_rank_exact_then_prefix_then_substring_then_type_or_room(park):
    hits = search(park, "SD-301")
    assert ids(hits) == ["dev:SD-301", "dev:SD-3010"]
    assert [hit.rank for hit in hits] == [EXACT, PREFIX]
    # "a-301" is the room's name (exact), then the three things in that room, matched only by room
    hits = search(park, "a-301")
    assert ids(hits)[0] == "ifc:r301" and hits[0].rank == EXACT
    assert set(ids(hits)[1:]) == {"dev:SD-301", "ifc:door1"}
    assert all(hit.rank == IN_TYPE_OR_ROOM for hit in hits[1:])


def test_ties_go_to_the_shorter_name_then_the_id(park):
    hits = search(park, "烟感")
    assert all(hit.rank == IN_NAME for hit in hits)
    assert ids(hits) == ["dev:SD-302", "dev:SD-301", "dev:SD-3010"]  # names of 6, 7 and 9 characters


def test_chinese_and_english_and_full_width(park):
    assert ids(search(park, "会议室 烟感")) == ["dev:SD-301"]
    assert ids(search(park, "Meeting room"))[0] == "ifc:r301"
    assert ids(search(park, "ＳＤ－３０１")) == ids(search(park, "sd-301"))
    assert ids(search(park, "timber DOOR")) == ["ifc:door1"]
    assert ids(search(park, "ifcdoor")) == ["ifc:door1"]  # the IFC class counts as the type


def test_every_word_must_match(park):
    assert ids(search(park, "301 烟感")) == ["dev:SD-301", "dev:SD-3010"]
    assert ids(search(park, "机房 smoke")) == ["dev:SD-302"]
    assert search(park, "301 机房") == []
    assert search(park, "   ") == search(park, "") != []


def test_phrase_with_a_space_is_an_exact_name(park):
    hits = search(park, "办公楼  ａ")
    assert ids(hits) == ["ifc:b1"] and hits[0].rank == EXACT


def test_room_is_the_linked_or_containing_space(park):
    assert room_of(park, park.get("dev:SD-301")).id == "ifc:r301"   # host link and parent
    assert room_of(park, park.get("ifc:door1")).id == "ifc:r301"    # space link, parent a storey
    assert room_of(park, park.get("dev:SD-3010")) is None           # in the corridor: no room
    assert room_of(park, park.get("ifc:r301")) is None              # a room is in no room


def test_kind_limit_and_breadcrumbs(park):
    assert ids(search(park, "3", kind="space")) == ["ifc:r301", "ifc:r302"]
    assert len(search(park, "3", limit=2)) == 2
    assert set(ids(search(park, "3", limit=None))) == set(park.nodes) - {"park", "ifc:b1"}  # all with a "3"
    hit = search(park, "SD-302")[0]
    assert hit.path == "测试园区 › 办公楼 A › 3F › A-302"
    assert ids(search(park, "", kind="device")) == ["dev:SD-301", "dev:SD-302", "dev:SD-3010"]  # park order


def test_index_is_kept_and_rebuilt_when_nodes_are_added():
    park = small_park()
    index = search_index(park)
    assert search_index(park) is index
    park.add(Node("dev:SD-303", "device", "3F茶水间烟感", parent="ifc:s3", code="SD-303"))
    assert search_index(park) is not index
    assert ids(search(park, "茶水间")) == ["dev:SD-303"]


def test_node_row_is_the_find_contract(park):
    row = node_row(park, park.get("dev:SD-301"))
    assert list(row) == ["id", "kind", "ifc_class", "name", "path"]
    assert row["path"][0] == {"id": "park", "name": "测试园区"} and row["path"][-1]["id"] == "ifc:r301"


def test_fast_on_a_hundred_thousand_nodes():
    park = Park("大园区")
    park.add(Node("b", "building", "研发楼", parent="park"))
    for s in range(20):
        park.add(Node(f"s{s}", "storey", f"{s}F", parent="b"))
        for r in range(50):
            room = park.add(Node(f"r{s}-{r}", "space", f"A-{s}{r:02d}", parent=f"s{s}", long_name="会议室"))
            for d in range(99):
                park.add(Node(f"dev:SD-{s}-{r}-{d}", "device", f"{s}F会议室感烟探测器{d}", parent=room.id,
                              code=f"SD-{s}-{r}-{d}", type_name="smoke_detector", links={"host": room.id}))
    assert len(park) > 100_000
    start = time.perf_counter()
    search_index(park)
    built_s = time.perf_counter() - start
    start = time.perf_counter()
    for query in ("SD-7-3-5", "a-1203 smoke", "感烟", "ＳＤ－１－２", "nothing"):
        search(park, query)
    per_query_s = (time.perf_counter() - start) / 5
    hits = search(park, "SD-7-3-5")
    assert hits[0].node.id == "dev:SD-7-3-5" and hits[1].rank == PREFIX  # then SD-7-3-50…
    assert built_s < 5 and per_query_s < 0.5, (built_s, per_query_s)


# --- the demo park ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo() -> Park:
    from twin.cache import compile_scene

    return compile_scene(DEMO)


def test_demo_room_and_type_in_two_languages(demo):
    hits = search(demo, "A-101 smoke")
    assert hits and all(hit.node.kind == "device" and hit.node.type_name.startswith("smoke_detector")
                        and hit.path.endswith(" › A-101") for hit in hits)
    assert ids(search(demo, "a-101 感烟")) == ids(hits)


def test_demo_code_first_and_building_words(demo):
    code = "SD-B01-3F-A-301-1"
    hits = search(demo, code.lower())
    assert hits[0].node.code == code and hits[0].rank == EXACT
    b01 = search(demo, "B01 smoke", limit=None)
    assert b01 and all("B01" in hit.node.code for hit in b01)
    assert ids(search(demo, "Ｂ０１　ＳＭＯＫＥ", limit=None)) == ids(b01)


def test_demo_lifts_by_chinese_name(demo):
    lifts = search(demo, "电梯", kind="device")
    assert lifts and all("电梯" in hit.node.name for hit in lifts)


def test_find_cli_ranks_and_keeps_its_json_contract(demo):
    result = run_twin("find", DEMO, "A-301", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows and all(list(r) == ["id", "kind", "ifc_class", "name", "path"] for r in rows)
    assert all(list(p) == ["id", "name"] for r in rows for p in r["path"])
    assert [r["name"] for r in rows[:3]] == ["A-301"] * 3  # the rooms first, then what is in them
    assert len(rows) > 3 and all(room_of(demo, demo.get(r["id"])).name == "A-301" for r in rows[3:])
