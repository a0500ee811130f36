"""The commander's evacuation drill (疏散演练) in the app: pick a room, start a fire there, play it back.

The drill runs in the worker process (:mod:`twin.evacuation.worker`), so the session never waits on
it; its result lists the exits, stairs, the first spaces to become untenable and congestion, and a
timeline plays it on the viewport: rooms coloured by smoke and crowding (only the changes travel),
everyone as a point, the routes taken as lines. "演练 DRILL" marks the card and the view throughout.
When the scene has a plan for the incident, its steps tick off as the timeline passes them (never
sent); "生成报告 Report" keeps the after-action report, listed newest first with links.
"""
from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np
import panel as pn
import shapely

from twin.evacuation import EvacuationGraph, EvacuationResult, build_graph
from twin.evacuation.outdoor import Outdoors, park_outdoors
from twin.evacuation.plume import plume_zone
from twin.cameras import snapshots
from twin.evacuation.reports import ReportStore
from twin.evacuation.resources import resources
from twin.evacuation.result import CONGESTED_PPM2
from twin.evacuation.worker import DrillSpec, submit
from twin.park import Park
from twin.plans import Checklist, PlanSpec, checklist, plan_for
from twin.teams import TeamEta, place_of, team_etas
from twin.web.access import guarded
from twin.web.drill_setup import DrillSetup
from twin.web.messages import t
from twin.web.plan_panel import checklist_html, step_text
from twin.web.navigator import LOOK_DOWN, Navigator, label_point
from twin.web.viewport import Viewport

if TYPE_CHECKING:
    from live.runtime import Live

TICK_MS = 200  #: how often a running drill is checked and a playing one steps on
SPEEDS = (1, 5, 10, 30)
CROWDED_PPM2 = 2.0
EXIT_LABEL_M = 2.5  #: exit counters float this high over the door
SMOKE_SHOWN_M = 0.1  #: a smoke layer this far below a room's ceiling colours it
FIRST_UNTENABLE = 8  #: rows of the first spaces to become untenable
PERSON_LIFT_M = 1.0  #: people are drawn at chest height, clear of the floor slab
ROUTE_LIFT_M = 0.3
PEOPLE_RGB = (255, 64, 255)
ROUTE_RGB = (0, 200, 83)  # exit-sign green
GAS_RGB = (205, 220, 57)  # the gas plume's area, over the ground
GAS_LIFT_M = 0.5
DRILL_HEADER_RGB = "#b71c1c"
REPORT_PICTURES = 2  #: camera pictures a report keeps (of the plan's cameras step)
PICTURE_SIZE = (640, 360)
#: A room's state → (rgb, opacity), most telling first: a room shows the first state it is in.
STATES: dict[str, tuple[tuple[int, int, int], float]] = {
    "untenable": ((25, 25, 25), 0.9),
    "jammed": ((230, 30, 30), 0.6),
    "crowded": ((255, 140, 0), 0.55),
    "smoke": ((150, 150, 150), 0.5),
}

_graphs: weakref.WeakKeyDictionary[Park, EvacuationGraph] = weakref.WeakKeyDictionary()
_ways: weakref.WeakKeyDictionary[Park, Outdoors | None] = weakref.WeakKeyDictionary()


def park_graph(park: Park) -> EvacuationGraph:
    """The park's evacuation graph, built on first use and shared by every session."""
    if park not in _graphs:
        _graphs[park] = build_graph(park)
    return _graphs[park]


def park_ways(park: Park) -> Outdoors | None:
    """The ways from the park's exits to its assembly points, worked out on first use and shared."""
    if park not in _ways:
        _ways[park] = park_outdoors(park, park_graph(park))
    return _ways[park]


