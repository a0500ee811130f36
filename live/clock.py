"""The one clock that live code reads (design decision 11: time is injected).

State, the simulator, drills, duration rules and retention take a :class:`Clock` instead of calling
``datetime.now``, so tests and demos can run an hour in a second.

>>> from datetime import datetime, timezone
>>> clock = ManualClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> clock.advance(3600).isoformat()
'2026-01-01T01:00:00+00:00'
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time: ``now()`` is a timezone-aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock that moves only when told to: for tests and accelerated demos.

    Reading it from other threads is safe (the time is one attribute, replaced whole).
    """

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds`` (not backward) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock does not go back ({seconds} s)")
        self._now = self._now + timedelta(seconds=seconds)
        return self._now
