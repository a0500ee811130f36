"""Pages come back by themselves after a restart: :class:`Reloader`, an invisible component on every page.

In the browser it asks ``/healthz`` (:mod:`twin.web.health`) every few seconds and remembers the
server's first ``boot`` id; while the server does not answer it shows a small "reconnecting" badge,
and when the server answers with another boot id (it restarted) it reloads the page, so a wall
left alone comes back after a crash or an upgrade. A network outage with the server up is the same:
once the page's websocket is lost (Panel does not reconnect it; where Bokeh is set to retry, after
10 s, as the server forgets a session left unconnected for 15 s) the page reloads as soon as the
server answers.

>>> pn.Row(title, reloader("zh"))                 # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

import param
from panel.custom import JSComponent

from twin.web.health import HEALTH_PATH
from twin.web.messages import t

PERIOD_MS = 5000  #: how often the page asks whether the server is still the one it loaded from


class Reloader(JSComponent):
    """Zero size; the badge, when shown, is fixed to the window's bottom right corner."""

    url = param.String(default=HEALTH_PATH, doc="The health route asked.")
    period_ms = param.Integer(default=PERIOD_MS, bounds=(100, None), doc="Milliseconds between asks.")
    text = param.String(default="", doc="The badge shown while the server does not answer.")

    _esm = Path(__file__).with_name("reloader.js")


def reloader(lang: str) -> Reloader:
    """A page's reloader, its badge in ``lang``."""
    return Reloader(text=t("reconnecting", lang), width=0, height=0, margin=0)
