"""The live half of the info card: a node's status and latest values, a 24 h chart from the history
store, the cameras that see it (with their pictures) and, for devices that take them, commands."""
from __future__ import annotations

from collections.abc import Mapping
import threading
from datetime import datetime, timedelta
from html import escape

import panel as pn
from bokeh.models import ColumnDataSource, DatetimeTickFormatter, Range1d
from bokeh.plotting import figure

from live.runtime import Live
from live.state import NodeChange, device_type
from twin.cameras import cameras_seeing_node
from twin.park import Park
from twin.web.access import check, current_principal
from twin.web.messages import t

CHART_HOURS = 24
CHART_POINTS = 300
MAX_CAMERAS = 4
STATUS_CSS = {"alarm": "#e53935", "warning": "#ffc107", "offline": "#8a8a99", "stale": "#9e9e9e",
              "normal": "#43a047", "unknown": "#9e9e9e"}


def value_text(value: float | bool | str, unit: str) -> str:
    if isinstance(value, bool):
        return "✔" if value else "✘"
    if isinstance(value, float):
        return f"{value:.4g} {unit}".strip()
    return f"{value} {unit}".strip()


def local_naive(ts: datetime) -> datetime:
    """A time as the server's local wall-clock time without a zone (what a Bokeh datetime axis draws)."""
    return ts.astimezone().replace(tzinfo=None)


DURATION_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def duration_text(seconds: float | None, lang: str = "zh") -> str:
    """A span in its largest unit and the next, rounded down: ``1 min 30 s``, ``2 h 5 min``, ``1 h``
    (``—`` for None)."""
    if seconds is None:
        return "—"
    left = max(round(seconds), 0)
    first = next(i for i, (_unit, size) in enumerate(DURATION_UNITS) if left >= size or size == 1)
    parts = []
    for unit, size in DURATION_UNITS[first:first + 2]:
        n, left = divmod(left, size)
        if n or not parts:
            parts.append(t(f"duration.{unit}", lang).format(n=n))
    return " ".join(parts)


def snapshot_url(park: Park, camera_id: str) -> str | None:
    """The camera's picture: its registry ``snapshot_url`` (or ``stream_url``)."""
    device = park.get(camera_id).properties.get("device", {})
    return device.get("snapshot_url") or device.get("stream_url")


def sensors_on(park: Park, node_id: str) -> list[str]:
    """The devices on a node that is not one itself: hosted by it or, for a pipe, by its end nodes
    (a hydrant's pressure sensor, a manhole's cover)."""
    node = park.get(node_id)
    if node.kind == "device":
        return []
    hosts = {node_id, *(node.links[end] for end in ("start", "end") if end in node.links)}
    return [d.id for d in park.of_kind("device") if d.links.get("host") in hosts]


SHOWN_ORDERS = 5  #: work orders listed on an asset's card


def is_camera(park: Park, node_id: str) -> bool:
    return device_type(park.get(node_id)) == "camera"


def camera_pictures_html(live: Live, node_id: str, lang: str) -> str:
    """The latest pictures of the cameras that see a node (nearest first), or the camera's own."""
    park = live.park
    if is_camera(park, node_id):
        sights = [(node_id, None)]
    else:
        sights = [(s.camera_id, s.distance_m) for s in cameras_seeing_node(park, node_id)[:MAX_CAMERAS]]
    if not sights:
        return f"<h4>{escape(t('camera.title', lang))}</h4><p class='twin-no-camera'>{escape(t('camera.none', lang))}</p>"
    items = []
    stamp = int(live.clock.now().timestamp())
    for camera_id, distance_m in sights:
        camera = park.get(camera_id)
        url = snapshot_url(park, camera_id)
        picture = (f"<a href='{escape(url)}' target='_blank'><img src='{escape(url)}?t={stamp}' "
                   f"alt='{escape(t('camera.snapshot', lang))}' style='width:100%;border-radius:4px'></a>"
                   if url else "")
        distance = f" · {t('camera.distance', lang).format(m=f'{distance_m:.0f}')}" if distance_m is not None else ""
        items.append(f"<div class='twin-camera' data-camera-id='{escape(camera_id)}'>"
                     f"<div>{escape(camera.name or camera_id)}{escape(distance)}</div>{picture}</div>")
    return f"<h4>{escape(t('camera.title', lang))}</h4>{''.join(items)}"


