"""Geometry repair: invalid geometries made valid, empty and degenerate ones dropped, both counted."""
from __future__ import annotations

import numpy as np
import shapely

#: shapely geometry type ids by family (single and multi part).
FAMILY_TYPES = {"point": (0, 4), "line": (1, 2, 5), "polygon": (3, 6)}


def repair(geometry: np.ndarray, families: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(geometry, repaired, kept)``: invalid ones made valid (keeping only parts of ``families``),
    and boolean masks of the repaired and of the kept (non-empty, non-degenerate, right family)."""
    geometry = np.asarray(geometry, dtype=object).copy()
    wanted = np.concatenate([FAMILY_TYPES[f] for f in families])
    invalid = ~shapely.is_valid(geometry) & ~shapely.is_missing(geometry)
    for i in np.flatnonzero(invalid | ~np.isin(shapely.get_type_id(geometry), wanted)):
        geometry[i] = _keep_parts(shapely.make_valid(geometry[i]) if invalid[i] else geometry[i], wanted)
    kept = ~shapely.is_missing(geometry) & ~shapely.is_empty(geometry)
    kept &= np.isin(shapely.get_type_id(geometry), wanted)
    polygonal, linear = _in(geometry, "polygon"), _in(geometry, "line")
    kept &= ~polygonal | (shapely.area(geometry) > 0)
    kept &= ~linear | (shapely.length(geometry) > 0)
    return geometry, invalid & kept, kept


def _in(geometry: np.ndarray, family: str) -> np.ndarray:
    return np.isin(shapely.get_type_id(geometry), FAMILY_TYPES[family])


def _keep_parts(geometry: shapely.Geometry, wanted: np.ndarray) -> shapely.Geometry | None:
    """The parts of a (repaired) geometry that belong to the wanted families, as one geometry."""
    parts = [p for p in shapely.get_parts(geometry) if shapely.get_type_id(p) in wanted
             and not p.is_empty and (p.area > 0 or p.geom_type != "Polygon")
             and (p.length > 0 or p.geom_type != "LineString")]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    kinds = {p.geom_type for p in parts}
    if kinds == {"Polygon"}:
        return shapely.MultiPolygon(parts)
    if kinds == {"LineString"}:
        return shapely.MultiLineString(parts)
    if kinds == {"Point"}:
        return shapely.MultiPoint(parts)
    return shapely.GeometryCollection(parts)
