"""Cameras: who sees a spot (range, field of view, line of sight past walls), and their snapshots.

A hand-built room checks each rule; the demo park checks the real thing, and its snapshot is kept in
``tests/artifacts/camera_snapshot.png`` (look at it: the park from that camera).
"""
from __future__ import annotations

import asyncio
import gc
import io
import json
import multiprocessing
import os
import threading
import urllib.error
import urllib.request
import weakref
from datetime import datetime, timezone

import numpy as np
import pytest
import pyvista as pv
from PIL import Image
from tornado.ioloop import IOLoop
from tornado.web import Application

from conftest import ROOT
from live.clock import ManualClock
from twin.batches import MeshPart, merge
from twin.cache import compile_scene
from twin.cameras import (CameraPose, camera_poses, cameras_seeing, cameras_seeing_node, occluders, snapshot_png,
                         snapshots)
from twin.park import Node, Park, PropertySet
from twin.ports import LOCALHOST, free_port
from twin.web.access import audit_path
from twin.web.snapshots import snapshot_routes

ARTIFACTS = ROOT / "tests" / "artifacts"
CLOCK = ManualClock(datetime(2026, 11, 22, 8, 30, tzinfo=timezone.utc))


def box(node_id: str, bounds: tuple[float, ...]) -> MeshPart:
    mesh = pv.Box(bounds=bounds).triangulate()
    return MeshPart(node_id, np.asarray(mesh.points, float), mesh.faces.reshape(-1, 4)[:, 1:])


def room_park() -> Park:
    """A hall with a camera at (0, 0, 3) looking east (90°, level, 90° wide, 30 m), a wall across its
    view at x = 10…10.2 for |y| ≤ 3, a window beside the wall (3 < y ≤ 6) and a ceiling slab at 4 m."""
    park = Park("房间", origin_m=(500_000.0, 3_400_000.0, 0.0))
    x0, y0, _ = park.origin_m
    park.add(Node("ifc:b", "building", "楼", parent="park"))
    park.add(Node("ifc:s", "storey", "一层", parent="ifc:b"))
    park.add(Node("ifc:hall", "space", "大厅", parent="ifc:s", bounds_m=(-5, -10, 0, 20, 10, 4)))
    for node_id, ifc_class in (("ifc:wall", "IfcWall"), ("ifc:window", "IfcWindow"), ("ifc:ceiling", "IfcSlab")):
        park.add(Node(node_id, "element", node_id, parent="ifc:s", ifc_class=ifc_class))
    park.add(Node("dev:CAM-T", "device", "测试摄像机", parent="ifc:hall", code="CAM-T",
                  bounds_m=(-0.15, -0.15, 2.85, 0.15, 0.15, 3.15),
                  properties_loader=PropertySet("device", {"code": "CAM-T", "type": "camera", "heading_deg": 90.0,
                                                           "tilt_deg": 0.0, "hfov_deg": 90.0, "range_m": 30.0})))
    park.add(Node("dev:TS-T", "device", "温度", parent="ifc:hall", code="TS-T", bounds_m=(5, 0, 2, 5.2, 0.2, 2.2),
                  properties_loader=PropertySet("device", {"code": "TS-T", "type": "temperature_sensor"})))
    o = np.array([x0, y0, 0.0])
    park.batches = [
        merge("b/s/walls", "walls", "ifc:b", "ifc:s", [box("ifc:wall", (x0 + 10, x0 + 10.2, y0 - 3, y0 + 3, 0, 4))], o),
        merge("b/s/windows", "windows", "ifc:b", "ifc:s",
              [box("ifc:window", (x0 + 10, x0 + 10.2, y0 + 3, y0 + 6, 0, 4))], o),
        merge("b/s/slabs", "slabs", "ifc:b", "ifc:s", [box("ifc:ceiling", (x0 - 5, x0 + 20, y0 - 10, y0 + 10, 4, 4.2))], o),
        merge("b/s/spaces", "spaces", "ifc:b", "ifc:s", [box("ifc:hall", (x0 - 5, x0 + 20, y0 - 10, y0 + 10, 0, 4))], o),
    ]
    return park


