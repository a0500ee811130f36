"""Energy in the live app: today's, the last 24 hours' and this month's figures from a real SQLite
history, the cache every session shares, and the building colour mode by kWh/m²."""
from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from conftest import ROOT
from live.clock import ManualClock
from live.history import SqliteHistory
from live.runtime import Live
from test_live_app import RecordingViewport, cells
from twin.cache import compile_scene
from twin.energy import today as today_module
from twin.energy.config import EnergySpec
from twin.energy.meters import meter_tree
from twin.energy.readings import REREAD, KeptReadings, read_counters
from twin.energy.today import EnergyTodayCache, energy_today
from twin.park import Node, Park
from twin.scene import read_scene
from twin.web.deltas import node_index
from twin.web.live_view import INTENSITY, LiveView
from twin.web.looks import ramp_rgb
from twin.web.viewport import manifest

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 15, 10, 30, tzinfo=SHANGHAI)
SPEC = EnergySpec(emission_factors={"electricity": 0.5})


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


#: Cumulative kWh per meter, Shanghai time. EM-P (the park incomer) crosses midnight between two
#: samples (3005 at 00:00) and is reset at 06:00; its month starts at 1005 (between 1000 and 1010).
READINGS = {
    "EM-P": [(at(10, 31, 23), 1000.0), (at(11, 1, 1), 1010.0), (at(11, 14, 23, 30), 3000.0),
             (at(11, 15, 0, 30), 3010.0), (at(11, 15, 5), 3050.0), (at(11, 15, 6), 2.0),
             (at(11, 15, 10), 50.0), (at(11, 15, 10, 20), 54.0)],
    "EM-B1": [(at(10, 31, 12), 0.0), (at(11, 1, 12), 24.0), (at(11, 15, 10), 612.0)],  # month: 612 - 12
    "EM-B2": [(at(11, 5, 0), 100.0), (at(11, 15, 10), 500.0)],  # no readings before the 5th: 400
    "EM-S1": [(at(11, 1, 0), 0.0), (at(11, 15, 10), 300.0)],  # a sub-meter of EM-B1
}
KWH_TODAY = (3010 - 3005) + (3050 - 3010) + 0 + (50 - 2) + (54 - 50)  # the reset counts nothing
KWH_MONTH = (1010 - 1005) + (3000 - 1010) + (3005 - 3000) + KWH_TODAY  # up to midnight, then today


def _meter(park: Park, code: str, host: str, parent: str = "") -> None:
    node = Node(f"dev:{code}", "device", code, parent=host, code=code, properties_loader=lambda: {
        "device": {"code": code, "type": "energy_meter", "parent": parent}})
    node.links["host"] = host
    park.add(node)


def _building(park: Park, name: str, gross_m2: float) -> None:
    park.add(Node(name, "building", name, parent="park"))
    park.add(Node(f"{name}-1F", "storey", f"{name}-1F", parent=name))
    park.add(Node(f"{name}-s", "space", f"{name}-s", parent=f"{name}-1F", properties_loader=lambda: {
        "Qto_SpaceBaseQuantities": {"GrossFloorArea": gross_m2}}))


@pytest.fixture(scope="module")
def park() -> Park:
    """Two metered buildings (100 and 200 m²) under a park incomer, and one without meters."""
    park = Park("测试园区")
    for name, gross_m2 in (("b1", 100.0), ("b2", 200.0), ("b3", 300.0)):
        _building(park, name, gross_m2)
    park.add(Node("ps1", "network_node", "10kV 进线", parent="park"))
    _meter(park, "EM-P", "ps1")
    _meter(park, "EM-B1", "b1", "EM-P")
    _meter(park, "EM-B2", "b2", "EM-P")
    _meter(park, "EM-S1", "b1-s", "EM-B1")
    return park


def _record(history: SqliteHistory, readings: dict[str, list[tuple[datetime, float]]]) -> None:
    for code, samples in readings.items():
        for ts, kwh in samples:
            history.record(f"dev:{code}", "energy_kwh", kwh, ts)
    history.flush()


