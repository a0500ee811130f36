"""The users file (issue 9, 等保二级): who may sign in, with which role of :data:`twin.roles.ROLES`.

A TOML file that ``twin users add`` writes (the password only ever as its hash)::

    [[users]]
    name = "zhang.wei"                 # letters, digits and . _ @ -, up to 64 characters
    role = "monitor"                   # tour | monitor | commander | maintainer | admin
    password = "scrypt$16384$8$1$<salt>$<hash>"   # hashlib.scrypt, base64
    full_name = "张伟"                  # optional
    phone = "138 0000 0000"            # optional

A password has at least :data:`MIN_LENGTH` characters of at least :data:`MIN_CLASSES` classes (upper
case, lower case, digits, symbols) and does not contain the user name. :data:`MAX_FAILURES` wrong
passwords within :data:`FAILURE_WINDOW` lock the name out for :data:`LOCK_TIME`, the right password
included; the lock-out lives beside the users file (``users.lockout.json``), so a restart keeps it.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from live.clock import Clock, SystemClock
from twin.errors import InputError
from twin.roles import ROLES
from twin.web.access import Principal

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_LENGTH, MIN_CLASSES = 10, 3
MAX_FAILURES = 5
FAILURE_WINDOW = LOCK_TIME = timedelta(minutes=15)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_MAX_MEM = 2**26  #: bytes; a hash asking for more is refused when the file is read
HASH = re.compile(r"scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*)")
FIELDS = ("name", "role", "password", "full_name", "phone")
HEADER = "# twin users: written by `twin users add`; passwords are scrypt hashes (twin/users.py)\n\n"


class WeakPassword(InputError):
    """A password that breaks one of the rules; the message names the rule."""


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` of ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return "$".join(("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(key).decode()))


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` is the one hashed in ``stored`` (a hash :func:`check_hash` accepted)."""
    n, r, p, salt, key = HASH.fullmatch(stored).groups()
    expected = base64.b64decode(key)
    got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                         dklen=len(expected), maxmem=SCRYPT_MAX_MEM + 2**20)
    return hmac.compare_digest(got, expected)


@functools.cache
def _decoy_hash() -> str:
    """A hash no password matches, checked for unknown names so they take as long as known ones."""
    return hash_password(secrets.token_hex(16))


def character_class(char: str) -> str:
    return ("upper case" if char.isupper() else "lower case" if char.islower()
            else "digits" if char.isdigit() else "symbols")


def password_problem(name: str, password: str) -> str | None:
    """The first rule ``password`` breaks for user ``name``, as one line; None when it keeps them all."""
    if len(password) < MIN_LENGTH:
        return f"password: at least {MIN_LENGTH} characters (this one has {len(password)})"
    classes = sorted({character_class(char) for char in password})
    if len(classes) < MIN_CLASSES:
        return (f"password: at least {MIN_CLASSES} of upper case, lower case, digits and symbols "
                f"(this one has {' and '.join(classes)})")
    if name.lower() in password.lower():
        return "password: must not contain the user name"
    return None


def check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise InputError(f"user name {name!r}: letters, digits and . _ @ - only (up to 64, "
                         "starting with a letter or digit)")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"role {role!r}: not a role (one of {', '.join(ROLES)})")


def check_hash(stored: str) -> None:
    match = HASH.fullmatch(stored)
    n, r, p = (int(value) for value in match.groups()[:3]) if match else (0, 0, 0)
    if not (n > 1 and n & (n - 1) == 0 and r >= 1 and p >= 1 and 128 * n * r * p <= SCRYPT_MAX_MEM):
        raise InputError("not a scrypt hash written by twin users add")


def check_text(value: str) -> None:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise InputError(f"{value!r}: control characters are not allowed")


@dataclass(frozen=True)
class User:
    """One entry of the users file; ``password`` is its scrypt hash."""

    name: str
    role: str
    password: str
    full_name: str = ""
    phone: str = ""

    def principal(self) -> Principal:
        return Principal(self.name, ROLES[self.role], self.role)


