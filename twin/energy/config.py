"""The ``[energy]`` table of a scene file: which meters and reading the energy roll-up uses, the park's
time zone for days and months, and the emission factors that turn kWh into CO2e::

    [energy]
    device_type = "energy_meter"        # the meters' registry type (default)
    metric = "energy_kwh"               # their cumulative reading, kWh (default)
    timezone = "Asia/Shanghai"          # days and months of the reports (IANA name; default)
    emission_factors = { electricity = 0.5703 }   # kg CO2e per kWh (default)

Every key is optional; a scene without the table gets these defaults. Problems go to the scene's
reader, one line each naming the field.
"""
from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from live.config import LiveSpec
    from twin.scene import _Reader

#: kg CO2e per kWh of grid electricity: the 2022 national grid average emission factor (全国电网平均排放
#: 因子, 0.5703 tCO2/MWh) set by the Ministry of Ecology and Environment in February 2023 for
#: enterprises' greenhouse-gas reports. Sources and the MEE/NBS consumption factors: ``docs/energy.md``.
GRID_KG_CO2E_PER_KWH = 0.5703
CARRIERS = ("electricity",)  #: what an emission factor may be given for
_ENERGY_KEYS = {"device_type", "metric", "timezone", "emission_factors"}


@dataclass(frozen=True)
class EnergySpec:
    """``[energy]``: the meters (``device_type``), their cumulative reading (``metric``, kWh), the zone
    of days and months, and kg CO2e per unit of each carrier."""

    device_type: str = "energy_meter"
    metric: str = "energy_kwh"
    timezone: str = "Asia/Shanghai"
    emission_factors: Mapping[str, float] = field(
        default_factory=lambda: {"electricity": GRID_KG_CO2E_PER_KWH})

    @property
    def kg_co2e_per_kwh(self) -> float:
        return self.emission_factors["electricity"]

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def read_energy(r: _Reader, data: dict[str, Any], live: LiveSpec | None = None) -> EnergySpec:
    """The ``[energy]`` table of a scene file; every problem goes to ``r`` naming its field. When
    ``live`` declares the meters' device type, the metric must be one of its metrics."""
    if "energy" not in data:
        return EnergySpec()
    t, where, default = r.table(data, "energy"), "energy.", EnergySpec()
    r.unknown(t, _ENERGY_KEYS, where)
    device_type = r.text(t, "device_type", where) or default.device_type
    metric = r.text(t, "metric", where) or default.metric
    declared = live.device_types.get(device_type) if live is not None else None
    if declared is not None and metric not in declared.metrics:
        r.problem(f"{where}metric", f"[live] declares no metric {metric!r} for {device_type} "
                  f"(it has: {', '.join(declared.metrics)})")
    timezone = r.text(t, "timezone", where) or default.timezone
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        r.problem(f"{where}timezone", f"unknown time zone {timezone!r} (an IANA name such as Asia/Shanghai)")
        timezone = default.timezone
    return EnergySpec(device_type, metric, timezone, _factors(r, t, where, default.emission_factors))


def _factors(r: _Reader, t: dict, where: str, default: Mapping[str, float]) -> dict[str, float]:
    """``emission_factors``: kg CO2e per unit, finite and ≥ 0, for the known carriers."""
    given = t.get("emission_factors", {})
    if not isinstance(given, dict):
        r.problem(f"{where}emission_factors", f"must be a table such as {{ electricity = 0.5703 }}, not {given!r}")
        return dict(default)
    r.unknown(given, set(CARRIERS), f"{where}emission_factors.")
    factors = dict(default)
    for carrier in CARRIERS:
        value = r.number(given, carrier, f"{where}emission_factors.", default[carrier])
        if value is not None and value < 0:
            r.problem(f"{where}emission_factors.{carrier}", f"must be ≥ 0 kg CO2e per unit, not {value}")
        elif value is not None:
            factors[carrier] = value
    return factors
