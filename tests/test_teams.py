"""Emergency response teams: ``[[teams]]`` read and checked, their route and ETA to an incident on small
IFC buildings (figures worked by hand), plans that dispatch them, and ``twin evacuate`` listing them.

The buildings: rooms A (0..4 × 0..4 m) and B (4..8 × 0..4 m), a door between them at (4, 2) and an exit
in B's east wall at (8, 2). From B's middle (6, 2) the exit is 2 m away, A's middle 4 m.
"""
from __future__ import annotations

import json
from pathlib import Path

import ifcopenshell
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from ifc.importer import import_ifc
from live.config import LiveSpec
from rooms_ifc import Door, Room, write_rooms
from twin.check import check_scene
from twin.cli import main
from twin.evacuation import build_graph, evacuate, place_occupants
from twin.evacuation.reports import ReportStore
from twin.evacuation.outdoor import Walkways
from twin.evacuation.resources import resources
from twin.park import Node, Park
from twin.plans import checklist, plan_problems, read_plans
from twin.scene import SceneError, _Reader, load_park, read_scene
from twin.teams import TeamSpec, read_teams, team_eta, team_etas

ROOMS = [Room("A", 0.0, 0.0, 4.0, 4.0), Room("B", 4.0, 0.0, 4.0, 4.0)]
DOORS = [Door("A-B", 4.0, 2.0, 1.0, "y"), Door("Exit", 8.0, 2.0, 1.0, "y")]
ORIGIN = (640000.0, 3457000.0, 4.0)


def two_rooms(folder: Path) -> Path:
    return write_rooms(folder / "rooms.ifc", ROOMS, DOORS)


def space_ids(path: Path) -> dict[str, str]:
    """Room name → GlobalId."""
    return {s.Name: s.GlobalId for s in ifcopenshell.open(str(path)).by_type("IfcSpace")}


@pytest.fixture
def rooms(tmp_path):
    """The two rooms as a park of their own: the park, its graph, B's place and the exit's position."""
    park = import_ifc(two_rooms(tmp_path))
    graph = build_graph(park)
    b = graph.place("B")
    exit_xy = graph.openings[graph.exits[0]].point_m[:2]
    middle = graph.places[b].footprint.centroid.coords[0]
    assert np.allclose(exit_xy - middle, (2.0, 0.0)), "B's middle 2 m west of the exit"
    return park, graph, b, exit_xy


def add_point(park: Park, code: str, xy_m) -> str:
    """A device standing on open ground at ``xy_m`` (park frame)."""
    x, y = xy_m
    park.add(Node(f"dev:{code}", "device", code, parent="park", code=code, bounds_m=(x, y, 0.0, x, y, 0.3)))
    return f"dev:{code}"


# --- reading ------------------------------------------------------------------------------------
def test_teams_read_from_the_scene_file(tmp_path):
    r = _Reader(tmp_path / "scene.toml")
    teams = read_teams(r, {"teams": [
        {"key": "fire-station", "name": "微型消防站", "name_en": "Micro fire station", "kind": "fire",
         "base": "ifc:B01:2TSp6yXkX04AvWjCrDKsB0", "members": 6, "phone": "0571-8888 0119", "turnout_s": 45,
         "speed_m_s": 2.5},
        {"key": "guard", "name": "门岗", "kind": "security", "base": "GUARD-1"}]})
    assert r.problems == []
    assert teams[0] == TeamSpec("fire-station", "微型消防站", "fire", "ifc:B01:2TSp6yXkX04AvWjCrDKsB0",
                                "Micro fire station", 6, "0571-8888 0119", 45.0, 2.5)
    assert teams[0].label == "微型消防站 (6)"
    assert (teams[1].members, teams[1].turnout_s, teams[1].speed_m_s, teams[1].phone) == (1, 60.0, 2.0, "")


GOOD = {"key": "a", "name": "队", "kind": "fire", "base": "ifc:x"}


