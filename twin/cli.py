"""The ``twin`` command: inspect, find, generate, check, serve, simulate, history, network."""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from twin.errors import InputError
from twin.info import park_info
from twin.audit_commands import add_commands as add_audit_commands
from twin.backup import add_commands as add_backup_commands
from twin.energy.commands import add_commands as add_energy_commands
from twin.evacuation.commands import add_commands as add_evacuation_commands
from twin.networks.commands import add_commands as add_network_commands
from twin.scene import scene_file
from twin.user_commands import add_commands as add_user_commands

err = Console(stderr=True)
out = Console()


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int], None]]:
    """A percent progress bar on stderr (transient, so --json output stays clean)."""
    with Progress(TextColumn(label), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task(label, total=100)
        yield lambda percent: bar.update(task, completed=percent)


def open_park(path: Path, progress: Callable[[int], None]):
    """A scene through the compile cache; a single IFC file imported as it is."""
    from twin.cache import compile_scene
    from twin.scene import load_park

    return compile_scene(path, progress) if scene_file(path).suffix.lower() == ".toml" else load_park(path, progress)


def cmd_compile(args: argparse.Namespace) -> None:
    from twin.cache import cache_key, entry_path

    with progress_bar("compiling") as progress:
        park = open_park(args.scene, progress)
    counts = ", ".join(f"{kind} {n}" for kind, n in park_info(park)["counts"].items() if n)
    err.print(f"{park.name}: {counts}; {len(park.batches)} render batches; "
              f"cache {entry_path(args.scene, key=cache_key(args.scene))}", highlight=False)


def cmd_inspect(args: argparse.Namespace) -> None:
    if args.file.suffix.lower() != ".ifc":
        return inspect_gis_file(args)
    from ifc.inspect import inspect_ifc

    with progress_bar("tessellating") as progress:
        report = inspect_ifc(args.file, progress=progress)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    table = Table(title=str(args.file), show_header=False)
    for key, value in report.items():
        if key == "georeference":
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        table.add_row(key, str(value))
    out.print(table)


def inspect_gis_file(args: argparse.Namespace) -> None:
    from gis.inspect import inspect_gis

    report = inspect_gis(args.file)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    table = Table("layer", "epsg", "geometry", "features", title=str(args.file))
    for layer in report["layers"]:
        table.add_row(layer["name"], str(layer["epsg"]), str(layer["geometry_type"]), str(layer["features"]))
    out.print(table)


def cmd_find(args: argparse.Namespace) -> None:
    from twin.search import node_row, search

    with progress_bar("loading") as progress:
        park = open_park(args.source, progress)
    hits = search(park, args.query, kind=args.kind, limit=None)
    if args.json:
        print(json.dumps([node_row(park, hit.node) for hit in hits], ensure_ascii=False))
        return
    table = Table("id", "kind", "ifc_class", "name", "path", title=f"{len(hits)} found")
    for hit in hits:
        table.add_row(hit.node.id, hit.node.kind, hit.node.ifc_class or "", hit.node.name, hit.path)
    out.print(table)


def cmd_generate(args: argparse.Namespace) -> None:
    from ifc.generate import write_office
    from twin.generate_park import write_park

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("generating", total=None)
        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
        if args.park:
            path = write_park(args.output, args.buildings, min(args.ifc_buildings, args.buildings),
                              args.storeys, args.seed, tick)
        else:
            path = write_office(args.output, storeys=args.storeys, copies=args.copies, seed=args.seed,
                                progress=tick)
    err.print(f"wrote {path}" + ("" if args.park else f" ({path.stat().st_size / 1e6:.1f} MB)"))


def cmd_check(args: argparse.Namespace) -> int:
    from twin.check import check_scene

    problems = check_scene(args.scene)
    for problem in problems:
        err.print(problem, highlight=False, markup=False, soft_wrap=True)
    if not problems:
        out.print(f"{scene_file(args.scene)}: ok")
    return 1 if problems else 0


def cmd_info(args: argparse.Namespace) -> None:
    with progress_bar("loading park") as progress:
        park = open_park(args.scene, progress)
    info = park_info(park)
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return
    table = Table(title=info["name"], show_header=False)
    table.add_row("crs", str(info["crs"]))
    table.add_row("bounds (lon/lat)", ", ".join(f"{v:.6f}" for v in info["bounds_lonlat"] or []))
    for kind, n in info["counts"].items():
        table.add_row(kind, str(n))
    out.print(table)


def _stop_serving(signum: int, frame: object) -> None:
    """SIGTERM (a service manager's stop) ends the server as Ctrl-C does: the private broker stopped,
    the workers ended, the history closed; exit status 0."""
    raise SystemExit(0)


def cmd_serve(args: argparse.Namespace) -> None:
    from twin.memory import cap_arenas
    from twin.web.auth import users_sign_in
    from twin.web.server import check_address, check_tls, serve

    cap_arenas()  # before the threads: the server runs for days
    signal.signal(signal.SIGTERM, _stop_serving)
    tls = check_tls(args.tls_cert, args.tls_key)  # refuse before the (long) park load
    sign_in = users_sign_in(args.users, args.idle_timeout_min, secure=tls is not None) if args.users else None
    check_address(args.address, users=sign_in is not None)
    web = {"port": args.port, "address": args.address, "show": args.show, "sign_in": sign_in, "tls": tls}
    with progress_bar("loading park") as progress:
        park = open_park(args.scene, progress)
    if scene_file(args.scene).suffix.lower() != ".toml":
        return serve(park, **web)
    from live.runtime import Live
    from twin.networks.scene import SceneNetworks, scene_networks
    from twin.scene import read_scene

    scene = read_scene(args.scene)
    try:
        networks = scene_networks(scene)
    except InputError as exc:  # the rest of the park still serves
        err.print(f"pipe networks left out: {exc}", highlight=False)
        networks = SceneNetworks({})
    simulated = None if args.broker or args.no_simulator else scene
    live = Live(park, scene.live, broker_url=args.broker, simulated=simulated, speed=args.speed,
                inspections=scene.inspections, energy=scene.energy)
    with live:
        err.print(f"live: MQTT {live.url} ({'private Mosquitto' if live.broker else 'given broker'}"
                  f"{', simulator at ×' + format(args.speed, 'g') if live.simulator else ''})", highlight=False)
        serve(park, live=live, networks=networks, plans=scene.plans, wall=scene.wall, **web)


def cmd_simulate(args: argparse.Namespace) -> None:
    from live.simulator import simulate

    simulate(args.scene, args.broker, speed=args.speed, period_s=args.period_s, seed=args.seed,
             events_per_hour=args.events_per_hour)


def cmd_history_export(args: argparse.Namespace) -> None:
    from datetime import datetime, timedelta, timezone

    from live.history import SqliteHistory
    from live.runtime import live_folder
    from live.clock import SystemClock
    from twin.scene import read_scene

    def moment(text: str | None, default: datetime) -> datetime:
        if text is None:
            return default
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(f"--from/--to {text!r}: not an ISO 8601 date or time") from None
        return value if value.tzinfo else value.astimezone()

    end = moment(args.to, datetime.now(timezone.utc))
    start = moment(args.start, end - timedelta(days=1))
    path = live_folder(read_scene(args.scene).name) / "history.sqlite"
    if not path.exists():
        raise InputError(f"{path}: no history yet for this scene (run twin serve first)")
    history = SqliteHistory(path, SystemClock())
    try:
        with (open(args.out, "w", encoding="utf-8", newline="") if args.out else contextlib.nullcontext(sys.stdout)) as fh:
            rows = history.export_csv(args.node, start, end, fh)
    finally:
        history.close()
    err.print(f"{rows} rows from {start.isoformat()} to {end.isoformat()}", highlight=False)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twin", description="twin — a digital twin for smart parks")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("inspect", help="an IFC file's counts and georeference, or a GIS file's layers")
    s.add_argument("file", type=Path)
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(run=cmd_inspect)

    s = sub.add_parser("find", help="search nodes by code, name, long name, type or room")
    s.add_argument("source", type=Path, help="an .ifc file or a scene folder")
    s.add_argument("query")
    s.add_argument("--kind", help="only nodes of this kind (space, element…)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(run=cmd_find)

    s = sub.add_parser("generate", help="write a synthetic IFC4 office building, or (--park) a whole park scene")
    s.add_argument("output", type=Path, nargs="?", default=Path("office.ifc"),
                   help="the .ifc file, or with --park the scene folder")
    s.add_argument("--park", action="store_true", help="write a science park scene folder")
    s.add_argument("--storeys", type=int, default=4, help="storeys of each IFC building")
    s.add_argument("--copies", type=int, default=1, help="office: buildings in the one IFC file")
    s.add_argument("--buildings", type=int, default=10, help="park: buildings in the park")
    s.add_argument("--ifc-buildings", type=int, default=3, help="park: of which full IFC models")
    s.add_argument("--seed", type=int, default=2026)
    s.set_defaults(run=cmd_generate)

    s = sub.add_parser("compile", help="build a scene's park and render batches into the cache")
    s.add_argument("scene", type=Path)
    s.set_defaults(run=cmd_compile)

    s = sub.add_parser("check", help="list every problem of a scene file, with file and field")
    s.add_argument("scene", type=Path)
    s.set_defaults(run=cmd_check)

    s = sub.add_parser("info", help="name, CRS, WGS84 bounds and node counts of a scene")
    s.add_argument("scene", type=Path)
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(run=cmd_info)

    s = sub.add_parser("serve", help="open the park in the browser")
    s.add_argument("scene", type=Path, nargs="?", default=Path("scenes/demo"))
    s.add_argument("--port", type=int, default=5006)
    s.add_argument("--address", default="127.0.0.1")
    s.add_argument("--show", action="store_true", help="open a browser window")
    s.add_argument("--broker", metavar="URL", help="mqtt://[user:password@]host[:port] (mqtts:// for TLS) of a "
                   "real broker; without it a private Mosquitto and the simulator start")
    s.add_argument("--no-simulator", action="store_true", help="with the private broker, no simulated devices")
    s.add_argument("--speed", type=float, default=1.0, help="simulated time runs this many times faster")
    s.add_argument("--users", type=Path, metavar="FILE", help="sign-in required, for the users of this file "
                   "(twin users add); any --address may then be served")
    s.add_argument("--tls-cert", type=Path, metavar="F", help="serve https:// with this PEM certificate (chain)")
    s.add_argument("--tls-key", type=Path, metavar="F", help="the certificate's PEM private key")
    s.add_argument("--idle-timeout-min", type=float, default=15, metavar="N",
                   help="with --users: a session unused this many minutes ends (default 15)")
    s.set_defaults(run=cmd_serve)

    s = sub.add_parser("simulate", help="publish plausible telemetry for every device of a scene over MQTT")
    s.add_argument("scene", type=Path, nargs="?", default=Path("scenes/demo"))
    s.add_argument("--broker", metavar="URL", default="mqtt://127.0.0.1:1883")
    s.add_argument("--speed", type=float, default=1.0, help="simulated time runs this many times faster")
    s.add_argument("--period-s", type=float, default=60.0, help="simulated seconds between a device's reports")
    s.add_argument("--events-per-hour", type=float, default=2.0, help="alarms and drop-outs per simulated hour")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(run=cmd_simulate)

    s = sub.add_parser("history", help="the stored history of live values")
    h = s.add_subparsers(dest="action", required=True)
    s = h.add_parser("export", help="CSV (ts,node,metric,value) of one or more nodes")
    s.add_argument("node", nargs="+", help="node ids, e.g. dev:TS-B01-1F-A-103")
    s.add_argument("--scene", type=Path, default=Path("scenes/demo"))
    s.add_argument("--from", dest="start", help="ISO 8601 start (default: 24 h before --to)")
    s.add_argument("--to", help="ISO 8601 end (default: now)")
    s.add_argument("--out", type=Path, help="the CSV file (default: standard output)")
    s.set_defaults(run=cmd_history_export)
    add_network_commands(sub)
    add_evacuation_commands(sub)
    add_energy_commands(sub)
    add_backup_commands(sub)
    add_audit_commands(sub)
    add_user_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=err, show_time=False, show_path=False)])
    args = parser().parse_args(argv)
    try:
        status = args.run(args)
    except InputError as exc:
        err.print(f"twin: error: {exc}", highlight=False, markup=False, emoji=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
