"""The alarm list: filters by severity and state, acknowledge and clear through the access layer, a
click (or a new alarm, when following) leads the camera to the alarm's place."""
from __future__ import annotations

import time
from collections.abc import Callable
from html import escape

import pandas as pd
import panel as pn

from live.alarms import Alarm, Severity
from live.runtime import Live
from twin.web.access import check, current_principal, guarded
from twin.web.messages import t

SEVERITY_CSS = {"critical": "#e53935", "major": "#fb8c00", "minor": "#ffc107", "warning": "#4fc3f7"}
#: Severities that fly the camera to a new alarm when following.
FLY_TO = frozenset({Severity.CRITICAL, Severity.MAJOR})
#: In an alarm storm the camera stays on one alarm at least this long (the list shows the others).
FOLLOW_EVERY_S = 10.0
MAX_ROWS = 200
COLUMNS = ("id", "severity", "message", "where", "raised", "state")


class AlarmList:
    """Alarms newest first; ``on_select(alarm)`` runs when one is chosen or, following, raised."""

    def __init__(self, live: Live, on_select: Callable[[Alarm], None], lang: str = "zh"):
        pn.extension("tabulator")  # Panel's bundled table, for this session's page
        self.live, self.on_select, self.lang = live, on_select, lang
        self.version = live.alarms.version
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
        self.ack.on_click(lambda _e: self.act("ack"))
        self.clear.on_click(lambda _e: self.act("clear"))
        self.table.param.watch(self.selected, "selection")
        for widget in (self.severity, self.shown):
            widget.param.watch(lambda _e: self.redraw(), "value")
        self.redraw()

    def panel(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(self.severity, self.shown, pn.layout.HSpacer(), self.follow,
                                sizing_mode="stretch_width"), self.table,
                         pn.Row(self.ack, self.clear), sizing_mode="stretch_width")

    # --- rows ------------------------------------------------------------------------------------
    @guarded("alarm.read", lambda self: "alarms")
    def alarms(self) -> list[Alarm]:
        shown = self.shown.value
        return self.live.alarms.list(active=True if shown == "active" else None, severity=self.severity.value or None,
                                     unacked=True if shown == "unacked" else None,
                                     open=None if shown == "all" else True, limit=MAX_ROWS)

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
            node = park.get(alarm.node) if alarm.node in park else None
            rows.append({"id": alarm.id,
                         "severity": f"<b style='color:{colour}'>{escape(t(f'alarm.{alarm.severity.value}', lang))}</b>",
                         "message": alarm.message.get(lang) or alarm.message.get("en") or alarm.rule,
                         "where": node.name if node is not None and node.name else alarm.node,
                         "raised": f"{alarm.raised_at.astimezone():%m-%d %H:%M:%S}", "state": state})
        return pd.DataFrame(rows, columns=list(COLUMNS))

    def redraw(self) -> None:
        self.rows = self.alarms()
        with pn.io.hold():
            self.table.value = self.frame(self.rows)
            self.table.selection = []
            self.ack.disabled = self.clear.disabled = True

    # --- actions ---------------------------------------------------------------------------------
    def chosen(self) -> Alarm | None:
        index = self.table.selection
        return self.rows[index[0]] if index and index[0] < len(self.rows) else None

    def selected(self, _event) -> None:
        alarm = self.chosen()
        self.ack.disabled = alarm is None or alarm.acked_by is not None
        self.clear.disabled = alarm is None
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

    def pull(self) -> None:
        """Redraw when the alarm book changed; follow a new critical or major alarm to its place."""
        version, changed = self.live.alarms.changes_since(self.version)
        if version == self.version:
            return
        self.version = version
        self.redraw()
        new = [a for a in changed if a.active and a.count == 1 and a.severity in FLY_TO and not a.acked_by]
        now = time.monotonic()
        if new and self.follow.value and now - self._followed_at >= FOLLOW_EVERY_S:
            self._followed_at = now
            self.on_select(max(new, key=lambda a: (a.severity.rank, a.raised_at)))
