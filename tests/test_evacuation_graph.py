"""The evacuation graph read from IFC: plain test buildings (IMO MSC.1/Circ.1533 test 4, RiMEA 1 and 9)
and the real sample houses (FZK-Haus, bim2sim ExampleHOM)."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import shapely

from rooms_ifc import Door, Room, corridor, graph_of, room_with_exits, sample_graph, write_rooms
from twin.evacuation import sfpe
from twin.evacuation.graph import EvacuationGraph


@pytest.fixture(scope="module")
def fzk() -> EvacuationGraph:
    return sample_graph("AC20-FZK-Haus.ifc")


@pytest.fixture(scope="module")
def hom() -> EvacuationGraph:
    return sample_graph("bim2sim_ExampleHOM.ifc")


def names(g: EvacuationGraph, places: tuple[int, int]) -> set[str]:
    return {g.places[p].name for p in places}


def reachable(g: EvacuationGraph, start: int) -> set[int]:
    """Every place reachable from ``start`` through the graph's openings."""
    seen, todo = {start}, [start]
    while todo:
        place = todo.pop()
        for opening in g.places[place].openings:
            other = g.openings[opening].other(place)
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def on_outline(g: EvacuationGraph, place: int, opening: int) -> float:
    """Plan distance from an opening's point to a place's outline."""
    return g.places[place].footprint.boundary.distance(shapely.Point(g.openings[opening].point_m[:2]))


# --- plain test buildings -------------------------------------------------------------------------
def test_imo_test_4_room_has_one_space_and_one_exit_on_its_wall(tmp_path: Path) -> None:
    g = graph_of(room_with_exits(tmp_path / "imo4.ifc", 8.0, 5.0, [("Exit", 8.0, 2.5, 1.0, "y")]))
    assert [g.places[i].name for i in g.spaces()] == ["Room"]
    room = g.spaces()[0]
    assert g.places[room].area_m2 == pytest.approx(40.0, abs=0.5)
    assert len(g.exits) == 1
    exit_ = g.openings[g.exits[0]]
    assert exit_.width_m == pytest.approx(1.0, abs=0.05)
    assert room in exit_.places
    assert on_outline(g, room, g.exits[0]) < 0.05


def test_connecting_door_joins_two_rooms_and_exit_joins_one_to_outside(tmp_path: Path) -> None:
    path = write_rooms(tmp_path / "two.ifc", [Room("A", 0, 0, 4, 4), Room("B", 4, 0, 4, 4)],
                       [Door("A-B", 4, 2, 1.0, "y"), Door("Exit", 8, 2, 0.9, "y")])
    g = graph_of(path)
    door, exit_ = g.openings[g.opening("A-B")], g.openings[g.opening("Exit")]
    assert door.kind == "door" and names(g, door.places) == {"A", "B"}
    assert exit_.kind == "exit" and exit_.width_m == pytest.approx(0.9, abs=0.05)
    kinds = {g.places[p].kind: g.places[p].name for p in exit_.places}
    assert set(kinds) == {"space", "outside"} and kinds["space"] == "B"
    assert g.exits == [g.opening("Exit")]
    assert not g.problems


def test_rimea_9_room_has_four_exits(tmp_path: Path) -> None:
    doors = [("Exit NW", 0.0, 17.5, 1.0, "y"), ("Exit SW", 0.0, 2.5, 1.0, "y"),
             ("Exit NE", 30.0, 17.5, 1.0, "y"), ("Exit SE", 30.0, 2.5, 1.0, "y")]
    g = graph_of(room_with_exits(tmp_path / "rimea9.ifc", 30.0, 20.0, doors))
    room = g.place("Room")
    assert g.places[room].area_m2 == pytest.approx(600.0, abs=0.5)
    assert sorted(g.openings[i].name for i in g.exits) == sorted(d[0] for d in doors)
    for i in g.exits:
        assert g.openings[i].width_m == pytest.approx(1.0, abs=0.05)
        assert on_outline(g, room, i) < 0.05


def test_rimea_1_corridor_exit_spans_its_width(tmp_path: Path) -> None:
    g = graph_of(corridor(tmp_path / "rimea1.ifc", length_m=40.0, width_m=2.0))
    hall = g.place("Corridor")
    assert g.places[hall].area_m2 == pytest.approx(80.0, abs=0.5)
    assert len(g.exits) == 1
    assert g.openings[g.exits[0]].width_m == pytest.approx(2.0, abs=0.05)
    west, _, east, _ = g.places[hall].footprint.bounds
    assert g.openings[g.exits[0]].point_m[0] == pytest.approx(east, abs=0.05)
    assert east - west == pytest.approx(40.0, abs=0.05)


