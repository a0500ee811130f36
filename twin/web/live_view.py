"""Live state in the viewport (design decision 5): each session pulls what changed from the shared
:class:`~live.state.State` on a short periodic callback and sends it as style deltas.

No MQTT thread touches a Bokeh document: the State is written by ingest and only read here, on the
session's own callback, at most ten times a second.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

import panel as pn

from live.config import MetricSpec
from live.state import NodeChange, State, Status, device_type
from twin.web.looks import Rgb, legend_html, ramp_rgb, rooms_of_devices, value_rgb
from twin.web.messages import t
from twin.web.viewport import Viewport

PULL_PERIOD_MS = 100
#: How a status looks (``None``: the batch's own look). Alarms blink as well.
STATUS_RGB: dict[Status, tuple[int, int, int] | None] = {
    Status.UNKNOWN: None, Status.NORMAL: None, Status.STALE: (150, 150, 150),
    Status.OFFLINE: (85, 85, 95), Status.WARNING: (255, 193, 7), Status.ALARM: (229, 57, 53)}

#: Roll-ups that are not coloured: the park's own node is the ground under everything.
UNCOLOURED = frozenset({"park", "site"})


#: A node's look: colour (None: its batch's own), opacity (None: its own), blinking.
Look = tuple[Rgb | None, float | None, bool]
PLAIN: Look = (None, None, False)
SHADE_OPACITY = 0.6  #: a shaded room is filled enough to read its colour (rooms are faint glass otherwise)


class LiveView:
    """Keeps one session's viewport in step with the State; ``listeners`` hear each pull's changes.

    Devices take the colour of their value (``looks``: device type → the metric that colours it, a
    street light yellow when on, a parking bay orange when taken). With :meth:`shade_rooms` a metric
    (temperature, CO2…) colours each room by its sensors' mean on the metric's scale (``scales``:
    metric → (low, high)). A warning, alarm, stale or offline status shows over both.
    """

    def __init__(self, state: State, viewport: Viewport,
                 listeners: Iterable[Callable[[Mapping[str, NodeChange]], None]] = (),
                 scales: Mapping[str, tuple[float, float]] | None = None,
                 looks: Mapping[str, MetricSpec] | None = None):
        self.state, self.viewport = state, viewport
        self.listeners = tuple(listeners)
        self.scales = dict(scales or {})
        self.looks = dict(looks or {})
        self.version = 0
        self.metric: str | None = None
        self._rooms: dict[str, str] | None = None  # device → room, built when shading first starts
        self._sensors: dict[str, list[str]] = defaultdict(list)  # room → devices in it
        self._shown: dict[str, Look] = {}  # node → the look last sent

    def pull(self) -> int:
        """Send the looks that changed since the last pull, one message per look; how many nodes changed."""
        self.version, changes = self.state.changes_since(self.version)
        index = self.viewport.index
        # only what is drawn itself (a device, a room, a building block): a status rolled up to an
        # IFC building or storey would repaint every wall of it over its rooms' own colours
        drawn = {node_id: change.status for node_id, change in changes.items()
                 if node_id in index and index.park.get(node_id).kind not in UNCOLOURED}
        if self.metric is not None:
            rooms = self._rooms or {}
            for node_id, change in changes.items():
                room = rooms.get(node_id)
                if room is not None and self.metric in change.metrics and room not in drawn:
                    drawn[room] = self.state.status(room)
        self._paint(drawn)
        if changes:
            for listener in self.listeners:
                listener(changes)
        return len(changes)

    def shade_rooms(self, metric: str | None) -> None:
        """Colour rooms by ``metric`` (None: by status only) and repaint every room with sensors."""
        if metric is not None and metric not in self.scales:
            raise ValueError(f"no colour scale for metric {metric!r} (scales: {', '.join(self.scales)})")
        if self._rooms is None:
            self._rooms = rooms_of_devices(self.viewport.index.park)
            for device, room in self._rooms.items():
                self._sensors[room].append(device)
        self.metric = metric
        self._paint({room: self.state.status(room) for room in self._sensors if room in self.viewport.index})

    def shade_panel(self, lang: str = "zh") -> pn.viewable.Viewable:
        """A choice of metric to shade rooms by, and the legend of its scale."""
        choice = pn.widgets.Select(label=t("live.shade", lang), value="", sizing_mode="stretch_width",
                                   options={t("live.shade_none", lang): "", **{m: m for m in sorted(self.scales)}},
                                   css_classes=["twin-shade"])
        legend = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-shade-legend"])

        def chosen(event) -> None:
            self.shade_rooms(event.new or None)
            legend.object = legend_html(*self.scales[event.new]) if event.new else ""

        choice.param.watch(chosen, "value")
        return pn.Column(choice, legend, sizing_mode="stretch_width")

    def _shade(self, room: str) -> Rgb | None:
        values = [v for device in self._sensors.get(room, ())
                  if isinstance(v := self.state.value(device, self.metric), (int, float)) and not isinstance(v, bool)]
        if not values:
            return None
        low, high = self.scales[self.metric]
        return ramp_rgb((sum(values) / len(values) - low) / (high - low))

    def _own_look(self, node_id: str) -> Rgb | None:
        """A device's colour by its value, if its type has one."""
        look = self.looks.get(device_type(self.viewport.index.park.get(node_id)) or "")
        return value_rgb(look, self.state.value(node_id, look.name)) if look is not None else None

    def _paint(self, statuses: Mapping[str, Status]) -> None:
        looks: dict[Look, list[str]] = defaultdict(list)
        for node_id, status in statuses.items():
            rgb, opacity = STATUS_RGB[status], None
            if rgb is None and self.looks:
                rgb = self._own_look(node_id)
            if rgb is None and self.metric is not None and node_id in self._sensors:
                rgb = self._shade(node_id)
                opacity = SHADE_OPACITY if rgb is not None else None
            look = (rgb, opacity, status == Status.ALARM)
            if self._shown.get(node_id, PLAIN) != look:  # a value that changes no colour sends nothing
                self._shown[node_id] = look
                looks[look].append(node_id)
        for (rgb, opacity, blink), node_ids in looks.items():
            if rgb is None:
                self.viewport.reset_style(node_ids)
            else:
                self.viewport.style(node_ids, rgb=rgb, opacity=opacity, blink=blink)
