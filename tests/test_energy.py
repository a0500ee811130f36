"""Energy and carbon: the meter tree, roll-ups from a real SQLite history, carbon, intensity, colours,
the ``[energy]`` table and ``twin energy`` (issue 8 item 2)."""
from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from conftest import ROOT
from live.clock import ManualClock
from live.config import DeviceType, LiveSpec, MetricSpec
from live.history import SqliteHistory
from live.runtime import live_folder
from twin.cli import main
from twin.energy.colours import intensity_colours, intensity_scale_kwh_m2, intensities_kwh_m2
from twin.energy.config import EnergySpec, read_energy
from twin.energy.meters import meter_tree
from twin.energy.readings import Readings, read_counters
from twin.energy.rollup import bucket_edges, consumption, month_range, roll_up
from twin.energy.summary import summarise
from twin.errors import InputError
from twin.park import Node, Park
from twin.scene import _Reader, read_scene
from twin.web.looks import ramp_rgb

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOVEMBER = month_range("2026-11", SHANGHAI)
STEP = timedelta(minutes=15)
FACTOR = 0.5703


# --- a small park: two buildings, floors, let and vacant units, an air handler, a park incomer ------
def _props(**sets):
    return lambda: sets


def _meter(park: Park, code: str, host: str | None, parent: str = "") -> None:
    node = Node(f"dev:{code}", "device", f"{code} 电能表", parent=host or "park", code=code,
                properties_loader=_props(device={"code": code, "type": "energy_meter", "parent": parent}))
    if host:
        node.links["host"] = host
    park.add(node)


def _space(park: Park, space_id: str, storey: str, gross_m2: float, lease: dict | None) -> None:
    sets = {"Qto_SpaceBaseQuantities": {"GrossFloorArea": gross_m2}}
    park.add(Node(space_id, "space", space_id, parent=storey, properties_loader=_props(
        **sets, **({"lease": lease} if lease else {}))))


@pytest.fixture(scope="module")
def park() -> Park:
    park = Park("测试园区 Test park")
    park.add(Node("b1", "building", "1号楼", parent="park"))
    park.add(Node("b2", "building", "2号楼", parent="park"))
    for storey, building in (("b1-1F", "b1"), ("b1-2F", "b1"), ("b2-1F", "b2")):
        park.add(Node(storey, "storey", storey, parent=building))
    _space(park, "s101", "b1-1F", 55.0, {"status": "let", "tenant": "甲公司", "area_m2": 50.0})
    _space(park, "s102", "b1-1F", 33.0, {"status": "let", "tenant": "甲公司", "area_m2": 30.0})
    _space(park, "s201", "b1-2F", 44.0, {"status": "let", "tenant": "乙公司", "area_m2": 40.0})
    _space(park, "s202", "b1-2F", 40.0, {"status": "vacant", "tenant": "", "area_m2": 38.0})
    _space(park, "s2-101", "b2-1F", 100.0, None)
    park.add(Node("ahu1", "element", "空调机组", parent="b1-2F", ifc_class="IfcUnitaryEquipment"))
    park.add(Node("ps1", "network_node", "10kV 进线", parent="park"))
    _meter(park, "EM-P", "ps1")
    _meter(park, "EM-B1", "b1", "EM-P")
    _meter(park, "EM-B1-1F", "b1-1F", "EM-B1")
    _meter(park, "EM-B1-2F", "b1-2F", "EM-B1")
    _meter(park, "EM-101", "s101", "EM-B1-1F")
    _meter(park, "EM-102", "s102", "EM-B1-1F")
    _meter(park, "EM-201", "s201", "dev:EM-B1-2F")  # a parent may be named by node id too
    _meter(park, "EM-202", "s202", "EM-B1-2F")
    _meter(park, "EM-AHU", "ahu1", "EM-B1")
    _meter(park, "EM-B2", "b2", "EM-P")
    _meter(park, "EM-B2-1F", "b2-1F", "EM-B2")
    return park


def _day_kw(day_kw: float, night_kw: float):
    """Power by local hour: ``day_kw`` from 08:00 to 18:00, ``night_kw`` otherwise."""
    return lambda local: day_kw if 8 <= local.hour < 18 else night_kw


