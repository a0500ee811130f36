"""The park's ground: a flat plane at one elevation, or a DEM (GeoTIFF, any CRS) read once and
sampled bilinearly. Elevations are absolute (the park CRS's vertical datum, like ``origin``)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyproj

from twin.crs import transformer
from twin.errors import InputError


class Ground:
    """``z_m(xy_park)``: the absolute ground elevation at park-frame points (park CRS minus the
    park origin). Flat: ``Ground(elevation_m)``; a DEM: :meth:`from_dem`."""

    def __init__(self, elevation_m: float):
        self.elevation_m = float(elevation_m)  # flat: the plane; DEM: the fallback off the raster
        self.dem: Path | None = None
        self._values: np.ndarray | None = None  # (rows, cols) float64, NaN at nodata
        self._inverse = None  # affine: DEM CRS → (col, row) in pixel space
        self._to_dem: pyproj.Transformer | None = None
        self._origin_xy = np.zeros(2)

    @property
    def flat(self) -> bool:
        return self.dem is None

    @classmethod
    def from_dem(cls, path: Path, park_crs: str, origin_m, fallback_m: float | None = None) -> Ground:
        """Read a DEM once; off the raster or at nodata the ground is ``fallback_m`` (else the
        DEM's median). Raises :class:`InputError` naming the file and the cause."""
        import rasterio
        from rasterio.errors import RasterioError

        path = Path(path)
        try:
            with rasterio.open(path) as src:
                if src.crs is None:
                    raise InputError(f"{path}: the DEM has no CRS (georeference the GeoTIFF)")
                values = src.read(1, masked=True).astype(float).filled(np.nan)
                transform, dem_crs = src.transform, src.crs.to_wkt()
        except RasterioError as exc:
            raise InputError(f"{path}: not a readable raster DEM ({exc})") from None
        if not np.isfinite(values).any():
            raise InputError(f"{path}: the DEM has no valid elevations (all nodata)")
        if fallback_m is None:
            fallback_m = float(np.nanmedian(values))
        ground = cls(fallback_m)
        ground.dem, ground._values, ground._inverse = path, values, ~transform
        try:
            ground._to_dem = transformer(park_crs, dem_crs)
        except pyproj.exceptions.CRSError as exc:
            raise InputError(f"{path}: cannot reproject from {park_crs} to the DEM's CRS ({exc})") from None
        ground._origin_xy = np.asarray(origin_m, float)[:2]
        return ground

    def z_m(self, xy_park: np.ndarray) -> np.ndarray:
        """Absolute ground elevation at each park-frame point ``(n, 2)`` (or ``(n, 3)``)."""
        xy = np.asarray(xy_park, float)
        xy = xy.reshape(-1, xy.shape[-1])[:, :2] if xy.size else np.zeros((0, 2))
        out = np.full(len(xy), self.elevation_m)
        if self.flat or not len(xy):
            return out
        x, y = self._to_dem.transform(xy[:, 0] + self._origin_xy[0], xy[:, 1] + self._origin_xy[1])
        a = self._inverse
        col = a.a * np.asarray(x) + a.b * np.asarray(y) + a.c  # pixel space: (0, 0) = top-left corner
        row = a.d * np.asarray(x) + a.e * np.asarray(y) + a.f
        rows, cols = self._values.shape
        inside = np.isfinite(col) & np.isfinite(row) & (col >= 0) & (col <= cols) & (row >= 0) & (row <= rows)
        z = self._bilinear(col[inside] - 0.5, row[inside] - 0.5)  # centres at half-pixel offsets
        out[np.flatnonzero(inside)] = np.where(np.isnan(z), self.elevation_m, z)
        return out

    def _bilinear(self, c: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Bilinear between pixel centres (clamped at the edges); where a neighbour is nodata,
        the nearest pixel (which may be nodata: NaN)."""
        v = self._values
        rows, cols = v.shape
        c, r = np.clip(c, 0, cols - 1), np.clip(r, 0, rows - 1)
        c0, r0 = np.minimum(np.floor(c).astype(int), max(cols - 2, 0)), np.minimum(np.floor(r).astype(int), max(rows - 2, 0))
        c1, r1 = np.minimum(c0 + 1, cols - 1), np.minimum(r0 + 1, rows - 1)
        fc, fr = c - c0, r - r0
        z = ((v[r0, c0] * (1 - fc) + v[r0, c1] * fc) * (1 - fr)
             + (v[r1, c0] * (1 - fc) + v[r1, c1] * fc) * fr)
        nearest = v[np.rint(r).astype(int), np.rint(c).astype(int)]
        return np.where(np.isnan(z), nearest, z)


def scene_ground(scene) -> Ground:
    """The ground a scene names: its DEM (fallback ``elevation_m`` if given) or a flat plane."""
    if scene.dem is None:
        return Ground(scene.ground_elevation_m)
    fallback = scene.ground_elevation_m if scene.ground_elevation_given else None
    return Ground.from_dem(scene.dem, scene.crs, scene.origin_m, fallback)


def park_z(ground: float | Ground, origin_z_m: float):
    """A builder's ground in the park frame: a scalar height for flat ground (the flat case stays
    exactly as before), else a function of park-frame xy ``(n, 2)`` giving heights ``(n,)``."""
    if isinstance(ground, Ground):
        if ground.flat:
            return ground.elevation_m - origin_z_m
        return lambda xy: ground.z_m(xy) - origin_z_m
    return float(ground) - origin_z_m


def at(ground_m, xy: np.ndarray) -> np.ndarray:
    """Heights of a builder's ground (scalar or function, see :func:`park_z`) at points ``(n, 2)``."""
    xy = np.asarray(xy, float).reshape(-1, 2) if len(xy) else np.zeros((0, 2))
    if callable(ground_m):
        return np.asarray(ground_m(xy), float)
    return np.full(len(xy), float(ground_m))


def grid_cells(extent_m: float, max_cells: int = 200, cell_m: float = 2.0) -> int:
    return max(1, min(max_cells, math.ceil(extent_m / cell_m)))
