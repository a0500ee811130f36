"""The read-only REST API (design decisions 2 and 10), served next to the geometry route.

- ``GET /api/scene``: ``{"name", "crs", "origin_m", "counts": {kind: n}}``
- ``GET /api/nodes?q=TEXT&kind=KIND&limit=N``: ``[{"id", "kind", "ifc_class", "name", "path"}]``, as
  ``twin find --json`` prints them, best first (without ``q``: the nodes of ``kind`` in park order)
- ``GET /api/nodes/{id}``: :func:`twin.web.info.node_record` (the id URL-encoded: ``ifc%3A…``)

Every request passes :func:`twin.web.access.check` (``scene.read``, ``node.search``, ``node.read``),
which writes the audit record. Errors are JSON ``{"error": "..."}``: 400 for a bad parameter (named),
403 when refused, 404 for an unknown node.
"""
from __future__ import annotations

import json
from typing import Any

from tornado.httputil import responses
from tornado.web import HTTPError, RequestHandler

from twin.park import KINDS, Park
from twin.search import node_row, search
from twin.web.access import AccessDenied, Principal, check, current_principal
from twin.web.visibility import node_permission
from twin.web.info import node_record

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


class ApiError(HTTPError):
    """An error answered as ``{"error": message}`` with its HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(status)
        self.message = message


class ApiHandler(RequestHandler):
    """One route: check :attr:`permission` on :meth:`target`, then answer :meth:`answer` as JSON."""

    permission = ""

    def initialize(self, park: Park) -> None:
        self.park = park

    def target(self, *args: str) -> str:
        """What the request touches, as the audit record names it."""
        return f"park/{self.park.name}"

    def answer(self, *args: str) -> Any:
        raise NotImplementedError

    def get(self, *args: str) -> None:
        self.checked(*args)
        self.send_json(self.answer(*args))

    def checked(self, *args: str) -> Principal:
        """The request's principal, once :func:`check` allowed it :attr:`permission` on the target."""
        principal = current_principal(self.request)
        try:
            check(principal, self.permission, self.target(*args), remote=self.request.remote_ip or "")
        except AccessDenied as exc:
            raise ApiError(403, str(exc)) from exc
        return principal

    def limit(self, default: int, maximum: int) -> int:
        """The ``limit`` query argument: a whole number from 1 to ``maximum`` (400 otherwise)."""
        text = self.get_query_argument("limit", str(default))
        try:
            count = int(text)
        except ValueError:
            count = 0
        if not 1 <= count <= maximum:
            raise ApiError(400, f"limit: must be a whole number from 1 to {maximum}, not {text!r}")
        return count

    def send_json(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data, ensure_ascii=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = error.message if isinstance(error, ApiError) else responses.get(status_code, "error")
        self.send_json({"error": message})


class SceneHandler(ApiHandler):
    permission = "scene.read"

    def answer(self) -> dict[str, Any]:
        park = self.park
        return {"name": park.name, "crs": park.crs, "origin_m": [float(v) for v in park.origin_m],
                "counts": park.counts()}


class NodesHandler(ApiHandler):
    permission = "node.search"

    def target(self) -> str:
        asked = {key: self.get_query_argument(key) for key in ("q", "kind", "limit")
                 if self.get_query_argument(key, None) is not None}
        return "nodes" + ("?" + "&".join(f"{key}={value}" for key, value in asked.items()) if asked else "")

    def answer(self) -> list[dict[str, Any]]:
        kind = self.get_query_argument("kind", None) or None
        if kind is not None and kind not in KINDS:
            raise ApiError(400, f"kind: unknown kind {kind!r} (one of {', '.join(KINDS)})")
        count = self.limit(DEFAULT_LIMIT, MAX_LIMIT)
        may = current_principal(self.request).may
        hits = search(self.park, self.get_query_argument("q", ""), kind=kind, limit=None)
        return [node_row(self.park, hit.node) for hit in hits if may(node_permission(hit.node))][:count]


class NodeHandler(ApiHandler):
    permission = "node.read"

    def target(self, node_id: str) -> str:
        return node_id

    def answer(self, node_id: str) -> dict[str, Any]:
        if node_id not in self.park:
            raise ApiError(404, f"no node {node_id!r} in park {self.park.name!r}")
        principal = current_principal(self.request)
        if not principal.may(node_permission(self.park.get(node_id))):  # a security device, for a visitor
            raise ApiError(403, f"{principal.name} may not read {node_id}")
        return node_record(self.park, node_id, principal.may)


def api_routes(park: Park) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The tornado routes (for ``extra_patterns``) of the REST API over ``park``."""
    return [(route, handler, {"park": park}) for route, handler in (
        (r"/api/scene", SceneHandler), (r"/api/nodes", NodesHandler), (r"/api/nodes/(.+)", NodeHandler))]
