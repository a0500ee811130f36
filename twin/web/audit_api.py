"""The audit log over REST (issue 9): ``GET /api/audit?since=ISO&until=ISO&user=U&action=A&limit=N``.

Records ``{"ts", "user", "action", "target", "remote", "outcome"}`` newest first (``limit`` default
500); ``since``/``until`` ISO 8601 (UTC when without a zone), ``user`` and ``action`` exact. Needs
``audit.read``, and the request is itself audited. A bad parameter is 400 naming it.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tornado.web import RequestHandler

from twin.audit_log import timestamp
from twin.park import Park
from twin.web.access import audit_log
from twin.web.api import ApiError, ApiHandler

DEFAULT_LIMIT, MAX_LIMIT = 500, 10_000
PARAMETERS = ("since", "until", "user", "action", "limit")


class AuditHandler(ApiHandler):
    permission = "audit.read"

    def target(self) -> str:
        asked = "&".join(f"{key}={value}" for key in PARAMETERS if (value := self.get_query_argument(key, "")))
        return f"audit?{asked}" if asked else "audit"

    def moment(self, name: str) -> str:
        """The parameter as a record timestamp ("" when absent)."""
        text = self.get_query_argument(name, "")
        if not text:
            return ""
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ApiError(400, f"{name}: must be an ISO 8601 time, not {text!r}") from None
        return timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))

    def answer(self) -> list[dict[str, str]]:
        since, until = self.moment("since"), self.moment("until")
        limit = self.limit(DEFAULT_LIMIT, MAX_LIMIT)
        return audit_log().query(since, until, user=self.get_query_argument("user", None) or None,
                                 action=self.get_query_argument("action", None) or None, limit=limit)


def audit_routes(park: Park) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The tornado route of the audit log (every server has it)."""
    return [(r"/api/audit", AuditHandler, {"park": park})]
