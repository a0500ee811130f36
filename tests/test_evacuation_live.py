"""Drills from live data: occupants from people counters, a gas plume carried by the weather station's
wind (Pasquill's class from the wind and the sun), and both through the real broker into the drill card."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import shapely

from conftest import ROOT
from test_live_app import publish
from twin.cache import compile_scene
from twin.evacuation.plume import stability_class, sun_altitude_deg
from twin.evacuation.sensed import counted_occupants, measured_wind
from twin.evacuation.worker import DrillSpec, GasLeak, run_drill
from twin.park import Park
from twin.scene import read_scene
from twin.web.drill_panel import park_graph, park_ways

DEMO = ROOT / "scenes" / "demo"
NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)  # 11:00 in the park
GAS_INLET = "gis:pipes:GS-P0001"  # building 1's gas service pipe, by its east side


@pytest.fixture(scope="module")
def demo() -> Park:
    return compile_scene(DEMO)


def third_floor(demo: Park, building: str = "1号研发楼") -> tuple[str, list[str]]:
    """Building 1's 3F storey and its spaces."""
    storey = next(n for n in demo.of_kind("storey") if n.name == "3F" and demo.ancestor(n.id, "building").name == building)
    return storey.id, [n.id for n in demo.descendants(storey.id) if n.kind == "space"]


def hosted_in(demo: Park, host: str) -> list[str]:
    return sorted(n.id for n in demo.of_kind("device") if n.links.get("host") == host)


def test_a_space_counter_counts_its_room_and_a_storey_counter_the_rest_by_area(demo):
    graph = park_graph(demo)
    storey, spaces = third_floor(demo)
    office = max(spaces, key=lambda s: graph.places[graph.place_index[s]].area_m2)
    two = hosted_in(demo, office)[:2]
    floor_counter = hosted_in(demo, storey)[0]
    street = next(n.id for n in demo.of_kind("device") if n.links.get("host") is None)
    readings = {two[0]: (12, NOW), two[1]: (3.0, NOW - timedelta(minutes=5)), floor_counter: (100, NOW),
                hosted_in(demo, spaces[0])[0]: (50, NOW - timedelta(hours=2)), street: (9, NOW),
                hosted_in(demo, spaces[1])[0]: (True, NOW)}
    found = counted_occupants(demo, graph, readings, NOW, max_age_s=1800)
    on_floor = {graph.place_index[s] for s in spaces}
    assert found.counts[graph.place_index[office]] == 15, "two counters in one room add up"
    assert set(found.counts) <= on_floor and sum(found.counts.values()) == 100 == found.persons
    assert found.counters == 3 and found.elsewhere == [street]
    assert sorted(found.stale) == sorted([hosted_in(demo, spaces[0])[0], hosted_in(demo, spaces[1])[0]])
    shared = {i: n for i, n in found.counts.items() if i != graph.place_index[office]}
    biggest = max(shared, key=lambda i: graph.places[i].area_m2)
    assert shared[biggest] == max(shared.values()), "the storey's rest is shared by floor area"


def test_a_storey_counting_fewer_than_its_rooms_leaves_its_other_rooms_empty(demo):
    graph = park_graph(demo)
    storey, spaces = third_floor(demo)
    room = hosted_in(demo, spaces[0])[0]
    found = counted_occupants(demo, graph, {room: (40, NOW), hosted_in(demo, storey)[0]: (30, NOW)}, NOW, 1800)
    assert found.persons == 40 and found.counts[graph.place_index[spaces[0]]] == 40
    assert set(found.counts) == {graph.place_index[s] for s in spaces}, "the storey's count covers its rooms: none"


def test_the_wind_is_used_only_when_fresh_and_numeric():
    fresh = measured_wind("dev:WS-01", (3.2, NOW), (-45.0, NOW - timedelta(minutes=1)), NOW, 1800)
    assert fresh is not None and fresh.speed_m_s == 3.2 and fresh.from_deg == 315.0
    assert fresh.at == NOW - timedelta(minutes=1)
    assert measured_wind("dev:WS-01", (3.2, NOW - timedelta(hours=1)), (90.0, NOW), NOW, 1800) is None
    assert measured_wind("dev:WS-01", ("calm", NOW), (90.0, NOW), NOW, 1800) is None
    assert measured_wind("dev:WS-01", None, (90.0, NOW), NOW, 1800) is None


def test_pasquill_classes_follow_turners_table():
    noon = sun_altitude_deg(120.0, 30.0, datetime(2026, 6, 21, 4, 0, tzinfo=UTC))  # 12:00 solar time
    assert noon == pytest.approx(90 - 30 + 23.45, abs=0.5)
    assert sun_altitude_deg(120.0, 30.0, datetime(2026, 6, 21, 16, 0, tzinfo=UTC)) == pytest.approx(30 + 23.45 - 90, abs=0.5)
    assert [stability_class(w, 70) for w in (1, 2.5, 4, 5.5, 8)] == list("ABBCC")
    assert [stability_class(w, 45) for w in (1, 2.5, 4, 5.5, 8)] == list("BBCDD")
    assert [stability_class(w, 20) for w in (1, 2.5, 4, 5.5, 8)] == list("BCCDD")
    assert [stability_class(w, -10) for w in (1, 2.5, 4, 5.5, 8)] == list("FFEDD")


