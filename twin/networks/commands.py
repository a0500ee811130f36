"""``twin network …``: burst isolation, topology check and traces from the command line."""
from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from twin.errors import InputError
from twin.networks.model import PipeNetwork

if TYPE_CHECKING:
    from twin.networks.check import CheckReport
    from twin.networks.scene import SceneNetworks

out = Console()
SHOWN_IDS = 12  # ids shown per row of a table (--json lists all)
SHOWN_FINDINGS = 10  # findings shown per kind


def _tolerance_m(args: argparse.Namespace) -> float:
    from twin.networks.scene import SNAP_TOLERANCE_M

    return SNAP_TOLERANCE_M if args.tolerance_m is None else args.tolerance_m


def load_networks(args: argparse.Namespace) -> SceneNetworks:
    """``SCENE`` (its networks, joined within ``--tolerance-m``) or ``--inp FILE.inp [--valves FILE.csv]``
    (one network, named after the file)."""
    from twin.networks.scene import SceneNetworks, scene_networks

    if args.inp is not None:
        if args.scene is not None:
            raise InputError("give either a SCENE (with --network) or --inp, not both")
        from twin.networks.epanet import read_inp, read_valves

        net = read_inp(args.inp, read_valves(args.valves) if args.valves else None)
        return SceneNetworks({net.name: net})
    if args.scene is None:
        raise InputError("give a SCENE (with --network NAME) or --inp FILE.inp")
    from twin.scene import read_scene

    return scene_networks(read_scene(args.scene), _tolerance_m(args))


def load_network(args: argparse.Namespace) -> PipeNetwork:
    """The one network a command works on: the scene's ``--network NAME``, or the ``--inp`` model."""
    networks = load_networks(args).networks
    if args.inp is not None:
        return next(iter(networks.values()))
    if args.network not in networks:
        known = ", ".join(networks) or "none: the scene has no pipe layers"
        asked = ("name one with --network" if args.network is None
                 else f"--network {args.network!r} is not one of its networks")
        raise InputError(f"{args.scene}: {asked} ({known})")
    return networks[args.network]


def _id_table(title: str, rows: Iterable[tuple[str, list[str]]]) -> Table:
    """A row per list of ids: its label, its length and its first ids."""
    table = Table(title=title)
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_column("ids")
    for label, ids in rows:
        table.add_row(label, str(len(ids)), ", ".join(ids[:SHOWN_IDS]) + (" …" if len(ids) > SHOWN_IDS else ""))
    return table


def cmd_isolate(args: argparse.Namespace) -> None:
    from twin.networks.isolate import isolate

    net = load_network(args)
    result = isolate(net, args.burst or net.nearest_link(*_point_m(args)), args.failed_valve or ())
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return
    out.print(_id_table(f"{result.network}: burst {result.burst}"
                        + (f", failed {', '.join(result.failed_valves)}" if result.failed_valves else ""),
                        [("valves to close", result.valves_to_close), ("isolated pipes", result.isolated_pipes),
                         ("isolated nodes", result.isolated_nodes), ("affected nodes", result.affected_nodes),
                         ("affected buildings", result.affected_buildings)]))


def _point_m(args: argparse.Namespace) -> tuple[float, float]:
    """``--at E,N`` in the network's frame: a scene's CRS less its origin, an EPANET model's own coordinates."""
    try:
        easting, northing = (float(v) for v in args.at.split(","))
    except ValueError:
        raise InputError(f"--at {args.at!r}: give EASTING,NORTHING, e.g. --at 639895.5,3457295.0") from None
    if args.scene is None:
        return easting, northing
    from twin.scene import read_scene

    origin = read_scene(args.scene).origin_m
    return easting - float(origin[0]), northing - float(origin[1])


def cmd_trace(args: argparse.Namespace) -> None:
    from twin.networks.trace import trace

    result = trace(load_network(args), args.start, args.direction)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return
    rows = [(label.replace("_", " "), ids) for label, ids in result.to_json().items()]
    out.print(_id_table(f"{result.network}: {result.direction} of {result.start}", rows))


