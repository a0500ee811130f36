"""The tour player (for investment staff): pick a tour, play, pause, skip, loop; each stop flies the
viewport's camera, highlights its nodes and shows its caption.

Stepping is :class:`TourStepper`, a small param class moved on by ``tick(now_s)`` so tests drive time
themselves (design decision 11); :class:`TourPlayer` adds the widgets, the access layer and one
periodic callback per session, which runs only while a tour plays.

>>> player = TourPlayer(viewport, park.tours, lang="en")  # doctest: +SKIP
>>> pn.Row(viewport, player)                              # doctest: +SKIP
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from html import escape
from typing import Protocol

import panel as pn
import param

from twin.tours import Stop, Tour, Vec3
from twin.web.access import guarded
from twin.web.messages import t

#: How often a playing tour checks whether its stop's time is up.
TICK_MS = 250
#: The camera's flight to a stop (shorter when the stop itself is shorter).
FLIGHT_S = 1.5


class TourView(Protocol):
    """What the player drives: :class:`twin.web.viewport.Viewport`."""

    def set_camera(self, position_m: Vec3, focal_point_m: Vec3, duration_s: float = FLIGHT_S) -> None: ...

    def highlight(self, node_ids: list[str]) -> None: ...

    def caption(self, text: str) -> None: ...


class TourStepper(param.Parameterized):
    """Which stop of a tour is showing. ``on_stop(stop)`` hears each stop that comes up, and
    ``on_stop(None)`` when none shows any more (the tour ended or was changed)."""

    tour = param.ClassSelector(class_=Tour, default=None, allow_None=True)
    index = param.Integer(default=-1, doc="The stop showing; -1 before the first and after the end.")
    playing = param.Boolean(default=False)
    loop = param.Boolean(default=False, doc="Start again after the last stop instead of ending.")

    def __init__(self, on_stop: Callable[[Stop | None], None], **params):
        super().__init__(**params)
        self._on_stop = on_stop
        self._shown_at_s = 0.0  # when the showing stop came up, moved on by pauses
        self._paused_after_s = 0.0  # how long it had shown when paused

    @property
    def stop(self) -> Stop | None:
        return self.tour.stops[self.index] if self.tour and self.index >= 0 else None

    def select(self, tour: Tour | None) -> None:
        """Change tour: stopped, before its first stop."""
        self._leave()
        self.tour = tour

    def play(self, now_s: float) -> None:
        """Play from the first stop, or resume the paused one where it was."""
        if self.tour is None or not self.tour.stops or self.playing:
            return
        self.playing = True
        if self.index < 0:
            self._show(0, now_s)
        else:
            self._shown_at_s = now_s - self._paused_after_s

    def pause(self, now_s: float) -> None:
        if self.playing:
            self._paused_after_s = now_s - self._shown_at_s
            self.playing = False

    def next(self, now_s: float) -> None:
        """On to the next stop now (playing or not); past the last: the first if looping, else the end."""
        if self.tour is None or not self.tour.stops:
            return
        if self.index + 1 < len(self.tour.stops):
            self._show(self.index + 1, now_s)
        elif self.loop:
            self._show(0, now_s)
        else:
            self._leave()

    def tick(self, now_s: float) -> None:
        """Move on when the showing stop's time is up."""
        stop = self.stop
        if self.playing and stop is not None and now_s - self._shown_at_s >= stop.duration_s:
            self.next(now_s)

    def _show(self, index: int, now_s: float) -> None:
        self.index, self._shown_at_s, self._paused_after_s = index, now_s, 0.0
        self._on_stop(self.stop)

    def _leave(self) -> None:
        showing = self.index >= 0
        self.index, self.playing = -1, False
        if showing:
            self._on_stop(None)