@pytest.mark.parametrize("change, expected", [
    ({"key": None}, "teams[0].key: missing"),
    ({"name": ""}, "teams[0].name: must be a non-empty string, not ''"),
    ({"kind": "police"}, "teams[0].kind: unknown kind 'police' (known: fire, security, medical, engineering)"),
    ({"base": None}, "teams[0].base: missing"),
    ({"members": 0}, "teams[0].members: must be a whole number ≥ 1, not 0"),
    ({"members": 2.5}, "teams[0].members: must be a whole number ≥ 1, not 2.5"),
    ({"phone": 119}, "teams[0].phone: must be a non-empty string, not 119"),
    ({"turnout_s": -5}, "teams[0].turnout_s: must be ≥ 0, not -5.0"),
    ({"speed_m_s": 0}, "teams[0].speed_m_s: must be > 0, not 0.0"),
    ({"speed_m_s": "fast"}, "teams[0].speed_m_s: must be a number, not 'fast'"),
    ({"radio": "ch 3"}, "teams[0].radio: unknown key"),
])
def test_each_bad_field_is_one_line_naming_it(tmp_path, change, expected):
    r = _Reader(tmp_path / "scene.toml")
    table = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    read_teams(r, {"teams": [table]})
    assert len(r.problems) == 1 and r.problems[0].startswith(f"{tmp_path / 'scene.toml'}: {expected}"), r.problems


def test_a_key_used_twice_is_a_problem(tmp_path):
    r = _Reader(tmp_path / "scene.toml")
    assert len(read_teams(r, {"teams": [GOOD, GOOD]})) == 2
    assert r.problems == [f"{tmp_path / 'scene.toml'}: teams: key 'a' is used twice"]


# --- route and ETA ------------------------------------------------------------------------------
def test_eta_from_open_ground_is_straight_to_the_exit_then_in(rooms):
    """No walkways: 30 m east and 40 m north of the exit is 50 m, then 2 m in to B's middle."""
    park, graph, b, exit_xy = rooms
    team = TeamSpec("fs", "消防站", "fire", add_point(park, "FS-01", exit_xy + (30.0, 40.0)), turnout_s=45.0,
                    speed_m_s=2.0)
    eta = team_eta(park, graph, team, b)
    assert eta.length_m == pytest.approx(52.0)
    assert eta.eta_s == pytest.approx(45.0 + 52.0 / 2.0)


def test_eta_follows_the_walkways(rooms):
    """A path runs 40 m east from the exit; the base stands 3 m off its far end: 3 + 40 + 2 m, not the
    40.1 m straight line."""
    park, graph, b, exit_xy = rooms
    park.walkways = [shapely.LineString([exit_xy, exit_xy + (40.0, 0.0)])]
    base_xy = exit_xy + (40.0, 3.0)
    team = TeamSpec("fs", "消防站", "fire", add_point(park, "FS-01", base_xy))
    assert Walkways(park.walkways).walk_m(base_xy, exit_xy) == pytest.approx(43.0)
    eta = team_eta(park, graph, team, b)
    assert eta.length_m == pytest.approx(45.0)
    assert eta.eta_s == pytest.approx(60.0 + 45.0 / 2.0)


def test_a_base_in_the_same_building_walks_through_the_doors(rooms):
    """From A's middle: 2 m to the door, 2 m on to B's middle (out by the exit and back would be 8 m);
    a team in the room itself only turns out."""
    park, graph, b, _ = rooms
    in_a = TeamSpec("aid", "医务室", "medical", graph.places[graph.place("A")].id, speed_m_s=1.0)
    in_b = TeamSpec("guard", "岗", "security", graph.places[b].id, turnout_s=20.0)
    assert team_eta(park, graph, in_a, b).length_m == pytest.approx(4.0)
    assert team_eta(park, graph, in_a, b).eta_s == pytest.approx(64.0)
    assert team_eta(park, graph, in_b, b).eta_s == pytest.approx(20.0)
    assert [e.team.key for e in team_etas(park, graph, [in_a, in_b], b)] == ["guard", "aid"], "soonest first"


