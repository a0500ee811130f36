"""Procedural models of pipe-network nodes (valves, hydrants, manholes…), one per ``node_type``.

A node sits underground on its pipes' axis while some of its parts reach the ground (a manhole's
shaft and cover, a hydrant's post), so a model comes in three parts that fit any depth:

- ``body``: at the node (origin on the pipe axis, Z up, metres);
- ``riser``: a part of unit height (z from 0 to 1), stretched from ``riser_from_m`` above the node
  up to ``riser_to_m`` above the ground (a shaft, a hydrant's riser pipe, a chamber's neck);
- ``top``: on the ground above the node (origin at ground level).

Every part is low-poly (a park has hundreds of nodes). A model is drawn in its utility's colour
(:data:`gis.roles.UTILITY_RGB`) unless its type has one of its own (:data:`OWN_RGB`: hydrants red).

>>> model = node_model("manhole")
>>> round(float(model.top.bounds[1][2]), 6) == COVER_TOP_M  # the cover's top, just above the road surface
True
>>> node_model(" Hydrant").top is not None, node_model("no such type").top is None  # case ignored
(True, True)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trimesh
from trimesh.creation import cone, icosphere, torus

from models.procedural import box_at, join, rod

RGB = tuple[int, int, int]
#: A cover's top above the ground: just over the road and path surfaces (6 and 8 cm, see
#: ``gis.surfaces.SURFACE_Z_M``), so it shows on paving and is flush with the ground to the eye.
COVER_TOP_M = 0.09
HYDRANT_RGB: RGB = (220, 30, 30)
HYDRANT_HEIGHT_M = 0.9  # an above-ground (post) hydrant, SS100 style


@dataclass(frozen=True, eq=False)
class NodeModel:
    """One node type's shape in three parts (see the module docstring)."""

    body: trimesh.Trimesh
    riser: trimesh.Trimesh | None = None
    riser_from_m: float = 0.0  # above the node (negative: below it)
    riser_to_m: float = 0.0  # above the ground (negative: below it)
    top: trimesh.Trimesh | None = None


# --- node types of the scene layers (docs/scene-format.md, role ``network_nodes``) --------------
def junction() -> NodeModel:
    """A plain joint of pipes: a small ball."""
    return NodeModel(icosphere(subdivisions=1, radius=0.17))


def valve() -> NodeModel:
    """A gate valve: a round body on the pipe axis, its bonnet and stem up to a handwheel."""
    wheel = torus(0.16, 0.022, major_sections=10, minor_sections=3).apply_translation((0, 0, 0.62))
    body = join(rod(0.19, (0, 0, -0.16), (0, 0, 0.16), 10), rod(0.09, (0, 0, 0.16), (0, 0, 0.32), 8),
                 rod(0.025, (0, 0, 0.32), (0, 0, 0.62), 6), wheel,
                 box_at((0.32, 0.03, 0.02), (0, 0, 0.62)), box_at((0.03, 0.32, 0.02), (0, 0, 0.62)))
    return NodeModel(body)


def hydrant() -> NodeModel:
    """An above-ground hydrant: a tee on the main, a riser to the ground and a post on it with two
    outlets and a cap."""
    post = join(rod(0.16, (0, 0, 0), (0, 0, 0.06), 8), rod(0.1, (0, 0, 0.06), (0, 0, 0.74), 8),
                 cone(0.13, HYDRANT_HEIGHT_M - 0.74, sections=8).apply_translation((0, 0, 0.74)),
                 rod(0.045, (-0.2, 0, 0.5), (0.2, 0, 0.5), 6), rod(0.06, (0, 0, 0.56), (0, 0.19, 0.56), 6))
    return NodeModel(rod(0.12, (0, 0, -0.12), (0, 0, 0.2), 8), rod(0.06, (0, 0, 0), (0, 0, 1), 6), 0.2, 0.0, post)


