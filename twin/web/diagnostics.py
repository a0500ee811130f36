"""The ingest diagnostics (on the ``/admin`` page): the broker, message rates and rejected payloads per
topic, refreshed every two seconds — so a misbehaving device is found by its topic."""
from __future__ import annotations

import time
from html import escape

import panel as pn

from live.ingest import TopicCounters
from live.runtime import Live
from twin.web.access import guarded
from twin.web.messages import t

REFRESH_MS = 2000
TABLE_CSS = """
:host { color: #e0e0e0; }
table.twin-diagnostics { border-collapse: collapse; font-size: 13px; }
.twin-diagnostics th, .twin-diagnostics td { padding: 3px 10px; text-align: left; border-bottom: 1px solid #333; }
.twin-diagnostics td:nth-child(2), .twin-diagnostics td:nth-child(3), .twin-diagnostics td:nth-child(4)
  { text-align: right; font-variant-numeric: tabular-nums; }
.twin-rejecting td { color: #ff8a80; }
"""
MAX_TOPICS_SHOWN = 300


def topics_table(topics: dict[str, TopicCounters], lang: str) -> str:
    """Topics with rejections first (most rejected first), then the busiest."""
    ordered = sorted(topics.items(), key=lambda item: (-item[1].rejected, -item[1].received, item[0]))
    head = "".join(f"<th>{escape(t(key, lang))}</th>" for key in (
        "diag.topic", "diag.received", "diag.accepted", "diag.rejected", "diag.last_rejection"))
    rows = "".join(
        f"<tr class='twin-topic{' twin-rejecting' if c.rejected else ''}' data-topic='{escape(topic)}'>"
        f"<td>{escape(topic)}</td><td>{c.received}</td><td>{c.accepted}</td><td>{c.rejected}</td>"
        f"<td>{escape(c.last_rejection or '')}</td></tr>"
        for topic, c in ordered[:MAX_TOPICS_SHOWN])
    return f"<table class='twin-diagnostics'><tr>{head}</tr>{rows}</table>"


class Diagnostics:
    """One session's diagnostics view; :meth:`count` recounts."""

    def __init__(self, live: Live, lang: str = "zh"):
        self.live, self.lang = live, lang
        self.summary = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-diag-summary"],
                                    stylesheets=[TABLE_CSS])
        self.table = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[TABLE_CSS])
        self._last = (time.monotonic(), 0)
        self.refresh()

    @guarded("diagnostics.read", lambda self: "diagnostics")
    def refresh(self) -> None:
        """Count, once the session may read diagnostics (checked and audited as the view opens; the
        periodic recounts of the open view are not audited again)."""
        self.count()

    def count(self) -> None:
        ingest = self.live.ingest
        topics = ingest.diagnostics() if ingest is not None else {}
        received = sum(c.received for c in topics.values())
        now = time.monotonic()
        rate = (received - self._last[1]) / max(now - self._last[0], 1e-3)
        self._last = (now, received)
        connected = t("diag.connected" if ingest is not None and ingest.ready else "diag.disconnected", self.lang)
        totals = {key: sum(getattr(c, key) for c in topics.values()) for key in ("accepted", "rejected")}
        self.summary.object = (
            f"<p>{escape(t('diag.broker', self.lang))}: <code>{escape(self.live.url or '')}</code> · "
            f"<span class='twin-connected'>{escape(connected)}</span> · "
            f"{escape(t('diag.rate', self.lang).format(rate=f'{rate:.0f}'))} · "
            f"{escape(t('diag.received', self.lang))} {received} · {escape(t('diag.accepted', self.lang))} "
            f"{totals['accepted']} · {escape(t('diag.rejected', self.lang))} "
            f"<b class='twin-rejected-total'>{totals['rejected']}</b></p>")
        self.table.object = topics_table(topics, self.lang)

    def panel(self) -> pn.viewable.Viewable:
        pn.config.theme = "dark"
        pn.state.add_periodic_callback(self.count, period=REFRESH_MS)
        return pn.Column(pn.pane.HTML(f"<h2>{escape(t('diag.title', self.lang))}</h2>"), self.summary, self.table,
                         sizing_mode="stretch_both", scroll=True)
