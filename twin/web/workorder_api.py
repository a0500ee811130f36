"""The work-order REST API (工单), beside the live one in :mod:`twin.web.live_api`.

- ``GET /api/workorders?status=open,acknowledged&open=1&node=PREFIX&asset=ID&assignee=A&source=alarm&since=ISO``:
  order records newest first (``open=1``: still to be done; ``asset``: that node's and those below it)
- ``GET /api/workorders/{id}``: one order record
- ``POST /api/workorders`` ``{"title", "node", "priority", "assignee", "team", "note"}``, or
  ``{"alarm_id", "priority"?, …}`` for the alarm's order (its node and title; an alarm's pending order
  is returned, not doubled): 201 and the record
- ``POST /api/workorders/{id}`` ``{"status"?, "note"?, "assignee"?, "checklist"?: [true, false, …]}``
- ``POST /api/workorders/{id}/attachments?name=photo.jpg`` (the body is the file, ≤ 10 MB): 201 and the record
- ``GET /api/workorders/{id}/attachments/{name}``: the file
- ``GET /api/workorders/stats?by=team|assignee&period=month|day``: :meth:`~live.workorders.WorkOrderBook.stats`

Reads need ``workorder.read``, changes ``workorder.write``; every request is audited. Bad input is 400
naming the field and cause, an unknown order 404.
"""
from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from tornado.web import RequestHandler

from live.alarms import UnknownAlarm
from live.runtime import Live
from live.workorders import UnknownOrder, WorkOrder
from twin.errors import InputError
from twin.park import Park
from twin.web.api import ApiError
from twin.web.live_api import LiveHandler, _flag

R = TypeVar("R")
_CREATE_KEYS = {"title", "node", "priority", "assignee", "team", "note", "alarm_id"}
_UPDATE_KEYS = {"status", "note", "assignee", "checklist"}


def _book(call: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """Run a book call; its errors as 404 (unknown order) or 400 (bad input)."""
    try:
        return call(*args, **kwargs)
    except UnknownOrder as exc:
        raise ApiError(404, str(exc)) from exc
    except InputError as exc:
        raise ApiError(400, str(exc)) from exc


class OrderHandler(LiveHandler):
    """A work-order route: reads need ``workorder.read``, POST ``workorder.write``."""

    permission = "workorder.read"

    def body(self, known: set[str]) -> dict[str, Any]:
        """The request's JSON object, its keys among ``known`` and its values strings unless said."""
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ApiError(400, "body: must be a JSON object")
        unknown = sorted(set(body) - known)
        if unknown:
            raise ApiError(400, f"{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
        for key, value in body.items():
            if key not in ("checklist", "alarm_id") and not isinstance(value, str):
                raise ApiError(400, f"{key}: must be a string, not {value!r}")
        return body

    def arg(self, name: str) -> str | None:
        """A query argument, None when absent or empty."""
        return self.get_query_argument(name, None) or None

    def written(self, order: WorkOrder, status: int = 200) -> None:
        self.set_status(status)
        self.send_json(order.record())


class OrdersHandler(OrderHandler):
    def target(self) -> str:
        return "workorders" + (f"?{self.request.query}" if self.request.query else "")

    def answer(self) -> list[dict[str, Any]]:
        status, since, asset = self.arg("status"), self.arg("since"), self.arg("asset")
        try:
            when = datetime.fromisoformat(since) if since is not None else None
        except ValueError:
            raise ApiError(400, f"since: must be an ISO 8601 time, not {since!r}") from None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        orders = _book(self.live.workorders.list, status=status.split(",") if status else None,
                       pending=_flag(self, "open"), node_prefix=self.arg("node"),
                       assignee=self.arg("assignee"), source=self.arg("source"), since=when)
        if asset is not None:
            mine = {o.id for o in self.live.workorders.for_node(self.node(asset), self.park)}
            orders = [o for o in orders if o.id in mine]
        return [o.record() for o in orders]

    def post(self) -> None:
        self.permission = "workorder.write"
        principal = self.checked()
        body = self.body(_CREATE_KEYS)
        book = self.live.workorders
        fields = {key: body.get(key, "") for key in ("assignee", "team")}
        if "alarm_id" in body:
            try:
                alarm = self.live.alarms.get(str(body["alarm_id"]))
            except UnknownAlarm as exc:
                raise ApiError(400, f"alarm_id: {exc}") from exc
            order = _book(book.from_alarm, alarm, body.get("priority"), by=principal.name, **fields)
            if body.get("note"):
                order = _book(book.update, order.id, note=body["note"], by=principal.name)
        else:
            node = body.get("node")
            if node and node not in self.park:
                raise ApiError(400, f"node: no node {node!r} in park {self.park.name!r}")
            order = _book(book.create, body.get("title", ""), node or "", body.get("priority", "normal"),
                          by=principal.name, note=body.get("note"), **fields)
        self.written(order, 201)


class OrderStatsHandler(OrderHandler):
    def target(self) -> str:
        return "workorders/stats"

    def answer(self) -> list[dict[str, Any]]:
        return _book(self.live.workorders.stats, self.get_query_argument("by", "team"),
                     self.get_query_argument("period", "month"))


class OneOrderHandler(OrderHandler):
    def target(self, order_id: str) -> str:
        return f"workorder/{order_id}"

    def answer(self, order_id: str) -> dict[str, Any]:
        return _book(self.live.workorders.get, order_id).record()

    def post(self, order_id: str) -> None:
        self.permission = "workorder.write"
        principal = self.checked(order_id)
        body = self.body(_UPDATE_KEYS)
        self.written(_book(self.live.workorders.update, order_id, by=principal.name, **body))


class AttachHandler(OrderHandler):
    """``POST …/attachments?name=F``: the request body is the file."""

    permission = "workorder.write"

    def target(self, order_id: str) -> str:
        return f"workorder/{order_id}/attachments"

    def post(self, order_id: str) -> None:
        principal = self.checked(order_id)
        name = self.get_query_argument("name", "")
        if not name.strip():
            raise ApiError(400, "name: missing (…/attachments?name=photo.jpg)")
        self.written(_book(self.live.workorders.attach, order_id, name, self.request.body, principal.name), 201)


class AttachmentHandler(OrderHandler):
    def target(self, order_id: str, name: str) -> str:
        return f"workorder/{order_id}/attachments/{name}"

    def get(self, order_id: str, name: str) -> None:
        self.checked(order_id, name)
        file = _book(self.live.workorders.attachment, order_id, name)
        self.set_header("Content-Type", mimetypes.guess_type(name)[0] or "application/octet-stream")
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(file.name)}")
        self.finish(file.read_bytes())


def workorder_routes(park: Park, live: Live) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The tornado routes of the work-order API."""
    return [(route, handler, {"park": park, "live": live}) for route, handler in (
        (r"/api/workorders", OrdersHandler), (r"/api/workorders/stats", OrderStatsHandler),
        (r"/api/workorders/([^/]+)", OneOrderHandler), (r"/api/workorders/([^/]+)/attachments", AttachHandler),
        (r"/api/workorders/([^/]+)/attachments/([^/]+)", AttachmentHandler))]
