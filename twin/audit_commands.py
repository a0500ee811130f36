"""``twin audit verify``: recompute the audit log's hash chain (:mod:`twin.audit_log`) and say where it breaks."""
from __future__ import annotations

import argparse
from pathlib import Path

from twin.errors import InputError


def add_commands(sub: argparse._SubParsersAction) -> None:
    """The ``audit`` command of the ``twin`` CLI."""
    s = sub.add_parser("audit", help="the audit log")
    actions = s.add_subparsers(dest="action", required=True)
    s = actions.add_parser("verify", help="walk every month file and recompute the hash chain (exit 1 when broken)")
    s.add_argument("--home", type=Path, help="the data directory (default: $TWIN_HOME, else ./.twin)")
    s.set_defaults(run=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from twin.audit_log import AuditLog
    from twin.cli import out, progress_bar
    from twin.web.access import data_dir

    home = args.home or data_dir()
    if not home.is_dir():
        raise InputError(f"--home {home}: no such directory")
    with progress_bar("verifying") as progress:
        verdict = AuditLog(home / "audit").verify(progress)
    out.print(verdict.line(), highlight=False, markup=False, soft_wrap=True)
    return 0 if verdict.intact else 1
