"""Coordinate transformations between CRSs, built once per pair (pyproj is slow to build them)."""
from __future__ import annotations

from functools import lru_cache

import pyproj


@lru_cache(maxsize=32)
def transformer(source: str, target: str) -> pyproj.Transformer:
    """An x/y-ordered (easting/longitude first) transformer from ``source`` to ``target``."""
    return pyproj.Transformer.from_crs(source, target, always_xy=True)
