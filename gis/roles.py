"""The layer roles of the scene file: the node kind, the geometry each takes, the defaults it uses.

See ``docs/scene-format.md`` (layer roles table).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    """What a layer role makes: node ``kind``, accepted geometry ``families`` (point, line, polygon)."""

    kind: str
    families: tuple[str, ...]


ROLES: dict[str, Role] = {
    "buildings": Role("building", ("polygon",)),
    "roads": Role("road", ("line", "polygon")),
    "paths": Role("path", ("line", "polygon")),
    "parking": Role("parking", ("polygon",)),
    "parking_spaces": Role("parking_space", ("polygon", "point")),
    "green": Role("green", ("polygon",)),
    "water": Role("water", ("polygon",)),
    "boundary": Role("boundary", ("polygon", "line")),
    "gates": Role("gate", ("point", "polygon")),
    "assembly_points": Role("assembly_point", ("point", "polygon")),
    "pipes": Role("pipe", ("line",)),
    "network_nodes": Role("network_node", ("point",)),
}

#: Node kinds the GIS import adds to the park (beside ``twin.park.KINDS``).
GIS_KINDS: tuple[str, ...] = tuple(dict.fromkeys(r.kind for r in ROLES.values()))

UTILITIES: tuple[str, ...] = ("water", "gas", "heat", "rain", "sewage", "power", "telecom")

#: Attributes read as numbers (the rest stay as the file gives them).
NUMERIC_ATTRIBUTES: frozenset[str] = frozenset({
    "height_m", "levels", "storey_height_m", "width_m", "capacity", "diameter_mm", "depth_m",
    "invert_start_m", "invert_end_m", "invert_m",
})

STOREY_HEIGHT_M = 3.5  # LOD1: levels × this when a building has no storey_height_m
BUILDING_HEIGHT_M = 10.0  # LOD1: when a building has neither height_m nor levels
LINE_WIDTH_M = {"roads": 6.0, "paths": 2.0}  # lines are buffered by width_m, else this
PIPE_DIAMETER_MM = 150.0  # when a pipe has no diameter_mm
#: Depth of a pipe's axis (and a network node's centre) below ground when the layer gives neither
#: depth_m nor inverts, by utility (typical cover plus half a main).
DEPTH_M = {"water": 1.2, "gas": 1.0, "heat": 1.0, "rain": 1.5, "sewage": 2.0, "power": 0.8,
           "telecom": 0.8}
DEFAULT_DEPTH_M = 1.0
