"""The demo cameras' pictures: ``GET /api/cameras/{code}/snapshot.png`` (issue 5, item 4).

What camera ``dev:<code>`` would see of the twin, rendered off-screen from its own pose
(:func:`twin.cameras.snapshot_png`), its code and the time burned in. The request passes
:func:`twin.web.access.check` (``camera.read`` on ``dev:<code>``); an unknown camera is a JSON
404. The picture is drawn in the park's picture worker process, never on the event loop.
"""
from __future__ import annotations

import asyncio
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from tornado.web import RequestHandler

from live.clock import Clock, SystemClock
from twin.cameras import snapshots
from twin.park import Park
from twin.web.api import ApiError, ApiHandler

WIDTH, HEIGHT = 640, 360


class SnapshotHandler(ApiHandler):
    permission = "camera.read"

    def initialize(self, park: Park, clock: Clock | None = None) -> None:
        super().initialize(park)
        self.clock = clock or SystemClock()

    def target(self, code: str) -> str:
        return f"dev:{code}"

    async def get(self, code: str) -> None:
        self.checked(code)
        try:
            drawn = snapshots(self.park).submit(self.target(code), WIDTH, HEIGHT, self.clock)
        except KeyError as exc:
            raise ApiError(404, exc.args[0]) from exc
        try:
            picture = await asyncio.wrap_future(drawn)
        except BrokenProcessPool as exc:
            raise ApiError(503, f"the camera picture renderer stopped drawing {code}; ask again") from exc
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "no-store")
        self.finish(picture.png)


def snapshot_routes(park: Park, clock: Clock | None = None) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The tornado route (for ``extra_patterns``) of the cameras' snapshots over ``park``."""
    return [(r"/api/cameras/([^/]+)/snapshot\.png", SnapshotHandler, {"park": park, "clock": clock})]
