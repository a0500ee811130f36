"""The demo park's devices, simulated over MQTT: the park breathes on the real path.

Every device of a scene's registry reports on the demo convention (``park/<code>/telemetry`` JSON,
``park/<code>/status`` retained) through one MQTT client per gateway, whose last will marks the
gateway ``offline``. Values follow real daily shapes (``live/profiles``: an office room's
temperature, humidity, CO2 and occupancy; a building's hourly electricity by weekday) in the park's
local solar time, with per-room offsets and noise; meters integrate their power. Now and then (a
rate per simulated hour) a smoke detector fires for a few minutes, a room overheats, a water main
leaks, a manhole cover opens, a lift faults, a device goes offline or a gateway drops without a DISCONNECT and comes back.
People counters count what their room's floor area holds as occupied as rooms are at that hour; the
weather station's wind drifts slowly around the park's prevailing south-easterly and its air
temperature follows the day. Street lights and door locks obey commands on ``park/<code>/command``.

Simulated time runs ``speed`` times the injected clock from ``start``: with ``speed=60`` an hour
passes per minute.

>>> with Simulator(read_scene("scenes/demo"), broker.url, speed=60) as sim:   # doctest: +SKIP
...     time.sleep(10)
...     sim.published
"""
from __future__ import annotations

import csv
import heapq
import json
import logging
import math
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import paho.mqtt.client as mqtt

from live.bindings import Value
from live.clock import Clock, SystemClock
from live.mqtt import broker_address, mqtt_client
from twin.errors import InputError

log = logging.getLogger(__name__)

PROFILES = Path(__file__).with_name("profiles")
TELEMETRY_TOPIC = "park/{device}/telemetry"
STATUS_TOPIC = "park/{device}/status"
GATEWAY_STATUS_TOPIC = "park/gateways/{gateway}/status"
COMMAND_TOPIC = "park/{device}/command"
RESULT_TOPIC = "park/{device}/command/result"
SITE_GATEWAY = "GW-SITE"
KEEPALIVE_S = 30
CONNECT_TIMEOUT_S = 10.0
TICK_MAX_S = 0.1  #: longest real wait between two looks at the clock
FIRST_REPORT_REAL_S = 5.0  #: every device reports once within this many real seconds of start
CATCH_UP_PERIODS = 20  #: a device this many periods behind skips ahead instead of bursting
COMMAND_DELAY_S = 0.3  #: a device answers a command after this many real seconds
EVENT_KINDS = ("smoke", "overheat", "manhole_open", "pipe_leak", "lift_fault", "device_offline", "gateway_drop")
MAX_EVENTS_PER_TICK = 50.0  #: a long jump of the clock does not start a storm

#: Metrics per device type when the scene declares none (``[live]``): the demo's vocabulary.
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "temperature_sensor": ("temperature",), "humidity_sensor": ("humidity",),
    "air_quality_sensor": ("co2", "pm25"), "smoke_detector": ("smoke",),
    "energy_meter": ("energy_kwh", "power_kw"), "water_meter": ("volume_m3", "flow_m3h"),
    "flow_sensor": ("flow_m3h",), "pressure_sensor": ("pressure_kpa",), "level_sensor": ("level_m",),
    "camera": ("recording",), "access_door": ("locked", "open"), "street_light": ("on", "power_w"),
    "charging_pile": ("charging", "power_kw"), "parking_sensor": ("occupied",),
    "manhole_cover": ("open", "tilt_deg"), "lift": ("floor", "running", "fault"),
    "leak_detector": ("leak", "noise_db"), "people_counter": ("people",),
    "weather_station": ("wind_speed_m_s", "wind_from_deg", "air_temperature_c"),
}
#: Commands per device type when the scene declares none.
DEFAULT_ACTIONS: dict[str, tuple[str, ...]] = {"street_light": ("on", "off"),
                                               "access_door": ("lock", "unlock")}
PERSON_AREA_M2 = 8.0  #: floor area per person of a fully occupied room (people counters' capacity)
DEFAULT_CAPACITY_PERSONS = 10.0  #: a people counter's capacity when its room's floor area is unknown
WIND_SPEED_RANGE_M_S = (0.3, 12.0)  #: reported wind speeds are clipped to this
AIR_TEMPERATURE_C = (12.0, 22.0)  #: the day's low (at 03:00) and high (at 15:00)


def iso(at: datetime) -> str:
    """UTC ISO 8601 to the second with a ``Z``: ``2026-01-01T08:00:00Z``."""
    return at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class SpeedClock:
    """Simulated time: ``start + speed × (base.now() − base.now() at creation)``."""

    def __init__(self, base: Clock, speed: float = 1.0, start: datetime | None = None):
        if not (math.isfinite(speed) and speed > 0):
            raise InputError(f"simulator speed {speed!r}: must be a positive number")
        self.base, self.speed = base, speed
        self._base_start = base.now()
        self.start = (start or self._base_start).astimezone(UTC)

    def now(self) -> datetime:
        return self.start + (self.base.now() - self._base_start) * self.speed