#: kW by meter; parents draw their children plus what no sub-meter sees (EM-B2 has no readings).
LEAVES = {"EM-101": _day_kw(4.0, 1.0), "EM-102": _day_kw(2.0, 0.0), "EM-201": _day_kw(8.0, 2.0),
          "EM-202": _day_kw(0.0, 0.0), "EM-AHU": _day_kw(5.0, 0.0), "EM-B2-1F": _day_kw(10.0, 1.0)}
COMMON_KW = {"EM-B1-1F": 1.0, "EM-B1-2F": 0.0, "EM-B1": 3.0, "EM-P": 2.0}
CHILDREN = {"EM-B1-1F": ("EM-101", "EM-102"), "EM-B1-2F": ("EM-201", "EM-202"),
            "EM-B1": ("EM-B1-1F", "EM-B1-2F", "EM-AHU"), "EM-P": ("EM-B1", "EM-B2-1F")}


def _kw(code: str, local: datetime) -> float:
    if code in LEAVES:
        return LEAVES[code](local)
    return COMMON_KW[code] + sum(_kw(c, local) for c in CHILDREN[code])


def _fill(history: SqliteHistory, codes, start: datetime, end: datetime, first_kwh: float = 1000.0) -> None:
    """Cumulative readings every 15 min from ``start`` to ``end``, as each meter's power says."""
    for code in codes:
        kwh, at = first_kwh, start
        while at <= end:
            history.record(f"dev:{code}", "energy_kwh", kwh, at)
            kwh += _kw(code, at.astimezone(SHANGHAI)) * STEP.total_seconds() / 3600
            at += STEP
    history.flush()


@pytest.fixture(scope="module")
def readings(tmp_path_factory) -> dict[str, Readings]:
    """November 2026 (Shanghai) and a day either side, read back from a real SQLite history."""
    start, end = NOVEMBER[0] - timedelta(days=1), NOVEMBER[1] + timedelta(days=1)
    path = tmp_path_factory.mktemp("energy") / "history.sqlite"
    with SqliteHistory(path, ManualClock(end), retention_days=3650) as history:
        _fill(history, [*LEAVES, *COMMON_KW], start, end)
        return read_counters(history, [f"dev:{c}" for c in (*LEAVES, *COMMON_KW, "EM-B2")], "energy_kwh",
                             *NOVEMBER)


# --- the meter tree -----------------------------------------------------------------------------
def test_levels_come_from_the_hosts_and_leases(park):
    tree = meter_tree(park)
    levels = {m.code: m.level for m in tree.meters.values()}
    assert levels == {"EM-P": "park", "EM-B1": "building", "EM-B1-1F": "floor", "EM-B1-2F": "floor",
                      "EM-101": "tenant", "EM-102": "tenant", "EM-201": "tenant", "EM-202": "unit",
                      "EM-AHU": "circuit", "EM-B2": "building", "EM-B2-1F": "floor"}
    assert tree.meters["dev:EM-201"].tenant == "乙公司" and tree.meters["dev:EM-201"].building == "b1"
    assert tree.roots == ("dev:EM-P",) and tree.problems == ()
    assert [m.code for m in tree.mains("b1")] == ["EM-B1"]
    order = list(tree.meters)
    assert all(order.index(m.parent) < order.index(m.id) for m in tree.meters.values() if m.parent)


def test_a_missing_parent_is_a_problem_and_a_cycle_is_refused():
    park = Park("p")
    park.add(Node("b", "building", "B", parent="park"))
    _meter(park, "A", "b", "NOPE")
    tree = meter_tree(park)
    assert tree.roots == ("dev:A",) and tree.meters["dev:A"].level == "building"
    assert tree.problems == ("dev:A: field 'parent': no energy_meter 'NOPE' in the park; counted as a root meter",)
    _meter(park, "X", "b", "Y")
    _meter(park, "Y", "b", "X")
    with pytest.raises(InputError, match=r"meters dev:X › dev:Y › dev:X: field 'parent' goes round in a cycle"):
        meter_tree(park)


