"""Signed-in sessions (issue 9): a random token per sign-in, kept server-side with its user and the
time it was last used; a session unused for the idle timeout is gone — except a ``wall`` session
(the monitoring centre's unattended screen, read-only), which lasts until it signs out.

With ``users`` (a user name → its principal now, None once removed) each use takes the user's
current role, and a removed user's sessions end at their next use.

With a ``path`` the sessions are journalled there (only each token's SHA-256, never the token), so a
restart signs no one out: the wall comes back by itself. A use is written at most once a minute.

>>> sessions = Sessions(timedelta(minutes=15), clock)   # doctest: +SKIP
>>> token = sessions.open(principal)                     # the cookie's value, or a bearer token
>>> sessions.principal(token)                            # raises Unauthenticated once idle too long
"""
from __future__ import annotations

import hashlib
import json
import secrets
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from live.clock import Clock
from twin.roles import ROLES
from twin.users import write_atomic
from twin.web.access import Principal, Unauthenticated

NEVER_IDLE = frozenset({"wall"})  #: roles whose sessions do not end when unused
WRITE_EVERY = timedelta(minutes=1)  #: a session's last use is journalled at most this often


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """Open sessions by token digest; journalled to ``path`` when given."""

    def __init__(self, idle: timedelta, clock: Clock, path: Path | None = None,
                 users: Callable[[str], Principal | None] | None = None):
        self.idle, self.clock, self.path, self.users = idle, clock, path, users
        self._lock = threading.Lock()
        self._open: dict[str, tuple[Principal, datetime]] = self._read()
        self._written = clock.now()

    def open(self, principal: Principal) -> str:
        """A new session of ``principal``; its token (and the ended sessions dropped)."""
        token, now = secrets.token_urlsafe(32), self.clock.now()
        with self._lock:
            self._open = {key: value for key, value in self._open.items() if self._lasts(*value, now)}
            self._open[digest(token)] = (principal, now)
            self._write(now)
        return token

    def alive(self, token: str) -> bool:
        """Whether ``token``'s session is open (without counting this as a use)."""
        with self._lock:
            entry = self._open.get(digest(token))
        return entry is not None and self._lasts(*entry, self.clock.now()) and self._current(entry[0]) is not None

    def principal(self, token: str) -> Principal:
        """The principal of ``token``'s session, which this use keeps open; :class:`Unauthenticated`
        when there is no such session or it has been idle too long."""
        now, key = self.clock.now(), digest(token)
        with self._lock:
            principal, used = self._open.pop(key, (None, now))
            if principal is not None:
                principal = self._current(principal)
            if principal is None or not self._lasts(principal, used, now):
                self._write(now)
                raise Unauthenticated("not signed in, or the session ended: sign in again")
            self._open[key] = (principal, now)
            if now - self._written >= WRITE_EVERY:
                self._write(now)
        return principal

    def close(self, token: str) -> Principal | None:
        """End ``token``'s session (sign out); its principal, None when there was none."""
        with self._lock:
            entry = self._open.pop(digest(token), None)
            self._write(self.clock.now())
        return entry[0] if entry is not None else None

    def _current(self, principal: Principal) -> Principal | None:
        """The session's user as the users file has them now (None: removed)."""
        return principal if self.users is None else self.users(principal.name)

    def _lasts(self, principal: Principal, used: datetime, now: datetime) -> bool:
        return principal.role in NEVER_IDLE or now - used < self.idle

    def _read(self) -> dict[str, tuple[Principal, datetime]]:
        """The journalled sessions (a missing or unreadable journal: none; a role gone: dropped)."""
        if self.path is None or not self.path.is_file():
            return {}
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))
            return {key: (Principal(e["name"], ROLES[e["role"]], e["role"]), datetime.fromisoformat(e["used"]))
                    for key, e in entries.items() if e.get("role") in ROLES}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def _write(self, now: datetime) -> None:
        """Journal the open sessions (under the lock)."""
        self._written = now
        if self.path is None:
            return
        write_atomic(self.path, json.dumps({key: {"name": p.name, "role": p.role, "used": used.isoformat()}
                                            for key, (p, used) in self._open.items()}))
        self.path.chmod(0o600)
