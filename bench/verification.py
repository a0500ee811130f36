"""Figures of the evacuation models on the published verification tests the test suite checks
(IMO MSC.1/Circ.1533 test 4; RiMEA 1, 5, 9, 10), for the README's table.

    .venv/bin/python bench/verification.py [--models flow,agent]

The buildings are written with ifcopenshell by ``tests/rooms_ifc.py``, as the tests do. Each line
prints the figure, the band it must fall in, and the margin.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from ifc.importer import import_ifc  # noqa: E402
from rooms_ifc import Door, Room, corridor, room_with_exits, write_rooms  # noqa: E402
from twin.evacuation import ExitPlan, build_graph, evacuate, place_occupants  # noqa: E402
from twin.evacuation.occupants import Occupants  # noqa: E402

RIMEA_9_DOORS = [("Exit NW", 0.0, 17.5, 1.0, "y"), ("Exit SW", 0.0, 2.5, 1.0, "y"),
                 ("Exit NE", 30.0, 17.5, 1.0, "y"), ("Exit SE", 30.0, 2.5, 1.0, "y")]


def line(name: str, value: float, low: float, high: float, unit: str) -> bool:
    ok = low <= value <= high
    print(f"  {name:<46} {value:8.3f} {unit:<4} band {low:g}–{high:g}  {'✓' if ok else '✗'}")
    return ok


def imo_4(folder: Path, model: str) -> bool:
    g = build_graph(import_ifc(room_with_exits(folder / "imo4.ifc", 8.0, 5.0, [("Exit", 8.0, 2.5, 1.0, "y")])))
    r = evacuate(g, place_occupants(g, {g.place("Room"): 100}), model)
    first = min(t[1, 0] for t in r.tracks if len(t) > 1)
    expected = first + 100 / (1.3 * 0.70)
    ok = line("IMO 4: total ÷ (first arrival + N/(1.3×0.7))", r.total_time_s / expected, 0.97, 1.03, "")
    return line("IMO 4: most flow through the 1 m door", r.exits[0].max_flow_pps, 0.0, 1.33, "p/s") and ok


def rimea_1(folder: Path, model: str) -> bool:
    g = build_graph(import_ifc(corridor(folder / "rimea1.ifc", 40.0, 2.0)))
    x0, y0, _, _ = g.places[g.place("Corridor")].footprint.bounds
    person = Occupants(np.array([g.place("Corridor")]), np.array([[x0 + 0.2, y0 + 1.0]]), np.array([1.33]),
                       np.zeros(1), np.zeros(1, int))
    return line("RiMEA 1: 40 m corridor at 1.33 m/s", evacuate(g, person, model).total_time_s, 26, 34, "s")


def rimea_5(folder: Path, model: str) -> bool:
    g = build_graph(import_ifc(room_with_exits(folder / "rimea5.ifc", 8.0, 5.0, [("Exit", 8.0, 2.5, 1.0, "y")])))
    people = place_occupants(g, {g.place("Room"): 10}, premovement_s=(10.0, 100.0), seed=5)
    r = evacuate(g, people, model)
    early = max(people.premovement_s[i] - t[0, 0] for i, t in enumerate(r.tracks))
    return line("RiMEA 5: latest start before premovement", max(early, 0.0), 0.0, 0.0, "s")


def rimea_9(folder: Path, model: str) -> bool:
    g = build_graph(import_ifc(room_with_exits(folder / "rimea9.ifc", 30.0, 20.0, RIMEA_9_DOORS)))
    people = place_occupants(g, {g.place("Room"): 1000})
    both = evacuate(g, people, model)
    closed = evacuate(g, people, model, ExitPlan(closed=frozenset({g.opening("Exit NW"), g.opening("Exit SW")})))
    return line("RiMEA 9: two exits closed ÷ four open", closed.total_time_s / both.total_time_s, 1.6, 2.4, "×")


def rimea_10(folder: Path, model: str) -> bool:
    rooms = [Room("Corridor", 0, 0, 30, 2)] + [Room(f"R{k}", 6 * k, 2, 6, 5) for k in range(5)]
    doors = [Door("West", 0, 1, 1.0, "y"), Door("East", 30, 1, 1.0, "y")]
    doors += [Door(f"D{k}", 6 * k + 3, 2, 0.9, "x") for k in range(5)]
    g = build_graph(import_ifc(write_rooms(folder / "rimea10.ifc", rooms, doors)))
    assigned = {g.place("R0"): g.opening("East"), g.place("R1"): g.opening("West"), g.place("R3"): g.opening("West")}
    people = place_occupants(g, {g.place(f"R{k}"): 8 for k in range(5)})
    r = evacuate(g, people, model, ExitPlan(assigned=assigned))
    used = {int(p): int(r.passes[r.passes[:, 2] == p][-1, 1]) for p in range(len(people))}
    wrong = sum(used[i] != assigned[room] for i, room in enumerate(people.place) if room in assigned)
    return line("RiMEA 10: persons leaving by another exit", wrong, 0, 0, "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="flow,agent")
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        for model in args.models.split(","):
            print(f"{model} model")
            for case in (imo_4, rimea_1, rimea_5, rimea_9, rimea_10):
                ok = case(Path(folder), model) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
