"""``twin evacuate``: who gets out, by which exits and stairs, in how long; RSET against ASET."""
from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from twin.errors import InputError
from twin.evacuation import MODELS, EvacuationGraph, ExitPlan, build_graph, evacuate, place_occupants
from twin.evacuation import hazard as hazards
from twin.evacuation.fire import GROWTH_ALPHA_KW_S2
from twin.evacuation.flow import premovement_range
from twin.evacuation.occupants import (DEFAULT_DENSITY_PPM2, POPULATIONS, counts_by_density, counts_by_total,
                                       vacant_spaces)
from twin.evacuation.outdoor import park_outdoors
from twin.evacuation.plume import stability_class, sun_altitude_deg
from twin.evacuation.sensed import counted_occupants, measured_wind, stored_readings
from twin.evacuation.resources import Resource, resources
from twin.evacuation.result import EvacuationResult
from twin.park import Park
from twin.plans import Checklist, ChecklistItem, PlanSpec, checklist, plan_for
from twin.scene import Scene, read_scene, scene_file
from twin.teams import TeamSpec, place_of, team_etas

out = Console()
err = Console(stderr=True)
INCIDENTS = ("fire", "gas", *hazards.PLACED_KINDS)
SHOWN_ROWS = 15
SHOWN_PROBLEMS = 3


