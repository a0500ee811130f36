"""Device models and glyph batches: a model per type (from a file when one is there), devices
instanced where they mount, turned by their heading, one batch per device type."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pyproj
import pytest
import trimesh

from conftest import ROOT
from models.catalogue import CATALOGUE, GENERIC, device_rgb, model
from twin.cache import compile_scene
from twin.device_batches import PAVING_Z_M, SPREAD_M, category_rgb, device_batches
from twin.devices import add_devices
from twin.errors import InputError
from twin.ground import Ground
from twin.park import ROOT_ID, Node, Park

DEMO = ROOT / "scenes" / "demo"
ORIGIN_M = (640060.0, 3457410.0, 4.0)
GROUND = Ground(ORIGIN_M[2])
ROOM_M = (0.0, 0.0, 0.0, 6.0, 4.0, 3.0)  # a space: 6 m × 4 m, 3 m high
BAY_M = (20.0, 0.0, 0.1, 22.5, 5.0, 0.1)  # a parking bay, long along Y
FIELDS = ("code", "name", "type", "host", "lon", "lat", "height_m", "heading_deg", "tilt_deg")


def demo_types() -> set[str]:
    with (DEMO / "devices.csv").open(encoding="utf-8-sig", newline="") as fh:
        return {row["type"] for row in csv.DictReader(fh)}


def lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    """WGS84 of a park-frame point."""
    to_wgs84 = pyproj.Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
    return to_wgs84.transform(ORIGIN_M[0] + x_m, ORIGIN_M[1] + y_m)


def park_with(folder: Path, rows: list[dict]) -> Park:
    """A park with one room and one parking bay, and the devices of ``rows`` added from a registry."""
    park = Park("t", ORIGIN_M, "EPSG:4549")
    park.add(Node("room", "space", "会议室", parent=ROOT_ID, bounds_m=ROOM_M))
    park.add(Node("bay", "parking_space", "P-1", parent=ROOT_ID, bounds_m=BAY_M))
    registry = folder / "devices.csv"
    with registry.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, FIELDS)
        writer.writeheader()
        writer.writerows({"name": row["code"], **row} for row in rows)
    add_devices(park, registry, GROUND)
    return park


def cells(batch, node_id: str) -> np.ndarray:
    """The points of a device's triangles in a batch."""
    i = batch.node_ids.index(node_id)
    return np.asarray(batch.points_m)[batch.triangles[batch.cell_node == i].ravel()]


def by_type(batches) -> dict[str, object]:
    return {b.category.removeprefix("devices:"): b for b in batches}


# --- the catalogue ------------------------------------------------------------------------------
@pytest.mark.parametrize("device_type", sorted(demo_types()))
def test_every_demo_device_type_has_its_own_small_model(device_type):
    m = model(device_type)
    assert device_type in CATALOGUE and m.source is None
    assert 0 < m.n_triangles <= 200
    extent = np.ptp(m.vertices_m, axis=0)
    assert 0.02 < extent.max() < 10.0  # real-world size in metres
    assert m.faces.max() < len(m.vertices_m)
    assert m.rgb == device_rgb(device_type) != GENERIC.rgb


def test_demo_types_are_told_apart_by_colour():
    colours = [device_rgb(t) for t in demo_types()]
    assert len(set(colours)) == len(colours)


def test_an_unknown_type_falls_back_to_the_generic_model():
    m = model("seismometer")
    assert (m.rgb, m.mount, m.n_triangles) == (GENERIC.rgb, GENERIC.mount, len(GENERIC.build().faces))
    assert device_rgb("seismometer") == GENERIC.rgb
    assert category_rgb("devices:seismometer") == GENERIC.rgb
    assert category_rgb("devices:camera") == CATALOGUE["camera"].rgb and category_rgb("walls") is None


