"""Guided tours: the ``[[tours]]`` of a scene file, their checks, camera framing, the vacant-units
tour of the demo park, and the player stepping through stops on an injected clock."""
from __future__ import annotations

import csv
import json
import math
import re
import shutil

import numpy as np
import pytest

from conftest import ROOT, run_twin
from twin.check import check_scene
from twin.park import Node, Park
from twin.scene import SceneError, load_park, read_scene
from twin.tours import (MIN_DISTANCE_M, VIEW_ANGLE_DEG, Stop, StopSpec, Tour, frame_box, stop_camera,
                        tour_problems, view_direction)
from twin.web.access import audit_path
from twin.web.tour_player import FLIGHT_S, TourPlayer, TourStepper

DEMO = ROOT / "scenes" / "demo"
HEAD = 'name = "x"\ncrs = "EPSG:4549"\norigin = [640000.0, 3457000.0, 4.0]\n'
TOUR = '[[tours]]\nkey = "t"\ntitle = "总览"\n'


def scene_with(tmp_path, text: str):
    (tmp_path / "scene.toml").write_text(HEAD + text, encoding="utf-8")
    return tmp_path / "scene.toml"


# --- reading ------------------------------------------------------------------------------------
def test_tours_read_from_the_scene_file(tmp_path):
    scene = read_scene(scene_with(tmp_path, TOUR + 'title_en = "Overview"\nloop = true\nduration_s = 4\n'
                                  '[[tours.stops]]\nnode = "gis:gates:G1"\nazimuth_deg = 90\nelevation_deg = 20\n'
                                  'distance_m = 50\nduration_s = 6\ncaption = "大门"\ncaption_en = "Gate"\n'
                                  'highlight = ["gis:gates:G1"]\n'
                                  '[[tours.stops]]\neye = [640100, 3457000, 104]\ntarget = [640000, 3457000, 4]\n'
                                  '[[tours]]\nkey = "units"\ntitle = "空置房源"\nkind = "vacant_units"\nduration_s = 5\n'))
    overview, units = scene.tours
    assert (overview.key, overview.title, overview.title_en, overview.loop) == ("t", "总览", "Overview", True)
    gate, aerial = overview.stops
    assert gate == StopSpec(6.0, "gis:gates:G1", 90.0, 20.0, 50.0, None, None, "大门", "Gate", ("gis:gates:G1",))
    assert (aerial.eye, aerial.target, aerial.duration_s) == ((640100.0, 3457000.0, 104.0), (640000.0, 3457000.0, 4.0), 4.0)
    assert (units.kind, units.duration_s, units.stops, units.loop) == ("vacant_units", 5.0, (), False)


STOP = '[[tours.stops]]\nnode = "gis:gates:G1"\nduration_s = 5\n'


@pytest.mark.parametrize("text, problem", [
    ('tours = "x"\n', "tours: must be a list of tables"),
    (TOUR + 'colour = "red"\n' + STOP, "tours[0].colour: unknown key"),
    (TOUR + STOP + 'zoom = 2\n', "tours[0].stops[0].zoom: unknown key"),
    ('[[tours]]\ntitle = "x"\n' + STOP, "tours[0].key: missing"),
    ('[[tours]]\nkey = "t"\n' + STOP, "tours[0].title: missing"),
    (TOUR.replace('"t"', '"a b"') + STOP, "tours[0].key: 'a b': use letters, digits"),
    (TOUR + 'loop = "yes"\n' + STOP, "tours[0].loop: must be true or false, not 'yes'"),
    (TOUR + 'kind = "empty_units"\n', "tours[0].kind: unknown kind 'empty_units' (known: vacant_units)"),
    (TOUR + 'kind = "vacant_units"\n', "tours[0].duration_s: missing"),
    (TOUR, "tours[0].stops: missing"),
    (TOUR + STOP + TOUR + STOP, "tours: key 't' is used twice"),
    (TOUR + '[[tours.stops]]\nnode = "gis:gates:G1"\n', "tours[0].stops[0].duration_s: missing"),
    (TOUR + STOP.replace("5", "0"), "tours[0].stops[0].duration_s: must be more than 0, not 0"),
    (TOUR + STOP + '[[tours.stops]]\nduration_s = 5\n', "tours[0].stops[1]: give node, or eye and target"),
    (TOUR + STOP + 'eye = [1, 2, 3]\ntarget = [4, 5, 6]\n', "tours[0].stops[0]: give either node or eye and target, not both"),
    (TOUR + '[[tours.stops]]\neye = [1, 2]\ntarget = [1, 2, 3]\nduration_s = 5\n',
     "tours[0].stops[0].eye: must be [easting, northing, elevation] in metres, not [1, 2]"),
    (TOUR + '[[tours.stops]]\neye = [1, 2, 3]\nduration_s = 5\n', "tours[0].stops[0].target: missing"),
    (TOUR + '[[tours.stops]]\neye = [1, 2, 3]\ntarget = [1, 2, 3]\nduration_s = 5\n',
     "tours[0].stops[0].target: is the same point as eye"),
    (TOUR + '[[tours.stops]]\neye = [1, 2, 3]\ntarget = [1, 2, 0]\nduration_s = 5\nazimuth_deg = 90\n',
     "tours[0].stops[0].azimuth_deg: only for a stop that frames a node"),
    (TOUR + STOP + 'elevation_deg = 95\n', "tours[0].stops[0].elevation_deg: must lie between -89 and 89, not 95"),
    (TOUR + STOP + 'azimuth_deg = "north"\n', "tours[0].stops[0].azimuth_deg: must be a number, not 'north'"),
    (TOUR + STOP + 'distance_m = -3\n', "tours[0].stops[0].distance_m: must be more than 0, not -3"),
    (TOUR + STOP + 'highlight = "gis:gates:G1"\n', "tours[0].stops[0].highlight: must be a list of node ids"),
    (TOUR + STOP + 'caption = 3\n', "tours[0].stops[0].caption: must be a non-empty string, not 3"),
])
def test_each_tour_problem_is_one_line_naming_file_and_field(tmp_path, text, problem):
    file = scene_with(tmp_path, text)
    with pytest.raises(SceneError) as caught:
        read_scene(file)
    assert len(caught.value.problems) == 1 and caught.value.problems[0].startswith(f"{file}: {problem}")


