"""The maintainer's search box: code, name, type or room, in Chinese or English; one click locates."""
from __future__ import annotations

from collections.abc import Callable

import panel as pn

from twin.park import Park
from twin.search import SEPARATOR, Hit, search
from twin.web.access import current_principal, guarded
from twin.web.visibility import node_permission
from twin.web.messages import t

MAX_RESULTS = 30


class Finder:
    """A search box and its results; choosing a result calls ``locate(node_id)``."""

    def __init__(self, park: Park, locate: Callable[[str], None], lang: str = "zh"):
        self.park, self.locate, self.lang = park, locate, lang
        self.box = pn.widgets.TextInput(placeholder=t("search_hint", lang), sizing_mode="stretch_width")
        self.results = pn.widgets.MultiSelect(options={}, size=8, sizing_mode="stretch_width", visible=False)
        self.box.param.watch(lambda e: self.find(e.new), "value_input")
        self.box.param.watch(lambda e: self.choose_first(), "enter_pressed")
        self.results.param.watch(lambda e: e.new and self.locate(e.new[0]), "value")

    @guarded("node.search", lambda self, text: text)
    def find(self, text: str) -> None:
        hits = self.hits(text) if text.strip() else []
        options = {self.label(hit): hit.node.id for hit in hits}
        with pn.io.hold():
            self.results.options = options
            self.results.value = []
            self.results.visible = bool(options)

    def hits(self, text: str) -> list[Hit]:
        """The best hits the session may read (a visitor's search finds no security device)."""
        may = current_principal().may
        return [hit for hit in search(self.park, text, limit=None) if may(node_permission(hit.node))][:MAX_RESULTS]

    def label(self, hit: Hit) -> str:
        """``name · kind · where`` (the breadcrumbs below the park)."""
        where = hit.path.split(SEPARATOR, 1)[1] if SEPARATOR in hit.path else ""
        return " · ".join(filter(None, (hit.node.name or hit.node.id, t(f"kind.{hit.node.kind}", self.lang), where)))

    def choose_first(self) -> None:
        """Enter in the box: go to the best result."""
        self.find(self.box.value_input or "")
        if self.results.options:
            self.results.value = [next(iter(self.results.options.values()))]

    def panel(self) -> pn.viewable.Viewable:
        return pn.Column(self.box, self.results, sizing_mode="stretch_width")