def space_of(park: Park, graph: EvacuationGraph, node_id: str) -> int | None:
    """The graph's space a node is or lies in: itself, the space above it in the tree, else the
    space whose outline holds its centre on its floor; None for anything outdoors."""
    if node_id not in park:
        return None
    parent = park.ancestor(node_id, "space")
    for candidate in (node_id, parent.id if parent else None):
        if candidate in graph.place_index and graph.places[graph.place_index[candidate]].kind == "space":
            return graph.place_index[candidate]
    centre = park.get(node_id).centre_m
    if centre is None:
        return None
    point = shapely.Point(centre[:2])
    return next((i for i in graph.spaces() if graph.places[i].floor_m - 0.3 <= centre[2]
                 <= graph.places[i].floor_m + graph.places[i].height_m and graph.places[i].footprint.contains(point)),
                None)


class Playback:
    """A drill's state at any time: each room's state, everyone's position, the routes taken."""

    def __init__(self, graph: EvacuationGraph, result: EvacuationResult):
        self.result = result
        spaces = {i: graph.places[i] for i in graph.spaces()}
        self.area_m2 = {i: p.area_m2 for i, p in spaces.items()}
        self.ids = {i: p.id for i, p in spaces.items()}
        fire = result.hazard
        self.times_s, self.untenable_s = fire.times_s, fire.untenable_s
        self.layer_m = {p.id: fire.layer_m[p.id] for p in spaces.values() if p.id in fire.layer_m}
        self.smoke_below_m = {p.id: p.height_m - SMOKE_SHOWN_M for p in spaces.values()}
        passes = result.passes
        self.exits = [(graph.openings[o].point_m + (0.0, 0.0, EXIT_LABEL_M), np.sort(passes[passes[:, 1] == o, 0]))
                      for o in graph.exits if (passes[:, 1] == o).any()]

    def exit_counts_at(self, t_s: float) -> list[tuple[str, np.ndarray]]:
        """A counter over each exit used: persons out through it by then."""
        return [(f"⇲ {int(np.searchsorted(times, t_s, side='right'))}", point) for point, times in self.exits]

    def occupancy_at(self, t_s: float) -> dict[int, float]:
        """Persons per place index at a time (the last change logged by then)."""
        rows = self.result.counts[self.result.counts[:, 0] <= t_s][::-1]
        places, first = np.unique(rows[:, 1].astype(int), return_index=True)
        return dict(zip(places.tolist(), rows[first, 2].tolist()))

    def states_at(self, t_s: float) -> dict[str, str]:
        """Each room not in its ordinary state → its state (see :data:`STATES`)."""
        sample = max(0, int(np.searchsorted(self.times_s, t_s, side="right")) - 1)
        out = {}
        for place, persons in self.occupancy_at(t_s).items():
            if place in self.area_m2 and persons / self.area_m2[place] > CROWDED_PPM2:
                out[self.ids[place]] = "jammed" if persons / self.area_m2[place] > CONGESTED_PPM2 else "crowded"
        for space_id, layer in self.layer_m.items():
            if space_id not in out and layer[sample] < self.smoke_below_m[space_id]:
                out[space_id] = "smoke"
        out.update({space_id: "untenable" for space_id, aset in self.untenable_s.items()
                    if aset <= t_s and space_id in self.smoke_below_m})
        return out

    def people_at(self, t_s: float) -> np.ndarray:
        """Everyone still inside or on the way, ``(n, 3)`` at chest height."""
        xyz = self.result.positions_at(t_s)
        return xyz[np.isfinite(xyz).all(axis=1)] + (0.0, 0.0, PERSON_LIFT_M)

    def routes(self) -> np.ndarray:
        """The distinct legs walked from the first door on, ``(n, 2, 3)`` just above the floor."""
        legs = set()
        for track in self.result.tracks:
            points = np.round(track[1:, 1:], 1)
            for a, b in zip(points[:-1], points[1:]):
                if (a != b).any():
                    legs.add((tuple(a), tuple(b)))
        return np.array(sorted(legs), float).reshape(-1, 2, 3) + (0.0, 0.0, ROUTE_LIFT_M)


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def section_html(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]], none: str) -> str:
    """A titled table of the rows, or ``none`` when there are none."""
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return (f"<p><b>{escape(title)}</b></p>"
            + (f"<table class='twin-drill-table'><tr>{head}</tr>{body}</table>" if body else f"<p>{escape(none)}</p>"))