class TourPlayer(pn.viewable.Viewer):
    """Tour selector, play, pause, next, loop and the caption, driving a viewport.

    ``clock`` gives seconds (monotonic); every user action passes :func:`twin.web.access.guarded`.
    ``focus(node_ids)`` is called with each stop's highlighted nodes before the camera moves (the
    app isolates their storey, so a unit inside a building shows); ``[]`` when the tour ends.
    """

    def __init__(self, viewport: TourView, tours: Sequence[Tour], lang: str = "zh",
                 clock: Callable[[], float] = time.monotonic,
                 focus: Callable[[list[str]], None] | None = None, **params):
        super().__init__(**params)
        self._viewport, self._lang, self._clock = viewport, lang, clock
        self._focus = focus or (lambda _node_ids: None)
        self._tours = {tour.key: tour for tour in tours}
        self.stepper = TourStepper(self._show)
        self._choice = pn.widgets.Select(label=t("tour.choose", lang),
                                         options={tour.title_in(lang): tour.key for tour in tours})
        self._play = pn.widgets.Button(label=t("tour.play", lang), color="primary", width=90)
        self._pause = pn.widgets.Button(label=t("tour.pause", lang), width=90, disabled=True)
        self._next = pn.widgets.Button(label=t("tour.next", lang), width=90)
        self._loop = pn.widgets.Checkbox(label=t("tour.loop", lang))
        self._caption = pn.pane.HTML("", sizing_mode="stretch_width")
        self._timer = pn.state.add_periodic_callback(self.tick, period=TICK_MS, start=False)
        self._choice.param.watch(self._chosen, "value")
        self._loop.param.watch(self._looped, "value")
        self._play.on_click(lambda _event: self.play())
        self._pause.on_click(lambda _event: self.pause())
        self._next.on_click(lambda _event: self.next())
        self.stepper.param.watch(self._buttons, "playing")
        if tours:
            self.choose(tours[0].key)

    def _target(self, *_args: object) -> str:
        return f"tour/{self.stepper.tour.key if self.stepper.tour else '-'}"

    @guarded("tour.choose", lambda self, key: f"tour/{key}")
    def choose(self, key: str) -> None:
        """Show the tour ``key``, stopped before its first stop, with its own loop setting."""
        tour = self._tours[key]
        self.stepper.select(tour)
        self._timer.stop()
        self.stepper.loop = tour.loop
        self._choice.value, self._loop.value = key, tour.loop

    @guarded("tour.play", _target)
    def play(self) -> None:
        self.stepper.play(self._clock())
        if self.stepper.playing and not self._timer.running:
            self._timer.start()

    @guarded("tour.pause", _target)
    def pause(self) -> None:
        self.stepper.pause(self._clock())
        self._timer.stop()

    @guarded("tour.next", _target)
    def next(self) -> None:
        self.stepper.next(self._clock())

    @guarded("tour.loop", _target)
    def set_loop(self, on: bool) -> None:
        self.stepper.loop = self._loop.value = on

    def tick(self) -> None:
        """The periodic callback: move on when a stop's time is up; stop ticking when the tour ends."""
        self.stepper.tick(self._clock())
        if not self.stepper.playing:
            self._timer.stop()

    def _chosen(self, event: param.parameterized.Event) -> None:
        if self.stepper.tour is None or event.new != self.stepper.tour.key:  # not choose() itself
            self.choose(event.new)

    def _looped(self, event: param.parameterized.Event) -> None:
        if event.new != self.stepper.loop:  # not choose() or set_loop() themselves
            self.set_loop(event.new)

    def _show(self, stop: Stop | None) -> None:
        if stop is None:
            self._focus([])
            self._viewport.highlight([])
            self._viewport.caption("")
            self._caption.object = ""
            return
        text = stop.caption_in(self._lang)
        self._focus(list(stop.highlight))
        self._viewport.set_camera(stop.position_m, stop.focal_point_m, duration_s=min(FLIGHT_S, stop.duration_s))
        self._viewport.highlight(list(stop.highlight))
        self._viewport.caption(text)
        progress = t("tour.stop_of", self._lang).format(n=self.stepper.index + 1,
                                                        total=len(self.stepper.tour.stops))
        self._caption.object = f"<small>{escape(progress)}</small><br>{escape(text)}"

    def _buttons(self, event: param.parameterized.Event) -> None:
        self._play.disabled, self._pause.disabled = event.new, not event.new

    def __panel__(self) -> pn.viewable.Viewable:
        if not self._tours:
            return pn.Card(pn.pane.Markdown(t("tour.none", self._lang)), title=t("tour.title", self._lang))
        return pn.Card(self._choice, pn.Row(self._play, self._pause, self._next), self._loop, self._caption,
                       title=t("tour.title", self._lang), width=380, css_classes=["twin-tour"])
