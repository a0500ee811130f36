"""Meter readings from the history: every stored sample of a cumulative reading (``energy_kwh``) over a
time range, as arrays.

The history is asked through its :class:`~live.history.History` interface, one series per meter,
with 1 ms buckets so that no sample is averaged with another. The range is widened by
:data:`LOOKAROUND` on each side, so that the reading at the range's ends can be interpolated between
the samples either side of them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from live.history import History

#: How far beyond the range samples are read: more than a meter's keep-alive (an hour in the demo).
LOOKAROUND = timedelta(days=1)
#: How late a sample may be stored and still be read by :class:`KeptReadings` (the history writes in
#: batches; a gateway may hold readings back a while).
REREAD = timedelta(minutes=15)


@dataclass(frozen=True)
class Readings:
    """One meter's samples: seconds since 1970 (UTC, increasing) and the reading at each."""

    t_s: np.ndarray
    value: np.ndarray


def read_counters(history: History, node_ids: Iterable[str], metric: str, start: datetime, end: datetime,
                  progress: Callable[[int], None] | None = None) -> dict[str, Readings]:
    """Meter node id → its numeric samples of ``metric`` from ``start - LOOKAROUND`` to
    ``end + LOOKAROUND``; meters without any are left out."""
    return _samples(history, list(dict.fromkeys(node_ids)), metric, start - LOOKAROUND, end + LOOKAROUND, progress)


def _samples(history: History, node_ids: list[str], metric: str, since: datetime, until: datetime,
             progress: Callable[[int], None] | None = None) -> dict[str, Readings]:
    every_ms = max(1, round((until - since).total_seconds() * 1000))  # 1 ms buckets: each sample its own
    found = {}
    for done, node_id in enumerate(node_ids, 1):
        points = [(t.timestamp(), float(v)) for t, v in history.series(node_id, metric, since, until, every_ms)
                  if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if points:
            t_s, value = np.array(points).T
            keep = np.r_[t_s[1:] != t_s[:-1], True]  # a sample at ``since`` itself wins over the one held then
            found[node_id] = Readings(t_s[keep], value[keep])
        if progress is not None:
            progress(100 * done // len(node_ids))
    return found


class KeptReadings:
    """:func:`read_counters` for a range that only grows at its end (the month so far, read again every
    minute for the live app): the first read, or one with other meters or another start, reads the
    whole range; the next ones read only the samples from :data:`REREAD` before the last read's end
    (samples stored late are taken) and keep the rest, so a read costs minutes of samples, not a month.
    Not thread-safe: one owner (:class:`~twin.energy.today.EnergyTodayCache` reads under its lock)."""

    def __init__(self, history: History, metric: str):
        self.history, self.metric = history, metric
        self._key: tuple[tuple[str, ...], datetime] | None = None
        self._end: datetime | None = None
        self._found: dict[str, Readings] = {}

    def read(self, node_ids: Iterable[str], start: datetime, end: datetime) -> dict[str, Readings]:
        """As :func:`read_counters` (``start`` and ``end`` timezone-aware)."""
        key = (tuple(dict.fromkeys(node_ids)), start)
        if key != self._key or self._end is None or end < self._end:
            self._found = read_counters(self.history, key[0], self.metric, start, end)
        else:
            cut = max(start - LOOKAROUND, self._end - REREAD)
            cut_s = cut.timestamp()
            for node_id, fresh in _samples(self.history, list(key[0]), self.metric, cut, end + LOOKAROUND).items():
                new = fresh.t_s > cut_s  # the value held at ``cut`` is in the kept samples already
                old = self._found.get(node_id, Readings(np.empty(0), np.empty(0)))
                kept = old.t_s <= cut_s
                self._found[node_id] = Readings(np.r_[old.t_s[kept], fresh.t_s[new]],
                                                np.r_[old.value[kept], fresh.value[new]])
        self._key, self._end = key, end
        return dict(self._found)
