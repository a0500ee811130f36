"""Who is in the building: counts per space, positions inside each space, walking speeds and
pre-movement times by population group."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import shapely

from twin.evacuation import sfpe
from twin.evacuation.graph import EvacuationGraph
from twin.park import Park


@dataclass(frozen=True)
class Group:
    """Part of a population with a uniform range of unimpeded walking speeds on the level."""

    name: str
    share: float
    speed_m_s: tuple[float, float]


#: Populations by name. "sfpe": everyone at the handbook's 0.85 × 1.40 m/s. "office": working-age
#: adults with the walking speeds on flat ground of IMO MSC.1/Circ.1533 (table 3.4), in shares
#: typical of an office. "public": the same table with older and mobility-impaired visitors.
POPULATIONS: dict[str, tuple[Group, ...]] = {
    "sfpe": (Group("adult", 1.0, (0.85 * sfpe.K_LEVEL_M_S,) * 2),),
    "office": (Group("female <30", 0.20, (0.93, 1.55)), Group("female 30-50", 0.25, (0.71, 1.19)),
               Group("female >50", 0.05, (0.56, 0.94)), Group("male <30", 0.20, (1.11, 1.85)),
               Group("male 30-50", 0.25, (0.97, 1.62)), Group("male >50", 0.05, (0.84, 1.40))),
    "public": (Group("female <30", 0.10, (0.93, 1.55)), Group("female 30-50", 0.15, (0.71, 1.19)),
               Group("female >50", 0.15, (0.56, 0.94)), Group("female impaired", 0.05, (0.43, 0.71)),
               Group("male <30", 0.10, (1.11, 1.85)), Group("male 30-50", 0.20, (0.97, 1.62)),
               Group("male >50", 0.20, (0.84, 1.40)), Group("male impaired", 0.05, (0.64, 1.06))),
}
DEFAULT_DENSITY_PPM2 = 0.1  #: offices, when nothing else is given


@dataclass
class Occupants:
    """One row per person: where they start, how fast they walk, when they start to move."""

    place: np.ndarray  # (n,) int, index into graph.places
    xy_m: np.ndarray  # (n, 2) park-frame start position
    speed_m_s: np.ndarray  # (n,) unimpeded walking speed on the level
    premovement_s: np.ndarray  # (n,)
    group: np.ndarray  # (n,) int, index into ``groups``
    groups: tuple[Group, ...] = POPULATIONS["sfpe"]

    def __len__(self) -> int:
        return len(self.place)


def counts_by_density(graph: EvacuationGraph, density_ppm2: float, within: str | Collection[str] | None = None,
                      empty: frozenset[str] = frozenset()) -> dict[int, int]:
    """Persons per space (of the building or buildings ``within`` if given; none in the ``empty`` ones)
    at a density, rounded per space."""
    return {i: int(round(graph.places[i].area_m2 * density_ppm2)) for i in _occupied(graph, within, empty)}


def counts_by_total(graph: EvacuationGraph, total: int, within: str | Collection[str] | None = None,
                    empty: frozenset[str] = frozenset()) -> dict[int, int]:
    """``total`` persons shared by area among the spaces (of the building or buildings ``within`` if
    given; not the ``empty`` ones), largest remainders."""
    return share_by_area(graph, _occupied(graph, within, empty), total)


def share_by_area(graph: EvacuationGraph, spaces: list[int], total: int) -> dict[int, int]:
    """``total`` persons shared among ``spaces`` by floor area, whole persons by largest remainders."""
    areas = np.array([graph.places[i].area_m2 for i in spaces])
    if not len(spaces) or areas.sum() <= 0:
        return {}
    exact = total * areas / areas.sum()
    counts = np.floor(exact).astype(int)
    counts[np.argsort(counts - exact)[: total - counts.sum()]] += 1
    return {i: int(c) for i, c in zip(spaces, counts)}


def vacant_spaces(park: Park) -> frozenset[str]:
    """Spaces the scene's leases say are vacant: nobody works there."""
    return frozenset(n.id for n in park.of_kind("space") if n.properties.get("lease", {}).get("status") == "vacant")


def _occupied(graph: EvacuationGraph, within: str | Collection[str] | None, empty: frozenset[str]) -> list[int]:
    buildings = {within} if isinstance(within, str) else within
    return [i for i in graph.spaces() if graph.places[i].id not in empty
            and (buildings is None or graph.places[i].building in buildings)]


def place_occupants(graph: EvacuationGraph, counts: dict[int, int], population: str = "sfpe",
                    speed_m_s: float | None = None, premovement_s: float | tuple[float, float] = 0.0,
                    seed: int = 0) -> Occupants:
    """Persons spread evenly at random over their spaces' floors.

    ``speed_m_s`` gives everyone one unimpeded speed instead of the population's; ``premovement_s``
    is one time for all or a ``(low, high)`` range drawn uniformly per person.
    """
    if population not in POPULATIONS:
        raise ValueError(f"population {population!r}: not one of {', '.join(POPULATIONS)}")
    groups = POPULATIONS[population]
    rng = np.random.default_rng(seed)
    places = np.repeat(np.array(list(counts), dtype=int), list(counts.values()))
    xy = np.concatenate([_scatter(graph.places[i].footprint, n, rng) for i, n in counts.items() if n] or
                        [np.zeros((0, 2))])
    n = len(places)
    group = rng.choice(len(groups), size=n, p=np.array([g.share for g in groups]) / sum(g.share for g in groups))
    low = np.array([g.speed_m_s[0] for g in groups])[group]
    high = np.array([g.speed_m_s[1] for g in groups])[group]
    speed = np.full(n, speed_m_s, float) if speed_m_s is not None else rng.uniform(low, high)
    lo, hi = premovement_s if isinstance(premovement_s, tuple) else (premovement_s, premovement_s)
    return Occupants(places, xy, speed, rng.uniform(lo, hi, n) if hi > lo else np.full(n, float(lo)),
                     group, groups)


def _scatter(footprint: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points inside a plan outline, kept a little off its walls where the room allows."""
    inner = footprint.buffer(-0.25)
    area = inner if inner.area > 0.05 * footprint.area else footprint
    x0, y0, x1, y1 = area.bounds
    out: list[np.ndarray] = []
    got = 0
    for _ in range(100):
        if got >= n:
            break
        batch = rng.uniform((x0, y0), (x1, y1), size=(max(2 * (n - got), 16), 2))
        batch = batch[shapely.contains_xy(area, batch[:, 0], batch[:, 1])]
        out.append(batch)
        got += len(batch)
    if got < n:  # a sliver: stand on it
        out.append(np.tile(area.representative_point().coords[0], (n - got, 1)))
    return np.concatenate(out)[:n]
