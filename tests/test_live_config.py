"""The ``[live]`` table of a scene file: the demo's device types, bindings and rules, a bare-value
binding, each problem named by file and field, and the checks that need the built park."""
from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest

from conftest import ROOT, run_twin
from live.bindings import Binding, Rejected, Router, StatusBinding
from live.config import CommandSpec, LiveSpec, MetricSpec, live_problems
from twin.park import Node, Park, PropertySet
from twin.scene import SceneError, read_scene

DEMO = ROOT / "scenes" / "demo"
HEAD = 'name = "x"\ncrs = "EPSG:4549"\norigin = [640000.0, 3457000.0, 4.0]\n'
TEMPERATURE = ('[[live.device_types]]\ntype = "temperature_sensor"\nheartbeat_s = 300\n'
               '[live.device_types.metrics.temperature]\nunit = "°C"\nscale = [16, 32]\n')
SMOKE = ('[[live.device_types]]\ntype = "smoke_detector"\n[live.device_types.metrics.smoke]\nkind = "boolean"\n'
         'colours = { true = "#e53935", false = "#43a047" }\n')
TYPES = TEMPERATURE + SMOKE
RULE = '[[live.rules]]\nkey = "hot"\ndevice_type = "temperature_sensor"\nmetric = "temperature"\nseverity = "major"\n'
NOW = datetime(2026, 1, 1, 8, tzinfo=UTC)


def scene_with(tmp_path, text: str):
    (tmp_path / "scene.toml").write_text(HEAD + text, encoding="utf-8")
    return tmp_path / "scene.toml"


# --- the demo park ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_live() -> LiveSpec:
    return read_scene(DEMO).live


