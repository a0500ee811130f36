"""The simulator: committed daily profiles, the value model on a manual clock, and the real MQTT path
(telemetry, retained statuses, a gateway's last will, commands, events, speed) through Mosquitto."""
from __future__ import annotations

import csv
import json
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from live.clock import ManualClock
from live.profiles import derive
from live.simulator import (DEFAULT_CAPACITY_PERSONS, PROFILES, Profiles, Simulator, SpeedClock, floor_areas_m2,
                            read_devices, simulate)
from twin.errors import InputError
from twin.park import ROOT_ID, Node, Park, PropertySet
from twin.scene import read_scene

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenes" / "demo"
TELEMETRY_DATA = ROOT.parent / "shared" / "data" / "telemetry"
#: Monday 2 March 2026, 00:00 in the demo park (solar time UTC+8).
MONDAY_MIDNIGHT = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)

TINY_SCENE = """name = "simulated"
crs = "EPSG:4549"
origin = [640060.0, 3457410.0, 4.0]

[devices]
path = "devices.csv"
"""
TINY_LIVE = """
[live]
[[live.device_types]]
type = "anemometer"
[live.device_types.metrics.wind_ms]
scale = [0.0, 12.0]
[live.device_types.metrics.t]
path = "data.t"
[live.device_types.metrics.raining]
kind = "boolean"
[live.device_types.commands]
actions = ["reset"]
"""
TINY_DEVICES = [("TS-SIM-1", "temperature_sensor", "GW-SIM-A"), ("SD-SIM-1", "smoke_detector", "GW-SIM-A"),
                ("EM-SIM-1", "energy_meter", "GW-SIM-B"), ("SL-SIM-1", "street_light", "GW-SIM-B"),
                ("AC-SIM-1", "access_door", "GW-SIM-B"), ("WS-SIM-1", "anemometer", "GW-SIM-B"),
                ("MC-SIM-1", "manhole_cover", "GW-SIM-A"), ("LIFT-SIM-1", "lift", "GW-SIM-A"),
                ("PC-SIM-1", "people_counter", "GW-SIM-A"), ("WX-SIM-1", "weather_station", "GW-SIM-B")]