@pytest.fixture
def history(tmp_path):
    with SqliteHistory(tmp_path / "history.sqlite", ManualClock(NOW), retention_days=3650) as history:
        _record(history, READINGS)
        yield history


# --- energy_today -------------------------------------------------------------------------------
def test_today_is_the_root_meter_since_local_midnight_across_a_reset(park, history):
    assert meter_tree(park).roots == ("dev:EM-P",)
    today = energy_today(park, SPEC, history, NOW.astimezone(ZoneInfo("UTC")))
    assert today.at == NOW and today.at.tzinfo == SHANGHAI
    assert today.kwh_today == pytest.approx(KWH_TODAY) == pytest.approx(97.0)
    assert today.kwh_month == pytest.approx(KWH_MONTH) == pytest.approx(2097.0)
    assert today.kg_co2e_today == pytest.approx(97.0 * 0.5) and today.tco2e_today == pytest.approx(0.0485)
    assert today.tco2e_month == pytest.approx(2097.0 * 0.5 / 1000)


def test_the_hours_are_the_last_24_local_ones_and_add_up_to_today(park, history):
    hours = dict(energy_today(park, SPEC, history, NOW).hourly_kwh)
    starts = list(hours)
    assert len(starts) == 24 and starts[0] == at(11, 14, 11) and starts[-1] == at(11, 15, 10)
    assert all(b - a == timedelta(hours=1) for a, b in zip(starts, starts[1:]))
    assert sum(kwh for start, kwh in hours.items() if start >= at(11, 15, 0)) == pytest.approx(KWH_TODAY)
    assert hours[at(11, 15, 0)] == pytest.approx(5 + 40 / 9)  # 3005 at midnight, 3010 at 00:30, 3050 at 05:00
    assert hours[at(11, 15, 5)] == 0.0 and hours[at(11, 15, 6)] == pytest.approx(12.0)  # the reset, then 48 in 4 h
    assert hours[at(11, 15, 10)] == pytest.approx(4.0)  # the current hour, to its last sample
    on_the_hour = [start for start, _ in energy_today(park, SPEC, history, at(11, 15, 10)).hourly_kwh]
    assert len(on_the_hour) == 24 and on_the_hour[0] == at(11, 14, 10) and on_the_hour[-1] == at(11, 15, 9)


def test_buildings_kwh_per_m2_this_month(park, history):
    intensities = energy_today(park, SPEC, history, NOW).buildings_kwh_m2_month
    assert intensities == {"b1": pytest.approx(600 / 100), "b2": pytest.approx(400 / 200)}  # b3 has no meters


def test_no_readings_are_unknown_and_a_naive_time_is_refused(park, tmp_path):
    with SqliteHistory(tmp_path / "empty.sqlite", ManualClock(NOW), retention_days=3650) as empty:
        today = energy_today(park, SPEC, empty, NOW)
        assert math.isnan(today.kwh_today) and math.isnan(today.kwh_month) and today.buildings_kwh_m2_month == {}
        assert len(today.hourly_kwh) == 24 and all(math.isnan(kwh) for _, kwh in today.hourly_kwh)
        with pytest.raises(ValueError, match="timezone-aware"):
            energy_today(park, SPEC, empty, NOW.replace(tzinfo=None))


# --- the shared cache ---------------------------------------------------------------------------
def test_the_cache_recomputes_only_once_its_figures_are_max_age_old(park, history):
    clock = ManualClock(NOW)
    cache = EnergyTodayCache(park, SPEC, history, clock, max_age_s=60)
    first = cache.get()
    assert cache.metered and first.kwh_today == pytest.approx(KWH_TODAY)
    _record(history, {"EM-P": [(at(11, 15, 10, 29), 64.0)]})
    clock.advance(59)
    assert cache.get() is first, "younger than max_age_s: the same figures"
    clock.advance(1)
    again = cache.get()
    assert again is not first and again.kwh_today == pytest.approx(KWH_TODAY + 10)
    with pytest.raises(ValueError, match="max_age_s"):
        EnergyTodayCache(park, SPEC, history, clock, max_age_s=-1)