# --- buckets and counters -----------------------------------------------------------------------
def test_bucket_edges_are_local_hours_days_and_months():
    start, end = NOVEMBER
    assert start.isoformat() == "2026-11-01T00:00:00+08:00" and end.isoformat() == "2026-12-01T00:00:00+08:00"
    assert len(bucket_edges(start, end, "hour")) == 30 * 24 + 1
    days = bucket_edges(start, end, "day")
    assert len(days) == 31 and days[1].isoformat() == "2026-11-02T00:00:00+08:00"
    assert [e.isoformat() for e in bucket_edges(start, end + timedelta(days=40), "month")] == [
        "2026-11-01T00:00:00+08:00", "2026-12-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00",
        "2027-01-10T00:00:00+08:00"]
    assert month_range("2026-12", SHANGHAI)[1].isoformat() == "2027-01-01T00:00:00+08:00"
    with pytest.raises(InputError, match=re.escape("--month '2026-13': not a month (write it YYYY-MM)")):
        month_range("2026-13", SHANGHAI)


def test_edges_between_samples_are_interpolated_and_outside_them_unknown():
    readings = Readings(np.array([0.0, 3600.0]), np.array([100.0, 110.0]))
    used = consumption(readings, np.array([-3600.0, 0.0, 1800.0, 3600.0, 7200.0]))
    assert np.isnan(used[0]) and np.isnan(used[3])
    assert used[1:3].tolist() == [5.0, 5.0]
    assert np.isnan(consumption(Readings(np.array([0.0]), np.array([1.0])), np.array([0.0, 10.0]))).all()


def test_a_counter_reset_counts_on_from_the_new_value():
    t_s = np.arange(6) * 900.0
    replaced = Readings(t_s, np.array([100.0, 101.0, 102.0, 5.0, 6.0, 7.5]))
    assert consumption(replaced, np.array([0.0, 4500.0])).tolist() == [4.5]  # 1 + 1 + (reset) 0 + 1 + 1.5
    assert consumption(replaced, np.array([0.0, 1800.0, 4500.0])).tolist() == [2.0, 2.5]


# --- roll-ups from the history --------------------------------------------------------------------
def test_hourly_daily_and_monthly_figures_by_hand(park, readings):
    tree = meter_tree(park)
    start, end = NOVEMBER
    hours = roll_up(tree, readings, bucket_edges(start, end, "hour"))
    days = roll_up(tree, readings, bucket_edges(start, end, "day"))
    month = roll_up(tree, readings, [start, end])
    row = hours.row["dev:EM-101"]
    assert hours.metered_kwh[row, 3] == pytest.approx(1.0)  # 03:00–04:00 at 1 kW
    assert hours.metered_kwh[row, 9] == pytest.approx(4.0)  # 09:00–10:00 at 4 kW
    assert days.metered_kwh[row] == pytest.approx(np.full(30, 10 * 4.0 + 14 * 1.0))
    assert month.metered_kwh[row, 0] == pytest.approx(30 * 54.0)
    building = month.row["dev:EM-B1"]  # (4+2+8+0+5 + 1 + 3) kW by day, (1+0+2+0+0 + 1 + 3) by night
    assert month.metered_kwh[building, 0] == pytest.approx(30 * (10 * 23.0 + 14 * 7.0))
    for figures in ("metered_kwh", "total_kwh", "children_kwh"):  # the buckets add up to the range
        assert getattr(hours, figures).sum(axis=1) == pytest.approx(getattr(month, figures)[:, 0], nan_ok=True)
        assert getattr(days, figures).sum(axis=1) == pytest.approx(getattr(month, figures)[:, 0], nan_ok=True)


def test_the_roll_up_of_a_building_equals_the_sum_of_its_meters(park, readings):
    tree = meter_tree(park)
    hours = roll_up(tree, readings, bucket_edges(*NOVEMBER, "hour"))

    def total(code: str) -> np.ndarray:
        return hours.total_kwh[hours.row[f"dev:{code}"]]

    floors = total("EM-B1-1F") + total("EM-B1-2F") + total("EM-AHU")
    assert hours.children_kwh[hours.row["dev:EM-B1"]] == pytest.approx(floors)
    assert total("EM-B1-1F") == pytest.approx(hours.metered_kwh[hours.row["dev:EM-B1-1F"]])
    assert hours.children_kwh[hours.row["dev:EM-B1-1F"]] == pytest.approx(total("EM-101") + total("EM-102"))
    assert hours.unmetered_kwh[hours.row["dev:EM-B1"]] == pytest.approx(np.full(720, 3.0))  # its losses
    assert hours.unmetered_kwh[hours.row["dev:EM-B1-1F"]] == pytest.approx(np.full(720, 1.0))  # common area
    # a main meter without readings: the building is the sum of its meters
    assert np.isnan(hours.metered_kwh[hours.row["dev:EM-B2"]]).all()
    assert total("EM-B2") == pytest.approx(total("EM-B2-1F"))
    assert total("EM-P") == pytest.approx(total("EM-B1") + total("EM-B2") + 2.0)

    summary = summarise(park, roll_up(tree, readings, list(NOVEMBER)), FACTOR)
    b1, b2 = summary.buildings
    assert (b1.id, b1.meters, b2.meters) == ("b1", ("EM-B1",), ("EM-B2",))
    assert b1.kwh == pytest.approx(30 * (10 * 23.0 + 14 * 7.0))
    assert b1.submetered_kwh == pytest.approx(float(floors.sum()))
    assert b1.unmetered_kwh == pytest.approx(3.0 * 720)
    assert b1.kwh == pytest.approx(b1.submetered_kwh + b1.unmetered_kwh)
    assert b2.kwh == pytest.approx(b2.submetered_kwh) and b2.unmetered_kwh == pytest.approx(0.0)
    assert summary.park.kwh == pytest.approx(b1.kwh + b2.kwh + 2.0 * 720)
    assert summary.problems == ("dev:EM-B2: no 2026-11-01 00:00–2026-12-01 00:00 readings",)