def tiny_scene(folder: Path, live: str = "") -> Path:
    """A scene of ten devices on two gateways, placed by lon/lat."""
    with (folder / "devices.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["code", "name", "type", "lon", "lat", "gateway"])
        for code, kind, gateway in TINY_DEVICES:
            writer.writerow([code, code, kind, "121.47", "31.23", gateway])
    (folder / "scene.toml").write_text(TINY_SCENE + live, encoding="utf-8")
    return folder


def wait_for(condition: Callable[[], object], timeout_s: float = 5.0) -> None:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(0.01)


class Listener:
    """A paho subscriber that keeps every message: (topic, payload text, retained)."""

    def __init__(self, broker, topic: str = "park/#"):
        self.messages: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._ready.set()
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        assert self._ready.wait(5)

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload.decode(), bool(message.retain)))

    def on(self, topic: str) -> list[str]:
        with self._lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def telemetry(self, code: str) -> list[dict]:
        return [json.loads(p) for p in self.on(f"park/{code}/telemetry")]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def clear_retained(broker, topics: list[str]) -> None:
    """Remove retained messages (an empty retained payload does), so other tests see a clean broker."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    for topic in topics:
        client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def listener(mosquitto):
    found = Listener(mosquitto)
    yield found
    found.close()


@pytest.fixture
def running(tmp_path, mosquitto):
    """Start a simulator on the tiny scene (speed 60 on a manual clock); clears its retained topics after."""
    started: list[Simulator] = []

    def start(live: str = "", **options) -> tuple[Simulator, ManualClock]:
        clock = ManualClock(MONDAY_MIDNIGHT + timedelta(hours=12))  # Monday, noon in the park
        options = {"speed": 60.0, "period_s": 60.0, "seed": 3, "clock": clock} | options
        sim = Simulator(read_scene(tiny_scene(tmp_path, live)), mosquitto.url, **options).start()
        started.append(sim)
        return sim, clock

    yield start
    for sim in started:
        sim.stop()
        clear_retained(mosquitto, [d.status_topic for d in sim.devices.values()]
                       + [g.status_topic for g in sim.gateways.values()])


# --- profiles --------------------------------------------------------------------------------------
def test_committed_profiles_have_a_working_day():
    profiles = Profiles.read()
    assert profiles.slot_min == 15
    weekday = profiles.room["weekday"]
    assert all(len(values) == 96 for values in weekday.values())
    noon, night = datetime(2026, 3, 2, 12, 0), datetime(2026, 3, 2, 3, 0)
    assert profiles.room_value("temperature_c", noon) > profiles.room_value("temperature_c", night) + 1.0
    assert profiles.room_value("co2_ppm", noon) > 900 > 600 > profiles.room_value("co2_ppm", night)
    assert profiles.room_value("occupancy", noon) == 1.0 and profiles.room_value("occupancy", night) == 0.0
    sunday_noon = datetime(2026, 3, 8, 12, 0)
    assert profiles.room_value("occupancy", sunday_noon) == 0.0
    hours = [v for day in profiles.load for v in day]
    assert len(hours) == 168 and statistics.fmean(hours) == pytest.approx(1.0, abs=0.01)
    assert profiles.load_factor(datetime(2026, 3, 2, 13, 0)) > 1.15 > 0.9 > profiles.load_factor(
        datetime(2026, 3, 2, 3, 0))


@pytest.mark.skipif(not TELEMETRY_DATA.is_dir(), reason=f"{TELEMETRY_DATA} is absent")
def test_committed_profiles_are_what_derive_makes_of_the_real_data():
    for name, rows in (("room.csv", derive.room_rows(TELEMETRY_DATA / "uci_occupancy_datatest.txt")),
                       ("load.csv", derive.load_rows(TELEMETRY_DATA / "cambridge_b77"
                                                     / "electricity_2022.csv"))):
        with (PROFILES / name).open(encoding="utf-8", newline="") as fh:
            committed = list(csv.DictReader(fh))
        assert [{k: str(v) for k, v in row.items()} for row in rows] == committed, name


# --- the value model, no broker --------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_scene():
    return read_scene(DEMO)


def test_demo_devices_take_their_metrics_from_the_live_table(demo_scene):
    devices = {d.code: d for d in read_devices(demo_scene)}
    assert len(devices) > 1000
    by_type = {d.type: d for d in devices.values()}
    for kind, device in by_type.items():
        declared = demo_scene.live.device_types.get(kind)
        if declared is not None:
            assert set(device.paths) == set(declared.metrics), kind
    assert by_type["street_light"].actions == ("on", "off")
    assert by_type["access_door"].actions == ("lock", "unlock")
    assert not by_type["smoke_detector"].actions
    assert all(d.gateway for d in devices.values())


def test_demo_day_warmer_than_night_and_meters_follow_the_load(demo_scene):
    clock = ManualClock(MONDAY_MIDNIGHT)
    sim = Simulator(demo_scene, "mqtt://127.0.0.1:1", clock=clock, seed=5)
    assert sim.model.utc_offset_h == 8.0
    rooms = [c for c, d in sim.devices.items() if d.type == "temperature_sensor"][:20]
    co2 = [c for c, d in sim.devices.items() if d.type == "air_quality_sensor"][:20]
    meter = next(c for c, d in sim.devices.items() if d.type == "energy_meter")
    light = next(c for c, d in sim.devices.items() if d.type == "street_light")
    day: dict[str, list[float]] = {"temperature": [], "co2": [], "power": []}
    night: dict[str, list[float]] = {"temperature": [], "co2": [], "power": []}
    energy, lights = [], {}
    for step in range(24 * 4):  # a Monday, every 15 minutes
        hour = step / 4
        bucket = day if 10 <= hour < 17 else night if hour < 6 else None
        temperatures = [sim.reading(c)["temperature"] for c in rooms]
        levels = [sim.reading(c)["co2"] for c in co2]
        reading = sim.reading(meter)
        energy.append(reading["energy_kwh"])
        lights[hour] = sim.reading(light)["on"]
        assert all(14.0 < t < 30.0 for t in temperatures)
        if bucket is not None:
            bucket["temperature"].append(statistics.fmean(temperatures))
            bucket["co2"].append(statistics.fmean(levels))
            bucket["power"].append(reading["power_kw"])
        clock.advance(15 * 60)
    assert statistics.fmean(day["temperature"]) > statistics.fmean(night["temperature"]) + 1.0
    assert statistics.fmean(day["co2"]) > statistics.fmean(night["co2"]) + 300
    assert statistics.fmean(day["power"]) > statistics.fmean(night["power"]) * 1.2
    assert all(b > a for a, b in zip(energy, energy[1:]))  # a meter only counts up
    assert lights[2.0] and lights[22.0] and not lights[12.0]


ROOMS_M2 = {"space-office": 96.0, "space-meeting": 24.0}  # leased rooms; "space-lobby" has no lease


def counted_scene(folder: Path) -> Path:
    """A scene of people counters in three rooms (two with a lease that gives their area) and a weather
    station, no ``[live]``."""
    (folder / "leases.csv").write_text("space,status,area_m2,rent_cny_per_m2_day,tenant\n" + "".join(
        f"{space},vacant,{area},5.0,\n" for space, area in ROOMS_M2.items()), encoding="utf-8")
    rows = [("PC-OFFICE", "people_counter", "space-office"), ("PC-MEETING", "people_counter", "space-meeting"),
            ("PC-LOBBY", "people_counter", "space-lobby"), ("TS-OFFICE", "temperature_sensor", "space-office"),
            ("WS-01", "weather_station", "building")]
    (folder / "devices.csv").write_text("code,name,type,host,gateway\n" + "".join(
        f"{code},{code},{kind},{host},GW-1\n" for code, kind, host in rows), encoding="utf-8")
    (folder / "scene.toml").write_text(TINY_SCENE + '\n[leases]\npath = "leases.csv"\n', encoding="utf-8")
    return folder


def test_people_counters_know_their_room_area_from_the_leases_or_the_park(tmp_path):
    scene = read_scene(counted_scene(tmp_path))
    devices = {d.code: d for d in read_devices(scene)}
    assert devices["PC-OFFICE"].paths == {"people": "people"}  # the default vocabulary, no [live]
    assert (devices["PC-OFFICE"].area_m2, devices["PC-MEETING"].area_m2, devices["PC-LOBBY"].area_m2) == (
        96.0, 24.0, None)
    assert devices["TS-OFFICE"].area_m2 is None  # only counters are sized
    park = Park("p", (0.0, 0.0, 0.0), "EPSG:4549")
    park.add(Node("space-lobby", "space", "门厅", parent=ROOT_ID, bounds_m=(0, 0, 0, 8, 6, 3.4),
                  properties_loader=PropertySet("Qto_SpaceBaseQuantities", {"NetFloorArea": 44.5})))
    park.add(Node("space-office", "space", "开放办公区", parent=ROOT_ID, bounds_m=(8, 0, 0, 20, 8, 3.4)))
    assert floor_areas_m2(scene, park, {"space-lobby", "space-office", "elsewhere"}) == {
        "space-lobby": 44.5, "space-office": 96.0}  # the IFC quantity, else the lease
    assert {d.code: d.area_m2 for d in read_devices(scene, park=park) if d.type == "people_counter"} == {
        "PC-OFFICE": 96.0, "PC-MEETING": 24.0, "PC-LOBBY": 44.5}


def test_people_counts_follow_the_occupancy_profile(tmp_path):
    scene = read_scene(counted_scene(tmp_path))
    counters = ("PC-OFFICE", "PC-MEETING", "PC-LOBBY")
    days: dict[str, dict[str, list[int]]] = {}
    for seed in range(8):
        clock = ManualClock(MONDAY_MIDNIGHT)
        sim = Simulator(scene, "mqtt://127.0.0.1:1", clock=clock, seed=seed)
        for step in range(7 * 24 * 4):  # a week, every 15 minutes
            at = clock.now() + timedelta(hours=8)  # the park's local time
            slot = "weekend" if at.weekday() >= 5 else f"{at.hour:02d}:{at.minute:02d}"
            for code in counters:
                days.setdefault(slot, {}).setdefault(code, []).append(sim.reading(code)["people"])
            clock.advance(15 * 60)
    everything = [n for slot in days.values() for counts in slot.values() for n in counts]
    assert all(isinstance(n, int) and n >= 0 for n in everything)
    assert all(n == 0 for code in counters for n in days["03:00"][code]), "nobody at 03:00 on a weekday"
    assert all(n == 0 for code in counters for n in days["weekend"][code]), "nobody at the weekend"
    office, meeting = days["11:00"]["PC-OFFICE"], days["11:00"]["PC-MEETING"]
    assert all(n > 0 for n in office), "a big room is occupied at 11:00 on a weekday"
    assert max(office) <= round(96.0 / 8 * 1.1 * 1.4) and statistics.fmean(office) > 6  # 12 persons × 0.6–1.1
    assert max(meeting) <= 5 and statistics.fmean(meeting) < statistics.fmean(office) / 2
    lobby = days["11:00"]["PC-LOBBY"]  # no area known: the default capacity
    assert 0.5 * DEFAULT_CAPACITY_PERSONS <= statistics.fmean(lobby) <= 1.2 * DEFAULT_CAPACITY_PERSONS


def test_the_weather_station_drifts_slowly_around_the_prevailing_wind(tmp_path):
    scene = read_scene(counted_scene(tmp_path))

    def series(seed: int, minutes: int) -> list[dict]:
        clock = ManualClock(MONDAY_MIDNIGHT)
        sim = Simulator(scene, "mqtt://127.0.0.1:1", clock=clock, seed=seed)
        readings = []
        for _ in range(minutes):
            readings.append(sim.reading("WS-01"))
            clock.advance(60)
        return readings

    week = series(4, 7 * 24 * 60)
    assert series(4, 30) == week[:30] and series(5, 30) != week[:30], "deterministic for a seed"
    speeds = [r["wind_speed_m_s"] for r in week]
    assert all(0.3 <= v <= 12.0 for v in speeds) and 2.0 < statistics.fmean(speeds) < 3.0
    assert max(abs(b - a) for a, b in zip(speeds, speeds[1:])) < 0.6  # slowly: minute by minute
    headings = [r["wind_from_deg"] for r in week]
    assert all(0.0 <= v < 360.0 for v in headings)
    turns = [abs((b - a + 180.0) % 360.0 - 180.0) for a, b in zip(headings, headings[1:])]
    assert max(turns) < 15.0 and 110.0 < statistics.fmean(headings) < 160.0  # around the south-east
    assert max(headings) - min(headings) > 30.0, "but it does change"
    by_hour = {hour: [r["air_temperature_c"] for r in week[hour * 60::24 * 60]] for hour in (3, 15)}
    assert all(11.5 <= r["air_temperature_c"] <= 22.5 for r in week)
    assert statistics.fmean(by_hour[15]) > 21.5 and statistics.fmean(by_hour[3]) < 12.5


def test_speed_clock_runs_speed_times_its_base():
    base = ManualClock(MONDAY_MIDNIGHT)
    clock = SpeedClock(base, speed=60.0, start=datetime(2030, 1, 1, tzinfo=UTC))
    base.advance(60)
    assert clock.now() == datetime(2030, 1, 1, 1, 0, tzinfo=UTC)
    with pytest.raises(InputError, match="speed"):
        SpeedClock(base, speed=0)


def test_a_scene_without_registry_or_a_bad_broker_url_is_refused(tmp_path):
    (tmp_path / "scene.toml").write_text(TINY_SCENE.split("[devices]")[0], encoding="utf-8")
    with pytest.raises(InputError, match="no \\[devices\\] registry"):
        Simulator(read_scene(tmp_path), "mqtt://127.0.0.1:1883")
    tiny_scene(tmp_path)
    with pytest.raises(InputError, match="broker url"):
        Simulator(read_scene(tmp_path), "http://127.0.0.1")


# --- the real path ---------------------------------------------------------------------------------
def test_telemetry_on_each_device_topic_with_plausible_values_and_simulated_time(running, listener):
    sim, clock = running()
    clock.advance(10)  # ten simulated minutes at speed 60
    wait_for(lambda: len(listener.telemetry("TS-SIM-1")) >= 10)
    readings = listener.telemetry("TS-SIM-1")
    times = [datetime.fromisoformat(r["ts"]) for r in readings]
    assert all(b - a == timedelta(seconds=60) for a, b in zip(times, times[1:]))
    assert times[0] - MONDAY_MIDNIGHT < timedelta(hours=12, minutes=1)
    assert sim.clock.now() == MONDAY_MIDNIGHT + timedelta(hours=12, minutes=10)
    assert all(set(r) == {"ts", "temperature"} and 18.0 < r["temperature"] < 28.0 for r in readings)
    wait_for(lambda: len(listener.telemetry("EM-SIM-1")) >= 10)
    meter = listener.telemetry("EM-SIM-1")
    assert all(r["power_kw"] > 0 for r in meter)
    assert [r["energy_kwh"] for r in meter] == sorted(r["energy_kwh"] for r in meter)
    assert all(r["smoke"] is False for r in listener.telemetry("SD-SIM-1"))
    assert all(r["on"] is False and r["power_w"] == 0.0 for r in listener.telemetry("SL-SIM-1"))  # noon
    assert all(r["locked"] is True for r in listener.telemetry("AC-SIM-1"))
    wait_for(lambda: len(listener.telemetry("PC-SIM-1")) >= 5 and len(listener.telemetry("WX-SIM-1")) >= 5)
    counts = [r["people"] for r in listener.telemetry("PC-SIM-1")]  # no room area: 10 persons, noon
    assert all(isinstance(n, int) and 1 <= n <= 1.1 * 1.4 * DEFAULT_CAPACITY_PERSONS for n in counts), counts
    weather = listener.telemetry("WX-SIM-1")
    assert all(set(r) == {"ts", "wind_speed_m_s", "wind_from_deg", "air_temperature_c"} for r in weather)
    assert all(0.3 <= r["wind_speed_m_s"] <= 12.0 and 0.0 <= r["wind_from_deg"] < 360.0
               and 19.0 < r["air_temperature_c"] < 22.5 for r in weather)
    assert listener.telemetry("WS-SIM-1") == []  # a type with no metrics only reports its status
    assert listener.on("park/WS-SIM-1/status") == ["online"]
    assert sim.counters()["telemetry"] >= 50


def test_statuses_are_retained_for_gateways_and_devices(running, mosquitto):
    sim, _ = running()
    late = Listener(mosquitto, "park/+/status")
    gateways = Listener(mosquitto, "park/gateways/+/status")
    try:
        devices = lambda: [m for m in late.messages if "-SIM-" in m[0]]  # noqa: E731
        ours = lambda: [m for m in gateways.messages if "GW-SIM-" in m[0]]  # noqa: E731
        wait_for(lambda: len(devices()) == len(TINY_DEVICES) and len(ours()) == 2)
        assert all(payload == "online" and retained for _, payload, retained in devices())
        assert sorted(t for t, _, _ in ours()) == ["park/gateways/GW-SIM-A/status",
                                                   "park/gateways/GW-SIM-B/status"]
        assert all(payload == "online" and retained for _, payload, retained in ours())
    finally:
        late.close()
        gateways.close()


def test_a_dropped_gateway_is_announced_by_its_last_will_and_comes_back(running, listener, mosquitto):
    sim, _ = running()
    topic = "park/gateways/GW-SIM-A/status"
    wait_for(lambda: listener.on(topic) == ["online"])
    sim.drop_gateway("GW-SIM-A")
    wait_for(lambda: listener.on(topic)[-1:] == ["offline"])
    before = sim.counters()["telemetry"]
    sim.inject("TS-SIM-1", {"temperature": 21.0})  # its devices are silent while it is away
    assert sim.counters()["telemetry"] == before
    retained = Listener(mosquitto, topic)
    try:
        wait_for(lambda: retained.messages == [(topic, "offline", True)])
    finally:
        retained.close()
    sim.restore_gateway("GW-SIM-A")
    wait_for(lambda: listener.on(topic)[-1:] == ["online"])
    wait_for(lambda: listener.on("park/TS-SIM-1/status")[-1:] == ["online"])


def test_commands_are_answered_and_change_the_device(running, listener, mosquitto):
    sim, _ = running()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    try:
        for command_id, code, action in (("c1", "SL-SIM-1", "on"), ("c2", "AC-SIM-1", "unlock"),
                                         ("c3", "SL-SIM-1", "dance")):
            client.publish(f"park/{code}/command", json.dumps({"id": command_id, "action": action,
                                                               "ts": "2026-03-02T04:00:00Z"}), qos=1)
        wait_for(lambda: len(listener.on("park/SL-SIM-1/command/result")) == 2
                 and listener.on("park/AC-SIM-1/command/result"))
    finally:
        client.disconnect()
        client.loop_stop()
    results = {r["id"]: r for topic in ("park/SL-SIM-1/command/result", "park/AC-SIM-1/command/result")
               for r in map(json.loads, listener.on(topic))}
    assert results["c1"]["ok"] is True and results["c2"]["ok"] is True
    assert results["c3"]["ok"] is False and "dance" in results["c3"]["detail"]
    wait_for(lambda: any(r["on"] for r in listener.telemetry("SL-SIM-1")))
    light_on = next(r for r in listener.telemetry("SL-SIM-1") if r["on"])
    assert light_on["power_w"] > 0
    wait_for(lambda: any(r["locked"] is False for r in listener.telemetry("AC-SIM-1")))
    assert sim.counters()["results"] == 3


def test_events_raise_smoke_and_take_devices_offline_then_back(running, listener):
    sim, clock = running()
    assert sim.start_event(kind="smoke") == "smoke SD-SIM-1"
    wait_for(lambda: any(r["smoke"] is True for r in listener.telemetry("SD-SIM-1")))
    clock.advance(7)  # seven simulated minutes: the smoke has cleared
    wait_for(lambda: listener.telemetry("SD-SIM-1")[-1]["smoke"] is False)
    assert sim.start_event(kind="overheat") == "overheat TS-SIM-1"
    wait_for(lambda: any(r["temperature"] > 35.0 for r in listener.telemetry("TS-SIM-1")))
    sim.set_online("EM-SIM-1", False)
    wait_for(lambda: listener.on("park/EM-SIM-1/status")[-1:] == ["offline"])
    silent_from = len(listener.telemetry("EM-SIM-1"))
    clock.advance(3)
    wait_for(lambda: len(listener.telemetry("TS-SIM-1")) >= 8)
    assert len(listener.telemetry("EM-SIM-1")) == silent_from
    sim.set_online("EM-SIM-1", True)
    wait_for(lambda: listener.on("park/EM-SIM-1/status")[-1:] == ["online"])
    assert sim.start_event(kind="manhole_open") == "manhole_open MC-SIM-1"
    assert sim.start_event(kind="lift_fault") == "lift_fault LIFT-SIM-1"
    wait_for(lambda: any(r["open"] and r["tilt_deg"] >= 15 for r in listener.telemetry("MC-SIM-1")))
    wait_for(lambda: any(r["fault"] and not r["running"] for r in listener.telemetry("LIFT-SIM-1")))
    clock.advance(31)  # both have ended
    wait_for(lambda: listener.telemetry("MC-SIM-1")[-1]["open"] is False
             and listener.telemetry("LIFT-SIM-1")[-1]["fault"] is False)
    assert sim.counters()["events"] == 4


def test_events_come_at_the_configured_rate(running, listener):
    sim, clock = running(events_per_hour=6.0, event_kinds=("smoke",), seed=11)
    for step in range(1, 21):  # ten simulated hours, half an hour a step
        clock.advance(30)
        wait_for(lambda: len(listener.telemetry("TS-SIM-1")) >= step)  # the step is taken
    assert 35 <= sim.counters()["events"] <= 85, sim.counters()
    with pytest.raises(InputError, match="event kinds flood"):
        running(event_kinds=("flood",))


def test_declared_types_report_their_metrics_at_their_paths(running, listener):
    sim, clock = running(live=TINY_LIVE)
    tiny = "WS-SIM-1"
    assert sim.devices[tiny].paths == {"wind_ms": "wind_ms", "t": "data.t", "raining": "raining"}
    assert sim.devices["TS-SIM-1"].paths == {"temperature": "temperature"}  # not declared: the default
    sim.inject(tiny, {"wind_ms": 3.5, "t": 19.0})
    wait_for(lambda: listener.telemetry(tiny))
    assert listener.telemetry(tiny)[0]["data"] == {"t": 19.0}
    values = sim.reading(tiny)
    assert 0.0 <= values["wind_ms"] <= 12.0 and values["raining"] is False
    with pytest.raises(InputError, match="no device"):
        sim.inject("NOPE", {"x": 1})


def test_stop_says_offline_for_every_gateway(running, listener):
    sim, _ = running()
    wait_for(lambda: len([t for t, _, _ in listener.messages if t.startswith("park/gateways/GW-SIM-")]) == 2)
    sim.stop()
    for gateway in ("GW-SIM-A", "GW-SIM-B"):
        wait_for(lambda: listener.on(f"park/gateways/{gateway}/status")[-1:] == ["offline"])


def test_simulate_prints_status_lines_until_interrupted(tmp_path, mosquitto, listener):
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        if "published" in line and len(lines) == 2:
            raise KeyboardInterrupt  # what Ctrl-C does in the loop

    simulate(tiny_scene(tmp_path), mosquitto.url, speed=600.0, period_s=60.0, seed=1, events_per_hour=0.0,
             status_every_s=0.3, echo=echo)
    assert lines[0].startswith(f"simulating {len(TINY_DEVICES)} devices through 2 gateways")
    assert "published" in lines[1] and "simulated time" in lines[1]
    assert lines[-1].startswith("stopping")
    wait_for(lambda: listener.on("park/gateways/GW-SIM-A/status")[-1:] == ["offline"])
    assert listener.telemetry("TS-SIM-1")
    clear_retained(mosquitto, [f"park/{code}/status" for code, _, _ in TINY_DEVICES]
                   + [f"park/gateways/{gateway}/status" for gateway in ("GW-SIM-A", "GW-SIM-B")])


def test_start_fails_with_a_one_line_error_when_no_broker_answers(tmp_path):
    from twin.ports import free_port

    sim = Simulator(read_scene(tiny_scene(tmp_path)), f"mqtt://127.0.0.1:{free_port('127.0.0.1')}")
    refused = r"gateway GW-SIM-A did not connect to mqtt://127\.0\.0\.1:\d+ within 0\.5 s"
    with pytest.raises(InputError, match=refused):
        sim.start(timeout_s=0.5)
