"""Emergency plans in the app: a plan's steps as a checklist, and the card a real alarm opens.

A drill shows the checklist ticking itself off, marked 演练 (see :mod:`twin.web.drill_panel`); a real
alarm whose rule opens a plan shows "真实警情 REAL ALARM" and waits for the commander: each command
step is sent to its targets only on "确认执行 Confirm", as the principal ``plan:<key>`` (the confirming
user is audited too); the other steps are ticked by hand, their time kept.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from html import escape

import panel as pn

from live.alarms import Alarm
from live.commands import CommandResult
from live.runtime import Live
from twin.park import Park
from twin.plans import Checklist, ChecklistItem, PlanSpec, checklist, plan_for
from twin.web.access import Principal, check, guarded
from twin.web.messages import t

REAL_HEADER_RGB = "#e65100"  # amber-red: a real alarm, unlike the drill's dark red
SENDERS = 8  #: commands of one step in flight at once


def step_text(plan: PlanSpec, index: int, lang: str) -> str:
    """A step's text in the language (the Chinese text when it has no English one)."""
    step = plan.steps[index]
    return step.text_en if lang == "en" and step.text_en else step.text


def step_label(plan: PlanSpec, index: int, item: ChecklistItem, lang: str) -> str:
    """``30 s 解锁本楼门禁 · 17 targets · 解锁``: the time, the text, how many it acts on and the command."""
    parts = [f"{item.at_s:g} s {step_text(plan, index, lang)}"]
    if item.targets:
        parts.append(t("plan.targets", lang).format(n=len(item.targets)))
    if item.command:
        parts.append(t(f"command.{item.command}", lang))
    if item.arrives_s is not None:
        parts.append(t("plan.arrives", lang).format(s=f"{item.arrives_s:.0f}"))
    return " · ".join(parts)


def origin_of(park: Park, node_id: str) -> str:
    """Where a plan acts around a node: the space it is in (itself if a space)."""
    space = park.ancestor(node_id, "space")
    return node_id if park.get(node_id).kind == "space" or space is None else space.id


def checklist_html(lists: Checklist, lang: str) -> str:
    """A drill's checklist: each step with its time, text and targets, ✓ 演练 once done."""
    rows = []
    for i, item in enumerate(lists.items):
        done = item.state == "drill"
        mark = f"✓ {t('plan.drill_done', lang)}" if done else ""
        rows.append(f"<li class='twin-plan-step' data-state='{item.state}'"
                    f" style='color:{'#66bb6a' if done else 'inherit'}'>"
                    f"{escape(step_label(lists.plan, i, item, lang))} <b>{escape(mark)}</b></li>")
    title = lists.plan.title_en if lang == "en" and lists.plan.title_en else lists.plan.title
    return f"<p><b>{escape(title)}</b></p><ul class='twin-plan-checklist'>{''.join(rows)}</ul>"


