"""The alarm list: filters by severity and state, acknowledge, clear and raise a work order through the
access layer, a click (or a new alarm, when following) leads the camera to the alarm's place."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from html import escape
from typing import TypeVar

import pandas as pd
import panel as pn

from live.alarms import Alarm, Severity
from live.runtime import Live
from live.workorders import WorkOrder
from twin.errors import InputError
from twin.park import Park
from twin.web.access import AccessDenied, check, current_principal, guarded
from twin.web.messages import t

SEVERITY_CSS = {"critical": "#e53935", "major": "#fb8c00", "minor": "#ffc107", "warning": "#4fc3f7"}
#: Severities that fly the camera to a new alarm when following.
FLY_TO = frozenset({Severity.CRITICAL, Severity.MAJOR})
#: In an alarm storm the camera stays on one alarm at least this long (the list shows the others).
FOLLOW_EVERY_S = 10.0
MAX_ROWS = 200
COLUMNS = ("id", "severity", "message", "where", "raised", "state")
R = TypeVar("R")


def place(park: Park, node_id: str) -> str:
    """A node's name where it has one, else its id (also when the park has no such node)."""
    node = park.get(node_id) if node_id in park else None
    return node.name if node is not None and node.name else node_id


def attempt(notice: pn.pane.HTML, action: Callable[[], R]) -> R | None:
    """Run an app action: bad input or a refusal shows in ``notice`` as one line (and gives None)."""
    try:
        result = action()
    except (InputError, AccessDenied) as exc:
        notice.object = f"<span class='twin-error' style='color:#e53935'>{escape(str(exc))}</span>"
        return None
    notice.object = ""
    return result


def to_follow(changed: Iterable[Alarm]) -> Alarm | None:
    """Of the alarms that changed, the newly raised, unacknowledged critical or major one to fly to
    (the most severe, then the newest); None if there is none."""
    new = [a for a in changed if a.active and a.count == 1 and a.severity in FLY_TO and not a.acked_by]
    return max(new, key=lambda a: (a.severity.rank, a.raised_at)) if new else None


