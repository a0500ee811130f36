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


@dataclass(frozen=True)
class Readings:
    """One meter's samples: seconds since 1970 (UTC, increasing) and the reading at each."""

    t_s: np.ndarray
    value: np.ndarray


def read_counters(history: History, node_ids: Iterable[str], metric: str, start: datetime, end: datetime,
                  progress: Callable[[int], None] | None = None) -> dict[str, Readings]:
    """Meter node id → its numeric samples of ``metric`` from ``start - LOOKAROUND`` to
    ``end + LOOKAROUND``; meters without any are left out."""
    node_ids = list(dict.fromkeys(node_ids))
    since, until = start - LOOKAROUND, end + LOOKAROUND
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
