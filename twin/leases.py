"""Lease records for virtual tours: which rooms are vacant or let, their area and rent.

``leases.csv`` columns: ``space`` (a node id), ``status`` (``vacant`` or ``let``), ``area_m2``,
``rent_cny_per_m2_day``, ``tenant``. Each record joins the space's properties as set ``lease``.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twin.errors import InputError
from twin.park import Park

STATUSES = ("vacant", "let")
NUMBERS = ("area_m2", "rent_cny_per_m2_day")


class WithLease:
    """A node's own properties plus its ``lease`` record (a picklable properties loader)."""

    def __init__(self, base: Callable[[], dict[str, dict[str, Any]]] | None, lease: dict[str, Any]):
        self.base, self.lease = base, lease

    def __call__(self) -> dict[str, dict[str, Any]]:
        return {**(self.base() if self.base else {}), "lease": self.lease}


def _lease(where: str, row: dict[str, str], park: Park) -> tuple[str, dict[str, Any]]:
    space = (row.get("space") or "").strip()
    if space not in park:
        raise InputError(f"{where}: field 'space': no node {space!r} in the park")
    if park.get(space).kind != "space":
        raise InputError(f"{where}: field 'space': {space} is a {park.get(space).kind}, not a space")
    status = (row.get("status") or "").strip()
    if status not in STATUSES:
        raise InputError(f"{where}: field 'status' must be one of {', '.join(STATUSES)}, not {status!r}")
    lease: dict[str, Any] = {"status": status, "tenant": (row.get("tenant") or "").strip()}
    for field in NUMBERS:
        try:
            lease[field] = float(row.get(field) or "nan")
        except ValueError:
            raise InputError(f"{where}: field '{field}' must be a number, not {row[field]!r}") from None
    return space, lease


def add_leases(park: Park, path: Path) -> int:
    """Attach every lease record to its space; raise :class:`InputError` (file, line, field) on
    the first bad row, before any is attached."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        leases = [_lease(f"{path} line {reader.line_num}", row, park) for row in reader]
    for space, lease in leases:
        node = park.get(space)
        node.properties_loader = WithLease(node.properties_loader, lease)
        node.__dict__.pop("properties", None)  # read afresh with the lease
    return len(leases)
