"""Where an IFC model lands in the park: a 4×4 matrix from the model's world metres to the park frame.

The park frame is the park CRS (projected, metres) minus the park origin. A model is placed by an
anchor from the scene file, else by its IfcMapConversion, else by its IfcSite lat/long. Over a
building's extent the exact transformation is a similarity to well under a millimetre, so three
points are transformed exactly (pyproj) and the matrix is fitted through them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ifc.georef import Georeference
from twin.crs import transformer

_PROBE_M = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [0.0, 100.0, 0.0]])


@dataclass(frozen=True)
class Anchor:
    """Where the model's local (0, 0, 0) lands in the park CRS, and its +X axis bearing."""

    easting: float
    northing: float
    elevation: float = 0.0
    rotation_deg: float = 0.0  # anticlockwise from grid east


class Unplaced(Exception):
    """The model carries no georeference and the scene gives no anchor."""


def anchor_matrix(anchor: Anchor, origin_m: np.ndarray) -> np.ndarray:
    c, s = math.cos(math.radians(anchor.rotation_deg)), math.sin(math.radians(anchor.rotation_deg))
    m = np.eye(4)
    m[:2, :2] = [[c, -s], [s, c]]
    m[:3, 3] = np.array([anchor.easting, anchor.northing, anchor.elevation]) - origin_m
    return m


def _fit(local_m: np.ndarray, park_m: np.ndarray) -> np.ndarray:
    """The plan-affine, height-offset matrix taking three local points onto their park positions."""
    a = np.column_stack((local_m[:, :2], np.ones(3)))
    m = np.eye(4)
    m[:2, [0, 1, 3]] = np.linalg.solve(a, park_m[:, :2]).T
    m[2, 3] = park_m[0, 2] - local_m[0, 2]
    return m


def georeference_matrix(georef: Georeference, park_crs: str, origin_m: np.ndarray) -> np.ndarray:
    """Place a model by its own georeference (map conversion with EPSG, else site lat/long)."""
    if not georef.placeable:
        raise Unplaced("no IfcMapConversion with an EPSG code and no IfcSite lat/long")
    if georef.conversion is not None and georef.epsg is not None:
        source, placed = f"EPSG:{georef.epsg}", georef.conversion.to_grid(_PROBE_M)
    else:
        source, placed = "EPSG:4326", georef.to_lonlat(_PROBE_M)
    x, y = transformer(source, park_crs).transform(placed[:, 0], placed[:, 1])
    park = np.column_stack((x, y, placed[:, 2])) - origin_m
    return _fit(_PROBE_M, park)


def placement(georef: Georeference, anchor: Anchor | None, park_crs: str, origin_m: np.ndarray) -> np.ndarray:
    """The model-to-park matrix: the anchor when given, else the model's own georeference."""
    if anchor is not None:
        return anchor_matrix(anchor, np.asarray(origin_m, float))
    return georeference_matrix(georef, park_crs, np.asarray(origin_m, float))


def apply(matrix: np.ndarray, points_m: np.ndarray) -> np.ndarray:
    """Transform (n, 3) points by a 4×4 matrix."""
    return points_m @ matrix[:3, :3].T + matrix[:3, 3]