def test_the_demo_declares_every_device_type_of_its_registry(demo_live):
    with (DEMO / "devices.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert set(demo_live.device_types) == {row["type"] for row in rows} and len(demo_live.device_types) == 19
    assert demo_live.metric("temperature_sensor", "temperature") == MetricSpec(
        "temperature", "°C", "number", "temperature", 0.2, 900.0, (16.0, 32.0), {})
    assert demo_live.metric("smoke_detector", "smoke").colours == {"true": (229, 57, 53), "false": (67, 160, 71)}
    assert demo_live.metric("camera", "temperature") is None and demo_live.metric("boiler", "smoke") is None
    assert demo_live.heartbeat_s()["smoke_detector"] == 600.0
    assert demo_live.device_types["access_door"].commands == CommandSpec(("lock", "unlock"), 5.0)
    assert demo_live.device_types["street_light"].commands.actions == ("on", "off")
    assert demo_live.gateway_status == "park/gateways/{gateway}/status"
    cameras = [row for row in rows if row["type"] == "camera"]
    assert all(row["snapshot_url"] == f"/api/cameras/{row['code']}/snapshot.png" for row in cameras)
    assert all(row["gateway"].startswith("GW-") for row in rows)


def test_the_demo_rules_use_all_four_severities(demo_live):
    rules = {rule.key: rule for rule in demo_live.rules}
    assert {rule.severity for rule in demo_live.rules} == {"critical", "major", "minor", "warning"}
    smoke = rules["smoke"]
    assert (smoke.device_type, smoke.metric, smoke.equals, smoke.severity) == ("smoke_detector", "smoke", True,
                                                                              "critical")
    assert smoke.message == {"zh": "烟感报警", "en": "Smoke detected"}
    assert (rules["room-hot"].above, rules["room-hot"].for_s) == (35.0, 60.0)
    assert rules["pressure-range"].outside == (150.0, 650.0)


def test_the_demo_telemetry_binding_takes_every_metric_and_its_unit(demo_live):
    telemetry, status = demo_live.bindings
    assert isinstance(telemetry, Binding) and isinstance(status, StatusBinding)
    assert telemetry.metrics["smoke"] == "smoke" and telemetry.units["co2"] == "ppm"
    router = Router(demo_live.bindings)
    reading = router.route("park/SD-B01-1F-A-101-1/telemetry", b'{"ts": "2026-01-01T08:00:00Z", "smoke": true}', NOW)
    assert (reading.node, reading.values) == ("dev:SD-B01-1F-A-101-1", {"smoke": True})
    assert router.route("park/SD-B01-1F-A-101-1/status", b"offline", NOW).online is False
    with pytest.raises(Rejected, match="smoke must be a boolean"):
        router.route("park/SD-B01-1F-A-101-1/telemetry", b'{"smoke": 1}', NOW)


def test_twin_check_passes_on_the_demo():
    result = run_twin("check", DEMO)
    assert result.returncode == 0, result.stderr


# --- bindings -----------------------------------------------------------------------------------
def test_a_bare_number_payload_binds_one_metric(tmp_path):
    live = read_scene(scene_with(tmp_path, TYPES + '[[live.bindings]]\ntopic = "site/{device}/t"\n'
                                 'metrics = { temperature = "$" }\nnode = "dev:TS-{device}"\n')).live
    (binding,) = live.bindings
    assert binding.metrics == {"temperature": "$"} and binding.units == {"temperature": "°C"}
    reading = Router(live.bindings).route("site/7/t", b"21.5", NOW)
    assert (reading.node, reading.values, reading.ts) == ("dev:TS-7", {"temperature": 21.5}, NOW)


def test_a_binding_without_metrics_takes_every_declared_metric_by_its_path(tmp_path):
    live = read_scene(scene_with(tmp_path, TYPES.replace('unit = "°C"', 'unit = "°C"\npath = "data.t"') +
                                 '[[live.bindings]]\ntopic = "park/{device}/telemetry"\n')).live
    assert live.bindings[0].metrics == {"temperature": "data.t", "smoke": "smoke"}
    reading = Router(live.bindings).route("park/TS-1/telemetry", b'{"data": {"t": 20}, "smoke": false}', NOW)
    assert reading.values == {"temperature": 20.0, "smoke": False}


def test_a_scene_without_live_has_an_empty_spec(tmp_path):
    live = read_scene(scene_with(tmp_path, "")).live
    assert live == LiveSpec() and live.heartbeat_s() == {} and live.bindings == ()


# --- problems, one line each naming file and field ----------------------------------------------
@pytest.mark.parametrize("text, problem", [
    ('live = 3\n', "live: must be a table ([live])"),
    ('[live]\nbrokers = 1\n', "live.brokers: unknown key"),
    ('[live]\ndevice_types = 1\n', "live.device_types: must be a list of tables ([[live.device_types]])"),
    (TEMPERATURE + 'colour = "red"\n', "live.device_types[0].metrics.temperature.colour: unknown key"),
    ('[[live.device_types]]\nheartbeat_s = 5\n', "live.device_types[0].type: missing"),
    (TEMPERATURE + TEMPERATURE.replace("heartbeat_s = 300\n", ""),
     "live.device_types[1].type: device type 'temperature_sensor' is declared twice"),
    (TEMPERATURE.replace("300", "-5"), "live.device_types[0].heartbeat_s: must be more than 0, not -5"),
    (TEMPERATURE + 'deadband = -0.1\n', "live.device_types[0].metrics.temperature.deadband: must be at least 0, not -0.1"),
    (TEMPERATURE + 'keepalive_s = 0\n', "live.device_types[0].metrics.temperature.keepalive_s: must be more than 0, not 0"),
    (TEMPERATURE.replace("[16, 32]", "[32, 16]"),
     "live.device_types[0].metrics.temperature.scale: low must be under high, not [32, 16]"),
    (TEMPERATURE.replace("[16, 32]", "[16]"), "live.device_types[0].metrics.temperature.scale: must be [low, high]"),
    (TEMPERATURE + 'kind = "colour"\n', "live.device_types[0].metrics.temperature.kind: unknown kind 'colour'"),
    (SMOKE.replace("#e53935", "red"), "live.device_types[0].metrics.smoke.colours.true: colour must be \"#rrggbb\""),
    (SMOKE.replace("false =", "maybe ="), "live.device_types[0].metrics.smoke.colours.maybe: a boolean metric"),
    (SMOKE + 'scale = [0, 1]\n', "live.device_types[0].metrics.smoke.scale: only a number metric has a scale"),
    (TEMPERATURE + 'colours = { hot = "#ff0000" }\n',
     "live.device_types[0].metrics.temperature.colours: a number metric is coloured by its scale"),
    (TEMPERATURE + '[live.device_types.commands]\nactions = []\n',
     "live.device_types[0].commands.actions: must be a non-empty list"),
    (TEMPERATURE + '[live.device_types.commands]\nactions = ["on"]\ntimeout_s = -1\n',
     "live.device_types[0].commands.timeout_s: must be more than 0, not -1"),
    (TEMPERATURE + '[live.device_types.commands]\nactions = ["on"]\ntopic = "cmd/all"\n',
     "live.device_types[0].commands.topic: 'cmd/all' must have a {device} segment"),
    ('[live]\ngateway_status = "park/gateways/status"\n',
     "live.gateway_status: 'park/gateways/status' must have a {gateway} segment"),
    (TYPES + '[[live.bindings]]\nmetrics = { temperature = "t" }\n', "live.bindings[0].topic: missing"),
    (TYPES + '[[live.bindings]]\ntopic = "park/+/telemetry"\n', "live.bindings[0].topic: binding topic"),
    (TYPES + '[[live.bindings]]\ntopic = "park/{device}/t"\nmetrics = { humidity = "h" }\n',
     "live.bindings[0].metrics.humidity: not a metric of any [[live.device_types]]"),
    (TYPES + '[[live.bindings]]\ntopic = "park/{device}/t"\nmetrics = { temperature = "$", smoke = "s" }\n',
     "live.bindings[0].metrics: binding 'park/{device}/t': a bare-value path '$' binds exactly one metric"),
    (TYPES + '[[live.bindings]]\ntopic = "park/{device}/s"\nstatus = true\nmetrics = { smoke = "s" }\n',
     "live.bindings[0].metrics: a status binding (status = true) carries no metrics"),
    ('[[live.bindings]]\ntopic = "park/{device}/t"\n', "live.bindings[0].metrics: no metrics"),
    (TYPES + '[[live.device_types]]\ntype = "room_unit"\n[live.device_types.metrics.temperature]\npath = "t"\n'
     '[[live.bindings]]\ntopic = "park/{device}/t"\n',
     "live.bindings[0].metrics: metric 'temperature' has two paths ('temperature', 't')"),
    (TEMPERATURE + 'commands = ["on"]\n', "live.device_types[0].metrics.temperature.commands: unknown key"),
    ('[[live.device_types]]\ntype = "lamp"\ncommands = ["on"]\n',
     "live.device_types[0].commands: must be a table ([live.device_types.commands])"),
    (TYPES + '[[live.device_types]]\ntype = "panel"\n[live.device_types.metrics.smoke]\nkind = "text"\n'
     '[[live.bindings]]\ntopic = "park/{device}/t"\n',
     "live.bindings[0].metrics: metric 'smoke' is a boolean in one device type and a text in panel"),
    (TYPES + RULE + 'above = 30\nnode = "dev:TS-1"\n', "live.rules[0].node: give device_type or node, not both"),
    (TYPES + RULE.replace('device_type = "temperature_sensor"\n', '') + 'above = 30\n',
     "live.rules[0].device_type: missing (give device_type, or node for one node)"),
    (TYPES + RULE + 'above = 30\nbelow = 10\n', "live.rules[0]: give exactly one condition of above, below, outside, "
     "equals, rate_above_per_min, not 2 (above, below)"),
    (TYPES + RULE, "live.rules[0]: give exactly one condition"),
    (TYPES + RULE.replace("major", "fatal") + 'above = 30\n',
     "live.rules[0].severity: unknown severity 'fatal' (one of critical, major, minor, warning)"),
    (TYPES + RULE.replace('"temperature"\nseverity', '"humidity"\nseverity') + 'above = 30\n',
     "live.rules[0].metric: temperature_sensor declares no metric 'humidity' (known: temperature)"),
    (TYPES + RULE.replace('"temperature_sensor"', '"boiler"') + 'above = 30\n',
     "live.rules[0].device_type: 'boiler' has no [[live.device_types]]"),
    (TYPES + RULE + 'outside = [28, 16]\n', "live.rules[0].outside: low must be under high, not [28, 16]"),
    (TYPES + RULE + 'rate_above_per_min = -2\n', "live.rules[0].rate_above_per_min: must be more than 0, not -2"),
    (TYPES + RULE + 'above = 30\nfor_s = -60\n', "live.rules[0].for_s: must be at least 0, not -60"),
    (TYPES + RULE + 'above = nan\n', "live.rules[0].above: must be a finite number, not nan"),
    (TYPES + RULE + 'equals = true\n', "live.rules[0].equals: a number metric cannot equal True"),
    (TYPES + RULE.replace('"temperature_sensor"\nmetric = "temperature"', '"smoke_detector"\nmetric = "smoke"')
     + 'equals = "yes"\n', "live.rules[0].equals: a boolean metric cannot equal 'yes'"),
    (TYPES + RULE.replace('"temperature_sensor"\nmetric = "temperature"', '"smoke_detector"\nmetric = "smoke"')
     + 'above = 0.5\n', "live.rules[0].above: above needs a number metric, not a boolean one"),
    (TYPES + RULE + 'above = 30\nmessage = "hot"\n', "live.rules[0].message: must be a table of language = \"text\""),
    (TYPES + RULE + 'above = 30\n' + RULE + 'above = 40\n', "live.rules: key 'hot' is used twice"),
    (TYPES + RULE.replace('"hot"', '"too hot"') + 'above = 30\n', "live.rules[0].key: 'too hot': use letters"),
    (TYPES + RULE + 'above = 30\nlinkage = "evacuate"\n',
     "live.rules[0].linkage: unknown linkage 'evacuate' (one of isolate)"),
    (TYPES + RULE + 'above = 30\nworkorder = "asap"\n',
     "live.rules[0].workorder: unknown priority 'asap' (one of urgent, high, normal, low)"),
    (TYPES + '[live.occupancy]\nmetric = "people"\n',
     "live.occupancy.metric: no device type declares a number metric 'people'"),
    (TYPES + '[live.occupancy]\nmetric = "smoke"\n',
     "live.occupancy.metric: no device type declares a number metric 'smoke'"),
    (TYPES + '[live.occupancy]\nmetric = "temperature"\nmax_age_s = 0\n',
     "live.occupancy.max_age_s: must be more than 0, not 0"),
    (TYPES + '[live.occupancy]\nmetric = "temperature"\nmetrics = "x"\n', "live.occupancy.metrics: unknown key"),
    ('[live]\noccupancy = "people"\n', "live.occupancy: must be a table ([live.occupancy])"),
    ('[live.weather]\nwind_speed = "v"\n', "live.weather.device: missing"),
])
def test_each_live_problem_is_one_line_naming_file_and_field(tmp_path, text, problem):
    file = scene_with(tmp_path, text)
    with pytest.raises(SceneError) as caught:
        read_scene(file)
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(f"{file}: {problem}"), caught.value.problems


def test_problems_in_a_device_type_do_not_cascade_into_its_rules(tmp_path):
    file = scene_with(tmp_path, TEMPERATURE.replace("[16, 32]", "[32, 16]") + RULE + 'above = 30\n'
                      '[[live.bindings]]\ntopic = "park/{device}/telemetry"\n')
    with pytest.raises(SceneError) as caught:
        read_scene(file)
    assert caught.value.problems == [f"{file}: live.device_types[0].metrics.temperature.scale: "
                                     "low must be under high, not [32, 16]"]


# --- against the park ---------------------------------------------------------------------------
def small_park() -> Park:
    park = Park("p")
    park.add(Node("space:1", "space", parent="park"))
    for code, kind in (("TS-1", "temperature_sensor"), ("SD-1", "smoke_detector")):
        park.add(Node(f"dev:{code}", "device", parent="space:1",
                      properties_loader=PropertySet("device", {"code": code, "type": kind})))
    return park


def test_rules_are_checked_against_the_park(tmp_path):
    text = (TYPES + '[[live.device_types]]\ntype = "lift"\n[live.device_types.metrics.fault]\nkind = "boolean"\n'
            + RULE + 'above = 30\n'
            + RULE.replace('"hot"', '"one"').replace('device_type = "temperature_sensor"', 'node = "dev:TS-9"')
            + 'above = 30\n'
            + RULE.replace('"hot"', '"two"').replace('device_type = "temperature_sensor"', 'node = "dev:SD-1"')
            + 'above = 30\n'
            + RULE.replace('"hot"', '"three"').replace('device_type = "temperature_sensor"', 'node = "space:1"')
            + 'above = 30\n'
            + '[[live.rules]]\nkey = "lift"\ndevice_type = "lift"\nmetric = "fault"\nequals = true\n'
              'severity = "major"\n')
    file = scene_with(tmp_path, text)
    problems = live_problems(read_scene(file).live, small_park(), file)
    assert problems == [f"{file}: live.rules[1].node: no node 'dev:TS-9' in the park",
                        f"{file}: live.rules[2].metric: smoke_detector declares no metric 'temperature' "
                        "(known: smoke)",
                        f"{file}: live.rules[4].device_type: no device of type 'lift' in the park"]


def test_twin_check_lists_live_problems_that_need_the_park(tmp_path):
    (tmp_path / "devices.csv").write_text("code,name,type,lon,lat\nTS-1,温度,temperature_sensor,121.47,31.23\n",
                                          encoding="utf-8")
    file = scene_with(tmp_path, '[devices]\npath = "devices.csv"\n' + TYPES + RULE + 'above = 30\n' +
                      RULE.replace('"hot"', '"smoke"').replace('"temperature_sensor"\nmetric = "temperature"',
                                                               '"smoke_detector"\nmetric = "smoke"') + 'equals = true\n')
    result = run_twin("check", tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"{file}: live.rules[1].device_type: no device of type 'smoke_detector' in the park"]


def test_the_weather_station_is_checked_against_the_park(tmp_path):
    file = scene_with(tmp_path, TYPES + '[live.weather]\ndevice = "TS-1"\nwind_from = "temperature"\n')
    live = read_scene(file).live
    assert live.weather.wind_speed == "wind_speed_m_s" and live.weather.max_age_s == 1800.0
    assert live_problems(live, small_park(), file) == [
        f"{file}: live.weather.wind_speed: temperature_sensor declares no metric 'wind_speed_m_s'"]
    gone = scene_with(tmp_path, TYPES + '[live.weather]\ndevice = "WS-9"\n')
    assert live_problems(read_scene(gone).live, small_park(), gone) == [
        f"{gone}: live.weather.device: no device 'WS-9' in the park"]