def test_a_model_file_in_the_folder_replaces_the_built_model(tmp_path):
    trimesh.creation.box(extents=(0.4, 0.2, 0.1)).export(tmp_path / "camera.stl")
    m = model("camera", tmp_path)
    assert m.source == tmp_path / "camera.stl" and m.n_triangles == 12
    np.testing.assert_allclose(np.ptp(m.vertices_m, axis=0), (0.4, 0.2, 0.1))
    assert m.rgb == CATALOGUE["camera"].rgb  # the colour still comes from the catalogue
    assert model("lift", tmp_path).source is None  # other types are still built


def test_a_gltf_model_is_turned_from_y_up_to_z_up(tmp_path):
    trimesh.creation.box(extents=(1.0, 3.0, 0.5)).export(tmp_path / "lift.glb")  # 3 m tall in glTF's Y
    m = model("lift", tmp_path)
    np.testing.assert_allclose(np.ptp(m.vertices_m, axis=0), (1.0, 0.5, 3.0), atol=1e-9)


def test_an_unreadable_model_file_is_named(tmp_path):
    (tmp_path / "lift.obj").write_text("this is not a mesh\n")
    with pytest.raises(InputError, match="lift.obj"):
        model("lift", tmp_path)


# --- glyph batches ------------------------------------------------------------------------------
def test_one_batch_per_type_each_cell_naming_its_device(tmp_path):
    park = park_with(tmp_path, [
        {"code": "SD-1", "type": "smoke_detector", "host": "room"},
        {"code": "SD-2", "type": "smoke_detector", "host": "room", "height_m": 2.0},
        {"code": "PS-1", "type": "parking_sensor", "host": "bay", "height_m": 0},
        {"code": "CP-1", "type": "charging_pile", "host": "bay", "height_m": 0},
    ])
    batches = by_type(device_batches(park, GROUND))
    assert sorted(batches) == ["charging_pile", "parking_sensor", "smoke_detector"]
    smoke = batches["smoke_detector"]
    assert (smoke.key, smoke.building, smoke.storey) == ("devices/smoke_detector", None, None)
    assert smoke.node_ids == ["dev:SD-1", "dev:SD-2"]
    assert smoke.n_triangles == 2 * model("smoke_detector").n_triangles
    under_ceiling, at_height = cells(smoke, "dev:SD-1"), cells(smoke, "dev:SD-2")
    np.testing.assert_allclose(under_ceiling[:, :2].mean(axis=0), (3.0, 2.0), atol=0.01)  # room centre
    assert under_ceiling[:, 2].max() == pytest.approx(3.0, abs=1e-5)  # hangs from the ceiling
    assert at_height[:, 2].max() == pytest.approx(2.0, abs=1e-5)  # the registry's height wins
    puck = cells(batches["parking_sensor"], "dev:PS-1")
    assert puck[:, 2].min() == pytest.approx(PAVING_Z_M, abs=1e-5)  # on the paving, not under it
    pile = cells(batches["charging_pile"], "dev:CP-1")
    assert pile[:, 1].mean() > 4.0 and BAY_M[0] < pile[:, 0].mean() < BAY_M[3]  # at the head of its bay


def test_devices_sharing_a_point_stand_apart(tmp_path):
    park = park_with(tmp_path, [{"code": "TS-1", "type": "temperature_sensor", "host": "room"},
                                {"code": "HS-1", "type": "humidity_sensor", "host": "room"}])
    batches = by_type(device_batches(park, GROUND))
    temperature = cells(batches["temperature_sensor"], "dev:TS-1").mean(axis=0)
    humidity = cells(batches["humidity_sensor"], "dev:HS-1").mean(axis=0)
    assert humidity[0] - temperature[0] == pytest.approx(SPREAD_M, abs=0.01)


