"""The live REST API (issue 5), next to the read-only one in :mod:`twin.web.api`.

- ``GET /api/devices``: ``[{"id", "code", "type", "topics", "metrics": [{"name", "unit", "kind"}]}]``
- ``GET /api/state/{id}``: ``{"id", "status", "online", "metrics": {NAME: {"value", "ts"}}}`` (any node:
  a building's status is the worst below it)
- ``GET /api/alarms?active=1&severity=critical&node=PREFIX``: alarm records, newest first, each with ``node``
- ``POST /api/alarms/{id}/ack`` and ``POST /api/alarms/{id}/clear``: the alarm record after it
- ``POST /api/devices/{id}/commands`` with ``{"action": "off"}``: the command's result once the device
  confirmed it (or timed out)
- ``GET /api/diagnostics``: ingest counters per topic and the broker's address

Every request passes the access layer (``device.read``, ``state.read``, ``alarm.read``, ``alarm.ack``,
``alarm.clear``, ``device.command``, ``diagnostics.read``) and is audited.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from tornado.ioloop import IOLoop
from tornado.web import RequestHandler

from live.alarms import Severity, UnknownAlarm
from live.runtime import Live
from live.state import device_type
from twin.errors import InputError
from twin.park import Park
from twin.web.api import ApiError, ApiHandler


class LiveHandler(ApiHandler):
    """A route over the park and its :class:`~live.runtime.Live` side."""

    def initialize(self, park: Park, live: Live) -> None:  # type: ignore[override]
        self.park, self.live = park, live

    def node(self, node_id: str) -> str:
        if node_id not in self.park:
            raise ApiError(404, f"no node {node_id!r} in park {self.park.name!r}")
        return node_id


def device_record(live: Live, node_id: str) -> dict[str, Any]:
    """What ``/api/devices`` says of one device."""
    node = live.park.get(node_id)
    kind = device_type(node) or ""
    spec = live.spec.device_types.get(kind)
    topics = [t for b in live.ingest.router.bindings if (t := b.template.topic_for(node_id))] \
        if live.ingest is not None else []
    metrics = [{"name": m.name, "unit": m.unit, "kind": m.kind} for m in spec.metrics.values()] if spec else []
    return {"id": node_id, "code": node.code, "type": kind, "topics": topics, "metrics": metrics}


def state_record(live: Live, node_id: str) -> dict[str, Any]:
    """What ``/api/state/{id}`` says of one node."""
    online = live.state.online(node_id)
    return {"id": node_id, "status": str(live.state.status(node_id)),
            "online": None if online is None else online[0],
            "metrics": {name: {"value": value, "ts": ts.isoformat()}
                        for name, (value, ts) in live.state.metrics(node_id).items()}}


class DevicesHandler(LiveHandler):
    permission = "device.read"

    def answer(self) -> list[dict[str, Any]]:
        return [device_record(self.live, node.id) for node in self.park.of_kind("device")]


class StateHandler(LiveHandler):
    permission = "state.read"

    def target(self, node_id: str) -> str:
        return node_id

    def answer(self, node_id: str) -> dict[str, Any]:
        return state_record(self.live, self.node(node_id))


def _flag(handler: RequestHandler, name: str) -> bool | None:
    value = handler.get_query_argument(name, None)
    if value in (None, ""):
        return None
    if value not in ("0", "1"):
        raise ApiError(400, f"{name}: must be 0 or 1, not {value!r}")
    return value == "1"


class AlarmsHandler(LiveHandler):
    permission = "alarm.read"

    def target(self) -> str:
        return "alarms" + (f"?{self.request.query}" if self.request.query else "")

    def answer(self) -> list[dict[str, Any]]:
        severity = self.get_query_argument("severity", None) or None
        if severity is not None and severity not in {s.value for s in Severity}:
            raise ApiError(400, f"severity: unknown severity {severity!r} "
                                f"(one of {', '.join(s.value for s in Severity)})")
        alarms = self.live.alarms.list(active=_flag(self, "active"), severity=severity,
                                       node_prefix=self.get_query_argument("node", None) or None,
                                       unacked=_flag(self, "unacked"))
        return [alarm.record() for alarm in alarms]


class AlarmActionHandler(LiveHandler):
    """``POST /api/alarms/{id}/ack`` or ``/clear``: recorded with the principal and the time."""

    def target(self, alarm_id: str, action: str) -> str:
        return f"alarm/{alarm_id}"

    def post(self, alarm_id: str, action: str) -> None:
        self.permission = f"alarm.{action}"
        principal = self.checked(alarm_id, action)
        book = self.live.alarms
        try:
            alarm = (book.ack if action == "ack" else book.clear)(alarm_id, principal.name)
        except UnknownAlarm as exc:
            raise ApiError(404, str(exc)) from exc
        self.send_json(alarm.record())


class CommandHandler(LiveHandler):
    """``POST /api/devices/{id}/commands`` ``{"action": …}``: waits (off the event loop) for the answer."""

    permission = "device.command"

    def target(self, node_id: str) -> str:
        return node_id

    async def post(self, node_id: str) -> None:
        principal = self.checked(node_id)
        self.node(node_id)
        try:
            action = json.loads(self.request.body or b"{}").get("action")
        except (ValueError, AttributeError):
            raise ApiError(400, "body: must be JSON {\"action\": …}") from None
        if not isinstance(action, str) or not action:
            raise ApiError(400, "action: missing")
        if self.live.commander is None:
            raise ApiError(400, f"{node_id}: this park declares no commands")
        try:
            result = await IOLoop.current().run_in_executor(
                None, self.live.commander.send, node_id, action, principal)
        except InputError as exc:
            raise ApiError(400, str(exc)) from exc
        self.send_json(result.record())


class DiagnosticsHandler(LiveHandler):
    permission = "diagnostics.read"

    def answer(self) -> dict[str, Any]:
        ingest = self.live.ingest
        topics = ingest.diagnostics() if ingest is not None else {}
        return {"broker": self.live.url, "connected": bool(ingest and ingest.ready),
                "topics": {topic: asdict(counters) for topic, counters in sorted(topics.items())}}


def live_routes(park: Park, live: Live) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The tornado routes of the live API."""
    return [(route, handler, {"park": park, "live": live}) for route, handler in (
        (r"/api/devices", DevicesHandler), (r"/api/devices/(.+)/commands", CommandHandler),
        (r"/api/state/(.+)", StateHandler), (r"/api/alarms", AlarmsHandler),
        (r"/api/alarms/([^/]+)/(ack|clear)", AlarmActionHandler), (r"/api/diagnostics", DiagnosticsHandler))]
