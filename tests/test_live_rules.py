"""live.rules: every condition, durations with tick, de-duplication, statuses rolled up, restarts."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from live.alarms import AlarmBook, Severity
from live.clock import ManualClock
from live.config import RuleSpec
from live.rules import Rules
from live.state import State
from twin.errors import InputError
from twin.park import Node, Park, PropertySet

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SMOKE, TEMP, TEMP2, DOOR = "dev:SD-101", "dev:TS-101", "dev:TS-201", "dev:DL-101"
ROOM, STOREY, BUILDING = "ifc:R101", "ifc:F1", "ifc:B1"
SMOKE_RULE = RuleSpec("smoke", "smoke", "critical", device_type="smoke_detector", equals=True,
                      message={"zh": "烟感报警", "en": "Smoke detected"})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def device(code: str, device_type: str, parent: str) -> Node:
    return Node(f"dev:{code}", "device", code, parent=parent, code=code,
                properties_loader=PropertySet("device", {"code": code, "type": device_type}))


@pytest.fixture
def park() -> Park:
    """park › building › storey › two spaces; a smoke detector, two temperature sensors, a door lock."""
    park = Park("test park")
    park.add(Node(BUILDING, "building", "Building 1", parent="park"))
    park.add(Node(STOREY, "storey", "1F", parent=BUILDING))
    park.add(Node(ROOM, "space", "101", parent=STOREY))
    park.add(Node("ifc:R201", "space", "201", parent=STOREY))
    park.add(device("SD-101", "smoke_detector", ROOM))
    park.add(device("TS-101", "temperature_sensor", ROOM))
    park.add(device("TS-201", "temperature_sensor", "ifc:R201"))
    park.add(device("DL-101", "door_lock", ROOM))
    return park


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def state(park, clock) -> State:
    return State(park, clock, heartbeat_s={})


@pytest.fixture
def book(clock) -> AlarmBook:
    return AlarmBook(None, clock)


@pytest.fixture
def make(park, state, book, clock):
    """Rules from specs over the fixtures' park, state, book and clock."""
    return lambda *specs: Rules(specs, park, state, book, clock)


def temperature_rule(**condition) -> RuleSpec:
    severity = condition.pop("severity", "major")
    return RuleSpec("temperature", "temperature", severity, device_type="temperature_sensor", **condition)


def feed(state: State, rules: Rules, node: str, metric: str, value, seconds: float) -> None:
    """What ingest does with an accepted value: State first, then the rules."""
    state.update(node, metric, value, at(seconds))
    rules.observe(node, metric, value, at(seconds))


def statuses(state: State, *node_ids: str) -> list[str]:
    return [str(state.status(node_id)) for node_id in node_ids]


def active(book: AlarmBook) -> list[tuple[str, str]]:
    return sorted((a.rule, a.node) for a in book.list(active=True))


# --- conditions -------------------------------------------------------------------------------------
def test_a_smoke_detector_reporting_smoke_raises_a_critical_alarm_up_to_the_building(make, state, book):
    rules = make(SMOKE_RULE)
    feed(state, rules, SMOKE, "smoke", False, 0)
    assert book.list() == [] and statuses(state, SMOKE, ROOM, BUILDING, "park") == ["normal"] * 4
    feed(state, rules, SMOKE, "smoke", True, 10)
    [alarm] = book.list()
    assert (alarm.rule, alarm.node, alarm.severity, alarm.value, alarm.raised_at) == \
        ("smoke", SMOKE, Severity.CRITICAL, True, at(10))
    assert alarm.message["en"] == "Smoke detected"
    assert statuses(state, SMOKE, ROOM, STOREY, BUILDING, "park") == ["alarm"] * 5
    assert statuses(state, "ifc:R201") == ["unknown"]
    feed(state, rules, SMOKE, "smoke", False, 20)
    [ended] = book.list()
    assert not ended.active and ended.ended_at == at(20)
    assert statuses(state, SMOKE, BUILDING) == ["normal", "normal"]