# --- profiles --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Profiles:
    """The daily shapes in ``live/profiles`` (see its README): room by 15 min, load by weekday and hour."""

    room: dict[str, dict[str, list[float]]]  # "weekday"/"weekend" → metric → value per slot of the day
    slot_min: int
    load: list[list[float]]  # weekday (0 = Monday) → 24 hourly factors, mean 1.0

    @classmethod
    def read(cls, folder: Path = PROFILES) -> Profiles:
        room: dict[str, dict[str, list[float]]] = {}
        minutes: list[int] = []
        with (folder / "room.csv").open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                day = room.setdefault(row.pop("day"), {})
                minute = int(row.pop("minute"))
                if len(room) == 1:
                    minutes.append(minute)
                for metric, value in row.items():
                    day.setdefault(metric, []).append(float(value))
        load = [[0.0] * 24 for _ in range(7)]
        with (folder / "load.csv").open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                load[int(row["weekday"])][int(row["hour"])] = float(row["load"])
        if set(room) != {"weekday", "weekend"} or len(minutes) < 2:
            raise InputError(f"{folder / 'room.csv'}: expected weekday and weekend rows by time of day")
        return cls(room, minutes[1] - minutes[0], load)

    def room_value(self, metric: str, local: datetime) -> float:
        """A room metric (temperature_c, humidity_pct, co2_ppm, occupancy) at a local time, interpolated."""
        values = self.room["weekend" if local.weekday() >= 5 else "weekday"][metric]
        position = (local.hour * 60 + local.minute + local.second / 60) / self.slot_min
        i, frac = int(position) % len(values), position - int(position)
        return values[i] * (1 - frac) + values[(i + 1) % len(values)] * frac

    def load_factor(self, local: datetime) -> float:
        """The building's electricity load at a local time (1.0 = the year's mean hour), interpolated."""
        hour = local.hour + local.minute / 60
        day, h = local.weekday(), int(hour)
        following = self.load[(day + (h + 1) // 24) % 7][(h + 1) % 24]
        return self.load[day][h] * (1 - (hour - h)) + following * (hour - h)


# --- devices ---------------------------------------------------------------------------------------
@dataclass
class SimDevice:
    """One simulated device: what it reports, where, and what it remembers between readings."""
    code: str
    type: str
    gateway: str
    room: str  # devices with the same host share a room's offsets
    paths: dict[str, str]  # metric → payload key (dotted for nested)
    actions: tuple[str, ...] = ()
    scales: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    state: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Value] = field(default_factory=dict)  # by events
    online: bool = True
    last_at: datetime | None = None
    area_m2: float | None = None  # floor area of the host space, where known (people counters)
    command_template: str = COMMAND_TOPIC
    result_template: str = RESULT_TOPIC

    @property
    def telemetry_topic(self) -> str:
        return TELEMETRY_TOPIC.format(device=self.code)

    @property
    def status_topic(self) -> str:
        return STATUS_TOPIC.format(device=self.code)


def _gateway_of(values: dict[str, Any]) -> str:
    """The registry's ``gateway``, else one per first two code segments (``GW-SD-B01``)."""
    if values.get("gateway"):
        return str(values["gateway"])
    parts = str(values["code"]).split("-")
    return f"GW-{parts[0]}-{parts[1]}" if len(parts) >= 2 else SITE_GATEWAY


def read_devices(scene: Any, seed: int = 0, park: Any = None) -> list[SimDevice]:
    """The scene registry's devices with the metrics of their type (``scene.live`` where declared);
    people counters know their room's floor area (see :func:`floor_areas_m2`)."""
    from twin.devices import _clean, _rows

    if getattr(scene, "devices", None) is None:
        raise InputError(f"{scene.file}: the scene has no [devices] registry to simulate")
    live = getattr(scene, "live", None)
    declared = getattr(live, "device_types", None) or {}
    devices = []
    for row in _rows(scene.devices):
        values = _clean(row)
        code, kind = str(values["code"]), str(values["type"])
        spec = declared.get(kind)
        if spec is not None and spec.metrics:
            paths = {name: (m.path or name) for name, m in spec.metrics.items()}
            scales = {name: m.scale for name, m in spec.metrics.items()}
            kinds = {name: m.kind for name, m in spec.metrics.items()}
        else:
            paths = {name: name for name in DEFAULT_METRICS.get(kind, ())}
            scales, kinds = {}, {}
        commands = getattr(spec, "commands", None)
        actions = tuple(commands.actions) if commands else () if spec else DEFAULT_ACTIONS.get(kind, ())
        device = SimDevice(code, kind, _gateway_of(values), str(values.get("host") or code), paths,
                           actions, scales, kinds, random.Random(f"{seed}:{code}"))
        if commands:
            device.command_template, device.result_template = commands.topic, commands.result_topic
        devices.append(device)
    counters = [d for d in devices if _counts_people(d)]
    areas = floor_areas_m2(scene, park, {d.room for d in counters})
    for device in counters:
        device.area_m2 = areas.get(device.room)
    return devices


def _counts_people(device: SimDevice) -> bool:
    """A people counter, or any device that reports ``people`` (sized by its host's floor area)."""
    return device.type == "people_counter" or "people" in device.paths


def floor_areas_m2(scene: Any, park: Any, hosts: set[str]) -> dict[str, float]:
    """Floor areas (m²) of those ``hosts`` that have one: the space's IFC quantities (or lease) in the
    built ``park`` when given, else the area of its record in the scene's leases."""
    areas = _lease_areas_m2(getattr(scene, "leases", None))
    if park is not None:
        areas.update({host: area for host in hosts if host in park and (area := _space_area_m2(park.get(host)))})
    return {host: areas[host] for host in hosts if host in areas}


def _space_area_m2(node: Any) -> float | None:
    """A space node's net (else gross) floor area from its quantities, else its lease record's."""
    properties = node.properties
    quantities = properties.get("Qto_SpaceBaseQuantities", {})
    area = quantities.get("NetFloorArea") or quantities.get("GrossFloorArea") or properties.get(
        "lease", {}).get("area_m2")
    return float(area) if isinstance(area, (int, float)) and math.isfinite(area) and area > 0 else None


def _lease_areas_m2(path: Path | None) -> dict[str, float]:
    """``space → area_m2`` of a leases file (rows without a usable area are left out)."""
    if path is None or not Path(path).is_file():
        return {}
    areas = {}
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                area = float(row.get("area_m2") or "nan")
            except ValueError:
                continue
            if math.isfinite(area) and area > 0 and row.get("space"):
                areas[row["space"].strip()] = area
    return areas


def capacity_persons(area_m2: float | None) -> float:
    """How many people a room holds when fully occupied: one per :data:`PERSON_AREA_M2`."""
    return area_m2 / PERSON_AREA_M2 if area_m2 else DEFAULT_CAPACITY_PERSONS


def _put(payload: dict[str, Any], path: str, value: Value) -> None:
    """Set ``value`` at a dotted JSON path (``"$"`` and plain names sit at the top)."""
    keys = [path] if path == "$" else path.removeprefix("$.").split(".")
    for key in keys[:-1]:
        payload = payload.setdefault(key, {})
    payload[keys[-1]] = value


# --- the value model -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Drift:
    """A slow random walk that keeps returning to ``mean`` (an Ornstein–Uhlenbeck process): about
    ``sd`` away from it, forgetting where it was over ``tau_s``; stepped exactly over any interval."""
    mean: float
    sd: float
    tau_s: float

    def step(self, value: float | None, dt_s: float, rng: random.Random) -> float:
        """The value ``dt_s`` after ``value`` (None: a first value, drawn around the mean)."""
        if value is None:
            return self.mean + rng.gauss(0, self.sd)
        keep = math.exp(-max(dt_s, 0.0) / self.tau_s)
        return self.mean + (value - self.mean) * keep + rng.gauss(0, self.sd * math.sqrt(1 - keep * keep))


#: The park's wind: 2.5 m/s on average, prevailing from the south-east (135°).
WIND_SPEED_M_S = Drift(2.5, 1.0, 3 * 3600.0)
WIND_FROM_DEG = Drift(135.0, 30.0, 6 * 3600.0)


class Model:
    """Readings of the devices at a simulated time: profiles, per-room offsets, state, noise."""

    def __init__(self, profiles: Profiles, utc_offset_h: float, seed: int = 0):
        self.profiles, self.utc_offset_h, self.seed = profiles, utc_offset_h, seed
        self._rooms: dict[str, dict[str, float]] = {}
        self._by_type: dict[str, Callable[[SimDevice, datetime, float], dict[str, Value]]] = {
            "temperature_sensor": self._room, "humidity_sensor": self._room,
            "air_quality_sensor": self._room, "smoke_detector": self._smoke,
            "energy_meter": self._energy, "water_meter": self._water, "flow_sensor": self._flow,
            "pressure_sensor": self._pressure, "level_sensor": self._level, "camera": self._camera,
            "access_door": self._door, "street_light": self._light, "charging_pile": self._pile,
            "parking_sensor": self._parking, "manhole_cover": self._manhole, "lift": self._lift,
            "leak_detector": self._leak, "people_counter": self._people, "weather_station": self._weather}
        self._by_metric = {"temperature": self._room, "humidity": self._room, "co2": self._room,
                           "pm25": self._room, "occupancy": self._room, "smoke": self._smoke,
                           "energy_kwh": self._energy, "volume_m3": self._water,
                           "flow_m3h": self._flow, "pressure_kpa": self._pressure,
                           "level_m": self._level, "recording": self._camera, "locked": self._door,
                           "occupied": self._parking, "charging": self._pile, "tilt_deg": self._manhole,
                           "leak": self._leak, "noise_db": self._leak, "people": self._people,
                           "wind_speed_m_s": self._weather, "wind_from_deg": self._weather,
                           "air_temperature_c": self._weather}

    def local(self, at: datetime) -> datetime:
        """The park's local solar time (naive) at a UTC time."""
        return (at.astimezone(UTC) + timedelta(hours=self.utc_offset_h)).replace(tzinfo=None)

    def reading(self, device: SimDevice, at: datetime) -> dict[str, Value]:
        """Every metric of ``device`` at ``at`` (events' overrides win); advances its state."""
        dt_s = (at - device.last_at).total_seconds() if device.last_at else 0.0
        dt_s = max(dt_s, 0.0)
        local = self.local(at)
        values: dict[str, Value] = {}
        model = self._by_type.get(device.type)
        if model is not None:
            values.update(model(device, local, dt_s))
        for metric in device.paths:
            if metric not in values:
                other = self._by_metric.get(metric)
                found = other(device, local, dt_s) if other is not None else {}
                values[metric] = found[metric] if metric in found else self._walk(device, metric)
        device.last_at = at
        values.update({k: v for k, v in device.overrides.items() if k in device.paths})
        return {metric: values[metric] for metric in device.paths}

    def _room_offsets(self, room: str) -> dict[str, float]:
        offsets = self._rooms.get(room)
        if offsets is None:
            rng = random.Random(f"{self.seed}:room:{room}")
            offsets = {"temperature": rng.uniform(-1.2, 1.2), "humidity": rng.uniform(-4.0, 4.0),
                       "co2": rng.uniform(0.6, 1.3), "occupancy": rng.uniform(0.6, 1.0),
                       "shift_min": rng.uniform(-30.0, 30.0), "pm25": rng.uniform(5.0, 15.0)}
            self._rooms[room] = offsets
        return offsets

    def _room(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        o = self._room_offsets(d.room)
        shifted = local + timedelta(minutes=o["shift_min"])
        p = self.profiles
        occupancy = p.room_value("occupancy", shifted) * o["occupancy"]
        co2 = 400.0 + max(p.room_value("co2_ppm", shifted) - 400.0, 0.0) * o["co2"]
        return {"temperature": round(p.room_value("temperature_c", shifted) + o["temperature"]
                                     + d.rng.gauss(0, 0.08), 2),
                "humidity": round(min(max(p.room_value("humidity_pct", shifted) + o["humidity"]
                                          + d.rng.gauss(0, 0.3), 5.0), 95.0), 1),
                "co2": round(co2 + d.rng.gauss(0, 8.0)),
                "pm25": round(max(o["pm25"] * (1 + 0.6 * occupancy) + d.rng.gauss(0, 1.0), 1.0), 1),
                "occupancy": d.rng.random() < occupancy}

    def _people(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        """Persons in the counter's room: its capacity × how occupied the room profile is at this time
        (shifted as the room's other sensors are) × the counter's own factor, ±10 %; never negative."""
        o = self._room_offsets(d.room)
        share = self.profiles.room_value("occupancy", local + timedelta(minutes=o["shift_min"]))
        factor = d.state.setdefault("people_factor", d.rng.uniform(0.6, 1.1))
        expected = capacity_persons(d.area_m2) * share * factor
        return {"people": max(round(expected * (1 + d.rng.gauss(0, 0.1))), 0)}

    def _weather(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        """Wind speed and direction drifting slowly around the prevailing wind; the air temperature
        follows the day, coolest at 03:00 and warmest at 15:00."""
        for key, drift in (("wind_speed_m_s", WIND_SPEED_M_S), ("wind_from_deg", WIND_FROM_DEG)):
            d.state[key] = drift.step(d.state.get(key), dt_s, d.rng)
        low_c, high_c = AIR_TEMPERATURE_C
        hour = local.hour + local.minute / 60 + local.second / 3600
        air_c = (low_c + high_c) / 2 + (high_c - low_c) / 2 * math.sin(2 * math.pi * (hour - 9) / 24)
        return {"wind_speed_m_s": round(min(max(d.state["wind_speed_m_s"], WIND_SPEED_RANGE_M_S[0]),
                                            WIND_SPEED_RANGE_M_S[1]), 2),
                "wind_from_deg": round(d.state["wind_from_deg"] % 360.0, 1),
                "air_temperature_c": round(air_c + d.rng.gauss(0, 0.05), 2)}

    def _smoke(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        return {"smoke": False}

    def _nominal(self, d: SimDevice, big: float, building: float, floor: float, small: float) -> float:
        """A rating by the code: the park's main, a building's, a floor's or a tenant's."""
        if "nominal" not in d.state:
            parts = d.code.split("-")
            base = (big if "PARK" in parts else building if len(parts) == 2
                    else floor if len(parts) == 3 and parts[2].endswith("F") else small)
            d.state["nominal"] = base * d.rng.uniform(0.7, 1.3)
        return d.state["nominal"]

    def _energy(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        nominal = self._nominal(d, 1500.0, 250.0, 40.0, 8.0)
        power = nominal * self.profiles.load_factor(local) * (1 + d.rng.gauss(0, 0.03))
        energy = d.state.setdefault("energy_kwh", nominal * d.rng.uniform(2000, 8000))
        d.state["energy_kwh"] = energy + power * dt_s / 3600
        return {"power_kw": round(power, 2), "energy_kwh": round(d.state["energy_kwh"], 2)}

    def _water(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        nominal = self._nominal(d, 12.0, 3.0, 0.6, 0.3)
        flow = max(nominal * self.profiles.load_factor(local) ** 3 * (1 + d.rng.gauss(0, 0.08)), 0.0)
        volume = d.state.setdefault("volume_m3", nominal * d.rng.uniform(2000, 8000))
        d.state["volume_m3"] = volume + flow * dt_s / 3600
        return {"flow_m3h": round(flow, 3), "volume_m3": round(d.state["volume_m3"], 3)}

    def _flow(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        nominal = d.state.setdefault("nominal", d.rng.uniform(10.0, 60.0))
        load = self.profiles.load_factor(local)
        return {"flow_m3h": round(nominal * (0.6 + 0.4 * load) * (1 + d.rng.gauss(0, 0.02)), 2)}

    def _pressure(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        nominal = d.state.setdefault("nominal", (200.0 if "-GS" in d.code else 350.0)
                                     * d.rng.uniform(0.9, 1.1))
        dip = 1 - 0.04 * (self.profiles.load_factor(local) - 1)
        return {"pressure_kpa": round(nominal * dip + d.rng.gauss(0, 1.5), 1)}

    def _level(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        day = (local.hour * 60 + local.minute) / 1440
        return {"level_m": round(1.2 + 0.05 * math.sin(2 * math.pi * day) + d.rng.gauss(0, 0.003), 3)}

    def _camera(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        return {"recording": True}

    def _door(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        locked = d.state.setdefault("locked", True)
        busy = self.profiles.room_value("occupancy", local)
        is_open = d.rng.random() < (0.3 if not locked else 0.05 * busy)
        return {"locked": locked, "open": is_open}

    def _light(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        hour = local.hour + local.minute / 60
        night = hour >= 18.5 or hour < 6.0
        manual = d.state.get("manual")  # (on, the night-or-day it was set in)
        if manual is not None and manual[1] != night:
            d.state.pop("manual")  # the schedule takes over at the next dusk or dawn
            manual = None
        on = manual[0] if manual is not None else night
        rated = d.state.setdefault("rated_w", d.rng.uniform(80.0, 150.0))
        return {"on": on, "power_w": round(rated * (1 + d.rng.gauss(0, 0.02)), 1) if on else 0.0}

    def _busy(self, local: datetime, day: float, night: float, weekend: float) -> float:
        if local.weekday() >= 5:
            return weekend
        return day if 8 <= local.hour < 19 else night

    def _markov(self, d: SimDevice, key: str, target: float, dt_s: float, hold_s: float) -> bool:
        """A sticky on/off that drifts to ``target`` of the time, changing about every ``hold_s``."""
        if key not in d.state:
            d.state[key] = d.rng.random() < target
            return d.state[key]
        change = min(dt_s / hold_s, 1.0)
        flip = change * ((1 - target) if d.state[key] else target)
        if d.rng.random() < flip:
            d.state[key] = not d.state[key]
        return d.state[key]

    def _parking(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        target = self._busy(local, 0.85, 0.15, 0.25)
        return {"occupied": self._markov(d, "occupied", target, dt_s, 3600.0)}

    def _pile(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        charging = self._markov(d, "charging", self._busy(local, 0.5, 0.1, 0.2), dt_s, 5400.0)
        rated = d.state.setdefault("rated_kw", 7.0)  # AC wall boxes
        power = rated * d.rng.uniform(0.85, 1.0) if charging else 0.0
        return {"charging": charging, "power_kw": round(power, 2)}

    def _manhole(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        tilt = d.state.setdefault("tilt_deg", abs(d.rng.gauss(0, 0.5)))
        return {"open": False, "tilt_deg": round(max(tilt + d.rng.gauss(0, 0.05), 0.0), 2)}

    def _leak(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        """A noise logger on a main: a quiet pipe hums at 25–35 dB, more by day."""
        quiet = d.state.setdefault("noise_db", d.rng.uniform(25.0, 35.0))
        return {"leak": False, "noise_db": round(quiet + 3 * self.profiles.load_factor(local) + d.rng.gauss(0, 0.8), 1)}

    def _lift(self, d: SimDevice, local: datetime, dt_s: float) -> dict[str, Value]:
        floors = d.state.setdefault("floors", d.rng.randint(3, 10))
        running = d.rng.random() < self._busy(local, 0.7, 0.05, 0.15)
        if running:
            d.state["floor"] = d.rng.randint(1, floors)
        return {"floor": d.state.setdefault("floor", 1), "running": running, "fault": False}

    def _walk(self, d: SimDevice, metric: str) -> Value:
        """A declared metric the model does not know: false, ``"ok"``, or a gentle random walk."""
        kind = d.kinds.get(metric, "number")
        if kind == "boolean":
            return False
        if kind == "text":
            return "ok"
        low, high = d.scales.get(metric) or (0.0, 100.0)
        key = f"walk:{metric}"
        value = d.state.get(key, (low + high) / 2) + d.rng.gauss(0, 0.02 * (high - low))
        if value < low or value > high:
            value = min(max(value, low), high)
        d.state[key] = value
        return round(value, 3)


@dataclass(frozen=True)
class Spell:
    """An event that overrides a device's values for a while: the device's metric that marks it,
    the values it reports meanwhile, and how many simulated minutes it lasts (low, high)."""
    metric: str
    values: Callable[[random.Random], dict[str, Value]]
    minutes: tuple[float, float]
    device_type: str | None = None  # None: any device reporting ``metric``


SPELLS = {
    "smoke": Spell("smoke", lambda rng: {"smoke": True}, (2, 6)),
    "overheat": Spell("temperature", lambda rng: {"temperature": round(rng.uniform(36.0, 45.0), 1)}, (2, 6)),
    "manhole_open": Spell("open", lambda rng: {"open": True, "tilt_deg": round(rng.uniform(15.0, 60.0), 1)},
                          (5, 20), "manhole_cover"),
    "pipe_leak": Spell("leak", lambda rng: {"leak": True, "noise_db": round(rng.uniform(55.0, 75.0), 1)},
                       (30, 120), "leak_detector"),
    "lift_fault": Spell("fault", lambda rng: {"fault": True, "running": False}, (10, 30), "lift"),
}


# --- gateways and the schedule ---------------------------------------------------------------------
@dataclass
class Gateway:
    """One MQTT client that speaks for its devices."""
    code: str
    client: mqtt.Client
    devices: list[SimDevice]
    connected: threading.Event = field(default_factory=threading.Event)
    commanded: dict[str, SimDevice] = field(default_factory=dict)  # command topic → device
    announced: list[mqtt.MQTTMessageInfo] = field(default_factory=list)  # its statuses on connect
    up: bool = True  # False while dropped (by an event or a drill)
    status_topic: str = ""  # its own online/offline, and its last will


class Simulator:
    """Publishes plausible telemetry for every device of ``scene`` to the broker at ``url``.

    ``clock`` is the real clock (default the system's); :attr:`clock` is the simulated one, which
    ``start`` (default: now) and ``speed`` define. Each device reports every ``period_s`` simulated
    seconds, staggered. ``events_per_hour`` (simulated) sets the rate of events drawn from
    ``event_kinds`` (smoke, overheating, a manhole cover opened, a lift fault, a device offline, a
    gateway dropped); 0 for none.
    ``utc_offset_h`` (default: the scene origin's solar zone) sets the park's local time of day.
    ``park`` (the built park, optional) gives people counters their room's floor area; without it
    the scene's lease records do, else a counter's room holds :data:`DEFAULT_CAPACITY_PERSONS`.
    """

    def __init__(self, scene: Any, url: str, speed: float = 1.0, period_s: float = 60.0, seed: int = 0,
                 clock: Clock | None = None, start: datetime | None = None,
                 events_per_hour: float = 0.0, event_kinds: tuple[str, ...] = EVENT_KINDS,
                 utc_offset_h: float | None = None, profiles: Profiles | None = None, park: Any = None):
        if not (math.isfinite(period_s) and period_s > 0):
            raise InputError(f"simulator period_s {period_s!r}: must be a positive number of seconds")
        if not (math.isfinite(events_per_hour) and events_per_hour >= 0):
            raise InputError(f"simulator events_per_hour {events_per_hour!r}: must be 0 or more")
        unknown = sorted(set(event_kinds) - set(EVENT_KINDS))
        if unknown:
            raise InputError(f"simulator event kinds {', '.join(unknown)}: unknown "
                             f"(one of {', '.join(EVENT_KINDS)})")
        self.host, self.port, _user, _password = broker_address(url)
        self.url = url
        self.clock = SpeedClock(clock or SystemClock(), speed, start)
        self.speed, self.period_s, self.events_per_hour = speed, period_s, events_per_hour
        self.event_kinds = tuple(event_kinds)
        self.devices = {d.code: d for d in read_devices(scene, seed, park)}
        self.model = Model(profiles or Profiles.read(), _utc_offset(scene) if utc_offset_h is None
                           else utc_offset_h, seed)
        live = getattr(scene, "live", None)
        self._gateway_topic = getattr(live, "gateway_status", None) or GATEWAY_STATUS_TOPIC
        self._rng = random.Random(f"{seed}:events")
        self._lock = threading.RLock()  # the model and the counters
        self._counts = {"telemetry": 0, "status": 0, "results": 0, "events": 0}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._timers: set[threading.Timer] = set()
        self._due: list[tuple[datetime, int, str]] = []
        self._endings: list[tuple[datetime, int, Callable[[], None]]] = []
        self._sequence = 0
        self._events_checked: datetime | None = None
        by_gateway: dict[str, list[SimDevice]] = {}
        for device in self.devices.values():
            by_gateway.setdefault(device.gateway, []).append(device)
        self.gateways = {code: self._gateway(code, devices) for code, devices in sorted(by_gateway.items())}

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout_s: float = CONNECT_TIMEOUT_S) -> Self:
        """Connect every gateway and start reporting; returns once every gateway is connected,
        subscribed to its commands and its retained ``online`` statuses are with the broker."""
        for gateway in self.gateways.values():
            gateway.client.connect_async(self.host, self.port, KEEPALIVE_S)
            gateway.client.loop_start()
        deadline = time.monotonic() + timeout_s
        for gateway in self.gateways.values():
            announced = gateway.connected.wait(max(deadline - time.monotonic(), 0.0))
            for info in list(gateway.announced) if announced else ():
                info.wait_for_publish(max(deadline - time.monotonic(), 0.0))
                announced = announced and info.is_published()
            if not announced:
                self.stop()
                raise InputError(f"simulator: gateway {gateway.code} did not connect to "
                                 f"mqtt://{self.host}:{self.port} within {timeout_s:g} s")
        now = self.clock.now()
        first_s = min(self.period_s, FIRST_REPORT_REAL_S * self.speed)
        with self._lock:
            self._due = []
            for code, device in self.devices.items():
                if device.paths:
                    self._push_due(now + timedelta(seconds=device.rng.uniform(0, first_s)), code)
            self._events_checked = now
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reporting; every gateway says ``offline`` (retained) and disconnects cleanly."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for timer in list(self._timers):
            timer.cancel()
        for gateway in self.gateways.values():
            if gateway.up and gateway.connected.is_set():
                info = gateway.client.publish(gateway.status_topic, "offline", qos=1, retain=True)
                self._count("status")
                try:
                    info.wait_for_publish(2.0)
                except (RuntimeError, ValueError) as exc:  # the connection went meanwhile
                    log.warning("simulator: gateway %s could not say offline: %s", gateway.code, exc)
            gateway.client.disconnect()
            gateway.client.loop_stop()
            gateway.connected.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- counters and drills ---------------------------------------------------------------------
    @property
    def published(self) -> int:
        """Messages published so far (telemetry, statuses and command results)."""
        with self._lock:
            return self._counts["telemetry"] + self._counts["status"] + self._counts["results"]

    def counters(self) -> dict[str, int]:
        """Messages published by kind, and events started."""
        with self._lock:
            return dict(self._counts)

    def reading(self, code: str, at: datetime | None = None) -> dict[str, Value]:
        """The device's values now (or at ``at``), as its next telemetry would carry them."""
        device = self._device(code)
        with self._lock:
            return self.model.reading(device, at or self.clock.now())

    def inject(self, code: str, values: dict[str, Value]) -> None:
        """Publish one telemetry message for ``code`` now, with exactly these values."""
        device = self._device(code)
        payload: dict[str, Any] = {"ts": iso(self.clock.now())}
        for metric, value in values.items():
            _put(payload, device.paths.get(metric, metric), value)
        self._publish(device.gateway, device.telemetry_topic, payload, "telemetry")

    def drop_gateway(self, code: str) -> None:
        """Cut a gateway's connection without a DISCONNECT: the broker publishes its last will."""
        gateway = self._gateway_named(code)
        if not gateway.up:
            return
        gateway.up = False
        gateway.client.loop_stop()
        gateway.connected.clear()
        sock = gateway.client.socket()
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        log.info("simulator: gateway %s dropped", code)

    def restore_gateway(self, code: str) -> None:
        """Reconnect a dropped gateway; on connect it says ``online`` again for itself and its devices."""
        gateway = self._gateway_named(code)
        if gateway.up:
            return
        gateway.up = True
        try:
            gateway.client.reconnect()
        except OSError as exc:
            log.warning("simulator: gateway %s cannot reconnect yet (%s); retrying", code, exc)
        gateway.client.loop_start()

    def set_online(self, code: str, online: bool) -> None:
        """Take a device offline (it says so and falls silent) or bring it back."""
        device = self._device(code)
        device.online = online
        self._publish(device.gateway, device.status_topic, "online" if online else "offline",
                      "status", retain=True)
        if online:
            self._report(device, self.clock.now())

    # --- internals: setup ------------------------------------------------------------------------
    def _gateway(self, code: str, devices: list[SimDevice]) -> Gateway:
        client = mqtt_client(self.url, f"twin-sim-{code}")
        gateway = Gateway(code, client, devices, status_topic=self._gateway_topic.format(gateway=code))
        gateway.commanded = {d.command_template.format(device=d.code): d for d in devices if d.actions}
        client.will_set(gateway.status_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(0.5, 4.0)
        client.on_connect = lambda c, u, flags, reason, props: self._on_connect(gateway, reason)
        client.on_disconnect = lambda c, u, flags, reason, props: gateway.connected.clear()
        client.on_message = lambda c, u, message: self._on_command(gateway, message)
        client.on_subscribe = lambda c, u, mid, reasons, props: gateway.connected.set()
        return gateway

    def _gateway_named(self, code: str) -> Gateway:
        if code not in self.gateways:
            raise InputError(f"simulator: no gateway {code!r} (known: {', '.join(self.gateways)})")
        return self.gateways[code]

    def _device(self, code: str) -> SimDevice:
        if code not in self.devices:
            raise InputError(f"simulator: no device {code!r} in the registry")
        return self.devices[code]

    def _on_connect(self, gateway: Gateway, reason: mqtt.ReasonCode) -> None:
        if reason.is_failure:
            log.warning("simulator: gateway %s refused: %s", gateway.code, reason)
            return
        client = gateway.client
        gateway.announced = [client.publish(gateway.status_topic, "online", qos=1, retain=True)]
        for device in gateway.devices:
            gateway.announced.append(client.publish(device.status_topic, "online" if device.online
                                                    else "offline", qos=1, retain=True))
        with self._lock:
            self._counts["status"] += len(gateway.announced)
        filters = sorted({d.command_template.replace("{device}", "+") for d in gateway.devices if d.actions})
        if filters:
            client.subscribe([(topic, 1) for topic in filters])  # connected once subscribed
        else:
            gateway.connected.set()

    # --- internals: publishing -------------------------------------------------------------------
    def _count(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def _publish(self, gateway_code: str, topic: str, payload: dict[str, Any] | str, kind: str,
                 retain: bool = False) -> None:
        gateway = self.gateways[gateway_code]
        if not gateway.up:
            return
        body = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        gateway.client.publish(topic, body, qos=1, retain=retain)
        self._count(kind)

    def _report(self, device: SimDevice, at: datetime) -> None:
        """Publish the device's telemetry for simulated time ``at``."""
        if not device.paths or not device.online:
            return
        with self._lock:
            values = self.model.reading(device, at)
        payload: dict[str, Any] = {"ts": iso(at)}
        for metric, value in values.items():
            _put(payload, device.paths[metric], value)
        self._publish(device.gateway, device.telemetry_topic, payload, "telemetry")

    def _push_due(self, at: datetime, code: str) -> None:
        self._sequence += 1
        heapq.heappush(self._due, (at, self._sequence, code))

    def _after(self, at: datetime, action: Callable[[], None]) -> None:
        with self._lock:
            self._sequence += 1
            heapq.heappush(self._endings, (at, self._sequence, action))

    def _run(self) -> None:
        """The schedule: report devices as they fall due, start and end events; never raise."""
        period = timedelta(seconds=self.period_s)
        while not self._stop.is_set():
            try:
                now = self.clock.now()
                self._maybe_start_events(now)
                ended, due = [], []
                with self._lock:  # take what is due; act outside the lock (a drop joins a paho thread)
                    while self._endings and self._endings[0][0] <= now:
                        ended.append(heapq.heappop(self._endings)[2])
                    while self._due and self._due[0][0] <= now:
                        at, _, code = heapq.heappop(self._due)
                        due.append((at, code))
                        following = at + period
                        if following < now - CATCH_UP_PERIODS * period:
                            following = now + timedelta(seconds=self.devices[code].rng.uniform(0, self.period_s))
                        self._push_due(following, code)
                    upcoming = [q[0][0] for q in (self._due, self._endings) if q]
                for action in ended:
                    action()
                for at, code in due:
                    if self._stop.is_set():
                        break
                    self._report(self.devices[code], at)
                wait_s = min(((min(upcoming) - self.clock.now()).total_seconds() / self.speed
                              if upcoming else TICK_MAX_S), TICK_MAX_S)
            except Exception:  # the schedule must keep the park breathing
                log.exception("simulator: tick failed")
                wait_s = TICK_MAX_S
            self._stop.wait(max(wait_s, 0.0))

    # --- internals: events -----------------------------------------------------------------------
    def _maybe_start_events(self, now: datetime) -> None:
        """Start a Poisson-drawn number of events for the time since the last look."""
        if self.events_per_hour <= 0 or self._events_checked is None:
            self._events_checked = now
            return
        expected = self.events_per_hour * max((now - self._events_checked).total_seconds(), 0.0) / 3600
        self._events_checked = now
        if expected == 0:
            return
        for _ in range(_poisson(self._rng, min(expected, MAX_EVENTS_PER_TICK))):
            self.start_event(now)

    def start_event(self, now: datetime | None = None, kind: str | None = None) -> str | None:
        """Start one event of ``kind`` (one of :data:`EVENT_KINDS`; random from ``event_kinds`` when
        None) on a random device or gateway and schedule its end; what happened, or None."""
        now = now or self.clock.now()
        rng = self._rng
        choices: dict[str, list[Any]] = {
            name: [d for d in self.devices.values() if spell.metric in d.paths and d.online
                   and spell.device_type in (None, d.type)] for name, spell in SPELLS.items()}
        choices["device_offline"] = [d for d in self.devices.values()
                                     if d.online and self.gateways[d.gateway].up]
        choices["gateway_drop"] = [g for g in self.gateways.values() if g.up]
        kind = kind or rng.choice([k for k in self.event_kinds if choices[k]] or [None])
        if kind is None or not choices.get(kind):
            return None
        target = rng.choice(choices[kind])
        minutes = timedelta(minutes=1)
        if kind in SPELLS:
            spell = SPELLS[kind]
            target.overrides.update(spell.values(rng))
            self._report(target, now)
            self._after(now + minutes * rng.uniform(*spell.minutes), lambda: self._end_override(target))
        elif kind == "device_offline":
            self.set_online(target.code, False)
            self._after(now + minutes * rng.uniform(5, 20), lambda: self.set_online(target.code, True))
        else:
            self.drop_gateway(target.code)
            self._after(now + minutes * rng.uniform(2, 10), lambda: self.restore_gateway(target.code))
        self._count("events")
        log.info("simulator: event %s on %s", kind, target.code)
        return f"{kind} {target.code}"

    def _end_override(self, device: SimDevice) -> None:
        device.overrides.clear()
        self._report(device, self.clock.now())

    # --- internals: commands ---------------------------------------------------------------------
    def _on_command(self, gateway: Gateway, message: mqtt.MQTTMessage) -> None:
        """A command for one of this gateway's devices: answer after a short delay (paho thread)."""
        device = gateway.commanded.get(message.topic)
        if device is None or not device.online:
            return  # another gateway's device, or one that is offline
        try:
            command = json.loads(message.payload)
            if not isinstance(command, dict) or not isinstance(command.get("id"), str):
                log.warning("simulator: %s: command without an id ignored", message.topic)
                return
        except ValueError:
            log.warning("simulator: %s: command is not JSON; ignored", message.topic)
            return
        timer = threading.Timer(COMMAND_DELAY_S, self._answer, (device, command))
        timer.daemon = True
        self._timers.add(timer)
        timer.start()

    def _answer(self, device: SimDevice, command: dict[str, Any]) -> None:
        self._timers.discard(threading.current_thread())  # type: ignore[arg-type]
        action = command.get("action")
        if action not in device.actions:
            ok, detail = False, (f"unknown action {action!r} for {device.type}; expected "
                                 f"{', '.join(device.actions)}")
        else:
            ok, detail = True, self._apply(device, str(action))
        self._publish(device.gateway, device.result_template.format(device=device.code),
                      {"id": command["id"], "ok": ok, "detail": detail}, "results")
        if ok:
            self._report(device, self.clock.now())

    def _apply(self, device: SimDevice, action: str) -> str:
        """Change the device's state for an accepted action; what was done."""
        with self._lock:
            if action in ("on", "off"):
                now_local = self.model.local(self.clock.now())
                hour = now_local.hour + now_local.minute / 60
                device.state["manual"] = (action == "on", hour >= 18.5 or hour < 6.0)
                return f"light switched {action}"
            if action in ("lock", "unlock"):
                device.state["locked"] = action == "lock"
                return f"door {action}ed"
            if action in ("open", "close"):
                device.state["open"] = action == "open"
                return f"{action} done"
            if action == "recall":
                return "lift recalled to the ground floor, doors open"
        return f"{action} done"


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count with ``mean`` (Knuth's method; small means only)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _utc_offset(scene: Any) -> float:
    """The park's solar time zone from its origin's longitude (0 when it cannot be placed)."""
    try:
        from twin.crs import transformer
        lon, _ = transformer(scene.crs, "EPSG:4326").transform(*scene.origin_m[:2])
        return float(round(lon / 15)) if math.isfinite(lon) else 0.0
    except Exception:  # a scene without a usable CRS simulates in UTC
        return 0.0


def simulate(scene_path: str | Path, url: str, speed: float = 1.0, period_s: float = 60.0,
             seed: int = 0, events_per_hour: float = 2.0, status_every_s: float = 10.0,
             echo: Callable[[str], None] = print) -> None:
    """Run the simulator on a scene until Ctrl-C, with one status line every ``status_every_s``."""
    from twin.scene import read_scene

    simulator = Simulator(read_scene(scene_path), url, speed=speed, period_s=period_s, seed=seed,
                          events_per_hour=events_per_hour)
    echo(f"simulating {len(simulator.devices)} devices through {len(simulator.gateways)} gateways "
         f"on {url} at {speed:g}× (a report every {period_s:g} simulated s); Ctrl-C stops")
    with simulator:
        started, last = time.monotonic(), 0
        try:
            while True:
                time.sleep(status_every_s)
                published = simulator.published
                elapsed = time.monotonic() - started
                echo(f"{published} published, {(published - last) / status_every_s:.0f}/s "
                     f"({published / elapsed:.0f}/s overall), simulated time "
                     f"{iso(simulator.clock.now())}, events {simulator.counters()['events']}")
                last = published
        except KeyboardInterrupt:
            echo("stopping: gateways say offline")
