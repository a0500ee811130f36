"""The work-order panel (工单) of the app: the pending (or all) orders of a team, an order's detail with
its times, notes, checklist, attachments and the moves it may make, a new order, and the response and
resolution times per team and month.

Choosing an order flies the camera to its asset (``locate``). Every read and change goes through the
access layer (``workorder.read``, ``workorder.write``) as the session's principal; bad input or a
refusal shows as one line. The panel is self-contained: place :meth:`WorkOrderPanel.panel` anywhere
and call :meth:`WorkOrderPanel.pull` from the page's periodic callback.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape
from urllib.parse import quote

import pandas as pd
import panel as pn

from live.runtime import Live
from live.workorders import MOVES, SEVERITY_PRIORITY, OrderStatus, Priority, WorkOrder
from twin.errors import InputError
from twin.web.access import check, current_principal, guarded
from twin.web.alarm_list import SEVERITY_CSS, attempt, place
from twin.web.drill_panel import section_html
from twin.web.live_card import duration_text, local_naive
from twin.web.messages import t

#: a priority's colour: that of the alarm severity it is raised from
PRIORITY_CSS = {priority.value: SEVERITY_CSS[severity.value] for severity, priority in SEVERITY_PRIORITY.items()}
#: the table's columns and the message keys of their titles
TITLES = {"id": "order.id", "priority": "order.priority", "title": "order.subject", "where": "order.where",
          "who": "order.who", "status": "status", "created": "order.created", "response": "order.response",
          "resolution": "order.resolution"}
#: fixed column widths (px); the title and the place share what is left, cut short (hover: all of it)
WIDTHS = {"id": 56, "priority": 68, "who": 120, "status": 76, "created": 100, "response": 92, "resolution": 92}
TABS_CSS = ".bk-tab.bk-active { color: #ffffff; background-color: #33333d; }"  # the dark theme's is unreadable
STATS_COLUMNS = ("period", "team", "count", "pending", "mean_response", "median_response", "mean_resolution",
                 "median_resolution")
MAX_ROWS = 200


def when(ts: datetime) -> str:
    """A time as the server's local ``month-day hour:minute``."""
    return f"{local_naive(ts):%m-%d %H:%M}"


