"""The device registry: devices placed by host or lon/lat, and bad rows named by file, line and field."""
from __future__ import annotations

import shutil

import pyproj
import pytest

from conftest import OFFICE_SCENE_TOML, run_twin
from twin.errors import InputError
from twin.scene import load_park

HEADER = "code,name,type,model,host,lon,lat,height_m,status,importance,description,heading_deg,tilt_deg,hfov_deg,range_m\n"


@pytest.fixture(scope="module")
def demo_ids(office_scene):
    park = load_park(office_scene)
    room = next(n for n in park.of_kind("space") if "会议室" in n.long_name)
    door = park.of_class("IfcDoor")[0]
    return room.id, door.id


def scene_with(tmp_path, office_scene, rows: str):
    shutil.copy(office_scene / "office.ifc", tmp_path / "office.ifc")
    text = OFFICE_SCENE_TOML + '\n[devices]\npath = "devices.csv"\n'
    (tmp_path / "scene.toml").write_text(text, encoding="utf-8")
    (tmp_path / "devices.csv").write_text(HEADER + rows, encoding="utf-8")
    return tmp_path


def test_devices_sit_in_their_hosts(tmp_path, demo_ids, office_scene):
    room, door = demo_ids
    lon, lat = pyproj.Transformer.from_crs(4549, 4326, always_xy=True).transform(640400.0, 3457440.0)
    park = load_park(scene_with(tmp_path, office_scene, (
        f"T-001,会议室温度,temperature,TH-20,{room},,,2.2,online,2,,,,,\n"
        f"AC-001,门禁 1,access_door,DS-K1,{door},,,,online,1,,,,,\n"
        f"CAM-001,南门摄像机,camera,DS-2CD,,{lon:.9f},{lat:.9f},6.0,online,1,南门,90,-20,95,60\n")))
    t, access, cam = park.get("dev:T-001"), park.get("dev:AC-001"), park.get("dev:CAM-001")
    assert t.kind == "device" and t.parent == room and t.links["host"] == room
    rb = park.get(room).bounds_m
    assert rb[0] <= t.centre_m[0] <= rb[3] and rb[1] <= t.centre_m[1] <= rb[4]
    assert t.centre_m[2] == pytest.approx(rb[2] + 2.2)
    assert access.links["host"] == door and park.ancestor(access.id, "storey") is not None
    assert cam.parent == "park"
    assert cam.centre_m == pytest.approx([640400.0 - 640412.0, 3457440.0 - 3457455.0, 6.0], abs=1e-3)
    assert cam.properties["device"]["hfov_deg"] == 95.0
    assert [n.id for n in park.find("摄像机")] == ["dev:CAM-001"]
    assert t in park.within_radius(park.get(room).centre_m, 10.0, kind="device")


@pytest.mark.parametrize("row, cause", [
    ("T-1,,temperature,,{room},,,,,,,,,,\n", "devices.csv line 2: field 'name' is empty"),
    ("T-1,温度,temperature,,{room},,,high,,,,,,,\n", "devices.csv line 2: field 'height_m' must be a number"),
    ("T-1,温度,temperature,,ifc:nope,,,,,,,,,,\n", "devices.csv line 2: field 'host': no node 'ifc:nope'"),
    ("T-1,温度,temperature,,,,,,,,,,,,\n", "devices.csv line 2: give the device a 'host' node id or 'lon' and 'lat'"),
    ("T-1,温度,temperature,,{room},,,,,,,,,,\nT-1,湿度,humidity,,{room},,,,,,,,,,\n",
     "devices.csv line 3: code 'T-1' repeats"),
    ("T-1,温度,temperature,,{room},,,,,5,,,,,\n", "devices.csv line 2: field 'importance' must be 1, 2 or 3"),
])
def test_bad_rows_named_by_line_and_field(tmp_path, demo_ids, office_scene, row, cause):
    folder = scene_with(tmp_path, office_scene, row.format(room=demo_ids[0]))
    with pytest.raises(InputError, match=cause.replace("(", r"\(").replace(")", r"\)")):
        load_park(folder)
    result = run_twin("info", folder, "--json")
    assert result.returncode == 2 and cause in result.stderr and result.stdout == ""


def test_leases_join_their_rooms(tmp_path, demo_ids, office_scene):
    room = demo_ids[0]
    folder = scene_with(tmp_path, office_scene, "")
    (folder / "leases.csv").write_text(f"space,status,area_m2,rent_cny_per_m2_day,tenant\n{room},vacant,52.5,4.8,\n",
                                       encoding="utf-8")
    (folder / "scene.toml").write_text((folder / "scene.toml").read_text(encoding="utf-8")
                                       + '[leases]\npath = "leases.csv"\n', encoding="utf-8")
    park = load_park(folder)
    lease = park.get(room).properties["lease"]
    assert lease == {"status": "vacant", "tenant": "", "area_m2": 52.5, "rent_cny_per_m2_day": 4.8}
    assert "Qto_SpaceBaseQuantities" in park.get(room).properties  # its own sets are kept
    (folder / "leases.csv").write_text(f"space,status,area_m2,rent_cny_per_m2_day,tenant\n{room},rented,1,1,\n",
                                       encoding="utf-8")
    with pytest.raises(InputError, match=r"leases.csv line 2: field 'status' must be one of vacant, let"):
        load_park(folder)
