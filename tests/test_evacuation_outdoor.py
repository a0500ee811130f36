"""From the exits to the assembly points along the walkways, and the resources near an incident."""
from __future__ import annotations

import numpy as np
import pytest
import shapely

from conftest import ROOT
from ifc.importer import import_ifc
from rooms_ifc import room_with_exits
from twin.cache import compile_scene
from twin.evacuation import build_graph, evacuate, place_occupants
from twin.evacuation.outdoor import AssemblyPoint, outdoors, park_outdoors
from twin.evacuation.resources import resources

DEMO = ROOT / "scenes" / "demo"


@pytest.fixture(scope="module")
def demo():
    park = compile_scene(DEMO)
    graph = build_graph(park)
    return park, graph, park_outdoors(park, graph)


def test_walk_follows_crossing_walkways_around_a_corner(tmp_path) -> None:
    """An exit on an east-west path that crosses a north-south one: the way turns at the crossing."""
    g = build_graph(import_ifc(room_with_exits(tmp_path / "room.ifc", 8.0, 5.0, [("Exit", 8.0, 2.5, 1.0, "y")])))
    exit_xy = g.openings[g.exits[0]].point_m[:2]
    east = shapely.LineString([exit_xy, exit_xy + (30, 0)])
    north = shapely.LineString([exit_xy + (20, -10), exit_xy + (20, 40)])
    point = AssemblyPoint("ap", "集合点", tuple(exit_xy + (20, 30)), 50)
    ways = outdoors(g, [point], [east, north])
    k, walk_m, polyline = ways.way[g.exits[0]]
    assert k == 0 and 45.0 < walk_m <= 50.0  # 20 east, then 30 north (the corner cut): not the 36 m straight line
    assert np.allclose(polyline[0], exit_xy) and np.allclose(polyline[-1], point.xy_m)
    result = evacuate(g, place_occupants(g, {g.place("Room"): 20}), outdoors=ways)
    assert result.assembly[0].count == 20 and not result.assembly[0].over_capacity
    assert np.all(result.assembled_s > result.out_s)
    assert result.positions_at(result.total_time_s + 1.0)[np.isfinite(result.assembled_s)].size > 0


def test_a_building_in_the_way_sends_people_along_the_walkway(tmp_path) -> None:
    """The straight line to the point crosses another building: the way follows the path around it."""
    g = build_graph(import_ifc(room_with_exits(tmp_path / "room.ifc", 8.0, 5.0, [("Exit", 8.0, 2.5, 1.0, "y")])))
    exit_xy = g.openings[g.exits[0]].point_m[:2]
    point = AssemblyPoint("ap", "集合点", tuple(exit_xy + (40, 0)), None)
    block = shapely.box(*(exit_xy + (15, -5)), *(exit_xy + (25, 5)))
    path = shapely.LineString([exit_xy, exit_xy + (0, 10), exit_xy + (40, 10), exit_xy + (40, 0)])
    open_ground = outdoors(g, [point], [path], {None: []}).way[g.exits[0]]
    blocked = outdoors(g, [point], [path], {None: [block]}).way[g.exits[0]]
    assert open_ground[1] == pytest.approx(40.0) and len(open_ground[2]) == 2
    assert 45.0 < blocked[1] <= 60.0 and len(blocked[2]) > 2  # round the block (corners cut within 10 m)


def test_without_walkways_people_walk_straight(tmp_path) -> None:
    g = build_graph(import_ifc(room_with_exits(tmp_path / "room.ifc", 8.0, 5.0, [("Exit", 8.0, 2.5, 1.0, "y")])))
    exit_xy = g.openings[g.exits[0]].point_m[:2]
    ways = outdoors(g, [AssemblyPoint("far", "远", tuple(exit_xy + (90, 0)), None),
                        AssemblyPoint("near", "近", tuple(exit_xy + (0, 40)), None)])
    k, walk_m, _ = ways.way[g.exits[0]]
    assert ways.points[k].id == "near" and walk_m == pytest.approx(40.0)


def test_every_demo_exit_leads_to_an_assembly_point(demo) -> None:
    park, graph, ways = demo
    assert len(ways.points) == 3 and set(ways.way) == set(graph.exits)
    assert park.walkways and any(len(polyline) > 2 for _, _, polyline in ways.way.values()), "along the paths"
    assert any(len(polyline) == 2 for _, _, polyline in ways.way.values()), "or straight across open ground"
    for exit_, (k, walk_m, polyline) in ways.way.items():
        straight = float(np.hypot(*(np.asarray(ways.points[k].xy_m) - graph.openings[exit_].point_m[:2])))
        assert straight - 1e-6 <= walk_m <= 4 * straight + 50
        assert walk_m == pytest.approx(float(np.hypot(*np.diff(polyline, axis=0).T).sum()), rel=1e-6)


def test_resources_near_a_third_floor_fire(demo) -> None:
    park, graph, ways = demo
    room = graph.place_index[park.nodes["dev:SD-B02-3F-A-305-1"].links["host"]]
    found = resources(park, graph, room, ways)
    kinds = [r.kind for r in found]
    assert {"exit", "assembly_point", "camera", "hydrant"} <= set(kinds)
    exits = [r for r in found if r.kind == "exit"]
    assert [r.distance_m for r in exits] == sorted(r.distance_m for r in exits)
    building = park.nodes[graph.places[room].id].links["building"]
    assert all(park.nodes[r.id].links["building"] == building for r in exits), "the burning building's own exits"