def add_commands(sub: argparse._SubParsersAction) -> None:
    """The ``evacuate`` command of the ``twin`` CLI."""
    s = sub.add_parser("evacuate", help="evacuate a scene's buildings or an IFC file: times per exit and space")
    s.add_argument("source", type=Path, help="a scene folder, scene.toml or an .ifc file")
    many = s.add_mutually_exclusive_group()
    many.add_argument("--occupants", type=int, metavar="N", help="N persons shared among the spaces by area")
    many.add_argument("--density", type=float, metavar="P_PER_M2",
                      help=f"persons per m² in every space (default {DEFAULT_DENSITY_PPM2})")
    s.add_argument("--space", action="append", default=[], metavar="SPACE_ID=N",
                   help="N persons in one space (its id, GlobalId or name; repeatable)")
    s.add_argument("--incident", metavar="KIND@NODE_ID",
                   help=f"{'|'.join(INCIDENTS)} at a space (or a node inside one): routes avoid it, spaces get an ASET")
    s.add_argument("--growth", choices=list(GROWTH_ALPHA_KW_S2), default="medium", help="a fire's t² growth")
    gas = s.add_argument_group("a gas leak (--incident gas@NODE): a steady Gaussian plume")
    gas.add_argument("--leak-g-s", type=float, default=100.0, help="release rate, g/s (default 100)")
    gas.add_argument("--wind-m-s", type=float, default=2.0, help="wind speed, m/s (default 2)")
    gas.add_argument("--wind-from-deg", type=float, default=0.0, help="where the wind comes from, ° from north")
    gas.add_argument("--stability", choices=list("ABCDEF"), help="Pasquill–Gifford class (default D; with --live, "
                     "Pasquill's class for the wind and the sun's altitude now)")
    gas.add_argument("--threshold-mg-m3", type=float, default=30.0,
                     help="untenable above this concentration (default 30 mg/m³, about chlorine's IDLH)")
    s.add_argument("--live", action="store_true", help="occupants from the people counters ([live.occupancy]) and a "
                   "gas leak's wind from the weather station ([live.weather]), as the served park last stored them")
    s.add_argument("--model", choices=MODELS, default="flow", help="flow (SFPE, fast) or agent (jupedsim)")
    s.add_argument("--speed", type=float, metavar="M_S", help="everyone's unimpeded walking speed (default: "
                   "the population's)")
    s.add_argument("--population", choices=list(POPULATIONS), default="sfpe", help="walking speeds by group")
    s.add_argument("--premovement", default="0", metavar="S", help="seconds before people move, or a range LOW-HIGH")
    s.add_argument("--closed-door", action="append", default=[], metavar="DOOR_ID", help="a door nobody may use")
    s.add_argument("--exit", action="append", default=[], metavar="SPACE_ID=DOOR_ID",
                   help="the exit assigned to a space's people (repeatable)")
    s.add_argument("--seed", type=int, default=0, help="seed of the occupants' positions and speeds")
    s.add_argument("--plan", metavar="KEY", help="run a scene's emergency plan as a drill checklist (default: the "
                   "first plan for the incident's kind); commands are never sent")
    s.add_argument("--report", type=Path, metavar="FILE.html", help="write the after-action report there (.pdf: "
                   "printed by Chromium)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(run=cmd_evacuate)


def cmd_evacuate(args: argparse.Namespace) -> None:
    from twin.cli import open_park, progress_bar

    with progress_bar("loading") as progress:
        park = open_park(args.source, progress)
    graph = build_graph(park)
    if not graph.exits:
        raise InputError(f"{args.source}: no exit found (a door from a ground-floor space to the outside)")
    occupants = place_occupants(graph, _counts(park, graph, args), args.population, args.speed,
                                _premovement(args.premovement), args.seed)
    hazard = _incident(park, graph, args) if args.incident else None
    ways = park_outdoors(park, graph, avoid=hazard.zone if hazard is not None and hazard.kind == "gas" else None)
    scene = _scene(args)
    plan = _scene_plan(args, scene, hazard)
    teams = scene.teams if scene is not None else ()
    with progress_bar(f"evacuating ({args.model})") as progress:
        result = evacuate(graph, occupants, args.model, _plan(park, graph, args, plan), hazard,
                          lambda share: progress(100 * share), ways)
    origin = _origin(park, graph, args) if args.incident else None
    near = resources(park, graph, origin, ways, teams) if origin is not None else []
    drill = _drill(park, graph, args, plan, teams)
    if args.report is not None:
        from twin.evacuation.report import write_report

        title = f"{park.name} — {args.incident or 'evacuation'}"
        write_report(result, graph, args.report, title, actions=[(i.at_s, i.text) for i in drill.items] if drill else (),
                     resources=near)
    if args.json:
        answer = result.as_json()
        answer["drill"] = True
        if drill is not None:
            answer["plan"] = {"key": drill.plan.key, "principal": drill.plan.principal, "steps": [
                {"at_s": i.at_s, "action": i.action, "text": i.text, "command": i.command, "targets": list(i.targets),
                 "state": i.state, "team": i.team, "arrives_s": _round(i.arrives_s)} for i in drill.items]}
        answer["resources"] = [{"kind": r.kind, "id": r.id, "name": r.name, "distance_m": round(r.distance_m, 1),
                                "eta_s": _round(r.eta_s)} for r in near]
        print(json.dumps(answer, ensure_ascii=False, indent=1))
    else:
        _print(result, drill, near)


def _index(what: str, find, key: str) -> int:
    try:
        return find(key)
    except KeyError as exc:
        raise InputError(f"{what}: {exc.args[0]}") from None


def _pair(text: str, option: str) -> tuple[str, str]:
    key, sep, value = text.rpartition("=")
    if not sep or not key or not value:
        raise InputError(f"{option} {text!r}: write it as ID=VALUE")
    return key, value


def _counts(park: Park, graph: EvacuationGraph, args: argparse.Namespace) -> dict[int, int]:
    """Persons per space: ``--occupants`` or ``--density`` (vacant units left empty), then ``--space``."""
    if args.occupants is not None and args.occupants < 0 or args.density is not None and args.density < 0:
        raise InputError("--occupants and --density must not be negative")
    vacant = vacant_spaces(park)
    density = DEFAULT_DENSITY_PPM2 if args.density is None else args.density
    counts = (counts_by_total(graph, args.occupants, empty=vacant) if args.occupants is not None
              else counts_by_density(graph, density, empty=vacant))
    if args.live:
        counts.update(_live_counts(park, graph, args))
    for item in args.space:
        key, value = _pair(item, "--space")
        if not value.isdigit():
            raise InputError(f"--space {item!r}: the count must be a whole number")
        counts[_index("--space", graph.place, key)] = int(value)
    return counts


def _live_spec(args: argparse.Namespace, table: str):
    """The scene's ``[live.occupancy]`` or ``[live.weather]`` (``--live`` needs the scene to bind them)."""
    from twin.scene import read_scene, scene_file

    if scene_file(args.source).suffix.lower() != ".toml":
        raise InputError(f"--live: {args.source} is not a scene: live counters and weather are bound in a scene file")
    found = getattr(read_scene(args.source).live, table)
    if found is None:
        raise InputError(f"--live: {args.source} has no [live.{table}]")
    return found


def _live_counts(park: Park, graph: EvacuationGraph, args: argparse.Namespace) -> dict[int, int]:
    """The persons the people counters last counted, per space they cover (said on stderr)."""
    occupancy = _live_spec(args, "occupancy")
    now = datetime.now(UTC)
    readings = stored_readings(park, [occupancy.metric], now - timedelta(seconds=occupancy.max_age_s))
    counted = counted_occupants(park, graph, readings[occupancy.metric], now, occupancy.max_age_s)
    if not counted.counters:
        raise InputError(f"--live: no {occupancy.metric} count in the last {occupancy.max_age_s:g} s")
    err.print(f"live counts: {counted.persons} persons in {len(counted.counts)} spaces from {counted.counters} "
              f"counters; other spaces by density", highlight=False)
    return counted.counts


def _gas(park: Park, node_id: str, args: argparse.Namespace) -> tuple[float, float, str]:
    """The wind (m/s, ° from) and the stability class: the weather station's with ``--live``, else the flags."""
    from live.config import weather_station

    if not args.live:
        return args.wind_m_s, args.wind_from_deg, args.stability or "D"
    weather = _live_spec(args, "weather")
    station = weather_station(weather, park)
    now = datetime.now(UTC)
    stored = stored_readings(park, [weather.wind_speed, weather.wind_from], now - timedelta(seconds=weather.max_age_s))
    wind = measured_wind(station or weather.device, stored[weather.wind_speed].get(station),
                         stored[weather.wind_from].get(station), now, weather.max_age_s)
    if wind is None:
        raise InputError(f"--live: no wind from {weather.device} in the last {weather.max_age_s:g} s")
    lonlat = park.lonlat(node_id)
    stability = args.stability or (stability_class(wind.speed_m_s, sun_altitude_deg(lonlat[0], lonlat[1], now))
                                   if lonlat else "D")
    err.print(f"live wind: {wind.speed_m_s:.1f} m/s from {wind.from_deg:.0f}° ({weather.device}), class {stability}",
              highlight=False)
    return wind.speed_m_s, wind.from_deg, stability


def _premovement(text: str) -> float | tuple[float, float]:
    try:
        return premovement_range(text)
    except ValueError as exc:
        raise InputError(f"--{exc}") from None


def _plan(park: Park, graph: EvacuationGraph, args: argparse.Namespace, plan: PlanSpec | None) -> ExitPlan:
    """Closed doors and assigned exits: the emergency plan's, then ``--exit``'s."""
    closed = frozenset(_index("--closed-door", graph.opening, key) for key in args.closed_door)
    assigned = assigned_exits(park, graph, plan) if plan is not None else {}
    for item in args.exit:
        space, door = _pair(item, "--exit")
        exit_ = _index("--exit", graph.opening, door)
        if graph.openings[exit_].kind != "exit":
            raise InputError(f"--exit {item!r}: {door} is not a door to the outside")
        assigned[_index("--exit", graph.place, space)] = exit_
    return ExitPlan(assigned=assigned, closed=closed)


def assigned_exits(park: Park, graph: EvacuationGraph, plan: PlanSpec) -> dict[int, int]:
    """A plan's ``exits``: every space of the node named (a space, storey or building) to its exit."""
    assigned = {}
    for node_id, door in plan.exits:
        where = f"plan {plan.key} exits.{node_id}"
        exit_ = _index(where, graph.opening, door)
        if node_id not in park.nodes:
            raise InputError(f"{where}: no node {node_id!r} in the park")
        inside = {node_id, *(n.id for n in park.descendants(node_id))}
        spaces = [i for i in graph.spaces() if graph.places[i].id in inside]
        if not spaces:
            raise InputError(f"{where}: {node_id} holds no space")
        assigned.update(dict.fromkeys(spaces, exit_))
    return assigned


def _incident(park: Park, graph: EvacuationGraph, args: argparse.Namespace):
    text = args.incident
    kind, sep, key = text.partition("@")
    if not sep or kind not in INCIDENTS:
        raise InputError(f"--incident {text!r}: write it as KIND@NODE_ID, KIND one of {', '.join(INCIDENTS)}")
    if kind == "gas":
        node = park.nodes.get(key) or park.nodes.get(f"dev:{key}")
        if node is not None and node.centre_m is not None:  # a spot outdoors, or anything placed
            source_xy, node_id = (float(node.centre_m[0]), float(node.centre_m[1])), node.id
        else:
            place = graph.places[incident_place(park, graph, key)]
            source_xy, node_id = (place.footprint.centroid.x, place.footprint.centroid.y), place.id
        wind_m_s, wind_from_deg, stability = _gas(park, node_id, args)
        return hazards.gas(graph, source_xy, args.leak_g_s, wind_m_s, wind_from_deg, stability, args.threshold_mg_m3)
    origin = incident_place(park, graph, key)
    if kind == "fire":
        return hazards.fire(graph, origin, growth=args.growth)
    return hazards.placed(graph, kind, origin)


def _origin(park: Park, graph: EvacuationGraph, args: argparse.Namespace) -> int | None:
    """The incident's place; None for a gas leak outdoors."""
    key = args.incident.partition("@")[2]
    found = place_of(park, graph, key) if key in park or f"dev:{key}" in park else None
    return found if found is not None or args.incident.startswith("gas@") else incident_place(park, graph, key)


def incident_place(park: Park, graph: EvacuationGraph, key: str) -> int:
    """The place of an incident: the space a node (a device by code too) lies in, else a space by id,
    GlobalId or name."""
    place = place_of(park, graph, key)
    return place if place is not None else _index("--incident", graph.place, key)


def _scene(args: argparse.Namespace) -> Scene | None:
    """The scene read (None for a bare IFC file)."""
    return read_scene(args.source) if scene_file(args.source).suffix.lower() == ".toml" else None


def _scene_plan(args: argparse.Namespace, scene: Scene | None, hazard) -> PlanSpec | None:
    """``--plan``, else the scene's first plan for the incident's kind (None for a bare IFC file)."""
    if scene is None:
        if args.plan:
            raise InputError(f"--plan {args.plan}: plans live in a scene file; {args.source} is not a scene")
        return None
    plans = scene.plans
    if args.plan:
        plan = next((p for p in plans if p.key == args.plan), None)
        if plan is None:
            raise InputError(f"--plan {args.plan!r}: no such plan in {args.source} "
                             f"(plans: {', '.join(p.key for p in plans) or 'none'})")
    else:
        plan = plan_for(plans, incident=hazard.kind) if hazard is not None else None
    return plan


def _drill(park: Park, graph: EvacuationGraph, args: argparse.Namespace, plan: PlanSpec | None,
           teams: tuple[TeamSpec, ...]) -> Checklist | None:
    """The plan's checklist, ticked off as a drill; with an incident, when each team dispatched gets there."""
    if plan is None:
        return None
    origin = _origin(park, graph, args) if args.incident else None
    drill = checklist(plan, park, graph.places[origin].id if origin is not None else "park", teams=teams)
    if origin is not None:
        sent = [t for t in teams if any(item.team == t.key for item in drill.items)]
        drill.expect({e.team.key: e.eta_s for e in team_etas(park, graph, sent, origin)})
    drill.run_drill()
    return drill


def _print(result: EvacuationResult, drill: Checklist | None, near: list[Resource]) -> None:
    verdict = "[green]passed[/]" if result.passed else "[red]failed[/]"
    out.print("[black on yellow] 演练 DRILL [/] nothing is sent to a device")
    out.print(f"{result.model} model: {result.evacuated} of {result.occupants} out in "
              f"{result.total_time_s:.0f} s — {verdict}")
    table = Table("exit", "persons", "first out s", "last out s", "max flow p/s", title="exits")
    for e in result.exits:
        table.add_row(e.name, str(e.count), _s(e.first_out_s), _s(e.last_out_s), f"{e.max_flow_pps:.2f}")
    out.print(table)
    if result.stairs:
        table = Table("stair", "persons", title="stairs")
        for s in result.stairs:
            table.add_row(s.name, str(s.count))
        out.print(table)
    spaces = sorted(result.spaces, key=lambda s: (s.passed, (s.aset_s or 1e9) - (s.rset_s or 0)))[:SHOWN_ROWS]
    table = Table("space", "persons", "RSET s", "ASET s", "", title=f"spaces (first {SHOWN_ROWS}; --json lists all)")
    for s in spaces:
        table.add_row(s.name, str(s.occupants), _s(s.rset_s), _s(s.aset_s), "" if s.passed else "[red]✗[/]")
    out.print(table)
    if result.assembly:
        table = Table("assembly point", "persons", "capacity", "last in s", title="assembly points")
        for a in result.assembly:
            table.add_row(a.name, str(a.count) + (" [red]over capacity[/]" if a.over_capacity else ""),
                          str(a.capacity or "—"), _s(a.last_in_s))
        out.print(table)
    if near:
        table = Table("kind", "name", "m", "ETA s", title="near the incident")
        for r in near:
            table.add_row(r.kind, r.name, f"{r.distance_m:.0f}", _s(r.eta_s))
        out.print(table)
    if drill is not None:
        table = Table("at s", "step", "acts on", "state", title=f"plan {drill.plan.key}: {drill.plan.title}")
        for item in drill.items:
            table.add_row(f"{item.at_s:.0f}", item.text, _acts_on(item), item.state)
        out.print(table)
    for c in result.congestion[:SHOWN_ROWS]:
        out.print(f"congested: {c.name} above 4 p/m² for {c.duration_s:.0f} s (max {c.max_density_ppm2:.1f} p/m²)")
    names = {s.id: s.name for s in result.spaces}
    lines = [*(f"no route out: {names.get(s, s)} ({s})" for s in result.stranded), *result.problems]
    for line in lines[:SHOWN_PROBLEMS]:
        out.print(f"[yellow]{line}[/]", highlight=False)
    if len(lines) > SHOWN_PROBLEMS:
        out.print(f"[yellow]… {len(lines) - SHOWN_PROBLEMS} more (--json lists all)[/]")


def _acts_on(item: ChecklistItem) -> str:
    """How many devices a step acts on (and the command), or when a dispatched team arrives."""
    if item.arrives_s is not None:
        return f"arrives ≈ {item.arrives_s:.0f} s"
    return f"{len(item.targets)} {item.command or ''}".strip() if item.targets or item.command else ""


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