def test_above_raises_over_the_threshold_and_clears_at_or_under_it(make, state, book):
    rules = make(temperature_rule(above=30))
    feed(state, rules, TEMP, "temperature", 30.0, 0)
    assert book.list() == []
    feed(state, rules, TEMP, "temperature", 30.5, 10)
    assert active(book) == [("temperature", TEMP)] and statuses(state, TEMP, BUILDING) == ["alarm"] * 2
    feed(state, rules, TEMP2, "temperature", 35, 12)  # an int is a number too
    assert active(book) == [("temperature", TEMP), ("temperature", TEMP2)]
    feed(state, rules, TEMP, "temperature", 30.0, 20)
    assert active(book) == [("temperature", TEMP2)]
    assert statuses(state, TEMP, ROOM, BUILDING) == ["normal", "normal", "alarm"]


def test_below_raises_under_the_threshold(make, state, book):
    rules = make(temperature_rule(below=5, severity="minor"))
    feed(state, rules, TEMP, "temperature", 4.9, 0)
    assert active(book) == [("temperature", TEMP)]
    assert statuses(state, TEMP, BUILDING) == ["warning", "warning"]  # minor → warning
    feed(state, rules, TEMP, "temperature", 5.0, 10)
    assert active(book) == []


def test_outside_raises_out_of_the_range_either_way(make, state, book):
    rules = make(temperature_rule(outside=(16.0, 28.0), severity="warning"))
    for seconds, value, alarm in [(0, 16.0, False), (10, 15.9, True), (20, 22.0, False),
                                  (30, 28.0, False), (40, 28.1, True), (50, 27.0, False)]:
        feed(state, rules, TEMP, "temperature", value, seconds)
        assert bool(active(book)) is alarm, (seconds, value)
    [alarm] = book.list(open=None)
    assert alarm.count == 2 and alarm.value == 28.1  # unacknowledged: the same alarm came back


def test_equals_matches_a_bool_a_string_or_a_number(make, state, book, park):
    rules = make(RuleSpec("forced", "door", "major", device_type="door_lock", equals="forced"),
                 RuleSpec("mode", "mode", "warning", node=DOOR, equals=3))
    feed(state, rules, DOOR, "door", "closed", 0)
    feed(state, rules, DOOR, "mode", 2.0, 0)
    assert active(book) == []
    feed(state, rules, DOOR, "door", "forced", 10)
    feed(state, rules, DOOR, "mode", 3.0, 10)  # 3.0 == 3
    assert active(book) == [("forced", DOOR), ("mode", DOOR)]
    assert statuses(state, DOOR) == ["alarm"]
    feed(state, rules, DOOR, "door", "closed", 20)
    assert active(book) == [("mode", DOOR)] and statuses(state, DOOR) == ["warning"]


def test_rate_above_per_min_uses_consecutive_samples_and_their_timestamps(make, state, book):
    rules = make(temperature_rule(rate_above_per_min=2))
    feed(state, rules, TEMP, "temperature", 20.0, 0)  # no previous sample: no rate yet
    feed(state, rules, TEMP, "temperature", 22.0, 60)  # 2 °C/min: not above
    assert active(book) == []
    feed(state, rules, TEMP, "temperature", 23.5, 90)  # 3 °C/min
    [alarm] = book.list(active=True)
    assert alarm.value == 23.5 and alarm.raised_at == at(90)
    feed(state, rules, TEMP, "temperature", 10.0, 80)  # older than the last sample: no rate
    assert active(book) == [("temperature", TEMP)]
    feed(state, rules, TEMP, "temperature", 20.0, 150)  # falling 3.5 °C/min: still too fast
    assert active(book) == [("temperature", TEMP)]
    feed(state, rules, TEMP, "temperature", 20.5, 210)  # 0.5 °C/min
    assert active(book) == []