class DrillPanel:
    """One session's fire drill: the offer on pick, the run in the worker, the result and its playback."""

    def __init__(self, park: Park, viewport: Viewport, navigator: Navigator, lang: str = "zh",
                 plans: Sequence[PlanSpec] = (), show_cameras: Callable[[Sequence[str]], None] | None = None,
                 live: Live | None = None):
        self.park, self.viewport, self.navigator, self.lang = park, viewport, navigator, lang
        self.plans, self.show_cameras = tuple(plans), show_cameras
        self.lists: Checklist | None = None  # the plan's steps for the drill shown
        self.origin: str | None = None  # where the offered incident starts: a space id, or a node outdoors
        self.future: Future[EvacuationResult] | None = None
        self.ran: DrillSpec | None = None  # the drill running or shown
        self.etas: list[TeamEta] = []  # the response teams' arrival at the drill shown
        self.playback: Playback | None = None
        self.shown: dict[str, str] = {}  # room id → state drawn
        self.t_s = 0.0  # the time drawn
        self.modes_before: list[str] = []
        self.where = pn.pane.HTML(f"<p>{escape(t('drill.hint', lang))}</p>", sizing_mode="stretch_width",
                                  css_classes=["twin-drill-where"])
        self.setup = DrillSetup(park, live, lang)
        self.go = pn.widgets.Button(label=t("drill.run", lang), color="danger", disabled=True)
        self.reset = pn.widgets.Button(label=t("drill.clear", lang))
        self.spinner = pn.Row(pn.indicators.LoadingSpinner(value=True, size=20),
                              pn.pane.HTML(escape(t("drill.computing", lang))), visible=False,
                              css_classes=["twin-drill-computing"])
        self.playing = pn.widgets.Toggle(label=t("tour.play", lang), color="primary", width=80, disabled=True)
        self.speed = pn.widgets.RadioButtonGroup(options={f"{s}×": s for s in SPEEDS}, value=SPEEDS[1])
        self.time = pn.widgets.FloatSlider(label=t("drill.time", lang), start=0.0, end=1.0, step=1.0, value=0.0,
                                           disabled=True, sizing_mode="stretch_width")
        self.result_pane = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-drill"])
        self.checklist_pane = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-drill-checklist"])
        self.cameras = pn.widgets.Button(label=t("plan.cameras", lang), variant="outline", visible=False,
                                         css_classes=["twin-drill-cameras"])
        self.report = pn.widgets.Button(label=t("drill.report", lang), color="primary", disabled=True,
                                        css_classes=["twin-drill-report"])
        self.reports_pane = pn.pane.HTML(self._reports_html(), sizing_mode="stretch_width",
                                         css_classes=["twin-drill-reports"])
        self.card = pn.Card(self.where, self.setup.widgets, pn.Row(self.go, self.reset), self.spinner,
                            pn.Row(self.playing, self.speed), self.time, self.checklist_pane,
                            pn.Row(self.cameras, self.report), self.result_pane, self.reports_pane,
                            title=t("drill.title", lang), sizing_mode="stretch_width", collapsed=True,
                            css_classes=["twin-drill-card"])
        self._timer = pn.state.add_periodic_callback(self.tick, period=TICK_MS, start=False)
        self.go.on_click(lambda _event: self.run(self.spec()))
        self.reset.on_click(lambda _event: self.clear())
        self.cameras.on_click(lambda _event: self.show_cameras(self._camera_targets()))
        self.report.on_click(lambda _event: self.save_report())
        self.playing.param.watch(lambda e: self.play(e.new), "value")
        self.time.param.watch(lambda e: e.new != self.t_s and self.seek(e.new), "value")

    def panel(self) -> pn.viewable.Viewable:
        """A card, folded until a room is offered."""
        return self.card

    @property
    def graph(self) -> EvacuationGraph:
        return park_graph(self.park)

    # --- choosing where -------------------------------------------------------------------------
    def offer(self, node_id: str) -> bool:
        """A picked room, or anything in one, becomes where the incident starts (not yet run); while the
        card is open, so does a spot outdoors, for a gas leak."""
        found = space_of(self.park, self.graph, node_id)
        outdoors = found is None and not self.card.collapsed and self.park.get(node_id).centre_m is not None
        if found is None and not outdoors:
            return False
        self.origin = self.graph.places[found].id if found is not None else node_id
        self.setup.place(indoors=found is not None)
        self.where.object = f"<h4>{escape(t('drill.here', self.lang).format(space=self._name(self.origin)))}</h4>"
        self.go.disabled = self.future is not None
        self.card.collapsed = False
        return True

    def spec(self) -> DrillSpec:
        return self.setup.spec(self.origin, self.graph)

    # --- running --------------------------------------------------------------------------------
    @guarded("drill.run", lambda self, spec: f"drill/{spec.incident}/{spec.origin}?growth={spec.growth}")
    def run(self, spec: DrillSpec) -> Future[EvacuationResult]:
        """Start the drill in the worker; the result shows when it arrives (see :meth:`tick`)."""
        ways = park_ways(self.park) if spec.gas is None else park_outdoors(
            self.park, self.graph, avoid=plume_zone(**vars(spec.gas)))
        self.future, self.ran = submit(self.graph, spec, ways), spec
        self.go.disabled, self.spinner.visible = True, True
        self._timer.start()
        return self.future

    def tick(self) -> None:
        """The periodic callback: pick up an arrived result, step a playing drill on; idle: stop."""
        if self.future is not None and self.future.done():
            self._arrived(self.future)
        if self.playing.value and self.playback is not None:
            self._step(self.t_s + self.speed.value * TICK_MS / 1000)
        if self.future is None and not self.playing.value:
            self._timer.stop()

    def _arrived(self, future: Future[EvacuationResult]) -> None:
        self.future = None
        self.go.disabled, self.spinner.visible = self.origin is None, False
        try:
            result = future.result()
        except Exception as exc:  # whatever stopped the drill in the worker, the commander reads it
            self.result_pane.object = f"<p class='twin-error'>{escape(t('drill.error', self.lang).format(error=exc))}</p>"
            return
        self.show(result, self.ran)

    # --- the result -----------------------------------------------------------------------------
    def show(self, result: EvacuationResult, spec: DrillSpec) -> None:
        """List the result, mark the card and view as a drill, draw it at its start."""
        self.clear_view()
        self.playback, self.ran = Playback(self.graph, result), spec
        origin = place_of(self.park, self.graph, spec.origin)
        self.etas = team_etas(self.park, self.graph, self.park.teams, origin) if origin is not None else []
        name = self._name(spec.origin)
        self.result_pane.object = self._summary_html(result, name)
        self.modes_before = list(self.navigator.modes.value)
        plan = plan_for(self.plans, incident=result.hazard.kind)
        self.lists = checklist(plan, self.park, spec.origin, drill=True, teams=self.park.teams) if plan else None
        if self.lists is not None:
            self.lists.expect({e.team.key: e.eta_s for e in self.etas})
        with pn.io.hold():
            self.report.disabled = False
            self.cameras.visible = self.show_cameras is not None and bool(self._camera_targets())
            self.card.title = f"{t('drill.badge', self.lang)} · {t('drill.title', self.lang)}"
            self.card.header_background = DRILL_HEADER_RGB
            self.time.end, self.time.disabled, self.playing.disabled = max(result.end_s, 1.0), False, False
            self.navigator.modes.value = [*self.modes_before, *(["xray"] if "xray" not in self.modes_before else [])]
            building = self.park.ancestor(spec.origin, "building")
            self.navigator.enter(building.id if building else None)  # every storey: people and routes on all
        self.viewport.highlight([])  # the picked room shows its smoke, not the selection
        if result.hazard.kind == "gas":
            self._show_zone(result.hazard.zone, spec.origin)
        else:
            storey = self.park.ancestor(spec.origin, "storey")
            self.navigator.frame(storey.id if storey else spec.origin, LOOK_DOWN)
        self.viewport.paths(self.playback.routes(), ROUTE_RGB)
        self.viewport.pin(f"{self._kind(result)} {name}", label_point(self.park.get(spec.origin)))
        self._step(0.0)

    def _show_zone(self, zone: shapely.Geometry, source: str) -> None:
        """A gas plume's area drawn over the ground, the view flown over it."""
        if zone is None or zone.is_empty:
            self.navigator.frame(source, LOOK_DOWN)
            return
        z_m = self._ground_m(source) + GAS_LIFT_M
        triangles = np.array([np.asarray(tri.exterior.coords)[:3] for tri in
                              shapely.get_parts(shapely.constrained_delaunay_triangles(zone))]).reshape(-1, 3, 2)
        self.viewport.zone(np.concatenate([triangles, np.full((*triangles.shape[:2], 1), z_m)], axis=2), GAS_RGB)
        park = self.park.bounds_m()
        shown = zone.intersection(shapely.box(park[0], park[1], park[3], park[4])) if park else zone
        x0, y0, x1, y1 = (shown if not shown.is_empty else zone).bounds  # the plume's part over the park
        self.viewport.fly_to((x0, y0, z_m, x1, y1, z_m + 10.0), direction=LOOK_DOWN)

    def _ground_m(self, node_id: str) -> float:
        """The open ground's height near a node: the nearest outdoor place of the graph, else the node's top."""
        node = self.park.get(node_id)
        outside = [p for p in self.graph.places if p.kind == "outside"]
        if not outside or node.centre_m is None:
            return float(node.bounds_m[5]) if node.bounds_m is not None else 0.0
        return min(outside, key=lambda p: p.footprint.distance(shapely.Point(node.centre_m[:2]))).floor_m

    def _name(self, node_id: str) -> str:
        node = self.park.get(node_id)
        return node.name or node.code or node.id

    @guarded("drill.play", lambda self, on: f"drill/{'play' if on else 'pause'}")
    def play(self, on: bool) -> None:
        """Play the timeline on from where it is (from the start once at its end), or pause it."""
        self.playing.label = t("tour.pause" if on else "tour.play", self.lang)
        if on and self.playback is not None:
            if self.t_s >= self.time.end:
                self._step(0.0)
            self._timer.start()

    @guarded("drill.play", lambda self, t_s: f"drill/seek?t={t_s:g}")
    def seek(self, t_s: float) -> None:
        self._step(t_s)

    def _step(self, t_s: float) -> None:
        """Draw the drill at a time: rooms whose state changed, everyone, the caption."""
        if self.playback is None:
            return
        self.t_s = min(t_s, self.time.end)
        states = self.playback.states_at(self.t_s)
        changed: dict[str | None, list[str]] = defaultdict(list)
        for space_id in self.shown.keys() | states.keys():
            if self.shown.get(space_id) != states.get(space_id):
                changed[states.get(space_id)].append(space_id)
        for state, ids in changed.items():
            if state is None:
                self.viewport.reset_style(ids)
            else:
                rgb, opacity = STATES[state]
                self.viewport.style(ids, rgb=rgb, opacity=opacity)
        self.shown = states
        self.viewport.points(self.playback.people_at(self.t_s), PEOPLE_RGB)
        self.viewport.show_labels(self.playback.exit_counts_at(self.t_s))
        self.viewport.caption(t("drill.caption", self.lang).format(
            kind=self._kind(self.playback.result), space=self._name(self.ran.origin), s=seconds(self.t_s)))
        self.time.value = self.t_s
        self._tick_steps()
        if self.t_s >= self.time.end and self.playing.value:
            self.playing.value = False

    @guarded("drill.clear", lambda self: "drill/clear")
    def clear(self) -> None:
        """End the drill: the scene back as it was, the card back to its offer."""
        if self.future is not None:
            self.future.cancel()
            self.future = None
        self.clear_view()
        self.result_pane.object = ""
        self.go.disabled, self.spinner.visible = self.origin is None, False

    def clear_view(self) -> None:
        """Take the drill off the view and the card's marking away."""
        self._timer.stop()
        if self.playback is not None:
            with pn.io.hold():
                self.playing.value = False
                self.report.disabled, self.cameras.visible = True, False
                self.navigator.modes.value = self.modes_before
                self.card.title, self.card.header_background = t("drill.title", self.lang), ""
                self.time.disabled, self.playing.disabled = True, True
        if self.shown:
            self.viewport.reset_style(list(self.shown))
        self.playback, self.shown, self.t_s, self.lists = None, {}, 0.0, None
        self.checklist_pane.object = ""
        empty = np.zeros((0, 3))
        self.viewport.points(empty, PEOPLE_RGB)
        self.viewport.show_labels([])
        self.viewport.paths(empty, ROUTE_RGB)
        self.viewport.zone(empty, GAS_RGB)
        self.viewport.caption("")
        self.viewport.pin("", None)

    # --- the plan's checklist and the report ----------------------------------------------------
    def _tick_steps(self) -> None:
        """The plan's steps the timeline has passed, ticked off as a drill (nothing is ever sent)."""
        if self.lists is None:
            return
        changed = False
        for item in self.lists.items:
            state = "drill" if item.at_s <= self.t_s else "pending"
            if item.state != state:
                item.state, item.done_s, changed = state, item.at_s if state == "drill" else None, True
        if changed or not self.checklist_pane.object:
            self.checklist_pane.object = checklist_html(self.lists, self.lang)

    def _camera_targets(self) -> tuple[str, ...]:
        """The cameras the plan's cameras step shows (none without a plan)."""
        items = self.lists.items if self.lists is not None else []
        return next((item.targets for item in items if item.action == "cameras"), ())

    @guarded("report.save", lambda self: f"reports/drill/{self.playback.result.hazard.origin if self.playback else '-'}")
    def save_report(self) -> str | None:
        """Keep the drill's after-action report (the plan's steps as its actions, the cameras'
        pictures) and list it; returns its file name."""
        if self.playback is None:
            return None
        result = self.playback.result
        actions = [(item.at_s, step_text(self.lists.plan, i, self.lang))
                   for i, item in enumerate(self.lists.items)] if self.lists is not None else []
        pictures = [snapshots(self.park).png(camera, *PICTURE_SIZE)
                    for camera in self._camera_targets()[:REPORT_PICTURES]]
        title = t("drill.report_title", self.lang).format(kind=self._kind(result), space=self._name(self.ran.origin))
        origin = place_of(self.park, self.graph, self.ran.origin)
        near = (resources(self.park, self.graph, origin, park_ways(self.park), self.park.teams)
                if origin is not None else [])
        path = ReportStore().save(result, self.graph, title, drill=True, actions=actions, pictures=pictures,
                                  resources=near)
        self.reports_pane.object = self._reports_html()
        return path.name

    @guarded("report.list", lambda self: "reports")
    def _reports_html(self) -> str:
        """The kept reports, newest first, each a link to ``reports/<name>``."""
        entries = ReportStore().list()
        rows = "".join(f"<li><a href='reports/{quote(e.name)}' target='_blank' style='color:#4fc3f7'>"
                       f"{escape(e.title)}</a> <span style='color:#999'>{e.created:%m-%d %H:%M:%S}</span></li>"
                       for e in entries)
        return (f"<p><b>{escape(t('drill.reports', self.lang))}</b></p>"
                + (f"<ul class='twin-report-list'>{rows}</ul>" if rows else f"<p>{escape(t('drill.no_reports', self.lang))}</p>"))

    # --- the summary ----------------------------------------------------------------------------
    def _summary_html(self, result: EvacuationResult, origin: str) -> str:
        lang = self.lang
        failed = len(result.stranded) + sum(not s.passed for s in result.spaces)
        verdict = (f"<p class='twin-drill-pass' style='color:#66bb6a'>{escape(t('drill.pass', lang))}</p>"
                   if result.passed else
                   f"<p class='twin-drill-fail' style='color:#ef5350'>{escape(t('drill.fail', lang).format(n=failed))}</p>")
        first = sorted((s for s in result.spaces if s.aset_s is not None), key=lambda s: s.aset_s)[:FIRST_UNTENABLE]
        none = t("drill.none", lang)
        return (f"<div class='twin-drill-result'><h4>{escape(self._kind(result))} · {escape(origin)}</h4>"
                f"<p class='twin-drill-total'>{escape(t('drill.total', lang).format(s=seconds(result.total_time_s)))}; "
                f"{escape(t('drill.evacuated', lang).format(out=result.evacuated, n=result.occupants))}</p>{verdict}"
                + self._gas_html(result)
                + section_html(t("drill.exits", lang), [t("drill.exit", lang), t("drill.count", lang),
                                                         t("drill.last_out", lang)],
                               [(e.name, e.count, seconds(e.last_out_s)) for e in result.exits if e.count], none)
                + section_html(t("drill.stairs", lang), [t("drill.stair", lang), t("drill.count", lang)],
                               [(s.name, s.count) for s in result.stairs if s.count], none)
                + section_html(t("drill.assembly", lang), [t("drill.assembly_point", lang), t("drill.count", lang),
                                                            t("drill.last_in", lang)],
                               [(a.name + (f" ⚠ {t('drill.over_capacity', lang)}" if a.over_capacity else ""), a.count,
                                 seconds(a.last_in_s)) for a in result.assembly if a.count], none)
                + section_html(t("drill.teams", lang), [t("drill.team", lang), t("drill.route_m", lang),
                                                         t("drill.eta", lang)],
                               [(e.team.label, f"{e.length_m:.0f}", seconds(e.eta_s)) for e in self.etas], none)
                + section_html(t("drill.untenable", lang), [t("drill.space", lang), t("drill.aset", lang),
                                                             t("drill.rset", lang)],
                               [(s.name, seconds(s.aset_s), seconds(s.rset_s)) for s in first], none)
                + section_html(t("drill.congestion", lang), [t("drill.space", lang), t("drill.duration", lang),
                                                              t("drill.max_density", lang)],
                               [(c.name, seconds(c.duration_s), f"{c.max_density_ppm2:.1f}") for c in result.congestion],
                               none)
                + self._legend_html() + "</div>")

    def _gas_html(self, result: EvacuationResult) -> str:
        """A gas leak's release, wind and reach."""
        leak = self.ran.gas if self.ran is not None else None
        if result.hazard.kind != "gas" or leak is None:
            return ""
        zone = result.hazard.zone
        reach_m = 0.0 if zone is None or zone.is_empty else shapely.Point(leak.source_xy).hausdorff_distance(zone)
        return "<p class='twin-drill-gas'>" + escape(t("drill.gas", self.lang).format(
            speed=f"{leak.wind_m_s:.1f}", deg=f"{leak.wind_from_deg:.0f}", cls=leak.stability, rate=f"{leak.rate_g_s:g}",
            threshold=f"{leak.threshold_mg_m3:g}", reach=f"{reach_m:.0f}", n=len(result.hazard.untenable_s))) + "</p>"

    def _kind(self, result: EvacuationResult) -> str:
        """The incident's name: 火灾, 水浸…"""
        return t(f"drill.incident.{result.hazard.kind}", self.lang)

    def _legend_html(self) -> str:
        swatches = [(rgb, f"drill.state.{state}") for state, (rgb, _) in STATES.items()]
        swatches += [(PEOPLE_RGB, "drill.people"), (ROUTE_RGB, "drill.routes")]
        return "<p class='twin-drill-legend'>" + " ".join(
            f"<span style='white-space:nowrap'><span style='display:inline-block;width:10px;height:10px;"
            f"background:rgb{rgb};border:1px solid #9aa0a6'></span> {escape(t(key, self.lang))}</span>"
            for rgb, key in swatches) + "</p>"
