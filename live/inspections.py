"""Inspection plans (巡检, ``[[inspections]]`` in ``scene.toml``): rounds that open work orders on a schedule::

    [[inspections]]
    key = "fire-kit-b01"
    title = "1号楼消防设施巡检"
    route = ["ifc:B01:…", "dev:FH-B01-1F-01"]   # node ids, visited in order
    assignee = "王工"
    team = "engineering"                        # optional: a [[teams]] key
    checklist = ["灭火器压力正常", "消火栓无遮挡"]
    every_h = 24
    start = 2026-01-01T08:00:00+08:00          # optional: periods start here (default midnight UTC)

Periods begin at ``start + k × every_h``. :func:`due` says which periods have begun since the last one
that has an order; :func:`run_inspections` opens one order per such period (source ``inspection``, on
the route's first node, the plan's checklist), and the book never opens two for one period.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from live.workorders import Source, WorkOrder, WorkOrderBook

if TYPE_CHECKING:
    from twin.park import Park
    from twin.scene import _Reader
    from twin.teams import TeamSpec

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  #: the default start: periods begin at midnight UTC
MAX_CATCH_UP = 10  #: after a pause, orders for at most this many of the latest missed periods
PRINCIPAL = "inspection"  #: who the scheduled orders are created by
_INSPECTION_KEYS = {"key", "title", "route", "assignee", "team", "checklist", "every_h", "start"}


@dataclass(frozen=True)
class InspectionSpec:
    key: str
    title: str
    route: tuple[str, ...]  # node ids, in the order walked
    assignee: str
    every_h: float
    checklist: tuple[str, ...] = ()
    team: str = ""
    start: datetime = EPOCH

    def period(self, now: datetime) -> datetime | None:
        """The start of the period ``now`` is in; None before the first."""
        if now < self.start:
            return None
        every = timedelta(hours=self.every_h)
        return self.start + every * math.floor((now - self.start) / every)


def read_inspections(r: _Reader, data: dict[str, Any]) -> tuple[InspectionSpec, ...]:
    """The ``[[inspections]]`` of a scene file; every problem goes to ``r`` naming its field."""
    return r.keyed(data, "inspections", _inspection)


def _strings(r: _Reader, t: dict, key: str, where: str, required: bool) -> tuple[str, ...] | None:
    value = t.get(key, None if required else [])
    if not (isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)
            and (value or not required)):
        r.problem(f"{where}{key}", f"must be a {'non-empty ' if required else ''}list of strings, not {value!r}")
        return None
    return tuple(value)


def _start(r: _Reader, t: dict, where: str) -> datetime | None:
    value = t.get("start", EPOCH)
    try:
        start = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except (TypeError, ValueError):
        r.problem(f"{where}start", f"must be an ISO 8601 time such as 2026-01-01T08:00:00+08:00, not {value!r}")
        return None
    if start.tzinfo is None:
        r.problem(f"{where}start", f"{start.isoformat()} needs a UTC offset (…+08:00 or …Z)")
        return None
    return start


def _inspection(r: _Reader, where: str, t: dict) -> InspectionSpec | None:
    from twin.scene import _KEY_RE

    r.unknown(t, _INSPECTION_KEYS, where)
    problems = len(r.problems)
    key, title = r.text(t, "key", where, required=True), r.text(t, "title", where, required=True)
    if key is not None and not _KEY_RE.match(key):
        r.problem(f"{where}key", f"{key!r}: use letters, digits, '_' or '-'")
    assignee = r.text(t, "assignee", where, required=True)
    team = r.text(t, "team", where) or ""
    route = _strings(r, t, "route", where, required=True)
    checklist = _strings(r, t, "checklist", where, required=False)
    every_h = r.number(t, "every_h", where)
    if every_h is not None and every_h <= 0:
        r.problem(f"{where}every_h", f"must be more than 0, not {every_h:g}")
    start = _start(r, t, where)
    if len(r.problems) != problems:
        return None
    return InspectionSpec(key, title, route, assignee, every_h, checklist, team, start)


def inspection_problems(inspections: Sequence[InspectionSpec], teams: Sequence[TeamSpec], park: Park,
                        file: Path) -> list[str]:
    """Route nodes the built park does not have, teams ``[[teams]]`` does not have; one line each
    naming the file and field."""
    keys = {team.key for team in teams}
    problems = []
    for i, spec in enumerate(inspections):
        where = f"{file}: inspections[{i}]"
        problems += [f"{where}.route[{j}]: no node {node!r} in the park"
                     for j, node in enumerate(spec.route) if node not in park]
        if spec.team and spec.team not in keys:
            problems.append(f"{where}.team: no team {spec.team!r} in [[teams]]")
    return problems


def due(inspections: Iterable[InspectionSpec], last_run: Mapping[str, datetime],
        now: datetime) -> list[tuple[InspectionSpec, datetime]]:
    """``(plan, period start)`` for every period begun by ``now`` after the plan's ``last_run`` (the
    period start of its latest order), oldest first; a plan never run gets its current period only,
    one after a pause its latest :data:`MAX_CATCH_UP` periods."""
    found = []
    for spec in inspections:
        current = spec.period(now)
        if current is None:
            continue
        last = last_run.get(spec.key)
        every = timedelta(hours=spec.every_h)
        missed = 1 if last is None else min(MAX_CATCH_UP, math.floor((current - last) / every))
        found += [(spec, current - every * k) for k in range(missed - 1, -1, -1)]
    return found


def open_order(book: WorkOrderBook, spec: InspectionSpec, period: datetime) -> WorkOrder:
    """The order of one period of a plan (the one there is, or a new one)."""
    return book.create(f"{spec.title} {period:%Y-%m-%d %H:%M}", spec.route[0], by=PRINCIPAL,
                       assignee=spec.assignee, team=spec.team, source=Source.INSPECTION,
                       inspection=spec.key, due_at=period, route=spec.route, checklist=spec.checklist)


def run_inspections(book: WorkOrderBook, inspections: Sequence[InspectionSpec], now: datetime) -> list[WorkOrder]:
    """Open the orders of every period due by ``now``; returns them (none when all have theirs)."""
    if not inspections:
        return []
    return [open_order(book, spec, period) for spec, period in due(inspections, book.last_inspections(), now)]
