"""Signed-in sessions (issue 9): a random token per sign-in, kept server-side with its user and the
time it was last used; a session unused for the idle timeout is gone.

>>> sessions = Sessions(timedelta(minutes=15), clock)   # doctest: +SKIP
>>> token = sessions.open(principal)                     # the cookie's value, or a bearer token
>>> sessions.principal(token)                            # raises Unauthenticated once idle too long
"""
from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta

from live.clock import Clock
from twin.web.access import Principal, Unauthenticated


class Sessions:
    """Open sessions by token (in memory: a restart signs everyone out)."""

    def __init__(self, idle: timedelta, clock: Clock):
        self.idle, self.clock = idle, clock
        self._open: dict[str, tuple[Principal, datetime]] = {}
        self._lock = threading.Lock()

    def open(self, principal: Principal) -> str:
        """A new session of ``principal``; its token (and the ended sessions dropped)."""
        token, now = secrets.token_urlsafe(32), self.clock.now()
        with self._lock:
            self._open = {key: value for key, value in self._open.items() if now - value[1] < self.idle}
            self._open[token] = (principal, now)
        return token

    def alive(self, token: str) -> bool:
        """Whether ``token``'s session is open (without counting this as a use)."""
        with self._lock:
            entry = self._open.get(token)
        return entry is not None and self.clock.now() - entry[1] < self.idle

    def principal(self, token: str) -> Principal:
        """The principal of ``token``'s session, which this use keeps open; :class:`Unauthenticated`
        when there is no such session or it has been idle too long."""
        now = self.clock.now()
        with self._lock:
            principal, used = self._open.pop(token, (None, now))
            if principal is None or now - used >= self.idle:
                raise Unauthenticated("not signed in, or the session ended: sign in again")
            self._open[token] = (principal, now)
        return principal

    def close(self, token: str) -> Principal | None:
        """End ``token``'s session (sign out); its principal, None when there was none."""
        with self._lock:
            entry = self._open.pop(token, None)
        return entry[0] if entry is not None else None