def test_twin_check_lists_every_tour_problem(tmp_path):
    file = scene_with(tmp_path, TOUR + 'loop = 1\n[[tours.stops]]\nnode = "x"\n'
                      '[[tours.stops]]\neye = [1, 2]\ntarget = [1, 2, 3]\nduration_s = 2\n')
    result = run_twin("check", tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"{file}: tours[0].loop: must be true or false, not 1",
                     f"{file}: tours[0].stops[0].duration_s: missing",
                     f"{file}: tours[0].stops[1].eye: must be [easting, northing, elevation] in metres, not [1, 2]"]


# --- camera maths -------------------------------------------------------------------------------
def test_view_direction_is_a_compass_bearing_from_the_target():
    assert view_direction(0, 0) == pytest.approx([0, 1, 0])  # north of the target
    assert view_direction(90, 0) == pytest.approx([1, 0, 0])  # east
    assert view_direction(180, 0) == pytest.approx([0, -1, 0])  # south
    assert view_direction(270, 60) == pytest.approx([-0.5, 0, math.sqrt(3) / 2])  # west, looking down


@pytest.mark.parametrize("bounds", [(0, 0, 0, 40, 20, 30), (-5, 10, 0, 5, 12, 3), (100, 100, 0, 400, 120, 2)])
@pytest.mark.parametrize("azimuth, elevation", [(0, 0), (135, 30), (250, 80)])
def test_framing_fits_the_whole_box_in_the_view_angle(bounds, azimuth, elevation):
    position, focal = frame_box(bounds, azimuth, elevation)
    b = np.asarray(bounds, float)
    assert focal == pytest.approx((b[:3] + b[3:]) / 2)
    offset = np.subtract(position, focal)
    assert offset / np.linalg.norm(offset) == pytest.approx(view_direction(azimuth, elevation))
    corners = np.array([[x, y, z] for x in b[[0, 3]] for y in b[[1, 4]] for z in b[[2, 5]]])
    axis = -offset / np.linalg.norm(offset)
    rays = corners - position
    angles_deg = np.degrees(np.arccos(rays @ axis / np.linalg.norm(rays, axis=1)))
    assert angles_deg.max() <= VIEW_ANGLE_DEG / 2 + 1e-9
    assert angles_deg.max() > VIEW_ANGLE_DEG / 4  # and fills it: not framed from far away


def test_framing_a_point_keeps_a_minimum_distance_and_a_given_distance_is_kept():
    position, focal = frame_box((3, 4, 5, 3, 4, 5), 180, 0)
    assert position == pytest.approx((3, 4 - MIN_DISTANCE_M, 5)) and focal == (3, 4, 5)
    position, _ = frame_box((0, 0, 0, 10, 10, 10), 90, 0, distance_m=100)
    assert position == pytest.approx((105, 5, 5))


