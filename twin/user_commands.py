"""The users of ``twin serve --users FILE`` (:mod:`twin.users`): ``twin users add FILE NAME --role ROLE``
(the password read from standard input: asked twice, unechoed, at a terminal; else its first line),
``twin users list FILE`` and ``twin users remove FILE NAME``. Adding and removing are audited, as the
operating-system user who ran the command."""
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
    s = actions.add_parser("list", help="the users: name, role, name in full, a lock-out in force")
    s.add_argument("file", type=Path, help="the users file (TOML)")
    s.set_defaults(run=cmd_users_list)
    s = actions.add_parser("remove", help="remove a user; their open sessions end at their next use")
    s.add_argument("file", type=Path, help="the users file (TOML)")
    s.add_argument("name", help="the user name")
    s.set_defaults(run=cmd_users_remove)


def read_password(stdin: TextIO) -> str:
    """The new password: typed twice without echo at a terminal, else the first line of ``stdin``."""
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise InputError("password: the two entries differ")
    return password


def audited(action: str, target: str) -> None:
    """An audit record of a user change made at this machine's command line."""
    from twin.web.access import Principal, audit

    audit(Principal(f"cli:{getpass.getuser()}"), action, target, "allowed", remote="local")


def existing_book(path: Path):
    from twin.users import UserBook

    if not path.is_file():
        raise InputError(f"{path}: no such users file (create it: twin users add {path} NAME --role admin)")
    return UserBook(path)


def cmd_users_add(args: argparse.Namespace) -> None:
    from twin.users import UserBook, check_name, check_role

    check_name(args.name)
    check_role(args.role)  # both before asking for the password
    created = UserBook(args.file).add(args.name, args.role, read_password(sys.stdin), args.full_name, args.phone)
    audited("users.add" if created else "users.update", f"{args.file}:{args.name} ({args.role})")
    err.print(f"{args.file}: {'added' if created else 'updated'} {args.name} ({args.role})", highlight=False,
              soft_wrap=True)


def cmd_users_list(args: argparse.Namespace) -> None:
    book = existing_book(args.file)
    for user in sorted(book.users().values(), key=lambda u: u.name):
        until = book.lockout.locked_until(user.name)
        locked = f"\tlocked until {until:%Y-%m-%d %H:%M} UTC" if until else ""
        print(f"{user.name}\t{user.role}\t{user.full_name}{locked}")


def cmd_users_remove(args: argparse.Namespace) -> None:
    book = existing_book(args.file)
    try:
        book.remove(args.name)
    except KeyError:
        raise InputError(f"{args.file}: no user {args.name!r} (twin users list {args.file})") from None
    audited("users.remove", f"{args.file}:{args.name}")
    err.print(f"{args.file}: removed {args.name}", highlight=False, soft_wrap=True)
