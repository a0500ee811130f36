"""``twin network …``: burst isolation, topology check and traces from the command line."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from twin.errors import InputError
from twin.networks.model import PipeNetwork

out = Console()


def load_network(args: argparse.Namespace) -> PipeNetwork:
    """``SCENE --network NAME`` or ``--inp FILE.inp [--valves FILE.csv]``."""
    if args.inp is not None:
        if args.scene is not None:
            raise InputError("give either a SCENE (with --network) or --inp, not both")
        from twin.networks.epanet import read_inp, read_valves

        return read_inp(args.inp, read_valves(args.valves) if args.valves else None)
    if args.scene is None:
        raise InputError("give a SCENE (with --network NAME) or --inp FILE.inp")
    from twin.networks.scene import scene_networks
    from twin.scene import read_scene

    networks = scene_networks(read_scene(args.scene)).networks
    if args.network not in networks:
        known = ", ".join(networks) or "none: the scene has no pipe layers"
        raise InputError(f"{args.scene}: --network {args.network!r} is not one of its networks ({known})")
    return networks[args.network]


def cmd_isolate(args: argparse.Namespace) -> None:
    from twin.networks.isolate import isolate

    result = isolate(load_network(args), args.burst, args.failed_valve or ())
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return
    table = Table(title=f"{result.network}: burst {result.burst}"
                  + (f", failed {', '.join(result.failed_valves)}" if result.failed_valves else ""))
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_column("ids")
    for label, ids in (("valves to close", result.valves_to_close), ("isolated pipes", result.isolated_pipes),
                       ("isolated nodes", result.isolated_nodes), ("affected nodes", result.affected_nodes),
                       ("affected buildings", result.affected_buildings)):
        table.add_row(label, str(len(ids)), ", ".join(ids[:12]) + (" …" if len(ids) > 12 else ""))
    out.print(table)


def _source_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("scene", type=Path, nargs="?", help="a scene folder (its pipe layers)")
    s.add_argument("--network", default="water", help="with a scene: the utility (water, gas, heat…)")
    s.add_argument("--inp", type=Path, help="an EPANET .inp model instead of a scene")
    s.add_argument("--valves", type=Path, help="with --inp: CSV valve_id,link,node (a valve on link next to node)")
    s.add_argument("--json", action="store_true", help="print JSON")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """The ``network`` command group of the ``twin`` CLI."""
    s = sub.add_parser("network", help="underground pipe networks: isolate a burst, check, trace")
    actions = s.add_subparsers(dest="action", required=True)
    s = actions.add_parser("isolate", help="valves to close for a burst pipe, what they isolate and cut off")
    _source_arguments(s)
    s.add_argument("--burst", required=True, metavar="PIPE_ID", help="the burst pipe (id, or code in a scene)")
    s.add_argument("--failed-valve", action="append", metavar="VALVE_ID", help="a valve that fails to close (repeatable)")
    s.set_defaults(run=cmd_isolate)
