"""A colour mode for buildings: consumption intensity (kWh/m²) over a roll-up's range, on the app's
blue → red ramp (:func:`twin.web.looks.ramp_rgb`), for the buildings whose intensity is known; the
scale's ends go to :func:`twin.web.looks.legend_html` for the legend.

>>> colours = intensity_colours(park, rollup)            # doctest: +SKIP
>>> low, high = intensity_scale_kwh_m2(park, rollup)     # doctest: +SKIP
>>> ramp_colours({"gis:buildings:B04": 42.0})            # doctest: +SKIP  (intensities already known)
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from twin.energy.rollup import Rollup
from twin.energy.summary import summarise
from twin.park import Park
from twin.web.looks import Rgb, ramp_rgb


def intensities_kwh_m2(park: Park, rollup: Rollup) -> dict[str, float]:
    """Building node id → kWh per m² of floor area over the range (buildings without a known
    consumption or area left out)."""
    buildings = summarise(park, rollup, 0.0).buildings
    return {b.id: b.kwh_per_m2 for b in buildings if math.isfinite(b.kwh_per_m2)}


def intensity_scale_kwh_m2(park: Park, rollup: Rollup) -> tuple[float, float]:
    """The default scale of a roll-up's intensities (:func:`default_scale_kwh_m2`)."""
    return default_scale_kwh_m2(intensities_kwh_m2(park, rollup))


def intensity_colours(park: Park, rollup: Rollup,
                      scale_kwh_m2: tuple[float, float] | None = None) -> dict[str, Rgb]:
    """Building node id → its colour by its intensity over the roll-up's range (:func:`ramp_colours`)."""
    return ramp_colours(intensities_kwh_m2(park, rollup), scale_kwh_m2)


def default_scale_kwh_m2(intensities: Mapping[str, float]) -> tuple[float, float]:
    """0 to the most intense building (1 when none is known)."""
    return 0.0, max(intensities.values(), default=0.0) or 1.0


def ramp_colours(intensities: Mapping[str, float],
                 scale_kwh_m2: tuple[float, float] | None = None) -> dict[str, Rgb]:
    """Building node id → its colour: blue at the scale's low end, red at its high end (default
    :func:`default_scale_kwh_m2`); values beyond the scale take its end's colour."""
    low, high = scale_kwh_m2 or default_scale_kwh_m2(intensities)
    span = high - low
    return {b: ramp_rgb((value - low) / span if span > 0 else 1.0) for b, value in intensities.items()}