class WorkOrderPanel:
    """One session's work orders; ``locate(node_id)`` shows an order's asset."""

    def __init__(self, live: Live, locate: Callable[[str], None], lang: str = "zh"):
        pn.extension("tabulator")
        self.live, self.park, self.locate, self.lang = live, live.park, locate, lang
        self.version = -1  # of the book when last drawn
        self.rows: list[WorkOrder] = []
        self.order_id: int | None = None  # the order whose detail is shown
        self._restoring = False  # the table's selection set back after a redraw, not chosen
        teams = {self.team_name(team.key): team.key for team in self.park.teams}
        self.asset = ""  # the node last shown: the "this asset" filter's
        self.shown = pn.widgets.RadioButtonGroup(
            options={t("order.pending", lang): "pending", t("order.all", lang): "all",
                     t("order.this_asset", lang): "asset"}, value="pending", width=240)
        self.team = pn.widgets.Select(options={t("order.all_teams", lang): ""} | teams, value="", width=160)
        self.table = pn.widgets.Tabulator(
            self.frame([]), show_index=False, selectable=1, disabled=True, height=200, layout="fit_columns",
            widths=WIDTHS, configuration={"columnDefaults": {"tooltip": True, "headerSort": False}},
            formatters={"priority": {"type": "html"}}, sizing_mode="stretch_width", css_classes=["twin-orders-table"],
            titles={column: t(key, lang) for column, key in TITLES.items()})
        # the chosen order
        self.detail = pn.pane.HTML(f"<p>{escape(t('order.pick', lang))}</p>", sizing_mode="stretch_width",
                                   css_classes=["twin-order-detail"])
        self.moves = pn.Row()
        self.note = pn.widgets.TextInput(placeholder=t("order.note_hint", lang), sizing_mode="stretch_width",
                                         disabled=True)
        self.add_note = pn.widgets.Button(label=t("order.add_note", lang), disabled=True,
                                          css_classes=["twin-order-add-note"])
        self.notice = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-order-notice"])
        # a new order
        self.title = pn.widgets.TextInput(label=t("order.subject", lang), sizing_mode="stretch_width")
        self.priority = pn.widgets.Select(label=t("order.priority", lang), value=Priority.NORMAL.value,
                                          options={t(f"order.priority.{p}", lang): p.value for p in Priority},
                                          sizing_mode="stretch_width")
        self.node = pn.widgets.TextInput(label=t("order.node", lang), sizing_mode="stretch_width")
        self.assignee = pn.widgets.TextInput(label=t("order.assignee", lang), sizing_mode="stretch_width")
        self.new_team = pn.widgets.Select(label=t("order.team", lang), options={t("order.no_team", lang): ""} | teams,
                                          sizing_mode="stretch_width")
        self.create_button = pn.widgets.Button(label=t("order.create", lang), color="primary",
                                               css_classes=["twin-order-create"])
        self.form_notice = pn.pane.HTML("", sizing_mode="stretch_width")
        self.stats = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-order-stats"])

        self.table.param.watch(self.selected, "selection")
        for widget in (self.shown, self.team):
            widget.param.watch(lambda _e: self.redraw(), "value")
        self.add_note.on_click(lambda _e: self.change(note=self.note.value.strip()))
        self.create_button.on_click(lambda _e: self.create())
        self.pull()

    def panel(self) -> pn.viewable.Viewable:
        """Tabs: the orders with the chosen one's detail, a new order, the statistics."""
        lang = self.lang
        orders = pn.Column(pn.Row(self.shown, self.team), self.table, self.detail, self.moves,
                           pn.Row(self.note, self.add_note, sizing_mode="stretch_width"), self.notice,
                           sizing_mode="stretch_width")
        form = pn.Column(self.title, pn.Row(self.priority, self.assignee, self.new_team, sizing_mode="stretch_width"),
                         self.node, self.create_button, self.form_notice, sizing_mode="stretch_width")
        return pn.Tabs((t("order.list", lang), orders), (t("order.new", lang), form),
                       (t("order.stats", lang), self.stats), sizing_mode="stretch_width",
                       css_classes=["twin-order-tabs"], stylesheets=[TABS_CSS])

    def team_name(self, key: str) -> str:
        """A team's name in the language (its key when the park has no such team; "" for none)."""
        team = next((team for team in self.park.teams if team.key == key), None)
        if team is None:
            return key
        return team.name_en if self.lang == "en" and team.name_en else team.name

    # --- reading ----------------------------------------------------------------------------------
    @guarded("workorder.read", lambda self: "workorders")
    def orders(self) -> list[WorkOrder]:
        """The orders the filters let through (pending, all, or the shown asset's and everything below
        it), newest first."""
        if self.shown.value == "asset":
            orders = self.live.workorders.for_node(self.asset, self.park) if self.asset else []
        else:
            orders = self.live.workorders.list(pending=True if self.shown.value == "pending" else None)
        return [o for o in orders if not self.team.value or o.team == self.team.value][:MAX_ROWS]

    @guarded("workorder.read", lambda self, order_id: f"workorder/{order_id}")
    def order(self, order_id: int) -> WorkOrder:
        return self.live.workorders.get(order_id)

    @guarded("workorder.read", lambda self: "workorders/stats")
    def stats_rows(self) -> list[list[str]]:
        """Per team and month: the count, the pending and the mean and median response and resolution."""
        return [[row["period"], self.team_name(row["team"]) or "—", str(row["count"]), str(row["pending"]),
                 *(duration_text(row[key], self.lang) for key in ("mean_response_s", "median_response_s",
                                                                  "mean_resolution_s", "median_resolution_s"))]
                for row in self.live.workorders.stats(by="team", period="month")]

    def frame(self, orders: list[WorkOrder]) -> pd.DataFrame:
        lang = self.lang
        rows = [{"id": o.id,
                 "priority": f"<b style='color:{PRIORITY_CSS[o.priority.value]}'>"
                             f"{escape(t(f'order.priority.{o.priority.value}', lang))}</b>",
                 "title": o.title, "where": place(self.park, o.node),
                 "who": " · ".join(filter(None, (o.assignee, self.team_name(o.team)))),
                 "status": t(f"order.{o.status}", lang), "created": when(o.created_at),
                 "response": duration_text(o.response_s, lang), "resolution": duration_text(o.resolution_s, lang)}
                for o in orders]
        return pd.DataFrame(rows, columns=list(TITLES))

    def detail_html(self, order: WorkOrder) -> str:
        """An order's header, its times (each with the span since creation), notes, checklist and files."""
        lang = self.lang
        colour = PRIORITY_CSS[order.priority.value]
        who = " · ".join(filter(None, (order.assignee, self.team_name(order.team))))
        head = (f"<h4 data-order='{order.id}'>#{order.id} {escape(order.title)}</h4>"
                f"<p><b style='color:{colour}'>{escape(t(f'order.priority.{order.priority.value}', lang))}</b> · "
                f"<span class='twin-order-status' data-status='{order.status}'>"
                f"{escape(t(f'order.{order.status}', lang))}</span> · {escape(place(self.park, order.node))}"
                f"{' · ' + escape(who) if who else ''}</p>")
        times = [("order.created", order.created_at, order.created_by),
                 ("order.acknowledged", order.acknowledged_at, duration_text(order.response_s, lang)),
                 ("order.resolved", order.resolved_at, duration_text(order.resolution_s, lang)),
                 (f"order.{order.status}", order.closed_at, "")]  # closed or cancelled
        rows = "".join(f"<tr><th>{escape(t(key, lang))}</th><td>{when(ts)}</td><td>{escape(extra)}</td></tr>"
                       for key, ts, extra in times if ts is not None)
        notes = "".join(f"<li>{when(datetime.fromisoformat(n['at']))} {escape(n['by'])}: {escape(n['text'])}</li>"
                        for n in order.notes)
        checklist = "".join(f"<li>{'☑' if c['done'] else '☐'} {escape(c['item'])}</li>" for c in order.checklist)
        files = "".join(f"<li><a href='api/workorders/{order.id}/attachments/{quote(a['name'])}' target='_blank' "
                        f"style='color:#4fc3f7'>{escape(a['name'])}</a></li>" for a in order.attachments)
        parts = [(key, items) for key, items in (("order.notes", notes), ("order.checklist", checklist),
                                                 ("order.attachments", files)) if items]
        return (head + f"<table class='twin-drill-table twin-order-times'>{rows}</table>"
                + "".join(f"<p><b>{escape(t(key, lang))}</b></p><ul>{items}</ul>" for key, items in parts))

    # --- drawing ----------------------------------------------------------------------------------
    def pull(self) -> None:
        """Redraw when the book changed since the last look (cheap otherwise; the page's periodic
        callback calls this)."""
        if self.live.workorders.version != self.version:
            self.redraw()

    def redraw(self) -> None:
        self.version = self.live.workorders.version
        self.rows = self.orders()
        with pn.io.hold():
            self.table.value = self.frame(self.rows)
            self._restoring = True
            try:
                self.table.selection = [i for i, o in enumerate(self.rows) if o.id == self.order_id]
            finally:
                self._restoring = False
            self.show_detail()
            self.stats.object = section_html(t("order.stats_title", self.lang),
                                             [t(f"order.{c}", self.lang) for c in STATS_COLUMNS],
                                             self.stats_rows(), t("order.none", self.lang))

    def show_detail(self) -> None:
        """The chosen order's detail and its moves (it stays shown when the filters hide it)."""
        if self.order_id is None:
            return
        order = self.order(self.order_id)
        self.detail.object = self.detail_html(order)
        self.moves[:] = [self.move_button(status) for status in MOVES[order.status]]
        self.note.disabled = self.add_note.disabled = False

    def move_button(self, status: OrderStatus) -> pn.widgets.Button:
        cancel = status == OrderStatus.CANCELLED
        button = pn.widgets.Button(label=f"→ {t(f'order.{status}', self.lang)}", css_classes=["twin-order-move"],
                                   color="danger" if cancel else "primary", variant="outline" if cancel else "solid")
        button.on_click(lambda _e: self.change(status=status))
        return button

    # --- choosing and changing ----------------------------------------------------------------------
    def selected(self, _event) -> None:
        """An order chosen in the table: its detail below, the camera to its asset."""
        index = self.table.selection
        if self._restoring or not index or index[0] >= len(self.rows):
            return
        order = self.rows[index[0]]
        self.order_id = order.id
        self.notice.object = ""
        self.show_detail()
        if order.node in self.park:
            self.locate(order.node)

    def change(self, **fields) -> None:
        """Move the chosen order, or add a note to it, as the session's principal."""
        if self.order_id is None:
            return
        principal, order_id = current_principal(), self.order_id

        def update() -> WorkOrder:
            check(principal, "workorder.write", f"workorder/{order_id}")
            return self.live.workorders.update(order_id, by=principal.name, **fields)

        if attempt(self.notice, update) is not None:
            self.note.value = ""
            self.pull()

    def offer(self, node_id: str) -> None:
        """A node shown (picked, searched, an alarm's): the asset of the "this asset" filter and of
        the next new order."""
        if node_id and node_id != self.asset:
            self.node.value = self.asset = node_id
            if self.shown.value == "asset":
                self.redraw()

    def create(self) -> None:
        """Open a new order from the form, as the session's principal."""
        principal, node = current_principal(), self.node.value.strip()

        def create() -> WorkOrder:
            check(principal, "workorder.write", "workorders")
            if node and node not in self.park:
                raise InputError(t("order.no_node", self.lang).format(id=node))
            return self.live.workorders.create(self.title.value, node, self.priority.value, by=principal.name,
                                               assignee=self.assignee.value.strip(), team=self.new_team.value)

        order = attempt(self.form_notice, create)
        if order is not None:
            self.form_notice.object = escape(t("order.raised", self.lang).format(id=order.id))
            self.title.value = ""
            self.order_id = order.id
            self.pull()
