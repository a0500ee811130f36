"""The flow model against published verification tests (IMO MSC.1/Circ.1533 test 4; RiMEA 1, 5, 9, 10),
on IFC files the tests write, and the ``twin evacuate --json`` contract."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import IFC_DIR
from rooms_ifc import Door, Room, corridor, graph_of, room_with_exits, write_rooms
from twin.cli import main
from twin.evacuation import ExitPlan, evacuate, place_occupants, sfpe
from twin.evacuation.graph import EvacuationGraph
from twin.evacuation.occupants import Occupants

RIMEA_9_DOORS = [("Exit NW", 0.0, 17.5, 1.0, "y"), ("Exit SW", 0.0, 2.5, 1.0, "y"),
                 ("Exit NE", 30.0, 17.5, 1.0, "y"), ("Exit SE", 30.0, 2.5, 1.0, "y")]


def first_arrival_s(result) -> float:
    """When the first person reaches a door (the second point of a track: the first opening)."""
    return min(track[1, 0] for track in result.tracks if len(track) > 1)


def exit_of(result, person: int) -> int:
    rows = result.passes[result.passes[:, 2] == person]
    return int(rows[-1, 1])


def test_imo_test_4_total_time_is_first_arrival_plus_door_time(tmp_path: Path) -> None:
    """100 persons in an 8 × 5 m room, one 1 m door: N ÷ (1.3 p/s/m × 0.70 m) after the first arrival."""
    g = graph_of(room_with_exits(tmp_path / "imo4.ifc", 8.0, 5.0, [("Exit", 8.0, 2.5, 1.0, "y")]))
    result = evacuate(g, place_occupants(g, {g.place("Room"): 100}))
    expected = first_arrival_s(result) + 100 / (1.3 * 0.70)
    assert result.evacuated == 100
    assert result.total_time_s == pytest.approx(expected, rel=0.03)
    assert result.exits[0].max_flow_pps <= 1.33
    out = np.sort(result.out_s)
    assert np.diff(out).min() >= 1 / 1.33 - 1e-9  # never faster than 1.33 p/s, even between two persons


def test_rimea_1_corridor_takes_26_to_34_s(tmp_path: Path) -> None:
    """One person walks a 40 m corridor at 1.33 m/s."""
    g = graph_of(corridor(tmp_path / "rimea1.ifc", 40.0, 2.0))
    person = Occupants(place=np.array([g.place("Corridor")]), xy_m=np.array([[0.0, 1.0]]) + _corner(g, "Corridor"),
                       speed_m_s=np.array([1.33]), premovement_s=np.zeros(1), group=np.zeros(1, int))
    result = evacuate(g, person)
    assert 26.0 <= result.total_time_s <= 34.0


def _corner(g: EvacuationGraph, space: str) -> np.ndarray:
    x0, y0, _, _ = g.places[g.place(space)].footprint.bounds
    return np.array([x0, y0])


def test_rimea_5_premovement_times_are_honoured(tmp_path: Path) -> None:
    """10 persons with premovement times spread over 10–100 s: nobody moves before their time."""
    g = graph_of(room_with_exits(tmp_path / "rimea5.ifc", 8.0, 5.0, [("Exit", 8.0, 2.5, 1.0, "y")]))
    people = place_occupants(g, {g.place("Room"): 10}, premovement_s=(10.0, 100.0), seed=5)
    result = evacuate(g, people)
    assert people.premovement_s.min() >= 10 and people.premovement_s.max() <= 100
    for i, track in enumerate(result.tracks):
        assert track[0, 0] == pytest.approx(people.premovement_s[i])
        assert result.out_s[i] > people.premovement_s[i]
    assert result.total_time_s >= people.premovement_s.max()


def test_rimea_9_closing_two_of_four_exits_takes_1_6_to_2_4_times_as_long(tmp_path: Path) -> None:
    """1,000 persons in a 30 × 20 m room with four 1 m exits, then with two of them closed."""
    g = graph_of(room_with_exits(tmp_path / "rimea9.ifc", 30.0, 20.0, RIMEA_9_DOORS))
    people = place_occupants(g, {g.place("Room"): 1000})
    both = evacuate(g, people)
    closed = evacuate(g, people, plan=ExitPlan(closed=frozenset({g.opening("Exit NW"), g.opening("Exit SW")})))
    assert both.evacuated == closed.evacuated == 1000
    assert 1.6 <= closed.total_time_s / both.total_time_s <= 2.4
    assert {e.name: e.count for e in closed.exits}["Exit NW"] == 0


def test_rimea_10_assigned_exits_are_honoured(tmp_path: Path) -> None:
    """Rooms along a corridor with an exit at each end; each room's people use the exit they are given."""
    rooms = [Room("Corridor", 0, 0, 30, 2)] + [Room(f"R{k}", 6 * k, 2, 6, 5) for k in range(5)]
    doors = [Door("West", 0, 1, 1.0, "y"), Door("East", 30, 1, 1.0, "y")]
    doors += [Door(f"D{k}", 6 * k + 3, 2, 0.9, "x") for k in range(5)]
    g = graph_of(write_rooms(tmp_path / "rimea10.ifc", rooms, doors))
    west, east = g.opening("West"), g.opening("East")
    assigned = {g.place("R0"): east, g.place("R1"): west, g.place("R3"): west, g.place("R4"): west}
    people = place_occupants(g, {g.place(f"R{k}"): 8 for k in range(5)})
    result = evacuate(g, people, plan=ExitPlan(assigned=assigned))
    assert result.evacuated == 40
    for i, room in enumerate(people.place):
        if room in assigned:
            assert exit_of(result, i) == assigned[room]
    nearest = evacuate(g, people)
    assert any(exit_of(nearest, i) != assigned[room] for i, room in enumerate(people.place) if room in assigned)


