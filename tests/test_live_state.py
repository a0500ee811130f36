"""live.state: values, statuses, roll-up up the park tree, versioned changes, and threads."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from live.clock import ManualClock, SystemClock
from live.state import NodeChange, State, Status
from twin.park import Node, Park, PropertySet

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
HEARTBEAT_S = {"smoke_detector": 300.0, "temperature_sensor": 60.0}
SMOKE, TEMP = "dev:SD-101", "dev:TS-101"
CHAIN = ("ifc:R101", "ifc:F1", "ifc:B1", "park")  # space, storey, building, park


def device(code: str, device_type: str, parent: str) -> Node:
    return Node(f"dev:{code}", "device", code, parent=parent, code=code,
                properties_loader=PropertySet("device", {"code": code, "type": device_type}))


@pytest.fixture
def park() -> Park:
    """park › building › storey › space › a smoke detector and a temperature sensor."""
    park = Park("test park")
    park.add(Node("ifc:B1", "building", "Building 1", parent="park"))
    park.add(Node("ifc:F1", "storey", "1F", parent="ifc:B1"))
    park.add(Node("ifc:R101", "space", "101", parent="ifc:F1"))
    park.add(device("SD-101", "smoke_detector", "ifc:R101"))
    park.add(device("TS-101", "temperature_sensor", "ifc:R101"))
    return park


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def state(park, clock) -> State:
    return State(park, clock, HEARTBEAT_S)


def statuses(state: State, *node_ids: str) -> list[str]:
    return [str(state.status(node_id)) for node_id in node_ids]


# --- clock ----------------------------------------------------------------------------------------
def test_clocks_tell_aware_utc_time():
    assert SystemClock().now().utcoffset() == timedelta(0)
    clock = ManualClock(datetime(2026, 3, 1, 16, 0, tzinfo=timezone(timedelta(hours=8))))
    assert clock.now() == T0 and clock.now().tzinfo == timezone.utc
    assert clock.advance(3600) == T0 + timedelta(hours=1) == clock.now()
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 3, 1))


# --- values ---------------------------------------------------------------------------------------
def test_latest_value_and_timestamp_per_metric(state):
    assert state.value(TEMP, "temperature") is None and state.metrics(TEMP) == {}
    state.update(TEMP, "temperature", 21.5, T0)
    state.update(TEMP, "temperature", 22.0, T0 + timedelta(seconds=10))
    state.update(TEMP, "battery_pct", 97.0, T0 + timedelta(seconds=10))
    state.update(SMOKE, "smoke", False, T0)
    assert state.value(TEMP, "temperature") == 22.0
    assert state.metrics(TEMP) == {"temperature": (22.0, T0 + timedelta(seconds=10)),
                                   "battery_pct": (97.0, T0 + timedelta(seconds=10))}
    assert state.metrics(SMOKE) == {"smoke": (False, T0)}


def test_a_repeated_value_refreshes_its_timestamp_without_a_new_version(state):
    state.update(TEMP, "temperature", 21.5, T0)
    version = state.version
    state.update(TEMP, "temperature", 21.5, T0 + timedelta(seconds=30))
    assert state.metrics(TEMP) == {"temperature": (21.5, T0 + timedelta(seconds=30))}
    assert state.changes_since(version) == (version, {})
    state.update(SMOKE, "smoke", False, T0)
    state.update(SMOKE, "smoke", 0.0, T0)  # equal, but another type: a change
    assert state.value(SMOKE, "smoke") == 0.0 and isinstance(state.value(SMOKE, "smoke"), float)


def test_unknown_node_is_refused(state):
    with pytest.raises(KeyError):
        state.update("dev:NOPE", "temperature", 1.0, T0)


# --- status ---------------------------------------------------------------------------------------
def test_unknown_until_heard_then_normal_up_to_the_park(state):
    assert statuses(state, TEMP, *CHAIN) == ["unknown"] * 5
    state.update(TEMP, "temperature", 21.5, T0)
    assert statuses(state, TEMP, *CHAIN) == ["normal"] * 5
    assert state.status(SMOKE) is Status.UNKNOWN


def test_offline_until_reported_online(state):
    state.update(TEMP, "temperature", 21.5, T0)
    state.set_online(TEMP, False, T0 + timedelta(seconds=5))
    assert statuses(state, TEMP, *CHAIN) == ["offline"] * 5
    assert state.online(TEMP) == (False, T0 + timedelta(seconds=5))
    state.update(TEMP, "temperature", 21.7, T0 + timedelta(seconds=6))  # late telemetry: still offline
    assert state.status(TEMP) is Status.OFFLINE and state.value(TEMP, "temperature") == 21.7
    state.set_online(TEMP, True, T0 + timedelta(seconds=9))
    assert statuses(state, TEMP, *CHAIN) == ["normal"] * 5
    assert state.online(SMOKE) is None


def test_an_online_report_counts_as_heard(state):
    state.set_online(SMOKE, True, T0)
    assert statuses(state, SMOKE, "park") == ["normal", "normal"]


def test_stale_after_the_heartbeat_of_its_type_and_back_on_a_message(state, clock):
    state.update(TEMP, "temperature", 21.5, T0)
    state.update(SMOKE, "smoke", False, T0)
    clock.advance(59)
    assert state.expire() == []
    clock.advance(2)  # 61 s: past the temperature sensor's 60 s, within the detector's 300 s
    assert state.expire() == [TEMP]
    assert statuses(state, TEMP, SMOKE, *CHAIN) == ["stale", "normal"] + ["stale"] * 4
    assert state.expire() == []  # already stale
    state.update(TEMP, "temperature", 21.5, clock.now())  # the same value still brings it back
    assert statuses(state, TEMP, *CHAIN) == ["normal"] * 5
    clock.advance(300)
    assert sorted(state.expire()) == [SMOKE, TEMP]


def test_silence_counts_by_the_clock_from_the_last_message_or_online_report(state, clock):
    state.update(TEMP, "temperature", 21.5, T0)
    state.set_online(SMOKE, True, T0)
    clock.advance(50)
    state.update(TEMP, "temperature", 21.6, T0 - timedelta(hours=1))  # an old ts: heard now all the same
    clock.advance(59)
    assert state.expire() == []
    state.set_online(SMOKE, False, clock.now())  # an offline report is no sign of life
    clock.advance(2)  # 61 s since the temperature sensor's last message
    assert state.expire() == [TEMP]
    clock.advance(190)  # 301 s since the detector's online report
    assert state.expire() == [SMOKE]


def test_a_message_ends_stale_but_not_an_alarm(state, clock):
    state.update(SMOKE, "smoke", True, T0)
    state.set_status(SMOKE, "alarm")
    clock.advance(301)
    assert state.expire() == [SMOKE]
    assert state.status(SMOKE) is Status.ALARM  # alarm outranks stale
    state.update(SMOKE, "smoke", True, clock.now())
    assert state.status(SMOKE) is Status.ALARM
    state.set_status(SMOKE, Status.NORMAL)
    assert statuses(state, SMOKE, *CHAIN) == ["normal"] * 5


def test_one_heartbeat_for_every_type_and_none_for_unlisted_types(park, clock):
    every = State(park, clock, heartbeat_s=10)
    only_smoke = State(park, clock, heartbeat_s={"smoke_detector": 10})
    for state in (every, only_smoke):
        state.update(TEMP, "temperature", 21.5, T0)
        state.update(SMOKE, "smoke", False, T0)
    clock.advance(11)
    assert sorted(every.expire()) == [SMOKE, TEMP]
    assert only_smoke.expire() == [SMOKE]


def test_rules_set_only_rule_statuses(state):
    for wrong in ("offline", "stale", "unknown", "fire"):
        with pytest.raises(ValueError):
            state.set_status(SMOKE, wrong)


# --- roll-up --------------------------------------------------------------------------------------
def test_severity_order():
    assert sorted(Status, reverse=True) == [Status.ALARM, Status.WARNING, Status.OFFLINE, Status.STALE,
                                            Status.NORMAL, Status.UNKNOWN]
    assert Status.parse("warning") is Status.WARNING and str(Status.OFFLINE) == "offline"


def test_worst_wins_up_to_the_park_and_comes_back_down(state, clock):
    state.update(TEMP, "temperature", 21.5, T0)
    state.update(SMOKE, "smoke", False, T0)
    state.set_status(TEMP, "warning")
    assert statuses(state, TEMP, SMOKE, *CHAIN) == ["warning", "normal"] + ["warning"] * 4
    state.set_status(SMOKE, "alarm")
    assert statuses(state, TEMP, SMOKE, *CHAIN) == ["warning", "alarm"] + ["alarm"] * 4
    state.set_online(TEMP, False, T0)  # offline under warning: the warning still shows
    assert statuses(state, TEMP, *CHAIN) == ["warning", "alarm", "alarm", "alarm", "alarm"]
    state.set_status(SMOKE, "normal")  # the alarm clears
    assert statuses(state, SMOKE, *CHAIN) == ["normal"] + ["warning"] * 4
    state.set_status(TEMP, "normal")  # the warning clears: the sensor is still offline
    assert statuses(state, TEMP, *CHAIN) == ["offline"] * 5
    clock.advance(301)
    state.expire()  # the detector goes stale: offline outranks it
    assert statuses(state, SMOKE, *CHAIN) == ["stale"] + ["offline"] * 4
    state.set_online(TEMP, True, clock.now())
    assert statuses(state, TEMP, *CHAIN) == ["normal"] + ["stale"] * 4


def test_a_space_with_its_own_metrics_rolls_up_with_its_devices(state):
    state.update("ifc:R101", "occupancy", 3.0, T0)
    state.set_status(TEMP, "warning")
    assert statuses(state, *CHAIN) == ["warning"] * 4
    state.set_status("ifc:R101", "alarm")
    assert statuses(state, TEMP, *CHAIN) == ["warning"] + ["alarm"] * 4


# --- versions -------------------------------------------------------------------------------------
def test_changes_since_returns_exactly_what_changed(state):
    assert state.changes_since(0) == (0, {})
    state.update(TEMP, "temperature", 21.5, T0)
    v1, changes = state.changes_since(0)
    assert set(changes) == {TEMP, *CHAIN}  # heard: unknown → normal all the way up
    assert changes[TEMP] == NodeChange(Status.NORMAL, {"temperature": (21.5, T0)})
    assert changes["park"] == NodeChange(Status.NORMAL, {})
    assert state.changes_since(v1) == (v1, {})  # nothing changed

    state.update(TEMP, "temperature", 22.0, T0 + timedelta(seconds=1))
    state.update(TEMP, "humidity_pct", 40.0, T0 + timedelta(seconds=1))
    v2, changes = state.changes_since(v1)
    assert v2 > v1 and changes == {TEMP: NodeChange(Status.NORMAL, {
        "temperature": (22.0, T0 + timedelta(seconds=1)), "humidity_pct": (40.0, T0 + timedelta(seconds=1))})}

    state.set_status(SMOKE, "alarm")
    v3, changes = state.changes_since(v2)
    assert set(changes) == {SMOKE, *CHAIN} and {c.status for c in changes.values()} == {Status.ALARM}
    assert changes[SMOKE].metrics == {}

    state.set_status(TEMP, "warning")  # under the alarm: the ancestors do not change
    v4, changes = state.changes_since(v3)
    assert changes == {TEMP: NodeChange(Status.WARNING, {})}  # only values changed after v3 travel
    state.set_status(TEMP, "warning")  # the same again: no change, no version
    assert state.changes_since(v4) == (v4, {})
    assert set(state.changes_since(v1)[1]) == {TEMP, SMOKE, *CHAIN}


def test_changes_older_than_the_log_are_answered_by_a_scan(park, clock):
    small, large = State(park, clock, HEARTBEAT_S, log_size=2), State(park, clock, HEARTBEAT_S)
    for state in (small, large):
        state.update(TEMP, "temperature", 20.0, T0)
        state.update(SMOKE, "smoke", False, T0)
        for i in range(20):
            state.update(TEMP, "temperature", 21.0 + i, T0 + timedelta(seconds=i))
        state.set_status(SMOKE, "warning")
    assert small.version == large.version
    for version in range(small.version + 1):
        assert small.changes_since(version) == large.changes_since(version)
    assert set(small.changes_since(2)[1]) == {TEMP, SMOKE, *CHAIN}


# --- threads --------------------------------------------------------------------------------------
def test_a_writer_thread_and_a_reading_session(state):
    """The MQTT thread writes while a session polls; the session's mirror ends equal to the state."""
    count = 20_000
    done = threading.Event()

    def write():
        for i in range(count):
            state.update(TEMP, "temperature", float(i), T0 + timedelta(milliseconds=i))
            state.set_status(SMOKE, "alarm" if i % 100 == 50 else "normal")
            if i % 1000 == 0:
                state.set_online(SMOKE, i % 2000 != 0, T0)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    version, mirror, polls = 0, {}, 0
    while not done.is_set() or version < state.version:
        new_version, changes = state.changes_since(version)
        assert new_version >= version
        for node_id, change in changes.items():
            mirror.setdefault(node_id, {"metrics": {}})["status"] = change.status
            mirror[node_id]["metrics"].update(change.metrics)
        version, polls = new_version, polls + 1
    writer.join()
    assert polls > 1
    assert mirror[TEMP]["metrics"] == state.metrics(TEMP) == {
        "temperature": (float(count - 1), T0 + timedelta(milliseconds=count - 1))}
    for node_id in (TEMP, SMOKE, *CHAIN):
        assert mirror[node_id]["status"] is state.status(node_id)
    assert state.status("park") is Status.NORMAL


