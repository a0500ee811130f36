"""The layer roles of the scene file: the node kind, the geometry each takes, the defaults it uses.

See ``docs/scene-format.md`` (layer roles table).
"""
from __future__ import annotations

import math
import numbers
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

UTILITIES: tuple[str, ...] = ("water", "gas", "heat", "rain", "sewage", "power", "telecom", "industrial",
                               "unknown")
#: Utilities whose pipes run by gravity: their flow is downhill, from the higher invert to the lower.
GRAVITY_UTILITIES: frozenset[str] = frozenset({"rain", "sewage"})

#: The colour of each utility's pipes, nodes and arrows: CJJ 61-2017 (城市地下管线探测技术规程),
#: the colours of underground pipeline maps: water supply cyan, drainage (rain and sewage) brown,
#: gas magenta, heat orange, power red, telecom green, industrial black, unknown purple.
UTILITY_RGB: dict[str, tuple[int, int, int]] = {
    "water": (0, 255, 255), "rain": (76, 57, 38), "sewage": (76, 57, 38), "gas": (255, 0, 255),
    "heat": (255, 128, 0), "power": (255, 0, 0), "telecom": (0, 255, 0), "industrial": (0, 0, 0),
    "unknown": (102, 0, 204),
}

#: Render batch families of the pipe networks (see ``gis.importer``), each per utility
#: (``<family>:<utility>``): pipes, their flow arrows, network nodes, and the pipes and arrows of the
#: "exaggerate pipes" view (:data:`EXAGGERATED`: family → the true-size family it stands in for).
EXAGGERATED: dict[str, str] = {"pipes_x5": "pipes", "arrows_x5": "arrows"}
NETWORK_FAMILIES: tuple[str, ...] = ("pipes", "arrows", "network_nodes", *EXAGGERATED)

#: Values of a pipe's ``flow_direction`` (as lower-case text; numbers as ``1``, ``-1``, ``0``):
#: +1 flows from its start to its end, -1 from its end to its start, 0 unknown.
FLOW_DIRECTIONS: dict[str, int] = {"forward": 1, "1": 1, "+1": 1, "backward": -1, "reverse": -1, "-1": -1,
                                   "unknown": 0, "0": 0, "": 0}


def flow_sign(value: object) -> int:
    """A ``flow_direction`` value as +1, -1 or 0 (:data:`FLOW_DIRECTIONS`; missing: 0).
    Raises :class:`ValueError` for a value not listed there.

    >>> flow_sign("Forward"), flow_sign(-1.0), flow_sign(None)
    (1, -1, 0)
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        text = "0" if value == 0 else f"{float(value):g}"
    else:
        text = str(value).strip().lower()
    if text not in FLOW_DIRECTIONS:
        raise ValueError(f"flow_direction {value!r} is not one of {', '.join(k for k in FLOW_DIRECTIONS if k)} "
                         "(or empty)")
    return FLOW_DIRECTIONS[text]


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
           "telecom": 0.8, "industrial": 1.2, "unknown": 1.0}
DEFAULT_DEPTH_M = 1.0
