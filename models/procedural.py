"""Procedural device meshes: small, real-world sized (metres), Z up, origin at the mounting point.

Each builder returns one low-poly :class:`trimesh.Trimesh` (at most ~200 triangles: a park has
thousands of devices). Directional models (cameras) look along +X, so a compass heading can turn them.

>>> round(float(camera().bounds[1][0]), 2)  # the lens reaches 47 cm forward along +X
0.47
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import trimesh
from trimesh.creation import box, cone, cylinder, icosphere

ROUND_SECTIONS = 12  # facets of a round part: 48 triangles a cylinder
Vector = Sequence[float]


def box_at(size_m: Vector, centre_m: Vector) -> trimesh.Trimesh:
    """A box of ``size_m`` centred on ``centre_m``."""
    return box(extents=size_m, transform=trimesh.transformations.translation_matrix(centre_m))


def rod(radius_m: float, start_m: Vector, end_m: Vector, sections: int = ROUND_SECTIONS) -> trimesh.Trimesh:
    """A cylinder from ``start_m`` to ``end_m``."""
    return cylinder(radius_m, sections=sections, segment=np.array([start_m, end_m], dtype=float))


def join(*parts: trimesh.Trimesh) -> trimesh.Trimesh:
    """The parts as one mesh."""
    return trimesh.util.concatenate(parts)


# --- ceiling (origin on the ceiling, the device hangs below) ------------------------------------
def smoke_detector() -> trimesh.Trimesh:
    """A 10 cm ceiling disc with its sensing chamber below."""
    return join(rod(0.05, (0, 0, 0), (0, 0, -0.035)), rod(0.03, (0, 0, -0.035), (0, 0, -0.05), 8))


def temperature_sensor() -> trimesh.Trimesh:
    """A small square housing with a probe pointing down."""
    return join(box_at((0.08, 0.08, 0.03), (0, 0, -0.015)), rod(0.006, (0, 0, -0.03), (0, 0, -0.1), 6))


def humidity_sensor() -> trimesh.Trimesh:
    """A round housing with a droplet-shaped hood below."""
    drop = cone(0.03, 0.05, sections=8, transform=trimesh.transformations.translation_matrix((0, 0, -0.07)))
    return join(rod(0.04, (0, 0, 0), (0, 0, -0.025)), rod(0.03, (0, 0, -0.025), (0, 0, -0.07), 8), drop)


def people_counter() -> trimesh.Trimesh:
    """A ceiling TOF counter: a flat 20 × 8 cm bar with its two lenses below."""
    return join(box_at((0.2, 0.08, 0.03), (0, 0, -0.015)), rod(0.015, (-0.04, 0, -0.03), (-0.04, 0, -0.045), 8),
                rod(0.015, (0.04, 0, -0.03), (0.04, 0, -0.045), 8))


def air_quality_sensor() -> trimesh.Trimesh:
    """A 15 cm ceiling puck with a vented drum below it."""
    return join(box_at((0.15, 0.15, 0.04), (0, 0, -0.02)), rod(0.045, (0, 0, -0.04), (0, 0, -0.08), 8))


# --- floor (origin on the host's floor; the model carries its own mounting height) -------------
def energy_meter() -> trimesh.Trimesh:
    """A meter box on a post, display facing +X."""
    return join(box_at((0.05, 0.05, 1.2), (0, 0, 0.6)), box_at((0.18, 0.3, 0.4), (0, 0, 1.4)),
                 box_at((0.02, 0.18, 0.08), (0.1, 0, 1.5)))


def water_meter() -> trimesh.Trimesh:
    """An inline meter on a pipe stub along X, its dial on top."""
    return join(rod(0.04, (-0.2, 0, 0.15), (0.2, 0, 0.15), 8), rod(0.07, (0, 0, 0.1), (0, 0, 0.25)))


def lift() -> trimesh.Trimesh:
    """A 1 m × 1 m × 3 m car-and-shaft block standing on the floor."""
    return box_at((1.0, 1.0, 3.0), (0, 0, 1.5))


def access_door() -> trimesh.Trimesh:
    """A card/face reader plate at 1.3 m on a slim pedestal, facing +X."""
    return join(box_at((0.05, 0.05, 1.3), (0, 0, 0.65)), box_at((0.04, 0.12, 0.2), (0.02, 0, 1.4)))


# --- ground (origin on the ground) --------------------------------------------------------------
def street_light() -> trimesh.Trimesh:
    """An 8 m pole with a 1.5 m arm along +X and a flat LED head."""
    return join(rod(0.09, (0, 0, 0), (0, 0, 8.0), 8), box_at((1.5, 0.08, 0.08), (0.75, 0, 7.95)),
                 box_at((0.6, 0.25, 0.1), (1.35, 0, 7.86)))


def charging_pile() -> trimesh.Trimesh:
    """A 1.5 m charger column on a plinth, its screen and holster on the +X face."""
    return join(box_at((0.5, 0.4, 0.1), (0, 0, 0.05)), box_at((0.3, 0.35, 1.4), (0, 0, 0.8)),
                 box_at((0.03, 0.2, 0.15), (0.165, 0, 1.25)), box_at((0.08, 0.1, 0.15), (0.19, 0, 0.9)))


def manhole_cover() -> trimesh.Trimesh:
    """A 70 cm cover, 4 cm proud of the ground so it shows over paving."""
    return rod(0.35, (0, 0, 0), (0, 0, 0.04), 16)


def parking_sensor() -> trimesh.Trimesh:
    """An 18 cm puck glued to the bay surface."""
    return rod(0.09, (0, 0, 0), (0, 0, 0.03), 10)


# --- in place (origin at the device's own point) ------------------------------------------------
def camera() -> trimesh.Trimesh:
    """A bullet camera on an L-bracket, looking along +X."""
    return join(box_at((0.04, 0.04, 0.15), (0, 0, 0.075)), box_at((0.2, 0.04, 0.04), (0.1, 0, 0.15)),
                 box_at((0.32, 0.14, 0.13), (0.26, 0, 0.07)), box_at((0.36, 0.18, 0.01), (0.28, 0, 0.14)),
                 rod(0.045, (0.42, 0, 0.07), (0.47, 0, 0.07)))


def pressure_sensor() -> trimesh.Trimesh:
    """A transmitter: a stem with a round head, its dial facing +X."""
    return join(rod(0.012, (0, 0, 0), (0, 0, 0.12), 6), rod(0.05, (-0.025, 0, 0.17), (0.025, 0, 0.17)))


def flow_sensor() -> trimesh.Trimesh:
    """A flanged flow tube along X with its converter box on top."""
    return join(rod(0.06, (-0.15, 0, 0), (0.15, 0, 0), 10), rod(0.09, (-0.17, 0, 0), (-0.13, 0, 0), 10),
                 rod(0.09, (0.13, 0, 0), (0.17, 0, 0), 10), box_at((0.12, 0.12, 0.1), (0, 0, 0.11)))


def leak_detector() -> trimesh.Trimesh:
    """A noise logger clamped on top of a main (origin on the pipe axis): its magnet foot on the
    crown of a DN200 pipe, the logger body and a stub antenna above."""
    return join(rod(0.035, (0, 0, 0.1), (0, 0, 0.13), 10), rod(0.045, (0, 0, 0.13), (0, 0, 0.29), 10),
                 rod(0.008, (0, 0, 0.29), (0, 0, 0.4), 6))


def level_sensor() -> trimesh.Trimesh:
    """A radar level meter on a 1 m post and arm, its horn looking down at the water."""
    horn = cone(0.07, 0.12, sections=10, transform=trimesh.transformations.translation_matrix((0.5, 0, 0.74)))
    return join(rod(0.03, (0, 0, 0), (0, 0, 1.0), 6), box_at((0.5, 0.04, 0.04), (0.25, 0, 1.0)),
                 rod(0.05, (0.5, 0, 0.98), (0.5, 0, 0.86), 10), horn)


def weather_station() -> trimesh.Trimesh:
    """A 2 m mast with an ultrasonic head: a disc on three arms and a cap."""
    return join(rod(0.025, (0, 0, 0), (0, 0, 2.0), 8), rod(0.08, (0, 0, 2.0), (0, 0, 2.04), 10),
                *(rod(0.006, (0.07 * c, 0.07 * s, 2.04), (0.07 * c, 0.07 * s, 2.16), 4)
                  for c, s in ((1, 0), (-0.5, 0.866), (-0.5, -0.866))), rod(0.08, (0, 0, 2.16), (0, 0, 2.2), 10))


def generic() -> trimesh.Trimesh:
    """The fallback for an unknown type: a 30 cm faceted ball (the size of a device's bounds)."""
    return icosphere(subdivisions=0, radius=0.15)


def pole() -> trimesh.Trimesh:
    """A 12 cm post of unit height (scaled per device) that carries a free-standing device."""
    return rod(0.06, (0, 0, 0), (0, 0, 1.0), 8)