# --- durations --------------------------------------------------------------------------------------
def test_for_s_raises_on_tick_once_the_condition_has_held_long_enough(make, state, book, clock):
    rules = make(temperature_rule(above=30, for_s=60))
    feed(state, rules, TEMP, "temperature", 31.0, 0)
    rules.tick()
    assert active(book) == []
    clock.advance(59)
    rules.tick()
    assert active(book) == [] and statuses(state, TEMP) == ["normal"]
    clock.advance(1)
    rules.tick()
    [alarm] = book.list(active=True)
    assert alarm.raised_at == at(60) and alarm.value == 31.0 and statuses(state, TEMP) == ["alarm"]
    clock.advance(60)
    rules.tick()
    assert book.list(open=None)[0].count == 1  # raised once


def test_for_s_raises_on_a_sample_past_the_duration_and_restarts_when_interrupted(make, state, book, clock):
    rules = make(temperature_rule(above=30, for_s=60))
    feed(state, rules, TEMP, "temperature", 31.0, 0)
    feed(state, rules, TEMP, "temperature", 29.0, 30)  # interrupted: the hold starts again
    feed(state, rules, TEMP, "temperature", 31.0, 40)
    clock.advance(70)
    rules.tick()
    assert active(book) == []
    feed(state, rules, TEMP, "temperature", 32.0, 100)  # 60 s since 40: raised by the sample
    [alarm] = book.list(active=True)
    assert alarm.raised_at == at(100) and alarm.value == 32.0
    clock.advance(100)
    rules.tick()
    feed(state, rules, TEMP, "temperature", 29.0, 200)
    assert active(book) == [] and statuses(state, TEMP) == ["normal"]


# --- de-duplication, acknowledging, clearing ------------------------------------------------------
def test_a_condition_that_goes_on_holding_raises_one_alarm(make, state, book):
    rules = make(temperature_rule(above=30))
    for seconds in range(0, 100, 10):
        feed(state, rules, TEMP, "temperature", 31.0 + seconds / 100, seconds)
    [alarm] = book.list(open=None)
    assert alarm.count == 1 and alarm.raised_at == at(0)
    assert book.version == 1  # no writes while it holds


def test_an_acknowledged_alarm_keeps_the_node_in_alarm_until_the_condition_ends(make, state, book):
    rules = make(SMOKE_RULE)
    feed(state, rules, SMOKE, "smoke", True, 0)
    [alarm] = book.list()
    book.ack(alarm.id, "operator-7")
    assert statuses(state, SMOKE, BUILDING) == ["alarm", "alarm"]
    feed(state, rules, SMOKE, "smoke", False, 10)
    assert book.list() == [] and statuses(state, BUILDING) == ["normal"]
    feed(state, rules, SMOKE, "smoke", True, 20)
    assert book.list()[0].id != alarm.id  # a new alarm: the old one was closed


def test_clearing_by_hand_sets_the_node_normal_and_a_condition_still_holding_raises_anew(make, state, book, clock):
    rules = make(SMOKE_RULE)
    feed(state, rules, SMOKE, "smoke", True, 0)
    [alarm] = book.list()
    clock.advance(30)
    cleared = book.clear(alarm.id, "operator-7")
    assert (cleared.cleared_by, cleared.cleared_at) == ("operator-7", at(30))
    assert statuses(state, SMOKE, BUILDING) == ["normal", "normal"]
    feed(state, rules, SMOKE, "smoke", True, 40)
    [again] = book.list()
    assert again.id != alarm.id and again.raised_at == at(40) and statuses(state, BUILDING) == ["alarm"]


def test_the_node_shows_its_worst_active_alarm(make, state, book):
    rules = make(temperature_rule(above=30, severity="warning"),
                 RuleSpec("very hot", "temperature", "critical", node=TEMP, above=50))
    feed(state, rules, TEMP, "temperature", 31.0, 0)
    assert statuses(state, TEMP) == ["warning"]
    feed(state, rules, TEMP, "temperature", 55.0, 10)
    assert statuses(state, TEMP, BUILDING) == ["alarm", "alarm"] and len(active(book)) == 2
    feed(state, rules, TEMP, "temperature", 40.0, 20)
    assert statuses(state, TEMP, BUILDING) == ["warning", "warning"]


