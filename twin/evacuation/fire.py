"""A t²-growth design fire and the smoke layer it fills a space with, after NFPA 92 (2012).

Heat release ``Q = α t²`` with the growth constants of NFPA 92 / NFPA 72 (time to 1055 kW: slow 600 s,
medium 300 s, fast 150 s, ultrafast 75 s). The layer interface height ``z`` above the floor of a space
of plan area ``A`` and height ``H`` comes from the algebraic filling equations, NFPA 92 (2012) 5.5.2:

* unsteady t² fire (5.5.2.2): ``z/H = 0.91 [t tg^(-2/5) H^(-4/5) (A/H²)^(-3/5)]^(-1.45)``,
  ``tg = √(1055/α)`` the growth time to 1055 kW;
* steady fire (5.5.2.1): ``z/H = 1.11 − 0.28 ln(t Q^(1/3) H^(-4/3) / (A/H²))``.

Both fit experiments for ``0.9 ≤ A/H² ≤ 14`` and ``z/H ≥ 0.2``; outside that they are used anyway, as
an estimate (they overpredict filling below ``z/H = 0.2``, which errs on the safe side). ``z`` is
clamped to ``[0, H]``; until the equation gives ``z/H ≤ 1`` no layer has formed and ``z = H``.
A peak heat release caps the t² curve: the layer then follows whichever of the two equations (t² fire,
or a steady fire at the peak from ``t = 0``) fills more slowly, since both burn at least as hard as the
capped fire at every instant.

>>> round(heat_release_kw(growth_time_s("medium"), "medium"))
1055
"""
from __future__ import annotations

import math

import numpy as np

from twin.errors import InputError

GROWTH_ALPHA_KW_S2 = {"slow": 0.00293, "medium": 0.01172, "fast": 0.0469, "ultrafast": 0.1876}
REFERENCE_HRR_KW = 1055.0  #: the heat release that defines the growth time tg
TENABLE_LAYER_M = 1.8  #: a space is untenable once the smoke layer is this low above its floor


def alpha_kw_s2(growth: str) -> float:
    """The t² growth constant of a named growth class."""
    try:
        return GROWTH_ALPHA_KW_S2[growth]
    except KeyError:
        raise InputError(f"fire growth {growth!r}: not one of {', '.join(GROWTH_ALPHA_KW_S2)}") from None


def growth_time_s(growth: str) -> float:
    """Time for a t² fire to reach 1055 kW, ``tg = √(1055/α)``."""
    return math.sqrt(REFERENCE_HRR_KW / alpha_kw_s2(growth))


def heat_release_kw(t_s: float | np.ndarray, growth: str, peak_kw: float | None = None) -> float | np.ndarray:
    """Heat release rate ``α t²`` (0 before ignition), capped at ``peak_kw`` when given."""
    t = np.maximum(np.asarray(t_s, dtype=float), 0.0)
    q = alpha_kw_s2(growth) * t * t
    if peak_kw is not None:
        q = np.minimum(q, peak_kw)
    return float(q) if q.ndim == 0 else q


def layer_height_m(t_s: float | np.ndarray, area_m2: float, height_m: float, growth: str,
                   peak_kw: float | None = None) -> float | np.ndarray:
    """Smoke layer interface height above the floor, ``t_s`` after ignition (NFPA 92 5.5.2.2)."""
    t = np.maximum(np.asarray(t_s, dtype=float), 0.0)
    x = t * growth_time_s(growth) ** -0.4 * height_m ** -0.8 * (area_m2 / height_m ** 2) ** -0.6
    with np.errstate(divide="ignore"):
        z = np.clip(0.91 * x ** -1.45, 0.0, 1.0) * height_m
    if peak_kw is not None:
        z = np.maximum(z, steady_layer_height_m(t, area_m2, height_m, peak_kw))
    return float(z) if z.ndim == 0 else z


def steady_layer_height_m(t_s: float | np.ndarray, area_m2: float, height_m: float,
                          hrr_kw: float) -> float | np.ndarray:
    """Smoke layer interface height under a steady fire of ``hrr_kw`` lit at ``t = 0`` (NFPA 92 5.5.2.1)."""
    t = np.maximum(np.asarray(t_s, dtype=float), 0.0)
    y = t * max(hrr_kw, 0.0) ** (1 / 3) * height_m ** (-4 / 3) / (area_m2 / height_m ** 2)
    with np.errstate(divide="ignore"):
        z = np.clip(1.11 - 0.28 * np.log(y), 0.0, 1.0) * height_m
    return float(z) if z.ndim == 0 else z


def time_to_layer_s(z_m: float, area_m2: float, height_m: float, growth: str, peak_kw: float | None = None) -> float:
    """When :func:`layer_height_m` first falls below ``z_m`` (at or above ``H``: when the layer forms)."""
    ratio = min(z_m / height_m, 1.0)
    if ratio <= 0.0:
        return math.inf
    x = (ratio / 0.91) ** (-1 / 1.45)
    t = x * growth_time_s(growth) ** 0.4 * height_m ** 0.8 * (area_m2 / height_m ** 2) ** 0.6
    if peak_kw is not None:
        t = max(t, steady_time_to_layer_s(z_m, area_m2, height_m, peak_kw))
    return t


def steady_time_to_layer_s(z_m: float, area_m2: float, height_m: float, hrr_kw: float) -> float:
    """When :func:`steady_layer_height_m` first falls below ``z_m``."""
    ratio = min(z_m / height_m, 1.0)
    if ratio <= 0.0 or hrr_kw <= 0.0:
        return math.inf
    y = math.exp((1.11 - ratio) / 0.28)
    return y * (area_m2 / height_m ** 2) * height_m ** (4 / 3) / hrr_kw ** (1 / 3)