class AlarmList:
    """Alarms newest first; ``on_select(alarm)`` runs when one is chosen or, following, raised."""

    def __init__(self, live: Live, on_select: Callable[[Alarm], None], lang: str = "zh"):
        pn.extension("tabulator")  # Panel's bundled table, for this session's page
        self.live, self.on_select, self.lang = live, on_select, lang
        self.version, self.orders_version = live.alarms.version, live.workorders.version
        self.orders: dict[str, WorkOrder] = {}  # each listed alarm's latest work order
        self._followed_at = -FOLLOW_EVERY_S
        severities = {t("alarm.all_severities", lang): ""} | {t(f"alarm.{s.value}", lang): s.value for s in Severity}
        self.severity = pn.widgets.Select(options=severities, value="", width=130)
        self.shown = pn.widgets.RadioButtonGroup(
            options={t("alarm.active", lang): "active", t("alarm.unacked", lang): "unacked",
                     t("alarm.all", lang): "all"}, value="active", width=260)
        self.follow = pn.widgets.Checkbox(label=t("alarm.follow", lang), value=True)
        self.table = pn.widgets.Tabulator(
            self.frame([]), show_index=False, selectable=1, disabled=True, height=220, layout="fit_data_stretch",
            hidden_columns=["id"], formatters={"severity": {"type": "html"}}, sizing_mode="stretch_width",
            titles={c: t(f"alarm.{c}", lang) for c in ("severity", "message")} | {
                "where": t("alarm.node", lang), "raised": t("alarm.raised", lang), "state": t("status", lang)},
            css_classes=["twin-alarms"])
        self.ack = pn.widgets.Button(label=t("alarm.ack", lang), color="warning", disabled=True,
                                     css_classes=["twin-ack"])
        self.clear = pn.widgets.Button(label=t("alarm.clear", lang), variant="outline", disabled=True,
                                       css_classes=["twin-clear"])
        self.to_order = pn.widgets.Button(label=t("order.raise", lang), color="primary", disabled=True,
                                          css_classes=["twin-raise-order"])
        self.notice = pn.pane.HTML("", css_classes=["twin-alarm-notice"])
        self.ack.on_click(lambda _e: self.act("ack"))
        self.to_order.on_click(lambda _e: self.raise_order())
        self.clear.on_click(lambda _e: self.act("clear"))
        self.table.param.watch(self.selected, "selection")
        for widget in (self.severity, self.shown):
            widget.param.watch(lambda _e: self.redraw(), "value")
        self.redraw()

    def panel(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(self.severity, self.shown, pn.layout.HSpacer(), self.follow,
                                sizing_mode="stretch_width"), self.table,
                         pn.Row(self.ack, self.clear, self.to_order, self.notice), sizing_mode="stretch_width")

    # --- rows ------------------------------------------------------------------------------------
    @guarded("alarm.read", lambda self: "alarms")
    def alarms(self) -> list[Alarm]:
        shown = self.shown.value
        return self.live.alarms.list(active=True if shown == "active" else None, severity=self.severity.value or None,
                                     unacked=True if shown == "unacked" else None,
                                     open=None if shown == "all" else True, limit=MAX_ROWS)

    @guarded("workorder.read", lambda self: "workorders?source=alarm")
    def alarm_orders(self) -> dict[str, WorkOrder]:
        """Alarm id → its latest work order (a pending one, when it has one)."""
        return {o.alarm_id: o for o in reversed(self.live.workorders.list(source="alarm"))}

    def frame(self, alarms: list[Alarm]) -> pd.DataFrame:
        lang, park = self.lang, self.live.park
        rows = []
        for alarm in alarms:
            colour = SEVERITY_CSS[alarm.severity.value]
            state = t("alarm.active" if alarm.active else "alarm.cleared", lang)
            if alarm.cleared_by:
                state = t("alarm.cleared_by", lang).format(who=alarm.cleared_by,
                                                           when=f"{alarm.cleared_at.astimezone():%H:%M}")
            elif alarm.acked_by:
                state += " · " + t("alarm.acked_by", lang).format(who=alarm.acked_by,
                                                                 when=f"{alarm.acked_at.astimezone():%H:%M}")
            if (order := self.orders.get(alarm.id)) is not None:
                state += " · " + t("order.of_alarm", lang).format(id=order.id,
                                                                  status=t(f"order.{order.status}", lang))
            rows.append({"id": alarm.id,
                         "severity": f"<b style='color:{colour}'>{escape(t(f'alarm.{alarm.severity.value}', lang))}</b>",
                         "message": alarm.message.get(lang) or alarm.message.get("en") or alarm.rule,
                         "where": place(park, alarm.node),
                         "raised": f"{alarm.raised_at.astimezone():%m-%d %H:%M:%S}", "state": state})
        return pd.DataFrame(rows, columns=list(COLUMNS))

    def redraw(self) -> None:
        self.rows, self.orders = self.alarms(), self.alarm_orders()
        with pn.io.hold():
            self.table.value = self.frame(self.rows)
            self.table.selection = []
            self.ack.disabled = self.clear.disabled = self.to_order.disabled = True

    # --- actions ---------------------------------------------------------------------------------
    def chosen(self) -> Alarm | None:
        index = self.table.selection
        return self.rows[index[0]] if index and index[0] < len(self.rows) else None

    def selected(self, _event) -> None:
        alarm = self.chosen()
        self.ack.disabled = alarm is None or alarm.acked_by is not None
        self.clear.disabled = alarm is None
        self.to_order.disabled = alarm is None or (alarm.id in self.orders and self.orders[alarm.id].pending)
        if alarm is not None:
            self.on_select(alarm)

    def act(self, action: str) -> None:
        """Acknowledge or clear the chosen alarm, as the session's principal (checked and audited)."""
        alarm = self.chosen()
        if alarm is None:
            return
        principal = current_principal()
        check(principal, f"alarm.{action}", f"alarm/{alarm.id}")
        (self.live.alarms.ack if action == "ack" else self.live.alarms.clear)(alarm.id, principal.name)
        self.pull()

    def raise_order(self) -> None:
        """Raise the chosen alarm's work order (its pending one is not doubled), as the session's principal."""
        alarm = self.chosen()
        if alarm is None:
            return
        principal = current_principal()

        def raise_() -> WorkOrder:
            check(principal, "workorder.write", "workorders")
            return self.live.workorders.from_alarm(alarm, by=principal.name)

        order = attempt(self.notice, raise_)
        if order is not None:
            self.notice.object = escape(t("order.raised", self.lang).format(id=order.id))
            self.pull()

    def pull(self) -> None:
        """Redraw when the alarm or work-order book changed; follow a new critical or major alarm to its place."""
        version, changed = self.live.alarms.changes_since(self.version)
        orders = self.live.workorders.version
        if (version, orders) == (self.version, self.orders_version):
            return
        self.version, self.orders_version = version, orders
        self.redraw()
        follow = to_follow(changed)
        now = time.monotonic()
        if follow is not None and self.follow.value and now - self._followed_at >= FOLLOW_EVERY_S:
            self._followed_at = now
            self.on_select(follow)
