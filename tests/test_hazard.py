"""Hazards: the t² design fire and NFPA 92 smoke filling, smoke spread over the FZK-Haus graph, the
Gaussian gas plume, and placed hazards."""
from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from rooms_ifc import sample_graph
from twin.errors import InputError
from twin.evacuation import fire, hazard, plume


# growth class: tabulated time to 1055 kW (NFPA 92 / NFPA 72)
GROWTH_TIME_S = {"slow": 600.0, "medium": 300.0, "fast": 150.0, "ultrafast": 75.0}


@pytest.fixture(scope="module")
def haus():
    return sample_graph("AC20-FZK-Haus.ifc")


# --- the design fire ------------------------------------------------------------------------------
@pytest.mark.parametrize("growth", list(GROWTH_TIME_S))
def test_t2_fire_reaches_1055_kw_at_its_growth_time(growth):
    assert fire.heat_release_kw(GROWTH_TIME_S[growth], growth) == pytest.approx(1055.0, rel=1e-3)
    assert fire.growth_time_s(growth) == pytest.approx(GROWTH_TIME_S[growth], rel=1e-3)


def test_heat_release_is_capped_and_zero_before_ignition():
    assert fire.heat_release_kw(1000.0, "fast", peak_kw=2000.0) == 2000.0
    assert fire.heat_release_kw(100.0, "fast", peak_kw=2000.0) == pytest.approx(469.0)
    assert fire.heat_release_kw(-5.0, "fast") == 0.0
    with pytest.raises(InputError, match="growth"):
        fire.heat_release_kw(10.0, "quick")


def test_layer_height_against_hand_computed_nfpa92_values():
    area_m2, height_m = 1000.0, 10.0
    alpha = 0.01172
    tg = (1055 / alpha) ** 0.5  # ≈ 300 s
    # z/H = 0.91 (t / (tg^0.4 H^0.8 (A/H²)^0.6))^-1.45, written via logarithms
    log_x = math.log(600) - 0.4 * math.log(tg) - 0.8 * math.log(height_m) - 0.6 * math.log(area_m2 / height_m ** 2)
    expected = 0.91 * math.exp(-1.45 * log_x) * height_m
    assert expected == pytest.approx(2.50, abs=0.01)  # worked by hand: x = 2.439, z/H = 0.250
    assert fire.layer_height_m(600.0, area_m2, height_m, "medium") == pytest.approx(expected, rel=1e-9)
    # at 120 s the equation gives z/H = 2.58 > 1: no layer yet
    assert fire.layer_height_m(120.0, area_m2, height_m, "medium") == height_m
    # steady 1000 kW fire, 60 s: z/H = 1.11 - 0.28 ln(60 · 10 / 10^(4/3) / 10) = 0.823
    assert fire.steady_layer_height_m(60.0, area_m2, height_m, 1000.0) == pytest.approx(8.23, abs=0.01)


def test_time_to_layer_inverts_the_filling_equations():
    for z_m in (1.8, 2.5, 6.0):
        t_s = fire.time_to_layer_s(z_m, 1000.0, 10.0, "fast")
        assert fire.layer_height_m(t_s, 1000.0, 10.0, "fast") == pytest.approx(z_m, rel=1e-9)
        t_s = fire.steady_time_to_layer_s(z_m, 1000.0, 10.0, 500.0)
        assert fire.steady_layer_height_m(t_s, 1000.0, 10.0, 500.0) == pytest.approx(z_m, rel=1e-9)
    assert fire.time_to_layer_s(0.0, 1000.0, 10.0, "fast") == math.inf
    # a peak cap only slows the filling
    capped = fire.time_to_layer_s(1.8, 1000.0, 10.0, "fast", peak_kw=1000.0)
    assert capped > fire.time_to_layer_s(1.8, 1000.0, 10.0, "fast")
    assert fire.layer_height_m(capped, 1000.0, 10.0, "fast", peak_kw=1000.0) == pytest.approx(1.8, rel=1e-9)