def test_a_stop_camera_is_in_the_park_frame():
    park = Park("p", origin_m=(640000.0, 3457000.0, 4.0))
    park.add(Node("gis:gates:G1", "gate", "大门", parent="park", bounds_m=(10, 20, 0, 12, 22, 3)))
    explicit = StopSpec(5.0, eye=(640100.0, 3457000.0, 104.0), target=(640000.0, 3457050.0, 4.0))
    assert stop_camera(explicit, park) == ((100.0, 0.0, 100.0), (0.0, 50.0, 0.0))
    framed = StopSpec(5.0, node="gis:gates:G1", azimuth_deg=0, elevation_deg=0, distance_m=30)
    assert stop_camera(framed, park) == (pytest.approx((11, 51, 1.5)), pytest.approx((11, 21, 1.5)))


# --- against the demo park ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo() -> Park:
    return load_park(DEMO)


def vacant_rows() -> list[dict]:
    with (DEMO / "leases.csv").open(encoding="utf-8", newline="") as fh:
        return [row for row in csv.DictReader(fh) if row["status"] == "vacant"]


def test_vacant_units_tour_has_one_stop_per_vacant_lease(demo):
    tour = next(t for t in demo.tours if t.key == "vacant-units")
    rows = {row["space"]: row for row in vacant_rows()}
    assert len(tour.stops) == len(rows) > 0
    assert sorted(s.highlight[0] for s in tour.stops) == sorted(rows)
    buildings = [n.id for n in demo.of_kind("building")]
    order = []
    for stop in tour.stops:
        unit = demo.get(stop.highlight[0])
        storey = demo.ancestor(unit.id, "storey")
        area = f"{float(rows[unit.id]['area_m2']):.1f} m²"
        assert stop.highlight == (unit.id,) and stop.duration_s == 6.0
        assert area in stop.caption and storey.name in stop.caption and unit.name in stop.caption
        assert area in stop.caption_en and storey.long_name in stop.caption_en and "vacant" in stop.caption_en
        assert np.allclose(stop.focal_point_m, unit.centre_m)
        order.append((buildings.index(demo.ancestor(unit.id, "building").id), storey.elevation_m))
    assert order == sorted(order)  # by building, then floor


def test_demo_overview_tour_is_resolved_in_the_park_frame(demo):
    scene = read_scene(DEMO)
    overview = next(t for t in demo.tours if t.key == "overview")
    spec = next(t for t in scene.tours if t.key == "overview")
    assert overview.loop and overview.title_in("en") == "Park overview" and 5 <= len(overview.stops) <= 7
    aerial = spec.stops[0]
    assert overview.stops[0].position_m == pytest.approx(np.subtract(aerial.eye, demo.origin_m))
    kinds = {demo.get(s.node).kind for s in spec.stops if s.node}
    assert {"gate", "building", "parking", "water", "assembly_point"} <= kinds
    assert all(s.caption and s.caption_en for s in overview.stops)
    assert tour_problems(scene, demo) == []


def test_unknown_nodes_named_against_the_park(tmp_path, demo):
    file = scene_with(tmp_path, TOUR + '[[tours.stops]]\nnode = "ifc:x"\nduration_s = 5\n'
                      'highlight = ["gis:gates:G1", "gis:gates:nope"]\n'
                      '[[tours.stops]]\nnode = "park"\nduration_s = 5\n'
                      '[[tours]]\nkey = "u"\ntitle = "u"\nkind = "vacant_units"\nduration_s = 5\n')
    assert tour_problems(read_scene(file), demo) == [
        f"{file}: tours[0].stops[0].node: no node 'ifc:x' in the park",
        f"{file}: tours[0].stops[0].highlight[1]: no node 'gis:gates:nope' in the park",
        f"{file}: tours[0].stops[1].node: park has no geometry to frame",
        f"{file}: tours[1].kind: vacant_units needs the lease file ([leases] path)"]


def test_loading_a_park_refuses_a_tour_of_unknown_nodes(tmp_path, office_scene):
    shutil.copy(office_scene / "office.ifc", tmp_path / "office.ifc")
    text = (office_scene / "scene.toml").read_text(encoding="utf-8")
    (tmp_path / "scene.toml").write_text(text + TOUR + STOP, encoding="utf-8")
    problem = "scene.toml: tours[0].stops[0].node: no node 'gis:gates:G1' in the park"
    with pytest.raises(SceneError, match=re.escape(problem)):
        load_park(tmp_path)
    assert [p.endswith(problem) for p in check_scene(tmp_path / "scene.toml")] == [True], "twin check says so too"