@pytest.fixture(scope="module")
def room() -> Park:
    return room_park()


def seen_by(park: Park, point: tuple[float, float, float]) -> list[str]:
    return [s.camera_id for s in cameras_seeing(park, point)]


# --- the rules, in a hand-built room -------------------------------------------------------------
def test_pose_follows_compass_heading_and_tilt_down_negative(room):
    pose = CameraPose.of(room.get("dev:CAM-T"))
    assert np.allclose(pose.direction, [1, 0, 0]) and np.allclose(pose.up, [0, 0, 1])
    assert pose.vfov_deg == pytest.approx(58.7, abs=0.1)  # 90° wide at 16:9
    looking_down = Node("dev:x", "device", bounds_m=(0,) * 6, properties_loader=PropertySet(
        "device", {"type": "camera", "heading_deg": 180.0, "tilt_deg": -30.0}))
    assert np.allclose(CameraPose.of(looking_down).direction, [0, -np.cos(np.radians(30)), -0.5], atol=1e-9)


def test_a_wall_between_hides_the_spot_and_the_camera_side_shows_it(room):
    assert seen_by(room, (15.0, 0.0, 2.0)) == []
    assert seen_by(room, (5.0, 0.0, 2.0)) == ["dev:CAM-T"]
    assert seen_by(room, (15.0, 6.0, 3.0)) == ["dev:CAM-T"]  # through the window: windows are not opaque


def test_range_field_of_view_and_behind(room):
    assert seen_by(room, (29.0, 10.5, 3.0)) == []  # 30.8 m away (through the window): out of range
    assert seen_by(room, (5.0, 4.0, 3.0)) == ["dev:CAM-T"]  # 39° off the axis: inside the 45° half-width
    assert seen_by(room, (5.0, 8.0, 3.0)) == []  # 58° off the axis
    assert seen_by(room, (5.0, 0.0, -1.0)) == []  # 39° down: outside the 29° half-height
    assert seen_by(room, (-5.0, 0.0, 3.0)) == []  # behind


def test_hits_at_either_end_do_not_count(room):
    """A spot on the wall's face, or hanging from the ceiling slab, is still seen."""
    assert room.get("dev:CAM-T").centre_m[2] == 3.0
    assert seen_by(room, (10.0, 0.0, 2.0)) == ["dev:CAM-T"]
    assert seen_by(room, (8.0, -2.0, 4.0)) == ["dev:CAM-T"]
    assert occluders(room).n_triangles == 24  # the wall and the slab; not the window nor the space


def test_node_helper_uses_the_bounds_centre_and_lists_nearest_first(room):
    sights = cameras_seeing_node(room, "dev:TS-T")
    assert [s.camera_id for s in sights] == ["dev:CAM-T"]
    assert sights[0].distance_m == pytest.approx(np.linalg.norm([5.1, 0.1, -0.9]))
    assert cameras_seeing_node(room, "ifc:b") == []  # not placed
    with pytest.raises(KeyError, match="no camera 'dev:TS-T'"):
        cameras_seeing(room, (5.0, 0.0, 2.0), cameras=["dev:TS-T"])


# --- the demo park -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo() -> Park:
    return compile_scene(ROOT / "scenes" / "demo")


def spot_ahead(pose: CameraPose, distance_m: float = 15.0) -> np.ndarray:
    return pose.eye_m + pose.direction * distance_m


def test_demo_cameras_see_the_open_spot_in_front_of_them(demo):
    poses = camera_poses(demo)
    assert len(poses) == sum(1 for n in demo.of_kind("device") if n.properties["device"]["type"] == "camera")
    def ahead(cid: str) -> np.ndarray:  # indoors the room's far wall is a few metres away
        return spot_ahead(poses[cid], 3.0 if demo.ancestor(cid, "building") is not None else 15.0)

    seeing_own = [cid for cid in poses if cid in seen_by(demo, ahead(cid))]
    assert len(seeing_own) >= 0.9 * len(poses), sorted(set(poses) - set(seeing_own))
    pose = poses["dev:CAM-045"]
    sights = cameras_seeing(demo, spot_ahead(pose))
    assert "dev:CAM-045" in [s.camera_id for s in sights]
    assert [s.distance_m for s in sights] == sorted(s.distance_m for s in sights)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)


