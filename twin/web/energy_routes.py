"""The monthly energy and carbon report of the served park over HTTP, the figures of ``twin energy``:

- ``GET /api/energy?month=YYYY-MM``: the summary as ``twin energy --json`` prints it (without
  ``month``: the current month in the scene's time zone, by the live clock)
- ``GET /reports/energy/YYYY-MM.html``: the HTML report, as ``--html`` writes it
- ``GET /reports/energy/YYYY-MM.csv``: the CSV, as ``--csv`` writes it (UTF-8 with a BOM)

Each needs ``energy.read`` and is audited. A bad month is a JSON 400, a park without meters a JSON
404. Reading a month of history takes about a second, so it runs on a worker thread, off the event loop.
"""
from __future__ import annotations

from typing import Any

from tornado.ioloop import IOLoop
from tornado.web import RequestHandler

from live.runtime import Live
from twin.energy.monthly import NoMeters, month_of, monthly_energy, report_title
from twin.energy.report import report_html
from twin.energy.rollup import Rollup
from twin.energy.summary import CSV_ENCODING, EnergySummary, csv_text, summary_json
from twin.errors import InputError
from twin.park import Park
from twin.web.api import ApiError
from twin.web.live_api import LiveHandler

CONTENT_TYPES = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8"}


class EnergyHandler(LiveHandler):
    """A route over a month's figures of the park's meters (``energy.read``)."""

    permission = "energy.read"

    async def monthly(self, month: str) -> tuple[EnergySummary, Rollup]:
        """:func:`~twin.energy.monthly.monthly_energy` of ``month``, on a worker thread."""
        energy = self.live.energy
        try:
            return await IOLoop.current().run_in_executor(None, monthly_energy, self.park, energy.spec,
                                                          energy.history, month)
        except NoMeters as exc:
            raise ApiError(404, str(exc)) from exc
        except InputError as exc:
            raise ApiError(400, str(exc)) from exc


class EnergySummaryHandler(EnergyHandler):
    def month(self) -> str:
        """The asked month, else the current one in the scene's time zone."""
        return self.get_query_argument("month", "") or month_of(self.live.clock.now(), self.live.energy.spec.zone)

    def target(self) -> str:
        return f"energy/{self.month()}"

    async def get(self) -> None:
        self.checked()
        summary, _ = await self.monthly(self.month())
        self.send_json(summary_json(summary))


class EnergyReportHandler(EnergyHandler):
    def target(self, month: str, kind: str) -> str:
        return f"reports/energy/{month}.{kind}"

    async def get(self, month: str, kind: str) -> None:
        self.checked(month, kind)
        summary, days = await self.monthly(month)
        if kind == "csv":
            body = csv_text(summary).encode(CSV_ENCODING)
            self.set_header("Content-Disposition", f'attachment; filename="energy-{month}.csv"')
        else:
            made = self.live.clock.now().astimezone(self.live.energy.spec.zone)
            body = report_html(summary, days, report_title(self.park, month), made).encode("utf-8")
        self.set_header("Content-Type", CONTENT_TYPES[kind])
        self.finish(body)


def energy_routes(park: Park, live: Live) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The tornado routes (for ``extra_patterns``) of the park's monthly energy report."""
    return [(route, handler, {"park": park, "live": live}) for route, handler in (
        (r"/api/energy", EnergySummaryHandler), (r"/reports/energy/([^/]+)\.(html|csv)", EnergyReportHandler))]
