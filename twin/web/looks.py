"""How live values look: a colour ramp for scales, colours per state, rooms and their sensors."""
from __future__ import annotations


import numpy as np

from live.config import LiveSpec, MetricSpec
from twin.park import Park

Rgb = tuple[int, int, int]

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


def look_metrics(spec: LiveSpec) -> dict[str, MetricSpec]:
    """Device type → the metric its devices are coloured by: the first with colours per state, else
    the first with a scale (types with neither keep their model's colour)."""
    found = {}
    for kind in spec.device_types.values():
        metrics = list(kind.metrics.values())
        chosen = next((m for m in metrics if m.colours), None) or next((m for m in metrics if m.scale), None)
        if chosen is not None:
            found[kind.type] = chosen
    return found


def value_rgb(metric: MetricSpec, value: float | bool | str | None) -> Rgb | None:
    """The colour of a value: its state's colour, or its place on the metric's scale; None if neither."""
    if value is None:
        return None
    if metric.colours:
        key = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return metric.colours.get(key)
    if metric.scale is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = metric.scale
        return ramp_rgb((value - low) / (high - low))
    return None


def scales(spec: LiveSpec) -> dict[str, tuple[float, float]]:
    """Metric name → its scale, for the metrics that have one (rooms can be shaded by these)."""
    return {name: m.scale for kind in spec.device_types.values() for name, m in kind.metrics.items()
            if m.scale is not None}
