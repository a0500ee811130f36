"""``twin energy``: a month's electricity and carbon per building and tenant, from the served park's
history, printed and written as CSV and a self-contained HTML report."""
from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from twin.energy.summary import EnergySummary, shown
from twin.errors import InputError

out = Console()
err = Console(stderr=True)
SHOWN_PROBLEMS = 5
#: The report only reads: a retention this long means opening the store purges nothing.
READER_RETENTION_DAYS = 36_500


def add_commands(sub: argparse._SubParsersAction) -> None:
    """The ``energy`` command of the ``twin`` CLI."""
    s = sub.add_parser("energy", help="a month's electricity and carbon per building and tenant (CSV, HTML)")
    s.add_argument("scene", type=Path, help="a scene folder or scene.toml (its served history is read)")
    s.add_argument("--month", metavar="YYYY-MM", help="the month, in the scene's time zone (default: this month)")
    s.add_argument("--csv", type=Path, metavar="F.csv", help="write one row per park, building and tenant")
    s.add_argument("--html", type=Path, metavar="F.html", help="write the monthly report")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(run=cmd_energy)


def cmd_energy(args: argparse.Namespace) -> None:
    from live.clock import SystemClock
    from live.history import SqliteHistory
    from live.runtime import live_folder
    from twin.cli import open_park, progress_bar
    from twin.energy.monthly import month_of, monthly_energy, report_title
    from twin.energy.report import write_report
    from twin.energy.rollup import month_range
    from twin.energy.summary import summary_json, write_csv
    from twin.scene import read_scene

    scene = read_scene(args.scene)
    spec = scene.energy
    month = args.month or month_of(datetime.now(UTC), spec.zone)
    month_range(month, spec.zone)  # a bad month stops here, before anything is loaded
    path = live_folder(scene.name) / "history.sqlite"
    if not path.is_file():
        raise InputError(f"{path}: no history yet for this scene (run twin serve first)")
    with progress_bar("loading park") as progress:
        park = open_park(args.scene, progress)
    history = SqliteHistory(path, SystemClock(), retention_days=READER_RETENTION_DAYS)
    try:
        with progress_bar("reading meters") as progress:
            summary, days = monthly_energy(park, spec, history, month, progress)
    finally:
        history.close()
    if args.csv:
        err.print(f"wrote {write_csv(summary, args.csv)}", highlight=False)
    if args.html:
        err.print(f"wrote {write_report(summary, days, args.html, report_title(park, month))}", highlight=False)
    if args.json:
        print(json.dumps(summary_json(summary), ensure_ascii=False))
        return
    _print(summary, month)


def _print(summary: EnergySummary, month: str) -> None:
    park = summary.park
    table = Table("building", "kWh", "sub-metered", "unmetered", "tCO2e", "m²", "kWh/m²",
                  title=f"{park.name} {month}: {shown(park.kwh, 1)} kWh, {shown(park.tco2e, 3)} tCO2e "
                        f"(× {summary.kg_co2e_per_kwh:g} kg/kWh)")
    for b in summary.buildings:
        table.add_row(b.name, shown(b.kwh, 1), shown(b.submetered_kwh, 1), shown(b.unmetered_kwh, 1), shown(b.tco2e, 3),
                      shown(b.area_m2, 0), shown(b.kwh_per_m2, 2))
    out.print(table)
    names = {b.id: b.name for b in summary.buildings}
    table = Table("tenant", "building", "meters", "kWh", "tCO2e", "m²", "kWh/m²", title="tenants")
    for t in summary.tenants:
        table.add_row(t.name, names.get(t.building, t.building), str(len(t.meters)), shown(t.kwh, 1), shown(t.tco2e, 3),
                      shown(t.area_m2, 1), shown(t.kwh_per_m2, 2))
    out.print(table)
    for problem in summary.problems[:SHOWN_PROBLEMS]:
        err.print(problem, highlight=False, markup=False, soft_wrap=True)
    if len(summary.problems) > SHOWN_PROBLEMS:
        err.print(f"… and {len(summary.problems) - SHOWN_PROBLEMS} more (all in --html and --json)", highlight=False)

