"""What the viewer shows, as data: drill-down, exploded view, X-ray, translucent ground, layers,
the utilities of the pipe networks shown and their exaggerated pipes.

:func:`batch_looks` turns a :class:`View` into each batch's visibility, opacity and lift; the
navigator sends only the batches whose look changed. Pure functions, tested without a browser.

>>> looks = batch_looks(entries, storeys, View(building="ifc:B01:...", storey="ifc:B01:..."))  # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gis.roles import EXAGGERATED, NETWORK_FAMILIES

GHOST_OPACITY = 0.12
XRAY_OPACITY = 0.15
GROUND_OPACITY = 0.15
EXPLODE_GAP_M = 6.0
#: Categories X-ray makes translucent to show rooms, MEP and devices inside.
SHELL = frozenset({"walls", "slabs", "windows", "doors", "structure", "stairs", "site", "buildings",
                   "transport", "furniture", "other"})
#: Surfaces made translucent with the ground, to look underground.
SURFACES = frozenset({"ground", "roads", "paths", "parking", "parking_spaces", "green", "water"})


def layer_of(category: str) -> str:
    """The layer switch a batch category answers to (the pipe networks: ``underground``)."""
    family = category.partition(":")[0]
    return "underground" if family in NETWORK_FAMILIES else family


def utility_of(category: str) -> str | None:
    """The utility of a pipe-network batch (``network_nodes:water:hydrant`` → ``water``); None for others."""
    family, _, rest = category.partition(":")
    return rest.partition(":")[0] if family in NETWORK_FAMILIES else None


def drawn_at_size(category: str, exaggerated: bool) -> bool:
    """Whether a batch shows with the "exaggerate pipes" switch ``exaggerated``: the exaggerated
    families only when it is on, the true-size pipes and arrows they stand in for only when off."""
    family = category.partition(":")[0]
    if family in EXAGGERATED:
        return exaggerated
    return not (exaggerated and family in EXAGGERATED.values())


@dataclass(frozen=True)
class View:
    """One session's view: the drill-down and the switches."""

    building: str | None = None
    storey: str | None = None
    exploded: bool = False
    xray: bool = False
    ground_translucent: bool = False
    exaggerated_pipes: bool = False
    hidden_layers: frozenset[str] = field(default_factory=frozenset)
    hidden_utilities: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Look:
    visible: bool = True
    opacity: float = 1.0
    offset_z_m: float = 0.0


@dataclass(frozen=True)
class Storeys:
    """Each storey's building, elevation and rank (0 = lowest) within its building."""

    building: Mapping[str, str]
    elevation_m: Mapping[str, float]
    rank: Mapping[str, int]

    @classmethod
    def of(cls, storeys: Sequence[tuple[str, str, float]]) -> Storeys:
        """From ``(storey id, building id, elevation_m)`` triples."""
        rank: dict[str, int] = {}
        for building in {b for _, b, _ in storeys}:
            ordered = sorted((e, s) for s, b, e in storeys if b == building)
            rank.update({s: i for i, (_, s) in enumerate(ordered)})
        return cls({s: b for s, b, _ in storeys}, {s: e for s, _, e in storeys}, rank)


def look(entry: Mapping, storeys: Storeys, view: View) -> Look:
    """One batch's look (``entry`` is its manifest entry) under ``view``."""
    category, building, storey = entry["category"], entry.get("building"), entry.get("storey")
    if (entry.get("withheld") or layer_of(category) in view.hidden_layers or utility_of(category) in view.hidden_utilities
            or not drawn_at_size(category, view.exaggerated_pipes)):
        return Look(visible=False)
    opacity = float(entry.get("opacity", 1.0))
    if view.xray and category in SHELL:
        opacity = min(opacity, XRAY_OPACITY)
    if view.ground_translucent and category in SURFACES:
        opacity = min(opacity, GROUND_OPACITY)
    if view.building is not None and building is not None and building != view.building:
        opacity = min(opacity, GHOST_OPACITY)
    if view.storey is not None and storey is not None and building == storeys.building.get(view.storey):
        if storeys.elevation_m.get(storey, 0.0) > storeys.elevation_m[view.storey] + 1e-3:
            return Look(visible=False)
    return Look(True, opacity, lift_m(storeys, view, building, storey))


def lift_m(storeys: Storeys, view: View, building: str | None, storey: str | None) -> float:
    """How far the exploded view lifts a storey (its rank × the gap; only in the chosen building)."""
    if view.exploded and storey in storeys.rank and view.building in (None, building):
        return EXPLODE_GAP_M * storeys.rank[storey]
    return 0.0


def batch_looks(entries: Sequence[Mapping], storeys: Storeys, view: View) -> list[Look]:
    return [look(entry, storeys, view) for entry in entries]
