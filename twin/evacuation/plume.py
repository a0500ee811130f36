"""An outdoor gas leak: a steady Gaussian plume from a ground-level source.

Concentration at downwind distance ``x``, crosswind offset ``y`` and height ``z`` of a source of
``Q`` at ground level, reflected by the ground (Turner 1970, *Workbook of Atmospheric Dispersion
Estimates*, eq. 3.1 with ``H = 0``)::

    C = Q / (π u σy σz) · exp(−y² / 2σy²) · exp(−z² / 2σz²)

σy, σz are Briggs's (1973) open-country fits for Pasquill–Gifford stability classes A (very unstable)
to F (moderately stable), as tabulated in Hanna, Briggs & Hosker (1982), *Handbook on Atmospheric
Diffusion*, table 4.5: ``σy = a x (1 + 0.0001 x)^(-1/2)``, ``σz = c x (1 + d x)^e``. They are fitted
for 100 m ≤ x ≤ 10 km; nearer the source (most of a park) they are extrapolated, and the plume model
itself assumes a steady wind of at least about 1 m/s. Wind direction is meteorological: the direction
the wind comes FROM, in degrees clockwise from north; the park frame has x east and y north.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import shapely

from twin.errors import InputError

# class: (a, c, d, e) of σy = a x (1 + 0.0001 x)^-½ and σz = c x (1 + d x)^e
BRIGGS_RURAL = {
    "A": (0.22, 0.20, 0.0, 0.0),
    "B": (0.16, 0.12, 0.0, 0.0),
    "C": (0.11, 0.08, 0.0002, -0.5),
    "D": (0.08, 0.06, 0.0015, -0.5),
    "E": (0.06, 0.03, 0.0003, -1.0),
    "F": (0.04, 0.016, 0.0003, -1.0),
}
REACH_M = (0.01, 100_000.0)  #: downwind distances searched for the end of the zone
#: Pasquill's classes by surface wind (upper bounds, m/s) for strong, moderate and slight insolation by
#: day and a clear night (≤ 3/8 cloud), after Turner (1970) table 1; an in-between class ("A–B") is
#: taken as its more stable side, the longer plume.
PASQUILL = ((2.0, "ABBF"), (3.0, "BBCF"), (5.0, "BCCE"), (6.0, "CDDD"), (math.inf, "CDDD"))


def sigmas_m(x_m: np.ndarray, stability: str) -> tuple[np.ndarray, np.ndarray]:
    """Briggs (1973) open-country σy, σz (m) at downwind distances ``x_m`` (m) for a stability class."""
    try:
        a, c, d, e = BRIGGS_RURAL[stability.upper()]
    except KeyError:
        raise InputError(f"stability class {stability!r}: not one of {', '.join(BRIGGS_RURAL)}") from None
    x = np.asarray(x_m, dtype=float)
    return a * x / np.sqrt(1 + 0.0001 * x), c * x * (1 + d * x) ** e


def stability_class(wind_m_s: float, sun_altitude_deg: float) -> str:
    """Pasquill's class for a wind speed and the sun's altitude: above 60° strong insolation, 35–60°
    moderate, 0–35° slight, below the horizon a clear night."""
    column = 3 if sun_altitude_deg <= 0 else 0 if sun_altitude_deg > 60 else 1 if sun_altitude_deg > 35 else 2
    return next(classes[column] for top, classes in PASQUILL if wind_m_s < top)


def sun_altitude_deg(lon_deg: float, lat_deg: float, at: datetime) -> float:
    """The sun's altitude above the horizon (°) at a place and time, from the solar declination and hour
    angle (Cooper's declination; good to about a degree, plenty for an insolation class)."""
    utc = at.astimezone(UTC)
    day = utc.timetuple().tm_yday
    declination = math.radians(23.45) * math.sin(2 * math.pi * (284 + day) / 365)
    solar_h = utc.hour + utc.minute / 60 + utc.second / 3600 + lon_deg / 15
    hour_angle = math.radians(15 * (solar_h - 12))
    lat = math.radians(lat_deg)
    return math.degrees(math.asin(math.sin(lat) * math.sin(declination)
                                  + math.cos(lat) * math.cos(declination) * math.cos(hour_angle)))


def concentration_mg_m3(x_m: np.ndarray, y_m: np.ndarray, source_xy: tuple[float, float], rate_g_s: float,
                        wind_m_s: float, wind_from_deg: float, stability: str, height_m: float = 0.0) -> np.ndarray:
    """Concentration (mg/m³) at park-frame points ``(x_m, y_m)``, ``height_m`` above the ground; 0 upwind."""
    down, cross = _wind_frame(np.asarray(x_m, dtype=float), np.asarray(y_m, dtype=float), source_xy, wind_from_deg)
    return _gauss(down, cross, rate_g_s, wind_m_s, stability, height_m)


def plume_zone(source_xy: tuple[float, float], rate_g_s: float, wind_m_s: float, wind_from_deg: float,
               stability: str, threshold_mg_m3: float, height_m: float = 0.0, step_m: float = 1.0) -> shapely.Geometry:
    """The plan area where the concentration at ``height_m`` is at least ``threshold_mg_m3`` (empty if none).

    The outline is the exact contour ``|y| = σy √(2 ln(C(x, 0) / threshold))``, sampled every ``step_m``
    along the wind (at most 10 000 samples) between where the centre line first and last reaches the
    threshold, found by bisection.
    """
    def centre(x: np.ndarray) -> np.ndarray:
        return _gauss(x, np.zeros_like(x), rate_g_s, wind_m_s, stability, height_m)

    probe = np.geomspace(*REACH_M, 2001)
    above = np.flatnonzero(centre(probe) >= threshold_mg_m3)
    if not len(above):
        return shapely.Polygon()
    i0, i1 = above[0], above[-1]
    start = 0.0 if i0 == 0 else _crossing(centre, threshold_mg_m3, probe[i0 - 1], probe[i0])
    end = probe[-1] if i1 == len(probe) - 1 else _crossing(centre, threshold_mg_m3, probe[i1 + 1], probe[i1])
    x = np.linspace(start, end, int(np.clip(math.ceil((end - start) / step_m) + 1, 3, 10_000)))
    with np.errstate(divide="ignore", invalid="ignore"):
        half = sigmas_m(x, stability)[0] * np.sqrt(2 * np.log(np.maximum(centre(x) / threshold_mg_m3, 1.0)))
    half = np.nan_to_num(half, nan=0.0, posinf=0.0)
    local = np.concatenate([np.column_stack([x, half]), np.column_stack([x, -half])[::-1]])
    ux, uy = _downwind(wind_from_deg)
    park = np.asarray(source_xy, dtype=float) + local[:, :1] * (ux, uy) + local[:, 1:] * (-uy, ux)
    return shapely.make_valid(shapely.Polygon(park))


def _downwind(wind_from_deg: float) -> tuple[float, float]:
    """Unit vector the wind blows towards (x east, y north)."""
    theta = math.radians(wind_from_deg)
    return -math.sin(theta), -math.cos(theta)


def _wind_frame(x_m: np.ndarray, y_m: np.ndarray, source_xy: tuple[float, float],
                wind_from_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Downwind distance and crosswind offset of park-frame points from the source."""
    ux, uy = _downwind(wind_from_deg)
    dx, dy = x_m - source_xy[0], y_m - source_xy[1]
    return dx * ux + dy * uy, dy * ux - dx * uy


def _gauss(down_m: np.ndarray, cross_m: np.ndarray, rate_g_s: float, wind_m_s: float, stability: str,
           height_m: float) -> np.ndarray:
    """The ground-reflected Gaussian plume of a ground-level source, in mg/m³."""
    if wind_m_s <= 0:
        raise InputError(f"wind speed {wind_m_s} m/s: a Gaussian plume needs a wind")
    down, cross = np.broadcast_arrays(down_m, cross_m)
    c = np.zeros(down.shape)
    ahead = down > 0
    sy, sz = sigmas_m(down[ahead], stability)
    c[ahead] = (rate_g_s * 1000.0 / (math.pi * wind_m_s * sy * sz)
                * np.exp(-cross[ahead] ** 2 / (2 * sy ** 2)) * np.exp(-height_m ** 2 / (2 * sz ** 2)))
    return c


def _crossing(f: Callable[[np.ndarray], np.ndarray], threshold: float, below_x: float, above_x: float) -> float:
    """Bisect for where ``f`` (above the threshold at ``above_x``, below it at ``below_x``) crosses it."""
    for _ in range(60):
        mid = (below_x + above_x) / 2
        if f(np.array([mid]))[0] >= threshold:
            above_x = mid
        else:
            below_x = mid
    return above_x