def test_layer_falls_monotonically_faster_for_faster_growth_and_smaller_rooms():
    t_s = np.arange(0.0, 1200.0, 10.0)
    z = fire.layer_height_m(t_s, 500.0, 6.0, "medium")
    assert z[0] == 6.0 and z[-1] < 1.8
    assert np.all(np.diff(z) <= 0)
    formed = z < 6.0
    assert np.all(np.diff(z[formed]) < 0)
    later = t_s[formed][0]
    slow, medium, fast = (fire.layer_height_m(later, 500.0, 6.0, g) for g in ("slow", "medium", "fast"))
    assert slow > medium > fast
    assert fire.layer_height_m(later, 100.0, 6.0, "medium") < medium < fire.layer_height_m(later, 2000.0, 6.0,
                                                                                           "medium")
    assert fire.time_to_layer_s(1.8, 100.0, 6.0, "medium") < fire.time_to_layer_s(1.8, 500.0, 6.0, "medium")


# --- smoke spread over the FZK-Haus -----------------------------------------------------------------
def test_living_room_fire_spreads_to_its_neighbours_later_and_never_outside(haus):
    living = haus.place("5 Wohnen")
    h = hazard.fire(haus, living, "medium")
    living_id = haus.places[living].id
    first = min(h.untenable_s, key=h.untenable_s.get)
    assert first == living_id and h.origin == living_id and h.kind == "fire"
    # the room's own ASET is where its layer reaches 1.8 m
    assert h.aset_s(living_id) == pytest.approx(fire.time_to_layer_s(1.8, haus.places[living].area_m2,
                                                                     haus.places[living].height_m, "medium"))
    neighbours = {haus.openings[o].other(living) for o in haus.places[living].openings
                  if haus.openings[o].kind != "exit"}
    assert neighbours and any(haus.places[q].id in h.untenable_s for q in neighbours)
    for q in neighbours:
        aset = h.aset_s(haus.places[q].id)
        assert aset is None or aset > h.aset_s(living_id)
    outside = [p.id for p in haus.places if p.kind == "outside"]
    assert outside and not set(outside) & set(h.untenable_s)
    assert not set(outside) & set(h.layer_m)
    # smoke goes up the open stair to the gallery above
    assert h.aset_s(haus.places[haus.place("7 Galerie")].id) > h.aset_s(haus.places[haus.place("Wendeltreppe")].id)


def test_fire_playback_and_determinism(haus):
    living = haus.place("5 Wohnen")
    h = hazard.fire(haus, living, "fast", horizon_s=600.0)
    assert h.times_s[0] == 0.0 and h.times_s[-1] == 600.0 and np.allclose(np.diff(h.times_s), 5.0)
    layer = h.layer_m[haus.places[living].id]
    assert layer.shape == h.times_s.shape and layer[0] == haus.places[living].height_m and layer[-1] < 1.8
    assert np.all(np.diff(layer) <= 0)
    again = hazard.fire(haus, living, "fast", horizon_s=600.0)
    assert again.untenable_s == h.untenable_s
    assert all(np.array_equal(again.layer_m[k], v) for k, v in h.layer_m.items())
    # faster growth: every place untenable sooner; a horizon before the first ASET: nothing untenable
    slow = hazard.fire(haus, living, "slow", horizon_s=600.0)
    assert all(slow.untenable_s[k] > t for k, t in h.untenable_s.items() if k in slow.untenable_s)
    assert hazard.fire(haus, living, "fast", horizon_s=min(h.untenable_s.values()) - 1).untenable_s == {}
    # a fire capped at 20 kW makes no place untenable sooner, and the big gallery later
    capped = hazard.fire(haus, living, "fast", horizon_s=600.0, peak_kw=20.0)
    assert all(capped.untenable_s[k] >= t for k, t in h.untenable_s.items())
    gallery = haus.places[haus.place("7 Galerie")].id
    assert capped.aset_s(gallery) > h.aset_s(gallery)


def test_placed_hazard_covers_its_level_only(haus):
    living = haus.place("5 Wohnen")
    h = hazard.placed(haus, "flood", living, radius_m=0.5)
    assert h.untenable_s[haus.places[living].id] == 0.0 and h.zone.contains(haus.places[living].footprint)
    assert haus.places[haus.place("7 Galerie")].id not in h.untenable_s  # the floor above
    assert not any(p.kind == "outside" and p.id in h.untenable_s for p in haus.places)
    with pytest.raises(InputError):
        hazard.placed(haus, "meteor", living)


