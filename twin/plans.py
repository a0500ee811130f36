"""Emergency plans (``[[plans]]`` in ``scene.toml``): what follows an incident, step by step.

A plan names the incident it answers (``fire``…), the alarm rules that open it, and timed steps:
show the cameras that see the incident, send a command to the devices of a type around it
(unlock the access doors of the building, recall the lifts), broadcast to zones, notify people,
dispatch a response team (``[[teams]]``, :mod:`twin.teams`)::

    [[plans]]
    key = "fire"
    title = "火灾应急预案"
    title_en = "Fire emergency plan"
    incident = "fire"
    rules = ["smoke"]
    [[plans.steps]]
    at_s = 0
    action = "command"
    device_type = "access_door"
    command = "unlock"
    scope = "building"
    text = "解锁疏散路线门禁"
    [[plans.steps]]
    at_s = 0
    action = "dispatch"
    team = "fire-station"
    text = "派遣微型消防站"

A drill turns a plan into a :class:`Checklist` with times and never sends a command; a real alarm's
checklist sends each command, once a commander confirms it, as the principal ``plan:<key>``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.park import Park
from twin.teams import TeamSpec, base_node

if TYPE_CHECKING:
    from live.config import LiveSpec
    from twin.scene import _Reader

ACTIONS = ("cameras", "command", "broadcast", "notify", "dispatch")
SCOPES = ("space", "storey", "building", "park")
INCIDENTS = ("fire", "gas", "flood", "intrusion", "crowd")
NEAREST_CAMERAS = 4  #: cameras shown when none sees the incident itself
_PLAN_KEYS = {"key", "title", "title_en", "incident", "rules", "steps", "exits"}
_STEP_KEYS = {"at_s", "action", "text", "text_en", "device_type", "command", "scope", "team"}


@dataclass(frozen=True)
class PlanStep:
    at_s: float
    action: str  # one of ACTIONS
    text: str
    text_en: str = ""
    device_type: str | None = None  # command: the devices' type
    command: str | None = None  # command: the action sent (one the type accepts)
    scope: str = "building"  # which of them: around the incident's space, storey, building, or all
    team: str | None = None  # dispatch: the team's key ([[teams]])


@dataclass(frozen=True)
class PlanSpec:
    key: str
    title: str
    title_en: str
    incident: str
    rules: tuple[str, ...]
    steps: tuple[PlanStep, ...]
    exits: tuple[tuple[str, str], ...] = ()  # (space, storey or building node id, exit door id or name)

    @property
    def principal(self) -> str:
        """Who its commands are sent as."""
        return f"plan:{self.key}"


def read_plans(r: _Reader, data: dict[str, Any]) -> tuple[PlanSpec, ...]:
    """The ``[[plans]]`` of a scene file; every problem goes to ``r`` naming its field."""
    return r.keyed(data, "plans", _plan)


def _plan(r: _Reader, where: str, t: dict) -> PlanSpec | None:
    r.unknown(t, _PLAN_KEYS, where)
    key, title = r.text(t, "key", where, required=True), r.text(t, "title", where, required=True)
    incident = r.text(t, "incident", where, required=True)
    if incident is not None and incident not in INCIDENTS:
        r.problem(f"{where}incident", f"unknown incident {incident!r} (known: {', '.join(INCIDENTS)})")
    rules = t.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(k, str) for k in rules):
        r.problem(f"{where}rules", f"must be a list of alarm rule keys, not {rules!r}")
        rules = []
    tables = t.get("steps", [])
    if not isinstance(tables, list) or not tables or not all(isinstance(s, dict) for s in tables):
        r.problem(f"{where}steps", "must be a non-empty list of tables ([[plans.steps]])")
        tables = []
    steps = [s for j, table in enumerate(tables) if (s := _step(r, f"{where}steps[{j}].", table))]
    exits = t.get("exits", {})
    if not isinstance(exits, dict) or not all(isinstance(v, str) and v for v in exits.values()):
        r.problem(f"{where}exits", "must be a table of node id = exit door id ([plans.exits])")
        exits = {}
    if None in (key, title, incident) or len(steps) != len(tables):
        return None
    return PlanSpec(key, title, r.text(t, "title_en", where) or "", incident, tuple(rules),
                    tuple(sorted(steps, key=lambda s: s.at_s)), tuple(exits.items()))


def _step(r: _Reader, where: str, s: dict) -> PlanStep | None:
    r.unknown(s, _STEP_KEYS, where)
    at_s = r.number(s, "at_s", where)
    if at_s is not None and at_s < 0:
        r.problem(f"{where}at_s", f"must be ≥ 0, not {at_s}")
        at_s = None
    action, text = r.text(s, "action", where, required=True), r.text(s, "text", where, required=True)
    if action is not None and action not in ACTIONS:
        r.problem(f"{where}action", f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
        action = None
    scope = r.text(s, "scope", where) or "building"
    if scope not in SCOPES:
        r.problem(f"{where}scope", f"unknown scope {scope!r} (known: {', '.join(SCOPES)})")
        return None
    kind, command = r.text(s, "device_type", where), r.text(s, "command", where)
    if action == "command" and (kind is None or command is None):
        r.problem(where.rstrip("."), "a command step needs device_type and command")
        return None
    team = r.text(s, "team", where)
    if action == "dispatch" and team is None:
        r.problem(where.rstrip("."), "a dispatch step needs team")
        return None
    if None in (at_s, action, text):
        return None
    return PlanStep(at_s, action, text, r.text(s, "text_en", where) or "", kind, command, scope, team)


def plan_problems(plans: tuple[PlanSpec, ...], live: LiveSpec,
                  teams: tuple[TeamSpec, ...] = ()) -> list[tuple[str, str]]:
    """``(field, cause)`` for plans naming a device type, command or alarm rule ``[live]`` does not have,
    or a team ``[[teams]]`` does not have."""
    rules = {rule.key for rule in live.rules}
    keys = {team.key for team in teams}
    problems = []
    for i, plan in enumerate(plans):
        problems += [(f"plans[{i}].rules", f"no alarm rule {key!r} in [live]") for key in plan.rules if key not in rules]
        problems += [(f"plans[{i}].steps[{j}].team", f"no team {step.team!r} in [[teams]]")
                     for j, step in enumerate(plan.steps) if step.action == "dispatch" and step.team not in keys]
        for j, step in enumerate(plan.steps):
            if step.action != "command":
                continue
            spec = live.device_types.get(step.device_type)
            if spec is None:
                problems.append((f"plans[{i}].steps[{j}].device_type", f"no device type {step.device_type!r} in [live]"))
            elif spec.commands is None or step.command not in spec.commands.actions:
                accepted = ", ".join(spec.commands.actions) if spec.commands else "none"
                problems.append((f"plans[{i}].steps[{j}].command",
                                 f"{step.device_type} does not accept {step.command!r} (accepts: {accepted})"))
    return problems


def plan_for(plans: tuple[PlanSpec, ...] | list[PlanSpec], incident: str | None = None,
             rule: str | None = None) -> PlanSpec | None:
    """The plan a rule's alarm opens, or the first for an incident kind."""
    return next((p for p in plans if (rule is not None and rule in p.rules)
                 or (rule is None and p.incident == incident)), None)