def test_stair_speed_follows_its_riser_and_tread() -> None:
    assert sfpe.stair_k_m_s(tread_m=0.2794, riser_m=0.1778) * 0.85 == pytest.approx(0.92, abs=0.01)


def test_evacuate_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``twin evacuate FILE.ifc --occupants N --json`` prints the documented keys, ids by GlobalId."""
    path = room_with_exits(tmp_path / "imo4.ifc", 8.0, 5.0, [("Exit", 8.0, 2.5, 1.0, "y")])
    assert main(["evacuate", str(path), "--occupants", "100",
                "--premovement", "5", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {"total_time_s", "occupants", "exits", "spaces", "congestion"} <= set(answer)
    assert answer["occupants"] == 100
    assert set(answer["exits"][0]) >= {"id", "count", "first_out_s", "last_out_s", "max_flow_pps"}
    assert answer["exits"][0]["count"] == 100 and answer["exits"][0]["first_out_s"] > 5
    assert set(answer["spaces"][0]) >= {"id", "rset_s", "aset_s"} and answer["spaces"][0]["aset_s"] is None


def test_evacuate_with_a_fire_gives_every_space_an_aset(capsys: pytest.CaptureFixture[str]) -> None:
    """A fire in the FZK-Haus living room: the living room becomes untenable first."""
    if not IFC_DIR.is_dir():
        pytest.skip(f"sample data folder {IFC_DIR} is absent")
    assert main(["evacuate", str(IFC_DIR / "AC20-FZK-Haus.ifc"), "--density", "0.5", "--incident",
                 "fire@5 Wohnen", "--growth", "fast", "--json"]) == 0
    spaces = {s["name"]: s for s in json.loads(capsys.readouterr().out)["spaces"]}
    asets = {name: s["aset_s"] for name, s in spaces.items() if s["aset_s"] is not None}
    assert min(asets, key=asets.get) == "5 Wohnen"


@pytest.mark.parametrize("argv, message", [
    (["--space", "Nowhere=3"], "no space 'Nowhere'"),
    (["--closed-door", "Front"], "no door 'Front'"),
    (["--incident", "meteor@Room"], "KIND@NODE_ID"),
    (["--premovement", "soon"], "premovement"),
])
def test_bad_arguments_get_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                          message: str) -> None:
    path = room_with_exits(tmp_path / "room.ifc", 8.0, 5.0, [("Exit", 8.0, 2.5, 1.0, "y")])
    assert main(["evacuate", str(path), *argv]) == 2
    error = capsys.readouterr().err
    lines = [line for line in error.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]