def test_kept_readings_read_only_what_is_new_late_samples_included(park, history, monkeypatch):
    meters, start = meter_tree(park, SPEC.device_type).meters, at(11, 1, 0)
    kept = KeptReadings(history, SPEC.metric)
    kept.read(meters, start, NOW)
    _record(history, {"EM-P": [(at(11, 15, 10, 25), 60.0), (at(11, 15, 10, 40), 70.0)],  # 10:25: stored late
                      "EM-B2": [(at(11, 15, 10, 41), 510.0)]})
    asked, series = [], history.series
    monkeypatch.setattr(history, "series", lambda node, metric, since, *rest: asked.append(since)
                        or series(node, metric, since, *rest))
    later = NOW + timedelta(minutes=15)
    found = kept.read(meters, start, later)
    assert asked and min(asked) == NOW - REREAD, "only the last minutes are read again"
    monkeypatch.undo()
    full = read_counters(history, meters, SPEC.metric, start, later)
    assert found.keys() == full.keys()
    for meter, readings in full.items():
        assert np.array_equal(found[meter].t_s, readings.t_s) and np.array_equal(found[meter].value, readings.value)
    assert 60.0 in found["dev:EM-P"].value and 510.0 in found["dev:EM-B2"].value


def test_sessions_asking_together_share_one_computation(park, history, monkeypatch):
    computed = []

    def slow(*args, **kwargs):
        computed.append(args)
        time.sleep(0.2)
        return energy_today(*args, **kwargs)

    monkeypatch.setattr(today_module, "energy_today", slow)
    cache = EnergyTodayCache(park, SPEC, history, ManualClock(NOW))
    found = []
    threads = [threading.Thread(target=lambda: found.append(cache.get())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(computed) == 1 and len(found) == 4 and all(f is found[0] for f in found)


# --- the colour mode ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo() -> Park:
    return compile_scene(ROOT / "scenes" / "demo")


def test_the_intensity_mode_colours_metered_buildings_and_none_restores_them(demo, tmp_path):
    ifc, block = "ifc:B01:1LSeCw_5b39gtH1uFDWdtz", "gis:buildings:B04"  # an IFC building, an LOD1 block
    tree = meter_tree(demo)
    live = Live(demo, read_scene(ROOT / "scenes" / "demo").live, broker_url="mqtt://127.0.0.1:1",
                folder=tmp_path / "live", clock=ManualClock(NOW))  # not started
    try:
        assert live.energy.spec == EnergySpec()
        for building, kwh in ((ifc, 3600.0), (block, 3 * 3924.1366302871465)):  # 1 and 3 kWh/m²
            _record(live.history, {tree.mains(building)[0].code: [(at(11, 1, 0), 0.0), (at(11, 15, 10), kwh)]})
        viewport = RecordingViewport(node_index(demo), batches=manifest(demo.batches))
        viewport.sent = []
        panel = LiveView(live.state, viewport, energy=live.energy).shade_panel("en")
        choice, legend = panel
        assert choice.options["Energy intensity (kWh/m², this month)"] == INTENSITY
        choice.value = INTENSITY
        index = node_index(demo)
        parts = [n for n in index.drawn([ifc]) if demo.get(n).kind != "device"]
        devices = cells(index.parts([n for n in index.drawn([ifc]) if demo.get(n).kind == "device"]))
        styled = {tuple(m["rgb"]): cells(m["parts"]) for m in viewport.sent if m.get("rgb")}
        assert set(styled) == {ramp_rgb(1.0), ramp_rgb(1 / 3)}, "the other buildings have no readings"
        assert styled[ramp_rgb(1.0)] == cells(index.parts([block])), "the most intense building is red"
        assert styled[ramp_rgb(1 / 3)] == cells(index.parts(parts)), "all of the IFC building but its devices"
        assert devices and not devices & set().union(*styled.values())
        assert "kWh/m²" in legend.object and ">3<" in legend.object

        viewport.sent.clear()
        choice.value = ""
        reset = set().union(*(cells(m["parts"]) for m in viewport.sent if m.get("reset")))
        assert reset == cells(index.parts([*parts, block])) and legend.object == ""
    finally:
        live.history.close()
