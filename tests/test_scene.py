"""Scene folders: the demo park, Chinese search on it, and bad scenes named clearly."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, run_twin
from ifc.reader import IfcReadError
from twin.scene import SceneError, load_park

DEMO = ROOT / "scenes" / "demo"


@pytest.fixture(scope="module")
def demo():
    return load_park(DEMO)


def test_demo_park_loads(demo):
    counts = demo.counts()
    assert counts["building"] == 1 and counts["storey"] == 6 and counts["space"] > 40
    assert demo.georeference.method == "site_latlon"
    lon, lat, _ = demo.georeference.to_lonlat([[0, 0, 0]])[0]
    assert (lat, lon) == pytest.approx((31.2304, 121.4737), abs=1e-4)


def test_demo_rooms_found_in_chinese_and_english(demo):
    meeting = demo.find("会议室")
    assert meeting and all(n.kind == "space" for n in meeting)
    assert {n.id for n in demo.find("meeting room")} == {n.id for n in meeting}
    room = meeting[0]
    assert [n.kind for n in demo.path(room.id)] == ["park", "site", "building", "storey"]
    assert any(q.get("NetFloorArea", 0) > 0 for q in room.properties.values())


def test_demo_doors_have_widths(demo):
    doors = demo.of_class("IfcDoor")
    assert doors
    model = demo.sources["ifc:"]
    assert all(model.by_guid(door.id.removeprefix("ifc:")).OverallWidth > 0 for door in doors)


def test_find_cli_on_scene():
    result = run_twin("find", DEMO, "电梯", "--json")
    assert result.returncode == 0, result.stderr
    names = {row["name"] for row in json.loads(result.stdout)}
    assert names, "the demo building has a lift"


def test_same_file_twice_needs_keys(tmp_path):
    shutil.copy(DEMO / "office.ifc", tmp_path / "office.ifc")
    (tmp_path / "scene.toml").write_text(
        'name = "双楼"\n[[ifc]]\nkey = "a"\npath = "office.ifc"\n[[ifc]]\nkey = "b"\npath = "office.ifc"\n',
        encoding="utf-8")
    park = load_park(tmp_path)
    assert park.counts()["building"] == 2
    assert all(i.startswith(("ifc:a:", "ifc:b:", "park")) for i in park.nodes)
    (tmp_path / "scene.toml").write_text(
        'name = "双楼"\n[[ifc]]\npath = "office.ifc"\n[[ifc]]\npath = "office.ifc"\n', encoding="utf-8")
    with pytest.raises(IfcReadError, match=r"office.ifc: node id ifc:\S+ is already in the park"):
        load_park(tmp_path)


@pytest.mark.parametrize("text, cause", [
    ('name = "x"\n[[ifc]]\npath = "missing.ifc"\n', "missing.ifc: no such file"),
    ('name = \n', "not valid TOML"),
    ('title = "x"\n', "field 'name' is missing"),
    ('name = "x"\nifc = "office.ifc"\n', "field 'ifc' must be a list"),
])
def test_bad_scene_one_clear_line(tmp_path, text, cause):
    (tmp_path / "scene.toml").write_text(text, encoding="utf-8")
    with pytest.raises((SceneError, IfcReadError), match=cause):
        load_park(tmp_path)
    result = run_twin("find", tmp_path, "x")
    assert result.returncode == 2 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and cause in lines[0], result.stderr


def test_failed_import_leaves_the_park_unchanged(tmp_path, demo):
    from ifc.importer import import_ifc

    broken = tmp_path / "broken.ifc"
    broken.write_bytes((DEMO / "office.ifc").read_bytes()[:5000])
    before = (dict(demo.nodes), list(demo.batches), dict(demo.sources))
    with pytest.raises(IfcReadError, match="truncated"):
        import_ifc(broken, park=demo, prefix="ifc:broken:")
    assert (dict(demo.nodes), list(demo.batches), dict(demo.sources)) == before


def test_serve_refuses_a_missing_scene_in_one_line(tmp_path):
    result = run_twin("serve", tmp_path / "no_such_park")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "no_such_park" in lines[0], result.stderr