# --- the demo park --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo() -> Park:
    from twin.cache import compile_scene
    return compile_scene(ROOT / "scenes" / "demo")


def test_an_alarm_in_the_demo_park_reaches_its_building_and_no_other(demo):
    state = State(demo, ManualClock(T0), {"smoke_detector": 300.0, "temperature_sensor": 60.0})
    devices = demo.of_kind("device")
    for node in devices:
        state.update(node.id, "heartbeat", True, T0)
    assert state.status("park") is Status.NORMAL
    detector = next(n for n in devices if n.properties["device"]["type"] == "smoke_detector"
                    and demo.ancestor(n.id, "space") is not None)
    chain = [n.id for n in demo.path(detector.id)]
    building = demo.ancestor(detector.id, "building")
    assert [demo.get(i).kind for i in chain][-3:] == ["building", "storey", "space"]
    version = state.version
    state.set_status(detector.id, "alarm")
    _, changes = state.changes_since(version)
    assert set(changes) == {detector.id, *chain}
    assert all(change.status is Status.ALARM for change in changes.values())
    other = next(b for b in demo.of_kind("building") if b.id != building.id
                 and any(n.kind == "device" for n in demo.descendants(b.id)))
    assert state.status(other.id) is Status.NORMAL
    state.set_status(detector.id, "normal")
    assert all(state.status(i) is Status.NORMAL for i in (detector.id, *chain))