@pytest.mark.parametrize(("heading_deg", "looking"), [(0, (0, 1)), (90, (1, 0)), (180, (0, -1)), (270, (-1, 0))])
def test_a_camera_looks_along_its_heading(tmp_path, heading_deg, looking):
    park = park_with(tmp_path, [{"code": "CAM-1", "type": "camera", "host": "room", "height_m": 2.5,
                                 "heading_deg": heading_deg}])
    points = cells(device_batches(park, GROUND)[0], "dev:CAM-1")
    reach = points[:, :2] - (3.0, 2.0)  # from the room centre, where it is mounted
    lens = reach[np.argmax(reach @ np.array(looking, float))]
    assert lens @ np.array(looking, float) == pytest.approx(0.47, abs=0.01)  # the lens tip, 47 cm ahead
    assert abs(lens @ np.array(looking[::-1], float)) < 0.1


def test_a_tilted_camera_looks_down(tmp_path):
    def front_z(tilt_deg: float) -> float:
        """The mean height of the camera's front end (over 35 cm ahead of its mount)."""
        park = park_with(tmp_path, [{"code": "CAM-1", "type": "camera", "host": "room", "height_m": 2.5,
                                     "heading_deg": 90, "tilt_deg": tilt_deg}])
        points = cells(device_batches(park, GROUND)[0], "dev:CAM-1")
        return float(points[points[:, 0] > 3.0 + 0.35, 2].mean())

    assert front_z(-30) < front_z(0) - 0.15


def test_a_free_standing_camera_stands_on_a_pole(tmp_path):
    lon, lat = lonlat(40.0, 10.0)
    park = park_with(tmp_path, [{"code": "CAM-1", "type": "camera", "lon": lon, "lat": lat, "height_m": 6.0}])
    points = cells(device_batches(park, GROUND)[0], "dev:CAM-1")
    assert points[:, 2].min() == pytest.approx(0.0, abs=1e-4) and points[:, 2].max() > 6.0
    np.testing.assert_allclose(points[np.argmin(points[:, 2]), :2], (40.0, 10.0), atol=0.1)


def test_batches_grow_with_device_types_not_devices(tmp_path):
    def n_batches(rows: list[dict]) -> int:
        return len(device_batches(park_with(tmp_path, rows), GROUND))

    meters = [{"code": f"EM-{i}", "type": "energy_meter", "host": "room"} for i in range(50)]
    assert n_batches(meters[:2]) == n_batches(meters) == 1
    assert n_batches([*meters, {"code": "X-1", "type": "seismometer", "host": "room"}]) == 2


# --- the compiled demo park ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "demo"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns(".twin-cache"))
    return folder


def test_a_compiled_demo_park_has_a_glyph_batch_per_device_type(demo):
    park = compile_scene(demo, cache_dir=demo / "cache")
    devices = park.of_kind("device")
    glyphs = [b for b in park.batches if b.category.startswith("devices:")]
    with (DEMO / "devices.csv").open(encoding="utf-8") as registry:
        assert len(devices) == sum(1 for _ in registry) - 1  # every row of the registry, less its header
    assert sorted(b.category.removeprefix("devices:") for b in glyphs) == sorted(demo_types())
    assert sorted(i for b in glyphs for i in b.node_ids) == sorted(d.id for d in devices)
    for b in glyphs:
        assert set(np.unique(b.cell_node)) == set(range(len(b.node_ids)))
    cached = compile_scene(demo, cache_dir=demo / "cache")  # from the cache this time
    assert [(b.key, b.digest) for b in cached.batches if b.category.startswith("devices:")] == \
           [(b.key, b.digest) for b in glyphs]


def test_demo_devices_stand_where_they_belong(demo):
    park = compile_scene(demo, cache_dir=demo / "cache")
    glyphs = by_type(b for b in park.batches if b.category.startswith("devices:"))
    for device_type in ("manhole_cover", "parking_sensor", "street_light", "charging_pile"):
        assert np.asarray(glyphs[device_type].points_m)[:, 2].min() >= PAVING_Z_M - 1e-4  # above the paving
    detector = park.get("dev:SD-B01-1F-A-101-1")
    room = park.get(detector.links["host"])
    assert cells(glyphs["smoke_detector"], detector.id)[:, 2].max() == pytest.approx(room.bounds_m[5], abs=1e-3)