# --- values rules cannot use, nodes no rule watches -----------------------------------------------
def test_values_of_the_wrong_type_are_ignored_and_counted(make, state, book):
    rules = make(temperature_rule(above=30), SMOKE_RULE)
    feed(state, rules, TEMP, "temperature", 31.0, 0)
    for seconds, value in [(10, "hot"), (20, True), (30, False)]:
        feed(state, rules, TEMP, "temperature", value, seconds)
    feed(state, rules, SMOKE, "smoke", 1.0, 40)  # a number for a bool rule
    feed(state, rules, SMOKE, "smoke", "true", 50)
    assert active(book) == [("temperature", TEMP)]  # neither raised nor cleared by them
    assert rules.ignored() == {"temperature": 3, "smoke": 2}


def test_values_no_rule_watches_change_nothing(make, state, book, park):
    rules = make(SMOKE_RULE)
    park.add(Node("dev:X-1", "device", "X-1", parent=ROOM))  # no registry type
    rules.observe(TEMP, "temperature", 99.0, at(0))  # no rule for the type
    rules.observe(SMOKE, "battery_pct", 3.0, at(0))  # no rule for the metric
    rules.observe("dev:X-1", "smoke", True, at(0))
    rules.observe("dev:nowhere", "smoke", True, at(0))
    rules.tick()
    assert book.version == 0 and rules.ignored() == {}


# --- specs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, error", [
    (RuleSpec("r", "t", "fatal", device_type="x", above=1), "rule 'r': no severity 'fatal'"),
    (RuleSpec("r", "t", "major", device_type="x"), "rule 'r': give exactly one condition"),
    (RuleSpec("r", "t", "major", device_type="x", above=1, below=0), "not above and below"),
    (RuleSpec("r", "t", "major", above=1), "rule 'r': give either device_type or node"),
    (RuleSpec("r", "t", "major", device_type="x", node=TEMP, above=1), "either device_type or node"),
    (RuleSpec("r", "t", "major", node="dev:nowhere", above=1), "node 'dev:nowhere' is not in the park"),
    (RuleSpec("r", "t", "major", device_type="x", outside=(5.0, 1.0)), "has low above high"),
    (RuleSpec("r", "t", "major", device_type="x", above="30"), "above needs finite numbers"),
    (RuleSpec("r", "t", "major", device_type="x", above=1, for_s=-1), "for_s must be a number"),
])
def test_bad_rules_are_refused_naming_the_rule(make, spec, error):
    with pytest.raises(InputError, match=error):
        make(spec)


def test_a_key_used_twice_is_refused(make):
    with pytest.raises(InputError, match="rule 'smoke': the key is used twice"):
        make(SMOKE_RULE, replace(SMOKE_RULE, device_type="door_lock"))


# --- restarts ----------------------------------------------------------------------------------------
def test_alarms_and_statuses_survive_a_restart(tmp_path, park, clock):
    path = tmp_path / "alarms.sqlite"
    state, book = State(park, clock, heartbeat_s={}), AlarmBook(path, clock)
    rules = Rules([SMOKE_RULE, temperature_rule(above=30)], park, state, book, clock)
    feed(state, rules, SMOKE, "smoke", True, 0)
    feed(state, rules, TEMP, "temperature", 35.0, 0)
    book.close()

    state, book = State(park, clock, heartbeat_s={}), AlarmBook(path, clock)
    rules = Rules([SMOKE_RULE], park, state, book, clock)  # the temperature rule is gone
    assert active(book) == [("smoke", SMOKE)]  # the alarm of a rule that is gone is cleared
    assert statuses(state, SMOKE, TEMP, BUILDING) == ["alarm", "unknown", "alarm"]  # TEMP: not heard yet
    feed(state, rules, SMOKE, "smoke", False, 60)  # the next sample clears the reloaded alarm
    assert active(book) == [] and statuses(state, BUILDING) == ["normal"]
    assert len(book.list(open=None)) == 2
    book.close()