# --- the player ---------------------------------------------------------------------------------
def three_stops(loop: bool = False) -> Tour:
    return Tour("t", "总览", "Overview", loop, tuple(
        Stop((i, 0.0, 10.0), (i, 0.0, 0.0), 10.0, f"第{i}站", f"stop {i}", (f"n{i}",)) for i in range(3)))


def stepper_on(tour: Tour) -> tuple[TourStepper, list]:
    heard: list = []
    stepper = TourStepper(heard.append)
    stepper.select(tour)
    return stepper, heard


def test_stepper_plays_stop_after_stop_on_its_clock():
    tour = three_stops()
    stepper, heard = stepper_on(tour)
    stepper.tick(100.0)
    assert (stepper.index, heard) == (-1, [])  # not playing: time passes, nothing moves
    stepper.play(0.0)
    assert (stepper.index, stepper.playing, heard) == (0, True, [tour.stops[0]])
    stepper.tick(9.9)
    assert stepper.index == 0
    stepper.tick(10.0)
    assert (stepper.index, heard[-1]) == (1, tour.stops[1])


def test_stepper_pause_keeps_the_time_left_on_the_stop():
    stepper, _ = stepper_on(three_stops())
    stepper.play(0.0)
    stepper.pause(4.0)
    stepper.tick(500.0)
    assert (stepper.index, stepper.playing) == (0, False)
    stepper.play(600.0)  # resumes with 6 s of the stop left
    stepper.tick(605.9)
    assert stepper.index == 0
    stepper.tick(606.0)
    assert stepper.index == 1


def test_stepper_next_moves_on_at_once_and_restarts_the_stop_time():
    tour = three_stops()
    stepper, heard = stepper_on(tour)
    stepper.play(0.0)
    stepper.next(3.0)
    assert (stepper.index, heard[-1]) == (1, tour.stops[1])
    stepper.tick(12.9)
    assert stepper.index == 1
    stepper.tick(13.0)
    assert stepper.index == 2


def test_stepper_without_loop_stops_after_the_last_stop():
    tour = three_stops(loop=False)
    stepper, heard = stepper_on(tour)
    stepper.play(0.0)
    for now_s in (10.0, 20.0, 30.0):
        stepper.tick(now_s)
    assert (stepper.index, stepper.playing, heard) == (-1, False, [*tour.stops, None])
    stepper.tick(99.0)
    assert len(heard) == 4
    stepper.play(100.0)  # again from the start
    assert (stepper.index, heard[-1]) == (0, tour.stops[0])


def test_stepper_with_loop_wraps_to_the_first_stop():
    tour = three_stops()
    stepper, heard = stepper_on(tour)
    stepper.loop = True
    stepper.play(0.0)
    for now_s in (10.0, 20.0, 30.0):
        stepper.tick(now_s)
    assert (stepper.index, stepper.playing, heard) == (0, True, [*tour.stops, tour.stops[0]])


class RecordingView:
    """Stands in for the browser viewport: records what the player asks of it."""

    def __init__(self):
        self.calls: list[tuple] = []

    def set_camera(self, position_m, focal_point_m, duration_s=FLIGHT_S):
        self.calls.append(("set_camera", position_m, focal_point_m, duration_s))

    def highlight(self, node_ids):
        self.calls.append(("highlight", node_ids))

    def caption(self, text):
        self.calls.append(("caption", text))


@pytest.fixture
def twin_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TWIN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_player_drives_the_viewport_and_audits_each_action(twin_home):
    now = [0.0]
    view = RecordingView()
    overview, other = three_stops(), Tour("b", "乙", "", True, three_stops().stops[:1])
    player = TourPlayer(view, [overview, other], lang="en", clock=lambda: now[0],
                        focus=lambda node_ids: view.calls.append(("focus", node_ids)))
    player.play()
    stop = overview.stops[0]
    assert view.calls == [("focus", ["n0"]), ("set_camera", stop.position_m, stop.focal_point_m, FLIGHT_S),
                          ("highlight", ["n0"]), ("caption", "stop 0")]
    now[0] = 10.0
    player.tick()
    assert view.calls[-1] == ("caption", "stop 1")
    player.next()
    player.pause()
    player.set_loop(True)
    player.choose("b")  # another tour: the view is cleared
    assert view.calls[-3:] == [("focus", []), ("highlight", []), ("caption", "")]
    assert player.stepper.loop is True and player.stepper.index == -1
    records = [json.loads(line) for line in audit_path().read_text(encoding="utf-8").splitlines()]
    assert [(r["action"], r["target"]) for r in records] == [
        ("tour.choose", "tour/t"), ("tour.play", "tour/t"), ("tour.next", "tour/t"), ("tour.pause", "tour/t"),
        ("tour.loop", "tour/t"), ("tour.choose", "tour/b")]
