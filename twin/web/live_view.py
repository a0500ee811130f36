"""Live state in the viewport (design decision 5): each session pulls what changed from the shared
:class:`~live.state.State` on a short periodic callback and sends it as style deltas.

No MQTT thread touches a Bokeh document: the State is written by ingest and only read here, on the
session's own callback, at most ten times a second.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import panel as pn

from live.state import NodeChange, State, Status
from twin.park import Park
from twin.web.messages import t
from twin.web.viewport import Viewport

PULL_PERIOD_MS = 100
#: How a status looks (``None``: the batch's own look). Alarms blink as well.
STATUS_RGB: dict[Status, tuple[int, int, int] | None] = {
    Status.UNKNOWN: None, Status.NORMAL: None, Status.STALE: (150, 150, 150),
    Status.OFFLINE: (85, 85, 95), Status.WARNING: (255, 193, 7), Status.ALARM: (229, 57, 53)}

#: Roll-ups that are not coloured: the park's own node is the ground under everything.
UNCOLOURED = frozenset({"park", "site"})


SHADE_OPACITY = 0.6  #: a shaded room is filled enough to read its colour (rooms are faint glass otherwise)
SHADES = 16  #: steps of a colour scale: rooms of one step share one style message
#: The scale from low to high: blue, cyan, green, yellow, red.
RAMP = np.array([(33, 102, 172), (67, 195, 247), (67, 160, 71), (253, 216, 53), (229, 57, 53)], float)


def ramp_rgb(fraction: float) -> tuple[int, int, int]:
    """The colour at ``fraction`` (clipped to 0…1) of the ramp, quantised to :data:`SHADES` steps."""
    step = round(min(max(fraction, 0.0), 1.0) * (SHADES - 1)) / (SHADES - 1)
    at = step * (len(RAMP) - 1)
    low = int(min(at, len(RAMP) - 2))
    rgb = RAMP[low] + (RAMP[low + 1] - RAMP[low]) * (at - low)
    return tuple(int(round(v)) for v in rgb)


def legend_html(low: float, high: float) -> str:
    """The ramp as a bar from ``low`` to ``high``."""
    stops = ", ".join(f"rgb{ramp_rgb(i / 4)}" for i in range(5))
    return (f"<div style='height:10px;border-radius:3px;background:linear-gradient(to right, {stops})'></div>"
            f"<div style='display:flex;justify-content:space-between;font-size:12px'>"
            f"<span>{low:g}</span><span>{(low + high) / 2:g}</span><span>{high:g}</span></div>")


def rooms_of_devices(park: Park) -> dict[str, str]:
    """Device id → the room (space) it sits in, for devices that sit in one."""
    rooms = {}
    for device in park.of_kind("device"):
        room = park.ancestor(device.id, "space")
        if room is None and device.links.get("host") in park and park.get(device.links["host"]).kind == "space":
            room = park.get(device.links["host"])
        if room is not None:
            rooms[device.id] = room.id
    return rooms


class LiveView:
    """Keeps one session's viewport in step with the State; ``listeners`` hear each pull's changes.

    With :meth:`shade_rooms` a metric (temperature, CO2…) colours each room by its sensors' mean on
    the metric's scale (``scales``: metric → (low, high)); a room's warning or alarm shows over it.
    """

    def __init__(self, state: State, viewport: Viewport,
                 listeners: Iterable[Callable[[Mapping[str, NodeChange]], None]] = (),
                 scales: Mapping[str, tuple[float, float]] | None = None):
        self.state, self.viewport = state, viewport
        self.listeners = tuple(listeners)
        self.scales = dict(scales or {})
        self.version = 0
        self.metric: str | None = None
        self._rooms: dict[str, str] | None = None  # device → room, built when shading first starts
        self._sensors: dict[str, list[str]] = defaultdict(list)  # room → devices in it

    def pull(self) -> int:
        """Send the changes since the last pull, one message per colour; how many nodes changed."""
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

    def _shade(self, room: str) -> tuple[int, int, int] | None:
        values = [v for device in self._sensors.get(room, ())
                  if isinstance(v := self.state.value(device, self.metric), (int, float)) and not isinstance(v, bool)]
        if not values:
            return None
        low, high = self.scales[self.metric]
        return ramp_rgb((sum(values) / len(values) - low) / (high - low))

    def _paint(self, statuses: Mapping[str, Status]) -> None:
        looks: dict[tuple[tuple[int, int, int] | None, float | None, bool], list[str]] = defaultdict(list)
        for node_id, status in statuses.items():
            rgb, opacity = STATUS_RGB[status], None
            if rgb is None and self.metric is not None and node_id in self._sensors:
                rgb = self._shade(node_id)
                opacity = SHADE_OPACITY if rgb is not None else None
            looks[rgb, opacity, status == Status.ALARM].append(node_id)
        for (rgb, opacity, blink), node_ids in looks.items():
            if rgb is None:
                self.viewport.reset_style(node_ids)
            else:
                self.viewport.style(node_ids, rgb=rgb, opacity=opacity, blink=blink)