def test_carbon_intensity_and_tenants(park, readings):
    summary = summarise(park, roll_up(meter_tree(park), readings, list(NOVEMBER)), FACTOR)
    b1 = summary.buildings[0]
    assert b1.tco2e == pytest.approx(b1.kwh * 0.5703 / 1000)
    assert b1.area_m2 == pytest.approx(55 + 33 + 44 + 40) and b1.kwh_per_m2 == pytest.approx(b1.kwh / 172)
    tenants = {t.name: t for t in summary.tenants}
    assert set(tenants) == {"甲公司", "乙公司"}  # the vacant unit is no tenant
    jia = tenants["甲公司"]
    assert jia.meters == ("EM-101", "EM-102") and jia.building == "b1" and jia.area_m2 == 80.0  # leased areas
    assert jia.kwh == pytest.approx(30 * (10 * 6.0 + 14 * 1.0))
    assert jia.tco2e == pytest.approx(jia.kwh * FACTOR / 1000) and jia.kwh_per_m2 == pytest.approx(jia.kwh / 80)


def test_buildings_are_coloured_by_intensity_blue_to_red(park, readings):
    month = roll_up(meter_tree(park), readings, list(NOVEMBER))
    intensity = intensities_kwh_m2(park, month)
    assert set(intensity) == {"b1", "b2"}
    assert intensity_scale_kwh_m2(park, month) == (0.0, max(intensity.values()))
    colours = intensity_colours(park, month)
    top = max(intensity, key=intensity.get)
    assert colours[top] == ramp_rgb(1.0) == (229, 57, 53)
    colours = intensity_colours(park, month, scale_kwh_m2=(0.0, 2 * intensity["b1"]))
    assert colours["b1"] == ramp_rgb(0.5) and ramp_rgb(0.0) == (33, 102, 172)


# --- [energy] -----------------------------------------------------------------------------------
def test_energy_table_read_with_defaults(tmp_path):
    r = _Reader(tmp_path / "scene.toml")
    assert read_energy(r, {}) == EnergySpec()
    spec = read_energy(r, {"energy": {"timezone": "Asia/Urumqi", "emission_factors": {"electricity": 0.5366}}})
    assert r.problems == [] and spec.kg_co2e_per_kwh == 0.5366 and spec.metric == "energy_kwh"
    assert spec.zone == ZoneInfo("Asia/Urumqi") and EnergySpec().kg_co2e_per_kwh == 0.5703


LIVE = LiveSpec({"energy_meter": DeviceType("energy_meter", 900.0, {"energy_kwh": MetricSpec("energy_kwh", "kWh")},
                                            None)})