class LiveCard:
    """Status, values, chart, cameras and commands of the node the card shows."""

    def __init__(self, live: Live, lang: str = "zh"):
        self.live, self.park, self.lang = live, live.park, lang
        self.node_id = ""
        self.sensors: list[str] = []  # devices on the shown node
        self.values = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-live"])
        self.metric = pn.widgets.Select(options=[], visible=False, sizing_mode="stretch_width")
        self.source = ColumnDataSource({"t": [], "v": []})
        self.chart = pn.pane.Bokeh(self._figure(), sizing_mode="stretch_width")
        self.chart_box = pn.Column(self.chart, visible=False, sizing_mode="stretch_width")
        self.cameras = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-cameras"])
        self.commands = pn.Row(sizing_mode="stretch_width")
        self.command_note = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-command-note"])
        self.orders = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["twin-orders"])
        self.orders_version = live.workorders.version  # of the work-order book when the orders were drawn
        self.metric.param.watch(lambda _e: self.draw_chart(), "value")

    def _figure(self):
        fig = figure(height=170, sizing_mode="stretch_width", x_axis_type="datetime", toolbar_location=None,
                     x_range=Range1d(), y_range=Range1d(),
                     background_fill_color="#1e1e24", border_fill_color="#1e1e24")
        fig.step("t", "v", source=self.source, mode="after", line_width=2, color="#4fc3f7")
        fig.xaxis.formatter = DatetimeTickFormatter(hours="%H:%M", days="%m-%d")
        for axis in (fig.xaxis, fig.yaxis):
            axis.major_label_text_color = "#cccccc"
        fig.grid.grid_line_alpha = 0.2
        fig.title.text_color = "#cccccc"
        return fig

    def panel(self) -> pn.viewable.Viewable:
        return pn.Column(self.values, self.metric, self.chart_box, self.commands, self.command_note, self.cameras,
                         self.orders, sizing_mode="stretch_width")

    # --- what the card shows ---------------------------------------------------------------------
    def show(self, node_id: str, cameras: bool = False) -> None:
        """Show ``node_id`` (empty: nothing); ``cameras`` lists the cameras that see it."""
        self.node_id = node_id
        self.sensors = sensors_on(self.park, node_id) if node_id else []
        numeric = [m for m, (v, _ts) in self.live.state.metrics(node_id).items()
                   if not isinstance(v, str)] if node_id else []
        with pn.io.hold():
            self.values.object = self.values_html()
            self.metric.options = numeric
            self.metric.visible = len(numeric) > 1
            if numeric and self.metric.value not in numeric:
                self.metric.value = numeric[0]
            self.draw_chart()
            self.cameras.object = camera_pictures_html(self.live, node_id, self.lang) if node_id and (
                cameras or is_camera(self.park, node_id)) else ""
            self.commands[:] = self.command_buttons(node_id)
            self.command_note.object = ""
            self.orders.object = self.orders_html(node_id) if node_id else ""

    def refresh(self, changes: Mapping[str, NodeChange]) -> None:
        """Redraw the values when the shown node changed, and extend its chart (the session's
        periodic pull calls this)."""
        change = changes.get(self.node_id) if self.node_id else None
        if change is None:
            if any(s in changes for s in self.sensors):
                self.values.object = self.values_html()
            return
        self.values.object = self.values_html()
        new = change.metrics.get(self.metric.value)
        if new is not None and self.chart_box.visible and not isinstance(new[0], str):
            ts = local_naive(new[1])
            data = self.source.data
            if data["t"] and ts >= data["t"][-2 if len(data["t"]) > 1 else -1]:
                # the last point is "now" holding the previous value: move it, then add the new one
                self.source.patch({"t": [(len(data["t"]) - 1, ts)]})
                self.source.stream({"t": [ts], "v": [float(new[0])]})
                self.chart.object.x_range.end = ts
                self.fit_values()

    def pull_orders(self) -> None:
        """Redraw the shown asset's work orders when the book changed (the session's periodic pull calls this)."""
        version = self.live.workorders.version
        if version != self.orders_version and self.node_id:
            self.orders.object = self.orders_html(self.node_id)
        self.orders_version = version

    def orders_html(self, node_id: str) -> str:
        """The asset's work orders (its own and those of everything below it), newest first."""
        check(current_principal(), "workorder.read", f"workorders?asset={node_id}")
        lang = self.lang
        orders = self.live.workorders.for_node(node_id, self.park)[:SHOWN_ORDERS]
        rows = "".join(
            f"<tr data-order='{o.id}'><td>#{o.id}</td><td style='white-space:normal'>{escape(o.title)}<br>"
            f"<small style='color:#999'>{local_naive(o.created_at):%m-%d %H:%M}</small></td>"
            f"<td>{escape(t(f'order.{o.status}', lang))}</td><td>{escape(duration_text(o.response_s, lang))}</td>"
            f"<td>{escape(duration_text(o.resolution_s, lang))}</td></tr>" for o in orders)
        head = "".join(f"<th>{escape(t(key, lang))}</th>" for key in (
            "order.id", "order.subject", "status", "order.response", "order.resolution"))
        title = f"<p><b>{escape(t('order.title', lang))}</b></p>"
        return title + (f"<table class='twin-drill-table' style='white-space:nowrap'><tr>{head}</tr>{rows}</table>"
                        if rows else f"<p>{escape(t('order.none', lang))}</p>")

    def values_html(self) -> str:
        if not self.node_id:
            return ""
        lang, state = self.lang, self.live.state
        status = str(state.status(self.node_id))
        rows = [f"<tr><th>{escape(t('status', lang))}</th><td><span class='twin-status' data-status='{status}' "
                f"style='color:{STATUS_CSS[status]};font-weight:bold'>{escape(t(f'status.{status}', lang))}"
                "</span></td><td></td></tr>"]
        kind = device_type(self.park.get(self.node_id)) or ""
        for metric, (value, ts) in sorted(state.metrics(self.node_id).items()):
            spec = self.live.spec.metric(kind, metric)
            rows.append(f"<tr data-metric='{escape(metric)}'><th>{escape(metric)}</th>"
                        f"<td class='twin-value'>{escape(value_text(value, spec.unit if spec else ''))}</td>"
                        f"<td style='color:#999'>{ts.astimezone():%m-%d %H:%M:%S}</td></tr>")
        note = "" if len(rows) > 1 or self.sensors else f"<p>{escape(t('live.none', lang))}</p>"
        return (f"<h4>{escape(t('live.values', lang))}</h4><table class='twin-live-values'>{''.join(rows)}</table>"
                f"{note}{self.sensors_html()}")

    def sensors_html(self) -> str:
        """The devices on the shown node, each with its status and latest values."""
        if not self.sensors:
            return ""
        lang, state, rows = self.lang, self.live.state, []
        for device_id in self.sensors:
            device = self.park.get(device_id)
            status = str(state.status(device_id))
            kind = device_type(device) or ""
            values = ", ".join(f"{metric} {value_text(value, spec.unit if (spec := self.live.spec.metric(kind, metric)) else '')}"
                               for metric, (value, _ts) in sorted(state.metrics(device_id).items()))
            rows.append(f"<tr data-sensor='{escape(device_id)}'><th>{escape(device.code or device.name or device_id)}</th>"
                        f"<td style='color:{STATUS_CSS[status]}'>{escape(t(f'status.{status}', lang))}</td>"
                        f"<td>{escape(values)}</td></tr>")
        return (f"<h4>{escape(t('live.sensors', lang))}</h4>"
                f"<table class='twin-live-sensors'>{''.join(rows)}</table>")

    def draw_chart(self) -> None:
        metric = self.metric.value
        if not self.node_id or not metric:
            self.chart_box.visible = False
            return
        end = self.live.clock.now()
        points = self.live.history.series(self.node_id, metric, end - timedelta(hours=CHART_HOURS), end,
                                          max_points=CHART_POINTS)
        start = end - timedelta(hours=CHART_HOURS)
        times = [local_naive(max(ts, start)) for ts, _v in points]  # the card's times are local too
        values = [float(v) for _ts, v in points]
        if points:
            times.append(local_naive(end))
            values.append(values[-1])
        fig = self.chart.object
        fig.x_range.start, fig.x_range.end = local_naive(start), local_naive(end)
        self.source.data = {"t": times, "v": values}
        self.fit_values()
        self.chart.object.title.text = f"{metric} · {t('live.chart', self.lang)}"
        self.chart_box.visible = bool(points)

    def fit_values(self) -> None:
        """The value axis around what the chart holds, with a margin (a flat line gets ±0.5)."""
        values = self.source.data["v"]
        low, high = (min(values), max(values)) if values else (0.0, 1.0)
        pad = (high - low) * 0.1 or max(abs(high) * 0.1, 0.5)
        self.chart.object.y_range.start, self.chart.object.y_range.end = low - pad, high + pad

    # --- commands --------------------------------------------------------------------------------
    def command_buttons(self, node_id: str) -> list[pn.widgets.Button]:
        kind = device_type(self.park.get(node_id)) if node_id else None
        spec = self.live.spec.device_types.get(kind or "")
        if spec is None or spec.commands is None or self.live.commander is None:
            return []
        buttons = []
        for action in spec.commands.actions:
            button = pn.widgets.Button(label=t(f"command.{action}", self.lang), variant="outline",
                                       css_classes=["twin-command"])
            button.on_click(lambda _e, action=action: self.command(action))
            buttons.append(button)
        return buttons

    def command(self, action: str) -> None:
        """Send a command through the access layer; the note says when the device confirmed it."""
        node_id, lang = self.node_id, self.lang
        principal = current_principal()
        check(principal, "device.command", node_id)
        self.command_note.object = escape(t("command.sent", lang).format(action=action))
        label = t(f"command.{action}", lang)
        doc = pn.state.curdoc

        def send() -> None:
            result = self.live.commander.send(node_id, action, principal)
            key = "command.ok" if result.ok else "command.timeout" if result.timed_out else "command.failed"
            text = escape(t(key, lang).format(action=label, detail=result.detail or ""))
            doc.add_next_tick_callback(lambda: setattr(self.command_note, "object", text))

        threading.Thread(target=send, name="twin-command", daemon=True).start()