def test_gas_plume_reaches_the_house_downwind_only(haus):
    house = shapely.union_all([p.footprint for p in haus.places if p.kind == "space"])
    minx, miny, maxx, maxy = house.bounds
    west = (minx - 30.0, (miny + maxy) / 2)
    h = hazard.gas(haus, west, 50.0, 2.0, 270.0, "D", 100.0)
    assert h.kind == "gas" and h.zone.intersects(house)
    assert haus.places[haus.place("5 Wohnen")].id in h.untenable_s and set(h.untenable_s.values()) == {0.0}
    assert hazard.gas(haus, west, 50.0, 2.0, 90.0, "D", 100.0).untenable_s == {}  # blown away from it


# --- the gas plume ----------------------------------------------------------------------------------
def test_plume_hand_computed_and_centre_line_decay():
    # class D at 100 m: σy = 8/√1.01 = 7.960 m, σz = 6/√1.15 = 5.595 m; 1 g/s in 1 m/s: C = 1000/(π σy σz)
    c = plume.concentration_mg_m3(100.0, 0.0, (0.0, 0.0), 1.0, 1.0, 270.0, "D")
    assert c == pytest.approx(1000 / (math.pi * 7.960 * 5.595), rel=1e-3)
    x = np.array([10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0])
    along = plume.concentration_mg_m3(x, np.zeros_like(x), (0.0, 0.0), 1.0, 3.0, 270.0, "D")
    assert np.all(along > 0) and np.all(np.diff(along) < 0)
    upwind = plume.concentration_mg_m3(-x, np.zeros_like(x), (0.0, 0.0), 1.0, 3.0, 270.0, "D")
    assert np.all(upwind == 0)
    # wind from the north blows south
    south, north = plume.concentration_mg_m3(np.zeros(2), np.array([-100.0, 100.0]), (0.0, 0.0), 1.0, 3.0, 0.0, "D")
    assert south > 0 and north == 0
    # off the centre line and above the ground it is thinner
    assert plume.concentration_mg_m3(100.0, 10.0, (0.0, 0.0), 1.0, 3.0, 270.0, "D") < along[2]
    assert plume.concentration_mg_m3(100.0, 0.0, (0.0, 0.0), 1.0, 3.0, 270.0, "D", height_m=5.0) < along[2]


def test_more_stable_air_keeps_more_gas_at_ground_far_downwind():
    far = [plume.concentration_mg_m3(2000.0, 0.0, (0.0, 0.0), 1.0, 3.0, 270.0, s) for s in "ABCDEF"]
    assert np.all(np.diff(far) > 0)
    with pytest.raises(InputError):
        plume.concentration_mg_m3(100.0, 0.0, (0.0, 0.0), 1.0, 3.0, 270.0, "G")


def test_plume_zone_lies_downwind_and_follows_the_threshold():
    source = (100.0, 200.0)
    args = (source, 10.0, 2.0, 270.0, "D")
    zone = plume.plume_zone(*args, threshold_mg_m3=10.0)
    assert zone.is_valid and zone.area > 0
    assert zone.centroid.x > source[0] and zone.centroid.y == pytest.approx(source[1], abs=1e-6)
    minx, _, maxx, _ = zone.bounds
    assert minx == pytest.approx(source[0], abs=1e-6)
    # its far end is where the centre line drops to the threshold
    assert plume.concentration_mg_m3(maxx, source[1], *args) == pytest.approx(10.0, rel=1e-3)
    # points just inside the outline are above the threshold, just outside below
    ring = np.asarray(zone.exterior.coords)
    edge = ring[np.argmax(ring[:, 1])]
    assert plume.concentration_mg_m3(edge[0], edge[1] - 0.2, *args) > 10.0
    assert plume.concentration_mg_m3(edge[0], edge[1] + 0.2, *args) < 10.0
    assert plume.plume_zone(*args, threshold_mg_m3=20.0).within(zone.buffer(1e-6))
    # a ground-level source exceeds any threshold right at the ground next to it, but not at head height
    assert not plume.plume_zone(*args, threshold_mg_m3=1e9).is_empty
    assert plume.plume_zone(*args, threshold_mg_m3=1e9, height_m=1.5).is_empty