def test_resources_list_each_kind_of_team_soonest_first(rooms):
    park, graph, b, exit_xy = rooms
    far, near = add_point(park, "FAR", exit_xy + (0.0, 100.0)), add_point(park, "NEAR", exit_xy + (0.0, 10.0))
    teams = [TeamSpec("far", "远站", "fire", far, members=3), TeamSpec("near", "近站", "fire", near, members=6),
             TeamSpec("slow", "慢站", "fire", near, turnout_s=600.0),
             TeamSpec("aid", "医务室", "medical", graph.places[graph.place("A")].id)]
    found = resources(park, graph, b, teams=teams, per_kind=2)
    listed = [(r.id, r.name, r.distance_m, r.eta_s) for r in found if r.kind == "team"]
    assert listed == [("near", "近站 (6)", pytest.approx(12.0), pytest.approx(66.0)),
                      ("far", "远站 (3)", pytest.approx(102.0), pytest.approx(111.0)),
                      ("aid", "医务室 (1)", pytest.approx(4.0), pytest.approx(62.0))]
    assert all(r.eta_s is None for r in found if r.kind != "team")
    assert [r.distance_m for r in found if r.kind == "exit"] == [pytest.approx(2.0)]


# --- plans that dispatch ------------------------------------------------------------------------
def test_dispatch_steps_name_a_team(tmp_path, rooms):
    park, graph, b, exit_xy = rooms
    team = TeamSpec("fs", "消防站", "fire", "FS-01")  # a device by its bare code
    add_point(park, "FS-01", exit_xy + (30.0, 40.0))
    r = _Reader(tmp_path / "scene.toml")
    plans = read_plans(r, {"plans": [
        {"key": "fire", "title": "火灾", "incident": "fire", "steps": [
            {"at_s": 0, "action": "cameras", "text": "看"},
            {"at_s": 30, "action": "dispatch", "team": "fs", "text": "派遣消防站"},
            {"at_s": 40, "action": "dispatch", "team": "ghost", "text": "派遣幽灵"}]},
        {"key": "gas", "title": "燃气", "incident": "gas", "steps": [{"at_s": 0, "action": "dispatch", "text": "x"}]}]})
    assert r.problems == [f"{tmp_path / 'scene.toml'}: plans[1].steps[0]: a dispatch step needs team"]
    assert plan_problems(plans, LiveSpec(), (team,)) == [("plans[0].steps[2].team", "no team 'ghost' in [[teams]]")]
    drill = checklist(plans[0], park, graph.places[b].id, teams=(team,))
    dispatch = drill.items[1]
    assert (dispatch.targets, dispatch.text, dispatch.team) == (("dev:FS-01",), "派遣消防站", "fs")
    drill.expect({e.team.key: e.eta_s for e in team_etas(park, graph, [team], b)})
    assert dispatch.arrives_s == pytest.approx(30.0 + 60.0 + 52.0 / 2.0)
    assert drill.items[0].arrives_s is None and drill.items[2].arrives_s is None, "only a team with an ETA arrives"


# --- a scene ------------------------------------------------------------------------------------
def scene(folder: Path, teams: str, plans: str = "") -> Path:
    """Building ``a`` at the park origin; building ``b`` the same, turned 180° about (56, 4), so its exit
    faces a's 40 m away; a device FS-01 on open ground at (38, 42); GUARD-1 in a's room A."""
    ids = space_ids(two_rooms(folder))
    lon, lat = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True).transform(
        ORIGIN[0] + 38.0, ORIGIN[1] + 42.0)
    (folder / "devices.csv").write_text(f"code,name,type,host,lon,lat\nFS-01,消防站,fire_station,,{lon!r},{lat!r}\n"
                                        f"GUARD-1,岗亭,guard_post,ifc:a:{ids['A']},,\n", encoding="utf-8")
    anchor = "[ifc.anchor]\neasting = {}\nnorthing = {}\nelevation = 4.0\nrotation_deg = {}\n"
    text = (f'name = "teams"\ncrs = "EPSG:4549"\norigin = {list(ORIGIN)}\n[devices]\npath = "devices.csv"\n'
            f'[[ifc]]\nkey = "a"\npath = "rooms.ifc"\n{anchor.format(ORIGIN[0], ORIGIN[1], 0.0)}'
            f'[[ifc]]\nkey = "b"\npath = "rooms.ifc"\n{anchor.format(ORIGIN[0] + 56.0, ORIGIN[1] + 4.0, 180.0)}'
            + teams.format(**{f"{key}_{room}": f"ifc:{key}:{gid}" for key in "ab" for room, gid in ids.items()})
            + plans)
    (folder / "scene.toml").write_text(text, encoding="utf-8")
    return folder