# --- the shared sample files ----------------------------------------------------------------------
def test_fzk_haus_inner_doors_join_spaces(fzk: EvacuationGraph) -> None:
    expected = {"Innentuer-1": {"1 Flur", "4 Schlafzimmer"}, "Innentuer-2": {"1 Flur", "3 Bad"},
                "Innentuer-3": {"1 Flur", "2 Buero"}}
    for door, rooms in expected.items():
        opening = fzk.openings[fzk.opening(door)]
        assert opening.kind == "door", door
        assert names(fzk, opening.places) == rooms, door
        assert opening.width_m == pytest.approx(0.885, abs=0.05), door


@pytest.mark.parametrize(("door", "room", "width_m"), [("Haustuer", "1 Flur", 1.01),
                                                        ("Terrassentuer", "5 Wohnen", 2.01)])
def test_fzk_haus_outer_doors_are_exits(fzk: EvacuationGraph, door: str, room: str, width_m: float) -> None:
    i = fzk.opening(door)
    assert i in fzk.exits
    opening = fzk.openings[i]
    assert {fzk.places[p].kind for p in opening.places} == {"space", "outside"}
    assert room in names(fzk, opening.places)
    assert opening.width_m == pytest.approx(width_m, abs=0.05)
    assert on_outline(fzk, fzk.place(room), i) < 0.3  # on the space's side of a thick outer wall


def test_fzk_haus_has_exactly_its_two_exits(fzk: EvacuationGraph) -> None:
    assert sorted(fzk.openings[i].name for i in fzk.exits) == ["Haustuer", "Terrassentuer"]


def test_fzk_haus_stair_joins_ground_floor_to_galerie(fzk: EvacuationGraph) -> None:
    stair = fzk.place("Wendeltreppe")
    assert fzk.places[stair].kind == "stair"
    ends = {fzk.openings[i].name: fzk.openings[i] for i in fzk.places[stair].openings}
    assert set(ends) == {"Wendeltreppe foot", "Wendeltreppe head"}
    foot = fzk.places[ends["Wendeltreppe foot"].other(stair)]
    head = fzk.places[ends["Wendeltreppe head"].other(stair)]
    ground_m = min(fzk.places[i].floor_m for i in fzk.spaces())
    assert foot.kind == "space" and foot.floor_m == pytest.approx(ground_m, abs=0.05)
    assert head.name == "7 Galerie" and head.floor_m > foot.floor_m + 2.0
    # its Pset_StairCommon gives no riser or tread, so the 7/11 default applies
    riser_m, tread_m = sfpe.RISER_7_11_M, sfpe.TREAD_7_11_M
    assert fzk.places[stair].k_m_s == pytest.approx(sfpe.stair_k_m_s(tread_m, riser_m))
    rise_m = head.floor_m - foot.floor_m
    assert fzk.places[stair].length_m == pytest.approx(rise_m * math.hypot(1.0, tread_m / riser_m), rel=1e-6)
    assert fzk.place("7 Galerie") in reachable(fzk, fzk.place("5 Wohnen"))


def test_bim2sim_home_has_two_ground_floor_exits(hom: EvacuationGraph) -> None:
    exits = sorted(hom.openings[i].name for i in hom.exits)
    assert exits == ["GroundFloor_Door1", "GroundFloor_Door5"]
    ground_m = min(hom.places[i].floor_m for i in hom.spaces())
    for i in hom.exits:
        space = next(p for p in hom.openings[i].places if hom.places[p].kind == "space")
        assert hom.places[space].floor_m == pytest.approx(ground_m, abs=0.05)


def test_bim2sim_home_upper_doors_join_rooms_but_lead_nowhere_down(hom: EvacuationGraph) -> None:
    upper = [o for o in hom.openings if o.name.startswith("1stFloor_")]
    assert len(upper) == 4
    ground_m = min(hom.places[i].floor_m for i in hom.spaces())
    for opening in upper:
        assert opening.kind == "door", opening.name
        assert all(hom.places[p].kind == "space" and hom.places[p].floor_m > ground_m + 2.0
                   for p in opening.places), opening.name
    assert not [p for p in hom.places if p.kind == "stair"]
    outside = {p for i in hom.exits for p in hom.openings[i].places if hom.places[p].kind == "outside"}
    assert not outside & reachable(hom, hom.place("Corridor8"))
    assert outside <= reachable(hom, hom.place("Corridor3"))