@pytest.mark.parametrize("table, expected", [
    ({"metric": "kwh"}, "energy.metric: [live] declares no metric 'kwh' for energy_meter (it has: energy_kwh)"),
    ({"timezone": "Mars/Base"}, "energy.timezone: unknown time zone 'Mars/Base' (an IANA name such as Asia/Shanghai)"),
    ({"emission_factors": {"electricity": -1}}, "energy.emission_factors.electricity: must be ≥ 0 kg CO2e per unit, "
                                                "not -1.0"),
    ({"emission_factors": {"electricity": "0.57"}},
     "energy.emission_factors.electricity: must be a number, not '0.57'"),
    ({"emission_factors": {"coal": 2.6}}, "energy.emission_factors.coal: unknown key (known: electricity)"),
    ({"emission_factors": 0.57}, "energy.emission_factors: must be a table such as { electricity = 0.5703 }, not 0.57"),
    ({"meters": "all"}, "energy.meters: unknown key"),
    ({"metric": 3}, "energy.metric: must be a non-empty string, not 3"),
])
def test_each_bad_energy_field_is_one_line_naming_it(tmp_path, table, expected):
    r = _Reader(tmp_path / "scene.toml")
    read_energy(r, {"energy": table}, LIVE)
    assert len(r.problems) == 1 and r.problems[0].startswith(f"{tmp_path / 'scene.toml'}: {expected}"), r.problems


def test_the_scene_file_carries_the_energy_table(tmp_path):
    (tmp_path / "scene.toml").write_text('name = "p"\ncrs = "EPSG:4549"\norigin = [0.0, 0.0, 0.0]\n'
                                         '[energy]\nemission_factors = { electricity = 0.5306 }\n', encoding="utf-8")
    assert read_scene(tmp_path).energy.kg_co2e_per_kwh == 0.5306


# --- twin energy on the demo park --------------------------------------------------------------------
DEMO = ROOT / "scenes" / "demo"


def test_twin_energy_writes_the_monthly_report(twin_home, tmp_path, capsys):
    from twin.cache import compile_scene

    park, scene = compile_scene(DEMO), read_scene(DEMO)
    tree = meter_tree(park)
    start, end = NOVEMBER[1] - timedelta(days=2), NOVEMBER[1] + timedelta(hours=2)  # the month's last two days
    path = live_folder(scene.name) / "history.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    power_kw = {m.id: 1.0 + i % 7 for i, m in enumerate(tree.meters.values())}
    with SqliteHistory(path, ManualClock(end), retention_days=3650) as history:
        for meter_id, kw in power_kw.items():
            for k in range(int((end - start) / STEP) + 1):
                history.record(meter_id, "energy_kwh", 500.0 + kw * k / 4, start + k * STEP)
    csv_path, html_path = tmp_path / "energy.csv", tmp_path / "energy.html"
    capsys.readouterr()
    assert main(["energy", str(DEMO), "--month", "2026-11", "--csv", str(csv_path), "--html", str(html_path),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8-sig")))
    buildings = [r for r in rows if r["kind"] == "building"]
    assert len(buildings) == 10 and len(report["buildings"]) == 10 and report["tenants"]
    for row, b in zip(buildings, report["buildings"]):
        mains = tree.mains(row["id"])
        assert float(row["kwh"]) == pytest.approx(48 * sum(power_kw[m.id] for m in mains), abs=1e-3)
        assert float(row["tco2e"]) == pytest.approx(float(row["kwh"]) * FACTOR / 1000, abs=1e-6)
        assert b["kwh"] == pytest.approx(float(row["kwh"])) and b["name"] == row["name"]
        kids = [c for m in mains for c in m.children]
        assert float(row["submetered_kwh"]) == pytest.approx(48 * sum(power_kw[c] for c in kids), abs=1e-3)
    assert rows[0]["kind"] == "park" and float(rows[0]["kwh"]) == pytest.approx(48 * power_kw["dev:EM-PARK"])
    page = html_path.read_text(encoding="utf-8")
    assert all(b["name"] in page for b in report["buildings"])
    assert page.count('<svg class="chart"') == 1 + len(buildings)  # the buildings, then each one's days
    assert "0.5703" in page and not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # self-contained
    assert main(["energy", str(DEMO), "--month", "2026-11"]) == 0
    printed = capsys.readouterr().out
    assert "tCO2e" in printed and all(b["name"] in printed for b in report["buildings"])


def test_twin_energy_without_history_is_one_line(twin_home, tmp_path, capsys):
    (tmp_path / "scene.toml").write_text('name = "无历史 No history"\ncrs = "EPSG:4549"\norigin = [0.0, 0.0, 0.0]\n',
                                         encoding="utf-8")
    assert main(["energy", str(tmp_path), "--month", "2026-11"]) == 2
    err = capsys.readouterr().err
    assert "history.sqlite: no history yet for this scene (run twin serve first)" in err and len(err.splitlines()) == 1