TEAMS = """
[[teams]]
key = "fire-station"
name = "微型消防站"
kind = "fire"
base = "FS-01"
members = 6
[[teams]]
key = "guard"
name = "门岗"
kind = "security"
base = "GUARD-1"
turnout_s = 30
[[teams]]
key = "first-aid"
name = "医务室"
kind = "medical"
base = "{b_A}"
members = 2
turnout_s = 90
"""
PLAN = """
[[plans]]
key = "fire"
title = "火灾"
incident = "fire"
[[plans.steps]]
at_s = 10
action = "dispatch"
team = "fire-station"
text = "派遣微型消防站"
"""


def test_evacuate_lists_the_teams_with_their_eta(tmp_path, capsys):
    """To a fire in a's room B: FS-01 50 m straight to a's exit, then 2 m in; GUARD-1 4 m through the
    door; the first-aid room in b 6 m out of b, 40 m across, 2 m in."""
    folder = scene(tmp_path, TEAMS, PLAN)
    park = load_park(folder)
    graph = build_graph(park)
    exits = sorted(tuple(np.round(graph.openings[e].point_m[:2], 6)) for e in graph.exits)
    assert exits == [(8.0, 2.0), (48.0, 2.0)], "the buildings stand as the hand figures take them"
    b_room = graph.places[graph.place_index[f"ifc:a:{space_ids(tmp_path / 'rooms.ifc')['B']}"]].id
    report = tmp_path / "drill.html"
    assert main(["evacuate", str(folder), "--occupants", "4", "--incident", f"fire@{b_room}", "--json",
                 "--report", str(report)]) == 0
    answer = json.loads(capsys.readouterr().out)
    teams = [(r["id"], r["name"], r["distance_m"], r["eta_s"]) for r in answer["resources"] if r["kind"] == "team"]
    assert teams == [("fire-station", "微型消防站 (6)", 52.0, 86.0), ("guard", "门岗 (1)", 4.0, 32.0),
                     ("first-aid", "医务室 (2)", 48.0, 114.0)]
    assert {r["eta_s"] for r in answer["resources"] if r["kind"] != "team"} == {None}
    step = answer["plan"]["steps"][0]
    assert (step["action"], step["team"], step["targets"], step["arrives_s"]) == (
        "dispatch", "fire-station", ["dev:FS-01"], 96.0)
    assert "<td>team</td><td>微型消防站 (6)</td><td>52</td><td>86.0</td>" in report.read_text(encoding="utf-8")


def test_a_kept_report_lists_the_resources(tmp_path, rooms):
    park, graph, b, _ = rooms
    found = resources(park, graph, b, teams=[TeamSpec("aid", "医务室", "medical", graph.places[graph.place("A")].id)])
    result = evacuate(graph, place_occupants(graph, {b: 4}))
    page = ReportStore(tmp_path / "kept").save(result, graph, "演练", resources=found).read_text(encoding="utf-8")
    assert "事发点附近资源 Resources near the incident" in page
    assert "<td>exit</td><td>Exit</td><td>2</td><td>—</td>" in page
    assert "<td>team</td><td>医务室 (1)</td><td>4</td><td>62.0</td>" in page


def test_an_unknown_base_or_team_is_named(tmp_path):
    folder = scene(tmp_path, TEAMS.replace('"GUARD-1"', '"GUARD-9"'))
    problem = f"{folder / 'scene.toml'}: teams[1].base: no node 'GUARD-9' in the park"
    with pytest.raises(SceneError) as raised:
        load_park(folder)
    assert raised.value.problems == [problem]
    assert check_scene(folder) == [problem], "twin check says so too"
    scene(tmp_path, TEAMS, PLAN.replace('team = "fire-station"', 'team = "fire-brigade"'))
    assert check_scene(folder) == [f"{folder / 'scene.toml'}: plans[0].steps[0].team: "
                                   "no team 'fire-brigade' in [[teams]]"]
    with pytest.raises(SceneError):
        read_scene(folder)
