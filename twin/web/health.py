"""``GET /healthz``: is this server up, which start of it answers, and is its live side well.

``{"status": "ok"|"degraded", "boot", "started_at", "uptime_s", "resident_mb", "workers_mb", "park", "live"}``,
where ``resident_mb`` is the server process's memory and ``workers_mb`` its worker processes' (camera
pictures, drills; both null without /proc), ``boot`` a random id drawn
once per server start (:class:`Boot`; the pages' :mod:`twin.web.reloader` reloads when it changes)
and ``live`` is ``{"broker": "connected"|"disconnected"|null, "history": "ok"|why not,
"alarms_active": n}`` (``broker`` null before the live side started; ``live`` null for a park without
one). 200 when ok, 503 when degraded: the broker is not connected, or the history store
cannot take its write lock. Nothing of the park beyond its name, and no file paths.

>>> routes = health_routes(park, live)          # doctest: +SKIP  (for build_server's extra_patterns)
"""
from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tornado.ioloop import IOLoop
from tornado.web import RequestHandler

from live.runtime import Live
from twin.memory import resident_mb, workers_mb
from twin.park import Park

HEALTH_PATH = "/healthz"
PROBE_TIMEOUT_S = 2.0  #: how long the history probe waits for the write lock


@dataclass(frozen=True)
class Boot:
    """One start of the server: a random id, when, and a monotonic clock for the uptime."""

    id: str = field(default_factory=lambda: secrets.token_hex(8))
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    monotonic: float = field(default_factory=time.monotonic)


def history_problem(path: Path) -> str | None:
    """None when the history file opens for writing and its write lock can be taken (then let go at
    once, nothing written); else SQLite's reason (without the path: the route is public)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=PROBE_TIMEOUT_S)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        finally:
            db.close()
    except sqlite3.Error as exc:
        return str(exc)
    return None


def live_health(live: Live) -> dict[str, Any]:
    """The live part of the answer (reads the history file: call it off the event loop)."""
    ingest = live.ingest
    return {"broker": None if ingest is None else "connected" if ingest.ready else "disconnected",
            "history": history_problem(live.history.path) or "ok",
            "alarms_active": len(live.alarms.list(active=True))}


def health(park: Park, live: Live | None, boot: Boot) -> dict[str, Any]:
    """The whole answer; ``status`` degraded when the broker is not connected or history not ok."""
    found = live_health(live) if live is not None else None
    well = found is None or (found["broker"] != "disconnected" and found["history"] == "ok")
    return {"status": "ok" if well else "degraded", "boot": boot.id,
            "started_at": boot.started_at.isoformat(timespec="seconds"),
            "uptime_s": round(time.monotonic() - boot.monotonic, 1),
            "resident_mb": _rounded(resident_mb()), "workers_mb": _rounded(workers_mb()), "park": park.name,
            "live": found}


def _rounded(mb: float | None) -> float | None:
    return None if mb is None else round(mb, 1)


class HealthHandler(RequestHandler):
    """``GET /healthz``. A plain tornado RequestHandler, not an :class:`~twin.web.api.ApiHandler`, on
    purpose: probes (load balancers, the pages' reloader) ask without signing in, and it writes no
    audit record: it reads no park data beyond the name, and probes every few seconds would flood
    the audit log."""

    def initialize(self, park: Park, live: Live | None, boot: Boot) -> None:
        self.park, self.live, self.boot = park, live, boot

    async def get(self) -> None:
        found = await IOLoop.current().run_in_executor(None, health, self.park, self.live, self.boot)
        self.set_status(200 if found["status"] == "ok" else 503)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(found, ensure_ascii=False))


def health_routes(park: Park, live: Live | None) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The ``/healthz`` route (for ``extra_patterns``), with a new :class:`Boot`: call once per start."""
    return [(HEALTH_PATH, HealthHandler, {"park": park, "live": live, "boot": Boot()})]