def manhole() -> NodeModel:
    """A round inspection well: a base below the pipes, a 1 m shaft up to the ground and a 70 cm
    cover flush with it."""
    return NodeModel(rod(0.6, (0, 0, -0.55), (0, 0, -0.45), 10), rod(0.5, (0, 0, 0), (0, 0, 1), 12), -0.45, -0.05,
                     rod(0.36, (0, 0, -0.05), (0, 0, COVER_TOP_M), 12))


def chamber() -> NodeModel:
    """A cable chamber: a box around the ducts, a square neck up to the ground, a square cover."""
    return NodeModel(box_at((1.4, 1.0, 1.0), (0, 0, 0)), box_at((0.7, 0.7, 1.0), (0, 0, 0.5)), 0.5, -0.05,
                     box_at((0.8, 0.8, COVER_TOP_M + 0.05), (0, 0, (COVER_TOP_M - 0.05) / 2)))


def service() -> NodeModel:
    """A building's service connection: a stub turning up with a capped end."""
    return NodeModel(join(rod(0.09, (0, 0, -0.1), (0, 0, 0.35), 8), rod(0.15, (0, 0, 0.35), (0, 0, 0.42), 8)))


def source() -> NodeModel:
    """Where a network comes in (a municipal main, a substation feeder): a large diamond."""
    flip = trimesh.transformations.rotation_matrix(np.pi, (1, 0, 0))
    return NodeModel(join(cone(0.4, 0.5, sections=4), cone(0.4, 0.5, sections=4).apply_transform(flip)))


def outfall() -> NodeModel:
    """Where a drain leaves the park: a headwall with two wing walls."""
    return NodeModel(join(box_at((0.25, 1.4, 1.2), (0, 0, 0.2)), box_at((0.8, 0.25, 0.8), (-0.3, -0.6, 0.0)),
                           box_at((0.8, 0.25, 0.8), (-0.3, 0.6, 0.0))))


# --- node kinds of EPANET models (twin.networks.epanet) -------------------------------------------
def tank() -> NodeModel:
    """A storage tank: an upright drum around the node with a conical roof."""
    return NodeModel(join(rod(1.2, (0, 0, -1.0), (0, 0, 1.4), 16),
                           cone(1.3, 0.5, sections=16).apply_translation((0, 0, 1.4))))


def reservoir() -> NodeModel:
    """A fixed-head source (a clear-water basin, a lake intake): a wide, low basin."""
    return NodeModel(box_at((3.0, 2.0, 0.9), (0, 0, 0.1)))


def pump() -> NodeModel:
    """A pump set: a casing on the pipe axis, its motor beside it and a base plate under both."""
    return NodeModel(join(rod(0.25, (0, -0.18, 0), (0, 0.18, 0), 12), rod(0.17, (0.1, 0, 0), (0.75, 0, 0), 10),
                           box_at((1.0, 0.5, 0.08), (0.3, 0, -0.3))))


def generic() -> NodeModel:
    """Any other node type: a small upright cylinder."""
    return NodeModel(rod(0.25, (0, 0, -0.25), (0, 0, 0.25), 8))


#: ``node_type`` → its model builder (see docs/scene-format.md, role ``network_nodes``).
NODE_MODELS: dict[str, Callable[[], NodeModel]] = {
    "junction": junction, "valve": valve, "hydrant": hydrant, "manhole": manhole, "chamber": chamber,
    "service": service, "source": source, "outfall": outfall, "tank": tank, "reservoir": reservoir, "pump": pump}
#: Node types drawn in a colour of their own rather than their utility's.
OWN_RGB: dict[str, RGB] = {"hydrant": HYDRANT_RGB}


def node_type_key(node_type: object) -> str:
    """A ``node_type`` value as the key of :data:`NODE_MODELS` (case and spaces ignored; '' if not text)."""
    return node_type.strip().lower() if isinstance(node_type, str) else ""


def node_model(node_type: object) -> NodeModel:
    """The model of a node type; any other (or none): :func:`generic`."""
    return NODE_MODELS.get(node_type_key(node_type), generic)()
