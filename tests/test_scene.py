"""Scene folders: the demo park, Chinese search on it, and bad scenes named clearly."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import ROOT, run_twin
from ifc.reader import IfcReadError
from twin.scene import SceneError, load_park

DEMO = ROOT / "scenes" / "demo"


@pytest.fixture(scope="module")
def demo(office_scene):
    return load_park(office_scene)


def test_demo_park_loads(demo):
    counts = demo.counts()
    assert counts["building"] == 1 and counts["storey"] == 6 and counts["space"] > 40
    site = demo.of_kind("site")[0]
    assert demo.crs == "EPSG:4549"
    lon, lat, _ = demo.to_lonlat(demo.placements["ifc:"][:3, 3])[0]  # the building's local origin
    assert (lat, lon) == pytest.approx((31.2304, 121.4737), abs=1e-6)
    assert demo.lonlat(site.id)[:2] == pytest.approx((121.4739, 31.2305), abs=2e-4)


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


def test_find_cli_on_scene(office_scene):
    result = run_twin("find", office_scene, "电梯", "--json")
    assert result.returncode == 0, result.stderr
    names = {row["name"] for row in json.loads(result.stdout)}
    assert names, "the demo building has a lift"


def test_same_file_twice_needs_keys(tmp_path, office_scene):
    shutil.copy(office_scene / "office.ifc", tmp_path / "office.ifc")
    head = 'name = "双楼"\ncrs = "EPSG:4549"\norigin = [640412.0, 3457455.0, 4.0]\n'
    b_anchor = '[ifc.anchor]\neasting = 640412.0\nnorthing = 3457500.0\nelevation = 4.0\n'
    (tmp_path / "scene.toml").write_text(
        head + '[[ifc]]\nkey = "a"\npath = "office.ifc"\n[[ifc]]\nkey = "b"\npath = "office.ifc"\n' + b_anchor,
        encoding="utf-8")
    park = load_park(tmp_path)
    assert park.counts()["building"] == 2
    assert all(i.startswith(("ifc:a:", "ifc:b:", "park")) for i in park.nodes)
    (tmp_path / "scene.toml").write_text(head + '[[ifc]]\npath = "office.ifc"\n[[ifc]]\npath = "office.ifc"\n',
                                         encoding="utf-8")
    with pytest.raises(IfcReadError, match=r"office.ifc: node id ifc:\S+ is already in the park"):
        load_park(tmp_path)


GOOD_HEAD = 'name = "x"\ncrs = "EPSG:4549"\norigin = [640412.0, 3457455.0, 4.0]\n'


@pytest.mark.parametrize("text, cause", [
    (GOOD_HEAD + '[[ifc]]\npath = "missing.ifc"\n', "ifc[0].path: missing.ifc: no such file"),
    ('name = \n', "not valid TOML"),
    ('crs = "EPSG:4549"\norigin = [0, 0, 0]\n', "scene.toml: name: missing"),
    (GOOD_HEAD + 'ifc = "office.ifc"\n', "ifc: must be a list of tables"),
    (GOOD_HEAD + 'colour = "red"\n', "colour: unknown key"),
    (GOOD_HEAD.replace("4549", "4326"), "crs: EPSG:4326 is not a projected CRS in metres"),
    (GOOD_HEAD + '[[ifc]]\npath = "office.ifc"\n[ifc.anchor]\neasting = "east"\n',
     "ifc[0].anchor.easting: must be a number"),
])
def test_bad_scene_one_clear_line(tmp_path, text, cause, office_scene):
    shutil.copy(office_scene / "office.ifc", tmp_path / "office.ifc")
    (tmp_path / "scene.toml").write_text(text, encoding="utf-8")
    with pytest.raises((SceneError, IfcReadError), match=re.escape(cause)):
        load_park(tmp_path)
    result = run_twin("find", tmp_path, "x")
    assert result.returncode == 2 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and cause in lines[0], result.stderr


def test_failed_import_leaves_the_park_unchanged(tmp_path, demo, office_scene):
    from ifc.importer import import_ifc

    broken = tmp_path / "broken.ifc"
    broken.write_bytes((office_scene / "office.ifc").read_bytes()[:5000])
    before = (dict(demo.nodes), list(demo.batches), dict(demo.sources))
    with pytest.raises(IfcReadError, match="truncated"):
        import_ifc(broken, park=demo, prefix="ifc:broken:")
    assert (dict(demo.nodes), list(demo.batches), dict(demo.sources)) == before


def test_serve_refuses_a_missing_scene_in_one_line(tmp_path):
    result = run_twin("serve", tmp_path / "no_such_park")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "no_such_park" in lines[0], result.stderr


def test_check_lists_every_problem(tmp_path):
    (tmp_path / "scene.toml").write_text(
        'name = 3\ncrs = "EPSG:4549"\norigin = [1, 2]\n[[ifc]]\npath = "nope.ifc"\n'
        '[[layers]]\nkey = "roads"\nrole = "rods"\npath = "roads.gpkg"\n', encoding="utf-8")
    result = run_twin("check", tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    for expected in ("name: must be a non-empty string", "origin: must be [easting, northing, elevation]",
                     "ifc[0].path: nope.ifc: no such file", "layers[0].path: roads.gpkg: no such file",
                     "layers[0].id_field: missing", "layers[0].role: unknown role 'rods'"):
        assert sum(expected in line for line in lines) == 1, (expected, lines)
    assert all(line.startswith(str(tmp_path / "scene.toml")) for line in lines)


def test_check_finds_broken_and_unplaced_ifc(tmp_path, sample, office_scene):
    (tmp_path / "broken.ifc").write_bytes((office_scene / "office.ifc").read_bytes()[:4000])
    shutil.copy(sample("bsi5_hello-wall.ifc"), tmp_path / "wall.ifc")
    (tmp_path / "scene.toml").write_text(GOOD_HEAD + '[[ifc]]\npath = "broken.ifc"\n[[ifc]]\npath = "wall.ifc"\n',
                                         encoding="utf-8")
    result = run_twin("check", tmp_path)
    assert result.returncode == 1
    assert "ifc[0].path:" in result.stderr and "truncated" in result.stderr
    assert "ifc[1]: wall.ifc has no georeference; give it an [ifc.anchor]" in result.stderr
    assert run_twin("check", office_scene).returncode == 0


def test_info_json_contract(office_scene):
    result = run_twin("info", office_scene, "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert list(info) == ["name", "crs", "bounds_lonlat", "counts"]
    assert info["crs"] == "EPSG:4549"
    lon0, lat0, lon1, lat1 = info["bounds_lonlat"]
    assert 121.47 < lon0 < lon1 < 121.48 and 31.22 < lat0 < lat1 < 31.24
    assert {"building", "storey", "space", "element", "device", "pipe"} <= set(info["counts"])
    assert info["counts"]["storey"] == 6


def test_demo_park_compiles_as_a_whole_park():
    assert run_twin("check", DEMO).returncode == 0
    result = run_twin("info", DEMO, "--json")
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)["counts"]
    assert counts["building"] == 10 and counts["storey"] >= 15 and counts["space"] > 100
    assert counts["device"] >= 300 and counts["pipe"] > 100 and counts["network_node"] > 100
    for kind in ("road", "gate", "parking", "parking_space", "green", "water", "boundary", "assembly_point"):
        assert counts[kind] > 0, kind


def test_check_reads_the_layers(tmp_path):
    import geopandas as gpd
    import shapely

    gpd.GeoDataFrame({"code": ["R1", "R1"]}, geometry=[shapely.LineString([(0, 0), (1, 1)])] * 2,
                     crs="EPSG:4549").to_file(tmp_path / "roads.geojson", driver="GeoJSON")
    gpd.GeoDataFrame({"code": ["G1"]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4549").to_file(
        tmp_path / "green.geojson", driver="GeoJSON")
    (tmp_path / "scene.toml").write_text(GOOD_HEAD + (
        '[[layers]]\nkey = "roads"\npath = "roads.geojson"\nrole = "roads"\nid_field = "code"\n'
        '[[layers]]\nkey = "green"\npath = "green.geojson"\nrole = "green"\nid_field = "gid"\n'), encoding="utf-8")
    result = run_twin("check", tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert "layers[0]:" in lines[0] and "R1" in lines[0]
    assert "layers[1]:" in lines[1] and "gid" in lines[1]


def test_non_raster_dem_is_named_clearly(tmp_path):
    (tmp_path / "terrain.tif").write_bytes(b"II*\x00")
    (tmp_path / "scene.toml").write_text(GOOD_HEAD + '[ground]\ndem = "terrain.tif"\n', encoding="utf-8")
    with pytest.raises(SceneError, match=r"ground\.dem: .*terrain\.tif: not a readable raster DEM") as info:
        load_park(tmp_path)
    assert len(info.value.problems) == 1
