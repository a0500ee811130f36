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
from twin.energy.colours import default_scale_kwh_m2, ramp_colours
from twin.energy.today import EnergyTodayCache
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
#: The shade choice that colours buildings by kWh/m² this month (the colon keeps it apart from metric names).
INTENSITY = "energy:kwh_per_m2"
INTENSITY_UNIT_HTML = "<div style='font-size:12px;text-align:center'>kWh/m²</div>"


class LiveView:
    """Keeps one session's viewport in step with the State; ``listeners`` hear each pull's changes.

    Devices take the colour of their value (``looks``: device type → the metric that colours it, a
    street light yellow when on, a parking bay orange when taken). With :meth:`shade_rooms` a metric
    (temperature, CO2…) colours each room by its sensors' mean on the metric's scale (``scales``:
    metric → (low, high)); or, with :meth:`shade_buildings`, each metered building takes the colour of
    its kWh/m² this month (``energy``: the park's shared figures). A warning, alarm, stale or offline
    status shows over all of these.
    """

    def __init__(self, state: State, viewport: Viewport,
                 listeners: Iterable[Callable[[Mapping[str, NodeChange]], None]] = (),
                 scales: Mapping[str, tuple[float, float]] | None = None,
                 looks: Mapping[str, MetricSpec] | None = None, energy: EnergyTodayCache | None = None):
        self.state, self.viewport, self.energy = state, viewport, energy
        self.listeners = tuple(listeners)
        self.scales = dict(scales or {})
        self.looks = dict(looks or {})
        self.version = 0
        self.metric: str | None = None
        self._rooms: dict[str, str] | None = None  # device → room, built when shading first starts
        self._sensors: dict[str, list[str]] = defaultdict(list)  # room → devices in it
        self._shown: dict[str, Look] = {}  # node → the look last sent
        self._intensity: dict[str, Rgb] = {}  # a metered building's drawn part → its building's colour

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

    def shade_buildings(self, on: bool) -> tuple[float, float] | None:
        """Colour each metered building's drawn parts (not its devices) by its kWh/m² this month, as
        the shared figures say now, and return the scale's ends (kWh/m²); ``on`` False gives them their
        own looks back."""
        if on and self.energy is None:
            raise ValueError("no energy figures to colour buildings by (LiveView(..., energy=live.energy))")
        intensities = self.energy.get().buildings_kwh_m2_month if on else {}
        before, index = self._intensity, self.viewport.index
        self._intensity = {part: rgb for building, rgb in ramp_colours(intensities).items()
                           for part in index.drawn([building]) if index.park.get(part).kind != "device"}
        self._paint({node_id: self.state.status(node_id) for node_id in before.keys() | self._intensity.keys()})
        return default_scale_kwh_m2(intensities) if on else None

    def shade_panel(self, lang: str = "zh") -> pn.viewable.Viewable:
        """A choice of metric to shade rooms by, or of energy intensity to colour buildings by (when
        the park has meters), and the legend of its scale."""
        energy = {t("live.shade_energy", lang): INTENSITY} if self.energy is not None and self.energy.metered else {}
        choice = pn.widgets.Select(label=t("live.shade", lang), value="", sizing_mode="stretch_width",
                                   options={t("live.shade_none", lang): "", **{m: m for m in sorted(self.scales)},
                                            **energy}, css_classes=["twin-shade"])
        legend = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-shade-legend"])

        def chosen(event) -> None:
            metric = event.new if event.new in self.scales else None
            self.shade_rooms(metric)
            scale_kwh_m2 = self.shade_buildings(event.new == INTENSITY)
            legend.object = (legend_html(*self.scales[metric]) if metric else
                             legend_html(*scale_kwh_m2) + INTENSITY_UNIT_HTML if scale_kwh_m2 else "")

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
            if rgb is None:
                rgb = self._intensity.get(node_id)
            look = (rgb, opacity, status == Status.ALARM)
            if self._shown.get(node_id, PLAIN) != look:  # a value that changes no colour sends nothing
                self._shown[node_id] = look
                looks[look].append(node_id)
        for (rgb, opacity, blink), node_ids in looks.items():
            if rgb is None:
                self.viewport.reset_style(node_ids)
            else:
                self.viewport.style(node_ids, rgb=rgb, opacity=opacity, blink=blink)
