"""Walking speed and flow after the SFPE Handbook's hydraulic model (Gwynne & Rosenbaum).

Speed ``S = k (1 − 0.266 D)`` for densities 0.54–3.8 p/m², ``S = 0.85 k`` below; ``k = 1.40`` m/s on
the level, ``k = 51.8 √(tread/riser)`` m/min on stairs. A door passes 1.3 p/s per metre of effective
width, its clear width less a 0.15 m boundary layer on each side.

>>> round(stair_k_m_s(tread_m=11 * 0.0254, riser_m=7 * 0.0254), 2)
1.08
>>> round(door_flow_pps(1.0), 2)
0.91
"""
from __future__ import annotations

import math

K_LEVEL_M_S = 1.40
A_DENSITY = 0.266  # m²/p
FREE_DENSITY_PPM2 = 0.54  # below it people walk at 0.85 k
JAM_DENSITY_PPM2 = 3.8  # above it the handbook has no movement; we keep a creep speed
CREEP_SPEED_M_S = 0.1
DOOR_SPECIFIC_FLOW_PPS_PER_M = 1.3
BOUNDARY_LAYER_M = 0.15
RISER_7_11_M = 7 * 0.0254
TREAD_7_11_M = 11 * 0.0254


def stair_k_m_s(tread_m: float, riser_m: float) -> float:
    """The SFPE speed constant of a stair, ``51.8 √(tread/riser)`` m/min, in m/s."""
    return 51.8 * math.sqrt(tread_m / riser_m) / 60.0


def speed_m_s(density_ppm2: float, k_m_s: float) -> float:
    """Walking speed at a density; never below a creep speed, so a jammed room still drains."""
    if density_ppm2 < FREE_DENSITY_PPM2:
        return 0.85 * k_m_s
    return max(k_m_s * (1.0 - A_DENSITY * min(density_ppm2, JAM_DENSITY_PPM2)), CREEP_SPEED_M_S)


def k_for_speed_m_s(free_speed_m_s: float) -> float:
    """The speed constant of someone who walks ``free_speed_m_s`` when nobody is in the way."""
    return free_speed_m_s / 0.85


def effective_width_m(clear_width_m: float) -> float:
    """Clear width less the boundary layer on both sides (never below 0.1 m)."""
    return max(clear_width_m - 2 * BOUNDARY_LAYER_M, 0.1)


def door_flow_pps(clear_width_m: float, k_m_s: float = K_LEVEL_M_S) -> float:
    """Most persons per second through an opening; on a stair scaled by its speed constant."""
    return DOOR_SPECIFIC_FLOW_PPS_PER_M * k_m_s / K_LEVEL_M_S * effective_width_m(clear_width_m)
