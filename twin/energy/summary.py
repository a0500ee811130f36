"""Energy and carbon per park, building and tenant over a roll-up's range: kWh, tCO2e, kWh/m².

- A **building**'s total is the total of its top meters (its main meter when it has one, else the sum
  of its sub-meters); ``submetered_kwh`` is the sum of those meters' sub-meters and ``unmetered_kwh``
  the difference (losses, common areas, plant; unknown when the main meter has no sub-meters).
- A **tenant**'s consumption in a building is the sum of the meters on the units it rents there (a
  tenant meter below another of the same tenant is not counted twice); its area is theirs by lease.
- The **park**'s total is the sum of the root meters, with its incomer's sub-meters and remainder.

Carbon: ``tco2e = kwh × kg CO2e per kWh / 1000`` (``[energy] emission_factors``).
"""
from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from twin.energy.areas import building_areas_m2, space_areas_m2
from twin.energy.meters import Meter
from twin.energy.rollup import Rollup
from twin.park import Park

CSV_COLUMNS = ("start", "end", "kind", "id", "name", "building", "meters", "kwh", "submetered_kwh",
               "unmetered_kwh", "tco2e", "area_m2", "kwh_per_m2")
CSV_ENCODING = "utf-8-sig"  # the BOM: Excel reads the Chinese right


@dataclass(frozen=True)
class EnergyFigures:
    """The figures of one park, building or tenant (NaN: unknown; ``area_m2`` None: unknown)."""

    kind: str  # park | building | tenant
    id: str  # the park's name, a building node id, a tenant's name
    name: str
    meters: tuple[str, ...]  # the codes of the meters that give ``kwh``
    kwh: float
    tco2e: float
    submetered_kwh: float = math.nan
    unmetered_kwh: float = math.nan
    area_m2: float | None = None
    building: str = ""  # tenants: the building's node id

    @property
    def kwh_per_m2(self) -> float:
        return self.kwh / self.area_m2 if self.area_m2 else math.nan


@dataclass(frozen=True)
class EnergySummary:
    """A range's figures: the park, its buildings (by meter order), its tenants (by building, then name)."""

    start: datetime
    end: datetime
    kg_co2e_per_kwh: float
    park: EnergyFigures
    buildings: tuple[EnergyFigures, ...]
    tenants: tuple[EnergyFigures, ...]
    problems: tuple[str, ...]  # the meter tree's problems, meters without readings in the range


def summarise(park: Park, rollup: Rollup, kg_co2e_per_kwh: float) -> EnergySummary:
    """The park's, buildings' and tenants' figures over the whole range of ``rollup``."""
    tree, row = rollup.tree, rollup.row
    total, children = rollup.over_range(rollup.total_kwh), rollup.over_range(rollup.children_kwh)

    def figures(kind: str, key: str, name: str, tops: list[Meter], area: float | None = None,
                building: str = "") -> EnergyFigures:
        kwh = float(sum(total[row[m.id]] for m in tops)) if tops else math.nan
        branches = [children[row[m.id]] for m in tops if m.children] if kind != "tenant" else []
        sub = float(sum(branches)) if branches else math.nan
        return EnergyFigures(kind, key, name, tuple(m.code for m in tops), kwh, kwh * kg_co2e_per_kwh / 1000,
                             sub, kwh - sub, area, building)

    buildings = tree.buildings()
    areas = building_areas_m2(park, buildings)
    building_figures = [figures("building", b, park.get(b).name, tree.mains(b), areas.get(b)) for b in buildings]
    rented = _tenant_meters(rollup)
    unit_areas = space_areas_m2(park, [m.host for meters in rented.values() for m in meters if m.host])
    tenants = []
    for (building, tenant), meters in rented.items():
        leased = [unit_areas[h] for h in dict.fromkeys(m.host for m in meters) if h in unit_areas]
        tenants.append(figures("tenant", tenant, tenant, meters, sum(leased) or None, building or ""))
    silent = [f"{m}: no {rollup.edges[0]:%Y-%m-%d %H:%M}–{rollup.edges[-1]:%Y-%m-%d %H:%M} readings"
              for m, i in row.items() if np.isnan(rollup.metered_kwh[i]).all()]
    park_figures = figures("park", park.name, park.name, [tree.meters[r] for r in tree.roots])
    return EnergySummary(rollup.edges[0], rollup.edges[-1], kg_co2e_per_kwh, park_figures,
                         tuple(building_figures), tuple(tenants), tree.problems + tuple(silent))


def _tenant_meters(rollup: Rollup) -> dict[tuple[str | None, str], list[Meter]]:
    """(building, tenant) → the tenant's meters there (not those below another of its meters), by
    building in meter order, then tenant name."""
    tree = rollup.tree
    found: dict[tuple[str | None, str], list[Meter]] = defaultdict(list)
    for meter in tree.of_level("tenant"):
        above = tree.meters[meter.parent] if meter.parent else None
        if above is None or above.level != "tenant" or above.tenant != meter.tenant:
            found[meter.building, meter.tenant or ""].append(meter)
    order = {b: i for i, b in enumerate(tree.buildings())}
    return dict(sorted(found.items(), key=lambda item: (order.get(item[0][0], -1), item[0][1])))


def csv_text(summary: EnergySummary) -> str:
    """One row per park, building and tenant (:data:`CSV_COLUMNS`; unknown figures left empty)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in (summary.park, *summary.buildings, *summary.tenants):
        writer.writerow([summary.start.isoformat(), summary.end.isoformat(), f.kind, f.id, f.name, f.building,
                         " ".join(f.meters), *(_number(v, 3) for v in (f.kwh, f.submetered_kwh, f.unmetered_kwh)),
                         _number(f.tco2e, 6), _number(f.area_m2, 2), _number(f.kwh_per_m2, 4)])
    return text.getvalue()


def write_csv(summary: EnergySummary, path: str | Path) -> Path:
    """Write :func:`csv_text` to ``path`` (:data:`CSV_ENCODING`) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(csv_text(summary), encoding=CSV_ENCODING, newline="")
    return path


def summary_json(summary: EnergySummary) -> dict:
    """``{"start", "end", "kg_co2e_per_kwh", "park", "buildings", "tenants", "problems"}``; each figure
    as :class:`EnergyFigures` with ``kwh_per_m2``, unknown figures null."""
    def figures(f: EnergyFigures) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in {**asdict(f), "kwh_per_m2": f.kwh_per_m2}.items()}
    return {"start": summary.start.isoformat(), "end": summary.end.isoformat(),
            "kg_co2e_per_kwh": summary.kg_co2e_per_kwh, "park": figures(summary.park),
            "buildings": [figures(b) for b in summary.buildings], "tenants": [figures(t) for t in summary.tenants],
            "problems": list(summary.problems)}


def _number(value: float | None, places: int) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.{places}f}"


def shown(value: float | None, places: int) -> str:
    """A figure for people: thousands separators, a dash when unknown."""
    return "—" if value is None or math.isnan(value) else f"{value:,.{places}f}"