class PlanPanel:
    """One session's card for the plan a real alarm opened: the steps, confirmed or ticked by hand."""

    def __init__(self, live: Live, plans: Sequence[PlanSpec], show_cameras: Callable[[Sequence[str]], None],
                 lang: str = "zh"):
        self.live, self.park, self.plans, self.lang = live, live.park, tuple(plans), lang
        self.show_cameras = show_cameras
        self.alarm: Alarm | None = None
        self.lists: Checklist | None = None
        self.steps = pn.Column(sizing_mode="stretch_width")
        self.card = pn.Card(self.steps, title=t("plan.title", lang), sizing_mode="stretch_width", visible=False,
                            header_background=REAL_HEADER_RGB, css_classes=["twin-plan-card"])

    def panel(self) -> pn.viewable.Viewable:
        """A card, hidden until an alarm opens a plan."""
        return self.card

    def open(self, alarm: Alarm) -> bool:
        """Open the plan of the alarm's rule around its node (kept as it is for the same alarm)."""
        plan = plan_for(self.plans, rule=alarm.rule)
        if plan is None or alarm.node not in self.park:
            return False
        if self.alarm is not None and self.alarm.id == alarm.id:
            return True
        self._opened(alarm, plan)
        return True

    @guarded("plan.open", lambda self, alarm, plan: f"plan/{plan.key}?alarm={alarm.id}&node={alarm.node}")
    def _opened(self, alarm: Alarm, plan: PlanSpec) -> None:
        self.alarm, self.lists = alarm, checklist(plan, self.park, origin_of(self.park, alarm.node), drill=False)
        where = self.park.get(self.lists.origin)
        title = plan.title_en if self.lang == "en" and plan.title_en else plan.title
        with pn.io.hold():
            self.card.title = f"{t('plan.real', self.lang)} · {title} · {where.name or where.id}"
            self.steps[:] = [self._row(i) for i in range(len(self.lists.items))]
            self.card.visible, self.card.collapsed = True, False

    # --- the steps ------------------------------------------------------------------------------
    def _row(self, index: int) -> pn.viewable.Viewable:
        item = self.lists.items[index]
        label = pn.pane.HTML(self._status_html(index), sizing_mode="stretch_width")
        buttons = []
        if item.action == "cameras" and item.targets:
            show = pn.widgets.Button(label=t("plan.cameras", self.lang), variant="outline",
                                     css_classes=["twin-plan-cameras"])
            show.on_click(lambda _e: self.show_cameras(item.targets))
            buttons.append(show)
        if item.command:
            act = pn.widgets.Button(label=t("plan.confirm", self.lang), color="danger", css_classes=["twin-plan-confirm"],
                                    disabled=not item.targets or self.live.commander is None)
            act.on_click(lambda _e: self.confirm(index))
        else:
            act = pn.widgets.Button(label=t("plan.done", self.lang), variant="outline", css_classes=["twin-plan-done"])
            act.on_click(lambda _e: self.done(index))
        return pn.Column(label, pn.Row(*buttons, act), sizing_mode="stretch_width",
                         css_classes=["twin-plan-row"])

    def _status_html(self, index: int, outcomes: Sequence[CommandResult] = ()) -> str:
        item, lang = self.lists.items[index], self.lang
        note = {"pending": "",
                "confirmed": t("command.sent", lang).format(action=t(f"command.{item.command}", lang)),
                "done": t("plan.done_at", lang).format(s=f"{item.done_s or 0:.0f}"),
                "sent": t("plan.sent", lang), "failed": t("plan.failed", lang)}[item.state]
        note = note.format(n=sum(r.ok == (item.state == "sent") for r in outcomes), total=len(outcomes))
        targets = "".join(f"<span class='twin-plan-target' data-node='{escape(r.node)}' "
                          f"data-outcome='{'sent' if r.ok else 'failed'}' title='{escape(r.detail)}' "
                          f"style='color:{'#66bb6a' if r.ok else '#ef5350'};margin-right:6px'>"
                          f"{escape(self.park.get(r.node).code or r.node)} {'✓' if r.ok else '✗'}</span>"
                          for r in outcomes)
        return (f"<div class='twin-plan-step' data-state='{item.state}'>"
                f"{escape(step_label(self.lists.plan, index, item, lang))}"
                f" <b>{escape(note)}</b><div style='font-size:11px'>{targets}</div></div>")

    def elapsed_s(self) -> float:
        """Seconds since the alarm was raised (the plan's clock)."""
        return max(0.0, (self.live.clock.now() - self.alarm.raised_at).total_seconds())

    @guarded("plan.step", lambda self, index: f"plan/{self.lists.plan.key}/step/{index}?alarm={self.alarm.id}")
    def done(self, index: int) -> None:
        """Tick a step off by hand, at the time since the alarm."""
        item = self.lists.items[index]
        item.state, item.done_s = "done", self.elapsed_s()
        self._redraw(index)

    @guarded("plan.confirm", lambda self, index: f"plan/{self.lists.plan.key}/step/{index}?alarm={self.alarm.id}")
    def confirm(self, index: int) -> None:
        """The commander confirmed a command step: send it to every target as ``plan:<key>``
        (each checked and audited); the step shows each target's outcome when all have answered."""
        lists = self.lists
        item, plan = lists.items[index], lists.plan
        sender = Principal(plan.principal, frozenset({"device.command"}))
        item.state, item.done_s = "confirmed", self.elapsed_s()
        self._redraw(index)
        doc = pn.state.curdoc

        def send(node_id: str) -> CommandResult:
            check(sender, "device.command", node_id)
            return self.live.commander.send(node_id, item.command, sender)

        def send_all() -> None:
            with ThreadPoolExecutor(SENDERS, thread_name_prefix="twin-plan") as pool:
                outcomes = list(pool.map(send, item.targets))
            item.state = "sent" if all(r.ok for r in outcomes) else "failed"
            doc.add_next_tick_callback(lambda: self.lists is lists and self._redraw(index, outcomes))

        threading.Thread(target=send_all, name="twin-plan-step", daemon=True).start()

    def _redraw(self, index: int, outcomes: Sequence[CommandResult] = ()) -> None:
        row = self.steps[index]
        row[0].object = self._status_html(index, outcomes)
        row[1][-1].disabled = self.lists.items[index].state not in ("pending", "failed")  # failed: may be retried
