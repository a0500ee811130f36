"""Emergency plans in the scene file: read and checked, resolved on the demo park, run as a drill."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT
from twin.cache import compile_scene
from twin.cli import main
from twin.park import Park
from twin.plans import checklist, plan_for, plan_problems, read_plans
from twin.scene import _Reader, read_scene

DEMO = ROOT / "scenes" / "demo"
FIRE_ROOM_DEVICE = "dev:SD-B02-3F-A-305-1"  # a smoke detector in an open office on the third floor of B02


@pytest.fixture(scope="module")
def demo() -> Park:
    return compile_scene(DEMO)


def test_demo_fire_plan_is_read_in_time_order() -> None:
    plans = read_scene(DEMO).plans
    plan = plan_for(plans, rule="smoke")
    assert plan is not None and plan.incident == "fire" and plan.principal == "plan:fire"
    assert plan_for(plans, incident="fire") is plan
    times = [step.at_s for step in plan.steps]
    assert times == sorted(times) and {s.action for s in plan.steps} >= {"cameras", "command", "broadcast"}


def test_checklist_reaches_the_fire_buildings_doors_and_lifts_only(demo: Park) -> None:
    plan = plan_for(read_scene(DEMO).plans, incident="fire")
    space = demo.nodes[FIRE_ROOM_DEVICE].links["host"]
    drill = checklist(plan, demo, space)
    unlock = next(i for i in drill.items if i.command == "unlock")
    recall = next(i for i in drill.items if i.command == "recall")
    cameras = next(i for i in drill.items if i.action == "cameras")
    assert unlock.targets and all("-B02-" in t for t in unlock.targets)
    b02_doors = [n.id for n in demo.of_kind("device") if n.id.startswith("dev:AC-B02-")]
    assert sorted(unlock.targets) == sorted(b02_doors)
    assert recall.targets and all("B02" in t for t in recall.targets)
    assert cameras.targets and all(demo.nodes[c].kind == "device" for c in cameras.targets)
    assert {i.state for i in drill.items} == {"pending"}
    drill.run_drill()
    assert all(i.state == "drill" and i.done_s == i.at_s for i in drill.items)


def test_bad_plans_are_named_by_field(tmp_path: Path) -> None:
    r = _Reader(tmp_path / "scene.toml")
    plans = read_plans(r, {"plans": [
        {"key": "fire", "title": "火灾", "incident": "fire", "rules": ["smok"], "steps": [
            {"at_s": 0, "action": "command", "device_type": "lift", "command": "fly", "text": "x"},
            {"at_s": 5, "action": "command", "device_type": "robot", "command": "go", "text": "y"}]},
        {"key": "quake", "title": "地震", "incident": "quake", "steps": [{"at_s": -1, "action": "dance", "text": "z"}]},
    ]})
    assert len(plans) == 1
    problems = r.problems + [f"{where}: {cause}" for where, cause in plan_problems(plans, read_scene(DEMO).live)]
    text = "\n".join(problems)
    for expected in ("plans[1].incident: unknown incident 'quake'", "plans[1].steps[0].at_s: must be ≥ 0",
                     "plans[1].steps[0].action: unknown action 'dance'", "plans[0].rules: no alarm rule 'smok'",
                     "plans[0].steps[0].command: lift does not accept 'fly' (accepts: recall)",
                     "plans[0].steps[1].device_type: no device type 'robot'"):
        assert expected in text, text


def test_evacuate_runs_the_plan_as_a_drill(capsys: pytest.CaptureFixture[str], demo: Park, tmp_path: Path) -> None:
    """``twin evacuate SCENE --incident fire@…`` ticks the fire plan off as a drill and writes the report."""
    report = tmp_path / "drill.html"
    assert main(["evacuate", str(DEMO), "--density", "0.05", "--incident", f"fire@{FIRE_ROOM_DEVICE}",
                 "--report", str(report), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["drill"] is True and answer["plan"]["principal"] == "plan:fire"
    assert {step["state"] for step in answer["plan"]["steps"]} == {"drill"}
    fire_room = demo.nodes[FIRE_ROOM_DEVICE].links["host"]
    room = next(s for s in answer["spaces"] if s["id"] == fire_room)
    assert room["aset_s"] is not None and room["aset_s"] == min(s["aset_s"] for s in answer["spaces"]
                                                               if s["aset_s"] is not None)
    assert {e["count"] > 0 for e in answer["exits"]} == {True}, "every building's exits are used"
    vacant = [n.id for n in demo.of_kind("space") if n.properties.get("lease", {}).get("status") == "vacant"]
    occupants = {s["id"]: s["occupants"] for s in answer["spaces"]}
    assert vacant and all(occupants[v] == 0 for v in vacant), "nobody in a vacant unit"
    html = report.read_text(encoding="utf-8")
    assert "DRILL" in html and "解锁本楼门禁" in html


def test_a_plan_assigns_a_buildings_people_to_one_exit(demo: Park) -> None:
    """``[plans.exits]``: everyone in 2号研发楼 leaves by its east stair's fire exit."""
    from dataclasses import replace

    from twin.evacuation import ExitPlan, build_graph, evacuate, place_occupants
    from twin.evacuation.commands import assigned_exits
    from twin.evacuation.occupants import counts_by_density

    graph = build_graph(demo)
    building = demo.nodes[demo.nodes[FIRE_ROOM_DEVICE].links["host"]].links["building"]
    fire_exit = next(o for o in graph.exits if graph.places[graph.openings[o].places[0]].building == building
                     and "FM" in graph.openings[o].name)
    plan = replace(plan_for(read_scene(DEMO).plans, incident="fire"), exits=((building, graph.openings[fire_exit].id),))
    assigned = assigned_exits(demo, graph, plan)
    assert set(assigned.values()) == {fire_exit} and len(assigned) == len(graph.spaces(building))
    people = place_occupants(graph, counts_by_density(graph, 0.05, building))
    result = evacuate(graph, people, plan=ExitPlan(assigned=assigned))
    used = {e.id: e.count for e in result.exits if e.count}
    assert used == {graph.openings[fire_exit].id: len(people)}
