"""Floor areas for energy intensity (kWh/m²).

A building's floor area is the sum of its spaces' areas when it has spaces (an IFC model): each
space's ``GrossFloorArea`` (else ``NetFloorArea``) from ``Qto_SpaceBaseQuantities``, else its lease's
``area_m2``, else its plan outline; a building without spaces (an LOD1 block) is its footprint × its
``levels`` attribute (1 when absent). A let unit's area is its lease's ``area_m2`` first (the area the
tenant rents), then the same fall-backs.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

from twin.footprint import floor_print, node_triangles
from twin.park import Node, Park


def building_areas_m2(park: Park, building_ids: Iterable[str]) -> dict[str, float]:
    """Building node id → floor area (m²), for those whose area can be told."""
    wanted = [b for b in dict.fromkeys(building_ids) if b in park]
    spaces = {b: [n.id for n in park.descendants(b) if n.kind == "space"] for b in wanted}
    areas = space_areas_m2(park, [s for ids in spaces.values() for s in ids], lease_first=False)
    blocks = _outline_areas_m2(park, [b for b in wanted if not spaces[b]])
    found = {}
    for building_id in wanted:
        if spaces[building_id]:
            total = sum(areas.get(s, 0.0) for s in spaces[building_id])
        else:
            levels = park.get(building_id).properties.get("attributes", {}).get("levels")
            total = blocks.get(building_id, 0.0) * (levels if _positive(levels) else 1.0)
        if total > 0:
            found[building_id] = total
    return found


def space_areas_m2(park: Park, space_ids: Iterable[str], lease_first: bool = True) -> dict[str, float]:
    """Space node id → floor area (m²): the lease's ``area_m2`` and the IFC quantities, in the order
    ``lease_first`` says, else the plan outline."""
    found, missing = {}, []
    for space_id in dict.fromkeys(space_ids):
        area = _recorded_m2(park.get(space_id), lease_first)
        if area is None:
            missing.append(space_id)
        else:
            found[space_id] = area
    found.update(_outline_areas_m2(park, missing))
    return found


def _recorded_m2(node: Node, lease_first: bool) -> float | None:
    """A space's area from its lease or its quantities."""
    quantities = node.properties.get("Qto_SpaceBaseQuantities", {})
    measured = [quantities.get("GrossFloorArea"), quantities.get("NetFloorArea")]
    leased = [node.properties.get("lease", {}).get("area_m2")]
    return next((float(a) for a in (leased + measured if lease_first else measured + leased) if _positive(a)), None)


def _outline_areas_m2(park: Park, node_ids: list[str]) -> dict[str, float]:
    """The plan outline's area of nodes drawn in the render batches (those not drawn are left out)."""
    if not node_ids:
        return {}
    wanted = set(node_ids)
    categories = {b.category for b in park.batches if wanted.intersection(b.node_ids)}
    triangles = node_triangles(park, categories)
    return {node_id: area for node_id in node_ids
            if node_id in triangles and (area := float(floor_print(triangles[node_id]).area)) > 0}


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
