"""The monitoring centre's large screen (``/wall``, 一屏统管): the 3D park in the centre, the park's
figures around it, a ticker of live alarms, and a tour when nobody touches it.

Left: energy today with its hourly trend and carbon, the environment, persons and parking. Right:
devices online, active alarms by severity, pending work orders, and the camera pictures of the alarm
shown. A ticker item (or a new critical or major alarm) flies the camera to the alarm's place. After
``[wall] idle_s`` without a touch the scene's tour plays in a loop, unless a critical or major alarm
is active and unacknowledged; a touch or a new alarm stops it.
Built for 1920×1080; on a 4K wall (3840×2160) every panel is drawn twice as large.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from html import escape

import panel as pn

from live.alarms import Alarm, Severity
from live.runtime import Live
from live.workorders import Priority
from twin.energy.today import EnergyToday, EnergyTodayCache
from twin.park import Park
from twin.wall import WallSpec
from twin.web.alarm_list import FLY_TO, FOLLOW_EVERY_S, SEVERITY_CSS, to_follow
from twin.web.access import current_principal
from twin.web.deltas import node_index
from twin.web.live_card import camera_pictures_html, local_naive
from twin.web.live_view import PULL_PERIOD_MS, LiveView
from twin.web.looks import look_metrics, scales
from twin.web.messages import t
from twin.web.navigator import Navigator
from twin.web.reloader import reloader
from twin.web.tour_player import TourPlayer
from twin.web.viewport import Viewport, browser_strings, manifest
from twin.web.wall_figures import WallFigures, wall_figures

TICK_MS = 1000  #: the wall's clock, ticker and idle check
FIGURES_EVERY_TICKS = 5  #: the figures are redrawn every this many ticks
TICKER_ITEMS = 6  #: alarms in the ticker, most severe and newest first
SIDE_WIDTH_PX = 400  #: each side column at 1920×1080 (twice that on a 4K wall)
CHART_HEIGHT_PX = 150  #: the energy trend at 1920×1080
PRIORITY_CSS = {"urgent": "#e53935", "high": "#fb8c00", "normal": "#4fc3f7", "low": "#9e9e9e"}

#: The side columns, header and ticker grow on a 4K wall (only the outermost: zoom compounds).
ZOOM_CSS = "@media (min-width: 2600px) { :host { zoom: 2; } }"
WALL_CSS = """
:host { font-family: "Noto Sans CJK SC", "Noto Sans SC", sans-serif; color: #dce6f2; }
.twin-wall-box { background: rgba(14, 30, 54, .92); border: 1px solid #1f4068; border-radius: 6px;
                 padding: 6px 12px; box-sizing: border-box; }
.twin-wall-box h3 { margin: 0 0 6px; font-size: 15px; color: #7fb8f0; font-weight: 600; }
.twin-kpis { display: grid; grid-template-columns: repeat(2, 1fr); gap: 6px; }
.twin-kpi { background: rgba(255, 255, 255, .04); border-radius: 4px; padding: 4px 8px; }
.twin-kpi b { display: block; font-size: 24px; color: #ffffff; line-height: 1.2; white-space: nowrap; }
.twin-kpi span { font-size: 12px; color: #9fb3c8; }
.twin-bar { height: 8px; border-radius: 4px; background: #243b55; overflow: hidden; margin: 2px 0 6px; }
.twin-bar i { display: block; height: 100%; background: #4fc3f7; }
.twin-rows { width: 100%; font-size: 13px; border-collapse: collapse; }
.twin-rows td { padding: 1px 4px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 220px; }
.twin-rows td:last-child { text-align: right; }
.twin-camera img { max-height: 150px; object-fit: cover; }
.twin-camera div { font-size: 12px; color: #9fb3c8; }
h1 { margin: 0; font-size: 26px; letter-spacing: 2px; color: #e3f2fd; white-space: nowrap; }
.twin-clock { font-size: 20px; color: #9fb3c8; white-space: nowrap; }
"""


def kpi(label: str, value: str, colour: str = "#ffffff") -> str:
    return f"<div class='twin-kpi'><b style='color:{colour}'>{escape(value)}</b><span>{escape(label)}</span></div>"


def figure_text(value: float | None, places: int = 0, unit: str = "") -> str:
    """A figure with its unit, ``—`` when unknown."""
    return "—" if value is None or not math.isfinite(value) else f"{value:,.{places}f}{' ' + unit if unit else ''}"


def metric_label(metric: str, lang: str) -> str:
    """A metric's name on the wall: its catalogue label, else the metric as the scene names it."""
    key = f"wall.metric.{metric}"
    return label if (label := t(key, lang)) != key else metric


def box(title: str, body: str) -> str:
    return f"<h3>{escape(title)}</h3>{body}"


class Wall:
    """One session of the large screen; ``energy``: the park's shared energy figures (None: no meters)."""

    def __init__(self, park: Park, live: Live, spec: WallSpec, energy: EnergyTodayCache | None,
                 lang: str = "zh", clock: Callable[[], float] = time.monotonic):
        pn.extension("echarts")  # Panel's bundled ECharts, for this session's page
        self.park, self.live, self.spec, self.energy, self.lang, self.clock = park, live, spec, energy, lang, clock
        self.viewport = Viewport(node_index(park), batches=manifest(park.batches, current_principal().may),
                                 strings=browser_strings(lang),
                                 home_bounds=list(park.bounds_m() or ()), sizing_mode="stretch_both",
                                 min_height=400)
        self.navigator = Navigator(park, self.viewport, lang)
        self.live_view = LiveView(live.state, self.viewport, scales=scales(live.spec), looks=look_metrics(live.spec))
        tours = [tour for tour in park.tours if spec.tour in (None, tour.key)]
        self.tour = TourPlayer(self.viewport, tours[:1], lang, clock=clock, focus=self.navigator.isolate)
        self.touched_at = clock()
        self.alarm_version = -1
        self.urgent = False  # a critical or major alarm is active and unacknowledged: the wall stays on it
        self.followed_at = -FOLLOW_EVERY_S
        self.ticks = 0
        panes = ("energy", "environment", "people", "devices", "alarms", "orders", "cameras")
        self.panes = {key: pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[WALL_CSS], name=key,
                                        css_classes=[] if key == "energy" else ["twin-wall-box"]) for key in panes}
        self.chart = pn.pane.ECharts({}, height=CHART_HEIGHT_PX, sizing_mode="stretch_width", renderer="svg")
        # the ticker's items are made once and relabelled: alarms change every few seconds, and new
        # widgets each time would be new models for every session's document and browser to keep
        self.ticker_alarms: list[Alarm] = []
        self.ticker_items = [self.ticker_item(i) for i in range(TICKER_ITEMS)]
        self.no_alarms = pn.pane.HTML(f"<span style='color:#43a047'>{escape(t('wall.no_alarms', lang))}</span>")
        self.ticker = pn.Row(self.no_alarms, *self.ticker_items, sizing_mode="stretch_width", height=44,
                             css_classes=["twin-ticker"], stylesheets=[ZOOM_CSS])
        self.clock_pane = pn.pane.HTML("", css_classes=["twin-clock"], stylesheets=[WALL_CSS])
        self.viewport.param.watch(lambda _e: self.touch(), "touched")
        self.panes["cameras"].object = box(t("camera.title", lang), f"<p>{escape(t('wall.no_alarm_shown', lang))}</p>")
        self.refresh(energy.get() if energy is not None else None)

    # --- layout ----------------------------------------------------------------------------------
    def panel(self) -> pn.viewable.Viewable:
        lang, panes = self.lang, self.panes
        header = pn.Row(pn.pane.HTML(f"<h1>{escape(self.park.name)} · {escape(t('wall.title', lang))}</h1>",
                                     stylesheets=[WALL_CSS]), pn.layout.HSpacer(), self.clock_pane, reloader(lang),
                        sizing_mode="stretch_width", height=48, css_classes=["twin-wall-header"],
                        stylesheets=[ZOOM_CSS])
        energy = pn.Column(panes["energy"], self.chart, sizing_mode="stretch_width", css_classes=["twin-wall-box"],
                           stylesheets=[WALL_CSS], margin=(5, 10))
        left = pn.Column(energy, panes["environment"], panes["people"], width=SIDE_WIDTH_PX,
                         css_classes=["twin-wall-side"], stylesheets=[ZOOM_CSS, WALL_CSS])
        right = pn.Column(panes["devices"], panes["alarms"], panes["orders"], panes["cameras"],
                          width=SIDE_WIDTH_PX, css_classes=["twin-wall-side"], stylesheets=[ZOOM_CSS, WALL_CSS])
        centre = pn.Column(self.viewport, self.ticker, sizing_mode="stretch_both")
        pn.state.add_periodic_callback(self.live_view.pull, period=PULL_PERIOD_MS)
        pn.state.add_periodic_callback(self.tick, period=TICK_MS)
        return pn.Column(header, pn.Row(left, centre, right, sizing_mode="stretch_both"), sizing_mode="stretch_both",
                         styles={"background": "#060d18"}, css_classes=["twin-wall"])

    @staticmethod
    def trend_chart(energy: EnergyToday) -> dict:
        """The last 24 hours' kWh as bars (an ECharts option; Panel bundles ECharts)."""
        label = {"color": "#9fb3c8"}
        return {"grid": {"left": 44, "right": 8, "top": 18, "bottom": 22},
                "xAxis": {"type": "category", "axisLabel": label,
                          "data": [f"{local_naive(at):%H}" for at, _ in energy.hourly_kwh]},
                "yAxis": {"type": "value", "name": "kWh", "nameTextStyle": label, "axisLabel": label,
                          "splitLine": {"lineStyle": {"color": "#243b55"}}},
                "series": [{"type": "bar", "itemStyle": {"color": "#4fc3f7"},
                            "data": [round(kwh, 1) if math.isfinite(kwh) else None for _, kwh in energy.hourly_kwh]}]}

    # --- time ------------------------------------------------------------------------------------
    async def tick(self) -> None:
        """Every second a :meth:`step`; every few seconds the figures (energy is read from history on a
        worker thread, so the page's loop never waits on it)."""
        self.step()
        if self.ticks % FIGURES_EVERY_TICKS == 0:
            energy = await asyncio.get_running_loop().run_in_executor(None, self.energy.get) if self.energy else None
            self.refresh(energy)

    def step(self) -> None:
        """The clock, the ticker, and the idle tour when nobody touched the wall for ``idle_s``."""
        self.ticks += 1
        self.clock_pane.object = f"{local_naive(self.live.clock.now()):%Y-%m-%d %H:%M:%S}"
        self.pull_alarms()
        idle = self.clock() - self.touched_at >= self.spec.idle_s
        if idle and not self.tour.stepper.playing and not self.urgent:
            self.start_tour()

    def touch(self) -> None:
        """Someone touched the wall (or an alarm took the camera): the tour stops, the idle wait restarts."""
        self.touched_at = self.clock()
        if self.tour.stepper.playing:
            self.tour.pause()

    def start_tour(self) -> None:
        if self.tour.stepper.tour is None:
            self.touched_at = self.clock()  # no tour: wait another idle period before looking again
            return
        self.viewport.pin("", None)  # the last alarm's marker goes with it
        self.tour.set_loop(True)
        self.tour.play()

    # --- figures ---------------------------------------------------------------------------------
    def refresh(self, energy: EnergyToday | None) -> None:
        figures = wall_figures(self.live, self.spec)
        with pn.io.hold():
            self.panes["energy"].object = self.energy_html(energy)
            if energy is not None:
                self.chart.object = self.trend_chart(energy)
            self.panes["environment"].object = self.environment_html(figures)
            self.panes["people"].object = self.people_html(figures)
            self.panes["devices"].object = self.devices_html(figures)
            self.panes["alarms"].object = self.alarms_html(figures)
            self.panes["orders"].object = self.orders_html(figures)

    def energy_html(self, energy: EnergyToday | None) -> str:
        lang = self.lang
        if energy is None:
            return box(t("wall.energy", lang), f"<p>{escape(t('wall.no_meters', lang))}</p>")
        return box(t("wall.energy", lang), "<div class='twin-kpis'>" + "".join((
            kpi(t("wall.kwh_today", lang), figure_text(energy.kwh_today, 0, "kWh")),
            kpi(t("wall.co2_today", lang), figure_text(energy.tco2e_today, 2, "tCO2e")),
            kpi(t("wall.kwh_month", lang), figure_text(energy.kwh_month, 0, "kWh")),
            kpi(t("wall.co2_month", lang), figure_text(energy.tco2e_month, 1, "tCO2e")))) + "</div>"
            + ("" if math.isfinite(energy.kwh_today) else f"<p>{escape(t('wall.meters_waiting', lang))}</p>"))

    def environment_html(self, figures: WallFigures) -> str:
        tiles = [kpi(metric_label(m.metric, self.lang),
                     figure_text(m.value, 1 if m.value is not None and abs(m.value) < 100 else 0, m.unit))
                 for m in figures.environment]
        body = f"<div class='twin-kpis'>{''.join(tiles)}</div>" if tiles else f"<p>{escape(t('wall.none', self.lang))}</p>"
        return box(t("wall.environment", self.lang), body)

    def people_html(self, figures: WallFigures) -> str:
        lang = self.lang
        tiles = [kpi(t("wall.persons", lang), figure_text(figures.persons))] if figures.persons is not None else []
        if figures.parking_bays:
            free = figures.parking_bays - figures.parking_taken
            tiles.append(kpi(t("wall.parking_free", lang), f"{free} / {figures.parking_bays}",
                             "#43a047" if free else "#e53935"))
        top = sorted(figures.persons_by_building.items(), key=lambda item: -item[1])[:5]
        most = max((n for _, n in top), default=0) or 1
        rows = "".join(f"<tr><td>{escape(self.park.get(b).name or b)}</td><td style='width:45%'><div class='twin-bar'>"
                       f"<i style='width:{100 * n / most:.0f}%'></i></div></td><td>{n}</td></tr>" for b, n in top)
        body = (f"<div class='twin-kpis'>{''.join(tiles)}</div>" if tiles else f"<p>{escape(t('wall.none', lang))}</p>")
        return box(t("wall.people", lang), body + (f"<table class='twin-rows'>{rows}</table>" if rows else ""))

    def devices_html(self, figures: WallFigures) -> str:
        lang, ratio = self.lang, figures.online_ratio
        colour = "#43a047" if ratio is None or ratio >= 0.95 else "#fb8c00" if ratio >= 0.8 else "#e53935"
        bar = f"<div class='twin-bar'><i style='width:{100 * (ratio or 0):.1f}%;background:{colour}'></i></div>"
        return box(t("wall.devices", lang), "<div class='twin-kpis'>" + kpi(
            t("wall.online_rate", lang), figure_text(None if ratio is None else 100 * ratio, 1, "%"), colour) + kpi(
            t("wall.online_of", lang), f"{figures.devices_online:,} / {figures.devices:,}") + "</div>" + bar)

    def alarms_html(self, figures: WallFigures) -> str:
        tiles = "".join(kpi(t(f"alarm.{s.value}", self.lang), str(figures.alarms.get(s, 0)),
                            SEVERITY_CSS[s.value] if figures.alarms.get(s) else "#5f7387") for s in Severity)
        return box(t("wall.alarms", self.lang), f"<div class='twin-kpis'>{tiles}</div>")

    def orders_html(self, figures: WallFigures) -> str:
        tiles = "".join(kpi(t(f"order.priority.{p.value}", self.lang), str(figures.orders.get(p, 0)),
                            PRIORITY_CSS[p.value] if figures.orders.get(p) else "#5f7387") for p in Priority)
        return box(t("wall.orders", self.lang), f"<div class='twin-kpis'>{tiles}</div>")

    # --- alarms ----------------------------------------------------------------------------------
    def pull_alarms(self) -> None:
        """Redraw the ticker when the alarm book changed; fly to a new critical or major alarm."""
        version, changed = self.live.alarms.changes_since(self.alarm_version)
        if version == self.alarm_version:
            return
        first = self.alarm_version < 0
        self.alarm_version = version
        active = sorted(self.live.alarms.list(active=True), key=lambda a: (-a.severity.rank, -a.raised_at.timestamp()))
        self.urgent = any(a.severity in FLY_TO and not a.acked_by for a in active)
        self.show_ticker(active[:TICKER_ITEMS])
        follow = None if first else to_follow(changed)
        now = self.clock()
        if follow is not None and now - self.followed_at >= FOLLOW_EVERY_S:
            self.followed_at = now
            self.show_alarm(follow)

    def ticker_item(self, index: int) -> pn.widgets.Button:
        """The ticker's ``index``-th item: it shows :attr:`ticker_alarms` [index] when there is one."""
        button = pn.widgets.Button(css_classes=["twin-ticker-item"], stylesheets=[WALL_CSS], max_width=420,
                                   visible=False)
        button.on_click(lambda _e: self.show_ticker_alarm(index))
        return button

    def show_ticker_alarm(self, index: int) -> None:
        if index < len(self.ticker_alarms):  # else the click crossed a shorter list
            self.show_alarm(self.ticker_alarms[index])

    def show_ticker(self, alarms: list[Alarm]) -> None:
        """The ticker shows ``alarms`` (at most :data:`TICKER_ITEMS`), or that there are none."""
        self.ticker_alarms = alarms
        with pn.io.hold():
            self.no_alarms.visible = not alarms
            for index, button in enumerate(self.ticker_items):
                alarm = alarms[index] if index < len(alarms) else None
                button.visible = alarm is not None
                button.label = "" if alarm is None else self.ticker_text(alarm)
                button.color = {Severity.CRITICAL: "danger", Severity.MAJOR: "warning"}.get(
                    alarm.severity if alarm else None, "light")

    def ticker_text(self, alarm: Alarm) -> str:
        what = alarm.message.get(self.lang) or alarm.rule
        return (f"{t(f'alarm.{alarm.severity.value}', self.lang)} · {what} · {self.place(alarm.node)}"
                f" · {local_naive(alarm.raised_at):%H:%M}")

    def place(self, node_id: str) -> str:
        """A short name for where a node is: its building and its own name."""
        if node_id not in self.park:
            return node_id
        node, building = self.park.get(node_id), self.park.ancestor(node_id, "building")
        names = [building.name or building.id] if building is not None else []
        return " ".join(names + [node.name or node.id])

    def show_alarm(self, alarm: Alarm) -> None:
        """Fly to an alarm's place and show the pictures of the cameras that see it."""
        self.touch()
        if alarm.node not in self.park:
            return
        self.navigator.locate(alarm.node)
        self.viewport.highlight([alarm.node])
        self.panes["cameras"].object = (f"<p style='color:{SEVERITY_CSS[alarm.severity.value]}'>"
                                        f"{escape(self.place(alarm.node))}</p>"
                                        + camera_pictures_html(self.live, alarm.node, self.lang))