def test_a_gas_leak_evacuates_the_buildings_its_plume_reaches(demo):
    graph, ways = park_graph(demo), park_ways(demo)
    x, y = demo.get(GAS_INLET).centre_m[:2]
    towards = run_drill(graph, DrillSpec(origin=GAS_INLET, incident="gas", gas=GasLeak((x, y), 500, 2.0, 105.0, "D")),
                        ways)
    reached = {graph.places[graph.place_index[p]].building for p in towards.hazard.untenable_s}
    assert towards.hazard.kind == "gas" and len(reached) == 1 and towards.occupants > 0
    assert all(graph.places[graph.place_index[s.id]].building in reached for s in towards.spaces if s.occupants)
    assert towards.evacuated == towards.occupants and not towards.passed, "people started inside the plume"
    away = run_drill(graph, DrillSpec(origin=GAS_INLET, incident="gas", gas=GasLeak((x, y), 500, 2.0, 285.0, "D")),
                     ways)
    assert away.occupants == 0 and away.hazard.untenable_s == {} and away.passed


def test_nobody_is_sent_to_an_assembly_point_inside_the_plume(demo):
    from twin.evacuation.outdoor import assembly_points, park_outdoors
    from twin.evacuation.plume import plume_zone

    graph = park_graph(demo)
    points = {a.id: a.xy_m for a in assembly_points(demo)}
    x, y = points["gis:assembly_points:AP1"]
    zone = plume_zone((x + 40.0, y), 500, 2.0, 90.0, "D", 30.0)  # from 40 m east, blowing west over AP1
    assert zone.contains(shapely.Point(x, y))
    kept = park_outdoors(demo, graph, avoid=zone)
    assert "gis:assembly_points:AP1" not in {p.id for p in kept.points} and len(kept.points) == len(points) - 1
    assert len(park_outdoors(demo, graph, avoid=zone.buffer(10_000)).points) == len(points), "all inside: all kept"


def test_counted_spaces_hold_their_count_and_the_rest_the_density(demo):
    graph = park_graph(demo)
    _, spaces = third_floor(demo)
    result = run_drill(graph, DrillSpec(origin=spaces[0], incident="flood", density_ppm2=0.0,
                                        counted=((spaces[0], 37), (spaces[1], 5))))
    assert {s.id: s.occupants for s in result.spaces if s.occupants} == {spaces[0]: 37, spaces[1]: 5}


# --- through the broker into the drill card ------------------------------------------------------
def wait_until(condition, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_the_drill_card_takes_live_counts_and_the_live_wind(demo, tmp_path):
    from live.runtime import Live
    from twin.web.drill_setup import DrillSetup

    scene = read_scene(DEMO)
    occupancy, weather = scene.live.occupancy, scene.live.weather
    assert occupancy is not None and weather is not None, "the demo binds people counters and a weather station"
    graph = park_graph(demo)
    _, spaces = third_floor(demo)
    counter = next(c for s in spaces for c in hosted_in(demo, s) if c.startswith("dev:PC-"))
    with Live(demo, scene.live, folder=tmp_path / "live") as live:
        setup = DrillSetup(demo, live, "en")
        assert counter in setup.counters and setup.people.value == "live"
        stamp = live.clock.now().isoformat()
        publish(live.url, f"park/{counter.removeprefix('dev:')}/telemetry",
                json.dumps({"ts": stamp, occupancy.metric: 23}))
        publish(live.url, f"park/{weather.device}/telemetry",
                json.dumps({"ts": stamp, weather.wind_speed: 4.5, weather.wind_from: 200}))
        wait_until(lambda: live.state.value(f"dev:{weather.device}", weather.wind_from) is not None
                   and live.state.value(counter, occupancy.metric) is not None)
        spec = setup.spec(demo.nodes[counter].links["host"], graph)
        assert spec.counted == ((demo.nodes[counter].links["host"], 23),)
        assert "23 persons in 1 rooms from 1 counters" in setup.people_note.object
        setup.place(indoors=False)
        assert list(setup.incident.options.values()) == ["gas"] and setup.gas.visible
        assert (setup.wind_speed.value, setup.wind_from.value) == (4.5, 200) and "Live wind" in setup.wind_note.object
        leak = setup.spec(GAS_INLET, graph).gas
        assert leak.wind_m_s == 4.5 and leak.wind_from_deg == 200 and leak.stability in "ABCDEF"


def test_twin_evacuate_live_reads_the_counts_and_the_wind_the_served_park_stored(demo, tmp_path, monkeypatch):
    from conftest import run_twin
    from live.clock import SystemClock
    from live.history import SqliteHistory
    from live.runtime import live_folder

    monkeypatch.setenv("TWIN_HOME", str(tmp_path))
    scene = read_scene(DEMO)
    _, spaces = third_floor(demo)
    counters = [c for s in spaces for c in hosted_in(demo, s) if c.startswith("dev:PC-")][:2]
    station = f"dev:{scene.live.weather.device}"
    missing = run_twin("evacuate", DEMO, "--live", "--json")
    assert missing.returncode == 2 and "--live: no live history at" in missing.stderr
    path = live_folder(scene.name) / "history.sqlite"
    path.parent.mkdir(parents=True)
    now = datetime.now(UTC)
    with SqliteHistory(path, SystemClock()) as store:
        store.record(counters[0], "people", 17.0, now - timedelta(minutes=5))
        store.record(counters[1], "people", 4.0, now - timedelta(hours=3))  # too old: not used
        store.record(station, "wind_speed_m_s", 3.0, now - timedelta(minutes=2))
        store.record(station, "wind_from_deg", 105.0, now - timedelta(minutes=2))
    done = run_twin("evacuate", DEMO, "--live", "--density", "0", "--incident", f"gas@{GAS_INLET}", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert "live counts: 17 persons in 1 spaces from 1 counters" in done.stderr
    assert "live wind: 3.0 m/s from 105°" in done.stderr
    assert answer["occupants"] == 17 and {s["id"] for s in answer["spaces"] if s["aset_s"] == 0.0}
