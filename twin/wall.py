"""The ``[wall]`` table of a scene file: what the monitoring centre's large screen (``/wall``) reads::

    [wall]
    temperature = "temperature"         # metric averaged for the environment panel (°C)
    humidity = "humidity"               # metric averaged for the environment panel (%RH)
    air_quality = ["co2", "pm25"]       # metrics averaged for the air-quality figures
    parking = "occupied"                # a true/false metric: true when a bay is taken
    idle_s = 120                        # seconds without a touch before the automatic tour starts
    tour = "welcome"                    # the tour it plays (default: the scene's first)

Every key is optional. A metric named here must be one ``[live]`` declares; a default metric the
park lacks leaves its figure out. Occupancy comes from ``[live.occupancy]``, energy from ``[energy]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from live.config import LiveSpec
    from twin.scene import _Reader
    from twin.tours import TourSpec

_WALL_KEYS = {"temperature", "humidity", "air_quality", "parking", "idle_s", "tour"}
DEFAULT_IDLE_S = 120.0


@dataclass(frozen=True)
class WallSpec:
    """``[wall]``: the metrics of the environment and parking panels, and the idle tour."""

    temperature: str = "temperature"
    humidity: str = "humidity"
    air_quality: tuple[str, ...] = ("co2", "pm25")
    parking: str = "occupied"
    idle_s: float = DEFAULT_IDLE_S
    tour: str | None = None  # None: the scene's first tour


def read_wall(r: _Reader, data: dict[str, Any], live: LiveSpec, tours: tuple[TourSpec, ...]) -> WallSpec:
    """The ``[wall]`` table; every problem goes to ``r`` naming its field."""
    if "wall" not in data:
        return WallSpec()
    t, where, default = r.table(data, "wall"), "wall.", WallSpec()
    r.unknown(t, _WALL_KEYS, where)
    declared = {name: m.kind for kind in live.device_types.values() for name, m in kind.metrics.items()}

    def metric(key: str, kind: str) -> str | None:
        name = r.text(t, key, where)
        if name is not None and declared.get(name) != kind:
            r.problem(f"{where}{key}", f"no device type in [live] declares a {kind} metric {name!r}")
        return name

    quality = t.get("air_quality", list(default.air_quality))
    if not isinstance(quality, list) or not all(isinstance(m, str) for m in quality):
        r.problem(f"{where}air_quality", f"must be a list of metric names, not {quality!r}")
        quality = list(default.air_quality)
    elif "air_quality" in t:
        for name in quality:
            if declared.get(name) != "number":
                r.problem(f"{where}air_quality", f"no device type in [live] declares a number metric {name!r}")
    idle_s = r.number(t, "idle_s", where, default.idle_s)
    if idle_s is not None and idle_s <= 0:
        r.problem(f"{where}idle_s", f"must be more than 0 s, not {idle_s:g}")
    tour = r.text(t, "tour", where)
    if tour is not None and tour not in {spec.key for spec in tours}:
        r.problem(f"{where}tour", f"no [[tours]] with key {tour!r}")
    return WallSpec(metric("temperature", "number") or default.temperature,
                    metric("humidity", "number") or default.humidity, tuple(quality),
                    metric("parking", "boolean") or default.parking,
                    idle_s if idle_s is not None and idle_s > 0 else default.idle_s, tour)
