"""Kept evacuation reports over HTTP: ``GET /reports/{name}`` serves one (``report.read``, audited).

Only a name the report store lists is served, so nothing outside its folder can be reached; any
other name is a JSON 404.
"""
from __future__ import annotations

from typing import Any

from tornado.web import RequestHandler

from twin.evacuation.reports import ReportStore
from twin.park import Park
from twin.web.api import ApiError, ApiHandler


class ReportHandler(ApiHandler):
    permission = "report.read"

    def target(self, name: str) -> str:
        return f"reports/{name}"

    def answer(self, name: str) -> str:
        entry = next((e for e in ReportStore().list() if e.name == name), None)
        if entry is None:
            raise ApiError(404, f"no report {name!r}")
        return entry.path.read_text(encoding="utf-8")

    def get(self, name: str) -> None:
        self.checked(name)
        page = self.answer(name)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(page)


def report_routes(park: Park) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The tornado route (for ``extra_patterns``) of the park's kept reports."""
    return [(r"/reports/([^/]+)", ReportHandler, {"park": park})]