def read_users(path: Path) -> dict[str, User]:
    """The users of a users file by name; a bad entry is an :class:`InputError` naming file and field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: {exc}") from None
    if set(data) - {"users"} or not isinstance(data.get("users", []), list):
        raise InputError(f"{path}: only [[users]] tables belong in a users file")
    users: dict[str, User] = {}
    for index, entry in enumerate(data.get("users", [])):
        where = f"{path}: users[{index}]"
        unknown = sorted(set(entry) - set(FIELDS)) if isinstance(entry, dict) else ["?"]
        if unknown:
            raise InputError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
        for field in FIELDS:
            value = entry.get(field, "" if field in ("full_name", "phone") else None)
            if not isinstance(value, str):
                raise InputError(f"{where}.{field}: {'required ' if value is None else ''}text expected")
        for field, check in (("name", check_name), ("role", check_role), ("password", check_hash),
                             ("full_name", check_text), ("phone", check_text)):
            try:
                check(entry.get(field, ""))
            except InputError as exc:
                raise InputError(f"{where}.{field}: {exc}") from None
        if entry["name"] in users:
            raise InputError(f"{where}.name: {entry['name']!r} appears twice")
        users[entry["name"]] = User(**entry)
    return users


def users_toml(users: Iterable[User]) -> str:
    """The users file's text (strings as JSON strings, which TOML reads as basic strings)."""
    blocks = ["[[users]]\n" + "".join(f"{field} = {json.dumps(value, ensure_ascii=False)}\n"
                                      for field, value in asdict(user).items() if value) for user in users]
    return HEADER + "\n".join(blocks)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a private temp file and a rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Lockout:
    """Recent failed sign-ins per user name and the names locked out, in a JSON file::

        {"zhang.wei": {"failures": [["2026-01-01T08:00:00+00:00", "10.0.0.7"], ...],
                       "locked_until": "2026-01-01T08:20:00+00:00"}}
    """

    def __init__(self, path: Path, clock: Clock):
        self.path, self.clock = path, clock

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.path}: {exc}") from None

    def locked_until(self, name: str) -> datetime | None:
        """When the lock on ``name`` ends; None when it is not locked."""
        until = self._read().get(name, {}).get("locked_until")
        return None if until is None or datetime.fromisoformat(until) <= self.clock.now() \
            else datetime.fromisoformat(until)

    def failed(self, name: str, remote: str) -> None:
        """Count a failed sign-in of ``name`` from ``remote``; the last allowed one locks the name."""
        now, state = self.clock.now(), self._read()
        failures = [f for f in state.get(name, {}).get("failures", [])
                    if now - datetime.fromisoformat(f[0]) < FAILURE_WINDOW] + [[now.isoformat(), remote]]
        state[name] = ({"failures": failures} if len(failures) < MAX_FAILURES
                       else {"failures": [], "locked_until": (now + LOCK_TIME).isoformat()})
        write_atomic(self.path, json.dumps(state, ensure_ascii=False, indent=1))

    def clear(self, name: str) -> None:
        """Forget ``name``'s failures and lock (a right password, a new password)."""
        state = self._read()
        if state.pop(name, None) is not None:
            write_atomic(self.path, json.dumps(state, ensure_ascii=False, indent=1))


class UserBook:
    """The users file at ``path`` and its lock-out: add users, verify passwords (``clock``: injected)."""

    def __init__(self, path: Path, clock: Clock = SystemClock()):
        self.path = Path(path)
        self.lockout = Lockout(self.path.with_name(f"{self.path.stem}.lockout.json"), clock)
        self._lock = threading.Lock()
        self._read: tuple[tuple[int, int, int] | None, dict[str, User]] = (None, {})

    def users(self) -> dict[str, User]:
        """The users by name (none while the file does not exist), read again whenever the file changed,
        so ``twin users add`` takes effect on a running server."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if self._read[0] != stamp:
            self._read = (stamp, read_users(self.path))
        return self._read[1]

    def principal(self, name: str) -> Principal | None:
        """User ``name``'s principal as the file has it now; None when there is no such user."""
        user = self.users().get(name)
        return None if user is None else user.principal()

    def remove(self, name: str) -> None:
        """Take user ``name`` out of the file (their sessions end at their next use); KeyError when absent."""
        with self._lock:
            users = dict(self.users())
            del users[name]
            write_atomic(self.path, users_toml(users.values()))
            self.lockout.clear(name)

    def add(self, name: str, role: str, password: str, full_name: str | None = None,
            phone: str | None = None) -> bool:
        """Create or update user ``name`` (``None``: keep that field), lifting any lock-out; whether it is new."""
        check_name(name)
        check_role(role)
        problem = password_problem(name, password)
        if problem:
            raise WeakPassword(problem)
        for value in (full_name or "", phone or ""):
            check_text(value)
        with self._lock:
            users = dict(self.users())
            old = users.get(name, User(name, role, ""))
            users[name] = User(name, role, hash_password(password),
                               old.full_name if full_name is None else full_name,
                               old.phone if phone is None else phone)
            write_atomic(self.path, users_toml(users.values()))
            self.lockout.clear(name)
        return not old.password

    def verify(self, name: str, password: str, remote: str = "") -> Principal | None:
        """The principal of user ``name`` when ``password`` is theirs and the name is not locked out,
        else None; a wrong password counts towards the lock-out (``remote``: the client's address)."""
        user = self.users().get(name)
        if user is not None and self.lockout.locked_until(name) is not None:
            return None
        right = password_matches(password, user.password if user is not None else _decoy_hash())
        if user is None:
            return None
        with self._lock:
            if right:
                self.lockout.clear(name)
            else:
                self.lockout.failed(name, remote)
        return user.principal() if right else None