@dataclass
class ChecklistItem:
    """One step of a plan, resolved on the park: the nodes it acts on, and what became of it."""

    at_s: float
    action: str
    text: str
    targets: tuple[str, ...]
    command: str | None = None
    state: str = "pending"  # pending → drill (never sent) | confirmed → sent / failed
    done_s: float | None = None
    team: str | None = None  # dispatch: the team's key (its base is the target)
    arrives_s: float | None = None  # dispatch: when the team can be at the incident (see Checklist.expect)


@dataclass
class Checklist:
    """A plan's steps for one incident; ``drill`` checklists never send anything."""

    plan: PlanSpec
    origin: str
    drill: bool
    items: list[ChecklistItem] = field(default_factory=list)

    def run_drill(self) -> None:
        """Tick every step off at its planned time, marked as a drill."""
        for item in self.items:
            item.state, item.done_s = "drill", item.at_s

    def expect(self, eta_s: dict[str, float]) -> None:
        """Each dispatch step's arrival: its time plus its team's ETA (``eta_s`` by team key, as
        :func:`twin.teams.team_etas` gives them)."""
        for item in self.items:
            if item.team in eta_s:
                item.arrives_s = item.at_s + eta_s[item.team]


def checklist(plan: PlanSpec, park: Park, origin: str, drill: bool = True,
              teams: tuple[TeamSpec, ...] = ()) -> Checklist:
    """The plan's steps for an incident at node ``origin`` (a space, or a device in one); a dispatch
    step acts on its team's base (one of ``teams``)."""
    items = [ChecklistItem(step.at_s, step.action, step.text, _targets(park, step, origin, teams), step.command,
                           team=step.team) for step in plan.steps]
    return Checklist(plan, origin, drill, items)


def _targets(park: Park, step: PlanStep, origin: str, teams: tuple[TeamSpec, ...]) -> tuple[str, ...]:
    from live.state import device_type
    from twin.cameras import cameras_seeing_node

    if step.action == "dispatch":
        team = next((t for t in teams if t.key == step.team), None)
        base = base_node(park, team) if team is not None else None
        return (base.id,) if base is not None else ()
    if step.action not in ("cameras", "command"):
        return ()
    area = _scope_node(park, origin, step.scope)
    kind = "camera" if step.action == "cameras" else step.device_type
    around = tuple(n.id for n in park.of_kind("device") if device_type(n) == kind
                   and (area is None or _within(park, n.id, area)))
    if step.action == "cameras":  # those that see the spot, else the nearest of the area's own
        seeing = tuple(sight.camera_id for sight in cameras_seeing_node(park, origin))
        centre = park.get(origin).centre_m
        nearest = sorted(around, key=lambda c: float(np.linalg.norm(park.nodes[c].centre_m - centre))
                         if centre is not None else 0.0)
        return seeing or tuple(nearest[:NEAREST_CAMERAS])
    return around


def _scope_node(park: Park, origin: str, scope: str) -> str | None:
    """The node whose contents a step reaches (None: the whole park)."""
    if scope == "park":
        return None
    node = park.get(origin)
    return node.id if node.kind == scope else node.links.get(scope) or (
        a.id if (a := park.ancestor(origin, scope)) else origin)


def _within(park: Park, node_id: str, area: str) -> bool:
    """Whether a device lies in an area: below it in the tree, or hosted by something that is."""
    node = park.nodes[node_id]
    host = node.links.get("host")
    return any(n.id == area for n in park.path(node_id)) or (
        host in park.nodes and (host == area or any(n.id == area for n in park.path(host))))