def test_a_corridor_detector_is_seen_by_its_corridor_cameras_only(demo):
    """Cameras of the same storey's corridor see it; none outside, behind the façade, does."""
    detector = "dev:SD-B01-1F-A-118-1"
    storey = demo.ancestor(detector, "storey").id
    sights = cameras_seeing_node(demo, detector)
    assert sights, "a corridor camera sees the corridor's smoke detector"
    assert all(demo.ancestor(s.camera_id, "storey") is not None
               and demo.ancestor(s.camera_id, "storey").id == storey for s in sights), sights
    outdoor = [c for c in camera_poses(demo) if demo.ancestor(c, "building") is None]
    assert not cameras_seeing(demo, demo.get(detector).centre_m, cameras=outdoor)


def test_demo_snapshot_is_a_picture_of_the_park_from_the_camera(demo):
    png = snapshot_png(demo, "dev:CAM-045", clock=CLOCK)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = pixels(png)
    assert image.shape == (360, 640, 3)
    assert image.std(axis=(0, 1)).max() > 20  # not one flat colour
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "camera_snapshot.png").write_bytes(png)
    other = pixels(snapshot_png(demo, "dev:CAM-001", clock=CLOCK))
    assert np.abs(other - image).mean() > 10  # another camera, another picture
    assert np.array_equal(pixels(snapshot_png(demo, "dev:CAM-045", clock=CLOCK)), image)  # rendered anew
    assert pixels(snapshot_png(demo, "dev:CAM-001", width=320, height=180, clock=CLOCK)).shape == (180, 320, 3)
    with pytest.raises(KeyError, match="no camera 'dev:nothing'"):
        snapshot_png(demo, "dev:nothing")



def test_a_park_let_go_takes_its_picture_worker_with_it():
    park = room_park()
    pid = snapshots(park).submit("dev:CAM-T", clock=CLOCK).result(timeout=120).worker_pid
    assert pid != os.getpid() and pid in [child.pid for child in multiprocessing.active_children()]
    gone = weakref.ref(park)
    del park
    gc.collect()
    assert gone() is None, "the park's pictures keep no hold on the park"
    assert pid not in [child.pid for child in multiprocessing.active_children()], "its worker stopped with it"

# --- the route -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def snapshot_server(room, twin_home):
    """A bare tornado app serving only :func:`snapshot_routes`, on its own thread."""
    port, started, loops = free_port(LOCALHOST), threading.Event(), []

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        Application(snapshot_routes(room, clock=CLOCK)).listen(port, LOCALHOST)
        loops.append(IOLoop.current())
        started.set()
        loops[0].start()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    yield f"http://{LOCALHOST}:{port}"
    loops[0].add_callback(loops[0].stop)
    thread.join(10)


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_snapshot_route_serves_png_audited_and_404s_unknown_cameras(snapshot_server, twin_home):
    status, kind, body = fetch(f"{snapshot_server}/api/cameras/CAM-T/snapshot.png")
    assert (status, kind) == (200, "image/png")
    image = pixels(body)
    assert image.shape == (360, 640, 3) and image.std(axis=(0, 1)).max() > 10
    for code in ("NOPE", "TS-T"):  # no such device; a device that is no camera
        status, kind, body = fetch(f"{snapshot_server}/api/cameras/{code}/snapshot.png")
        assert status == 404 and kind.startswith("application/json")
        assert json.loads(body) == {"error": f"no camera 'dev:{code}' in park '房间'"}
    audited = [json.loads(line) for line in audit_path().read_text(encoding="utf-8").splitlines()]
    assert [(r["action"], r["target"], r["outcome"]) for r in audited[-3:]] == [
        ("camera.read", "dev:CAM-T", "allowed"), ("camera.read", "dev:NOPE", "allowed"),
        ("camera.read", "dev:TS-T", "allowed")]