def cmd_check(args: argparse.Namespace) -> int:
    from twin.networks.check import check

    report = check(load_networks(args), _tolerance_m(args), args.network)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    elif report.findings:
        out.print(_check_table(report))
    else:
        out.print(_summary(report) + ": no problems found")
    return 1 if report.errors else 0


def _summary(report: CheckReport) -> str:
    pipes = sum(n["pipes"] for n in report.networks.values())
    return (f"{len(report.networks)} network(s), {pipes} pipes, snapping tolerance {report.tolerance_m:g} m")


def _check_table(report: CheckReport) -> Table:
    """The findings grouped by kind, errors first, at most :data:`SHOWN_FINDINGS` of each."""
    table = Table(title=f"{report.errors} error(s), {report.warnings} warning(s)", caption=_summary(report))
    for column in ("kind", "severity", "network", "finding"):
        table.add_column(column)
    from twin.networks.check import KINDS

    for kind in KINDS:
        found = sorted((f for f in report.findings if f.kind == kind), key=lambda f: f.severity != "error")
        if not found:
            continue
        for k, f in enumerate(found[:SHOWN_FINDINGS]):
            style = "red" if f.severity == "error" else "yellow"
            table.add_row("" if k else kind, f"[{style}]{f.severity}[/]", f.network, f.message)
        if len(found) > SHOWN_FINDINGS:
            table.add_row("", "", "", f"… and {len(found) - SHOWN_FINDINGS} more (--json lists all)")
        table.add_section()
    return table


def _source_arguments(s: argparse.ArgumentParser, network_help: str, network_default: str | None = None,
                      valves: bool = False) -> None:
    """The arguments naming the network(s): SCENE and --network, or --inp; and --json."""
    s.add_argument("scene", type=Path, nargs="?", help="a scene folder or scene.toml (its pipe layers)")
    s.add_argument("--network", default=network_default, help=network_help)
    s.add_argument("--tolerance-m", type=float, metavar="M", help="with a scene: join pipe ends and nodes "
                   "within M metres (default: the scene reader's snapping tolerance)")
    s.add_argument("--inp", type=Path, help="an EPANET .inp model instead of a scene")
    s.set_defaults(valves=None)
    if valves:
        s.add_argument("--valves", type=Path, help="with --inp: CSV valve_id,link,node (a valve on link next to node)")
    s.add_argument("--json", action="store_true", help="print JSON")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """The ``network`` command group of the ``twin`` CLI."""
    s = sub.add_parser("network", help="underground pipe networks: isolate a burst, check, trace")
    actions = s.add_subparsers(dest="action", required=True)
    s = actions.add_parser("isolate", help="valves to close for a burst pipe, what they isolate and cut off")
    _source_arguments(s, "with a scene: the utility (water, gas, heat…)", "water", valves=True)
    burst = s.add_mutually_exclusive_group(required=True)
    burst.add_argument("--burst", metavar="PIPE_ID", help="the burst pipe (id, or code in a scene)")
    burst.add_argument("--at", metavar="E,N", help="or the pipe nearest this point (a scene's CRS; an .inp's coordinates)")
    s.add_argument("--failed-valve", action="append", metavar="VALVE_ID", help="a valve that fails to close (repeatable)")
    s.set_defaults(run=cmd_isolate)

    s = actions.add_parser("check", help="topology check: dangling ends, disconnected parts, duplicates, uphill "
                           "gravity pipes, missing attributes (exit status 1 on errors)")
    _source_arguments(s, "only this network (default: all)")
    s.set_defaults(run=cmd_check)

    s = actions.add_parser("trace", help="drainage downstream/upstream, or everything connected (power, telecom)")
    _source_arguments(s, "with a scene: the utility (rain, sewage, power, telecom…)")
    s.add_argument("--start", required=True, metavar="ID", help="a pipe or node (id, or code in a scene)")
    direction = s.add_mutually_exclusive_group()
    for name, what in (("downstream", "where a spill goes, to the outfalls (gravity networks' default)"),
                       ("upstream", "what drains here, and the buildings served"),
                       ("connected", "everything joined to the start (other networks' default)")):
        direction.add_argument(f"--{name}", dest="direction", action="store_const", const=name, help=what)
    s.set_defaults(run=cmd_trace)
