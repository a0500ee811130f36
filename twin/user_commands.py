"""``twin users add FILE NAME --role ROLE``: a user of ``twin serve --users FILE`` (:mod:`twin.users`),
the password read from standard input (asked twice, unechoed, at a terminal; else its first line)."""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TextIO

from rich.console import Console

from twin.errors import InputError

err = Console(stderr=True)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """The ``users`` command of the ``twin`` CLI."""
    s = sub.add_parser("users", help="the users who sign in to twin serve --users FILE")
    actions = s.add_subparsers(dest="action", required=True)
    s = actions.add_parser("add", help="add a user, or set one's role and password (read from standard input)")
    s.add_argument("file", type=Path, help="the users file (TOML), created when absent")
    s.add_argument("name", help="the user name: letters, digits and . _ @ -")
    s.add_argument("--role", required=True, help="tour, wall, monitor, commander, maintainer or admin (twin/roles.py)")
    s.add_argument("--full-name", help="the person's name, e.g. 张伟")
    s.add_argument("--phone", help="a phone number")
    s.set_defaults(run=cmd_users_add)


def read_password(stdin: TextIO) -> str:
    """The new password: typed twice without echo at a terminal, else the first line of ``stdin``."""
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise InputError("password: the two entries differ")
    return password


def cmd_users_add(args: argparse.Namespace) -> None:
    from twin.users import UserBook, check_name, check_role

    check_name(args.name)
    check_role(args.role)  # both before asking for the password
    created = UserBook(args.file).add(args.name, args.role, read_password(sys.stdin), args.full_name, args.phone)
    err.print(f"{args.file}: {'added' if created else 'updated'} {args.name} ({args.role})", highlight=False,
              soft_wrap=True)
