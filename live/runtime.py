"""Everything live for one served park (design decisions 7, 8 and 10): the broker, ingest, state,
alarm rules, history, commands, work orders (opened by rules and inspection plans) and, for the demo,
the simulator; and today's energy figures (:attr:`Live.energy`, computed at most once a minute).

With no broker given, :class:`Live` starts a private Mosquitto on a free port (persistence on) and,
given the scene to simulate, the simulator, so the demo runs exactly the path a real deployment
runs; with ``broker_url`` it connects there.

>>> with Live(park, scene.live, simulated=scene) as live:                # doctest: +SKIP
...     live.state.status("dev:SD-B01-1F-A-101-1")
"""
from __future__ import annotations

import fcntl
import logging
import re
import threading
from collections import defaultdict
from pathlib import Path
from typing import IO, Self

from live.alarms import AlarmBook
from live.bindings import GatewayBinding
from live.broker import Broker
from live.clock import Clock, SystemClock
from live.config import LiveSpec
from live.commands import Commander
from live.history import SqliteHistory, policy_from
from live.ingest import Ingest
from live.inspections import InspectionSpec, run_inspections
from live.simulator import Simulator, SpeedClock
from live.rules import Rules
from live.state import State
from live.workorders import WorkOrderBook, open_on_alarm
from twin.energy.config import EnergySpec
from twin.energy.today import EnergyTodayCache
from twin.errors import InputError
from twin.park import Park
from twin.scene import Scene
from twin.web.access import data_dir

log = logging.getLogger(__name__)

TICK_S = 1.0  #: how often stale devices expire and duration rules are checked
INSPECT_EVERY_TICKS = 60  #: how many ticks between looks for inspection rounds due
READY_TIMEOUT_S = 10.0
EVENTS_PER_HOUR = 6.0  #: the demo's simulated alarms and drop-outs per simulated hour
LOCK_FILE = "in-use.lock"  #: held (flock) by every Live over a live folder, see :func:`lock_folder`


def gateway_devices(park: Park) -> dict[str, list[str]]:
    """Gateway code → the device node ids behind it (registry column ``gateway``)."""
    found: dict[str, list[str]] = defaultdict(list)
    for node in park.of_kind("device"):
        gateway = node.properties.get("device", {}).get("gateway")
        if gateway:
            found[gateway].append(node.id)
    return dict(found)


def live_folder(park_name: str) -> Path:
    """Where a park's live data lives: ``<data dir>/live/<park name, filesystem-safe>``."""
    return data_dir() / "live" / (re.sub(r"[^\w.-]+", "-", park_name).strip("-") or "park")


class FolderInUse(InputError):
    """A live folder a running :class:`Live` holds, asked for exclusively (``twin restore``)."""


def lock_folder(folder: Path, exclusive: bool = False) -> IO[str]:
    """Lock a live folder for as long as the returned file stays open: shared by every :class:`Live`
    over it (several may), exclusive for ``twin restore`` (FolderInUse while a Live holds it). An flock,
    so a crashed server leaves no stale lock behind; a shared lock waits for a restore to finish."""
    folder.mkdir(parents=True, exist_ok=True)
    file = (folder / LOCK_FILE).open("a")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB if exclusive else fcntl.LOCK_SH)
    except BlockingIOError:
        file.close()
        raise FolderInUse(f"{folder}: in use by a running twin server; stop it first") from None
    return file


class Live:
    """The live side of one park, started and stopped as one (``with Live(...) as live``)."""

    def __init__(self, park: Park, spec: LiveSpec, broker_url: str | None = None, simulated: Scene | None = None,
                 speed: float = 1.0, folder: Path | None = None, clock: Clock | None = None,
                 inspections: tuple[InspectionSpec, ...] = (), energy: EnergySpec = EnergySpec()):
        self.park, self.spec = park, spec
        # simulated time runs ``speed`` times faster; state, rules and history read it too
        self.clock = clock or (SpeedClock(SystemClock(), speed) if speed != 1 else SystemClock())
        self.folder = folder or live_folder(park.name)
        self._in_use = lock_folder(self.folder)
        self.broker = Broker(self.folder / "broker") if broker_url is None else None
        self.simulated = simulated
        self.state = State(park, self.clock, self.spec.heartbeat_s())
        self.alarms = AlarmBook(self.folder / "alarms.sqlite", self.clock)
        self.rules = Rules(self.spec.rules, park, self.state, self.alarms, self.clock)
        self.history = SqliteHistory(self.folder / "history.sqlite", self.clock, policy_from(self.spec, park))
        self.energy = EnergyTodayCache(park, energy, self.history, self.clock)  # today's figures, for every session
        self.workorders = WorkOrderBook(self.folder / "workorders.sqlite", self.clock)
        open_on_alarm(self.workorders, self.alarms, {r.key: r.workorder for r in spec.rules if r.workorder})
        self.inspections = inspections
        self._broker_url = broker_url
        self.ingest: Ingest | None = None
        self.commander: Commander | None = None
        self.simulator = None
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="twin-live-tick", daemon=True)

    @property
    def url(self) -> str:
        return self.broker.url if self.broker is not None else self._broker_url

    def start(self) -> Self:
        """Start the broker (private), ingest, commands and simulator; wait until ingest subscribed.
        When a part fails to start, those already started are stopped (no broker is left behind)."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> Self:
        if self.broker is not None:
            self.broker.start()
        bindings = list(self.spec.bindings)
        if self.spec.gateway_status:
            bindings.append(GatewayBinding(self.spec.gateway_status))
        self.ingest = Ingest(self.url, bindings, self.state, park=self.park, clock=self.clock,
                             client_id=f"twin-ingest-{self.folder.name}",
                             listeners=(self.rules.observe, self.history.record),
                             gateways=gateway_devices(self.park)).start()
        if not self.ingest.wait_ready(READY_TIMEOUT_S):
            log.warning("mqtt %s: not connected yet; ingest keeps trying in the background", self.url)
        commands = {t.type: t.commands for t in self.spec.device_types.values() if t.commands}
        if commands:
            self.commander = Commander(self.url, commands, self.park, self.clock).start()
        if self.simulated is not None:
            self.simulator = Simulator(self.simulated, self.url, clock=self.clock,
                                       events_per_hour=EVENTS_PER_HOUR, park=self.park).start()
        self._ticker.start()
        return self

    def _tick(self) -> None:
        ticks = 0
        while not self._stop.wait(TICK_S):
            try:
                self.state.expire()
                self.rules.tick()
                if ticks % INSPECT_EVERY_TICKS == 0:
                    self.inspect()
            except Exception:  # the ticker must outlive any one bad rule
                log.exception("live tick failed")
            ticks += 1

    def inspect(self) -> None:
        """Open the work orders of the inspection rounds due now (the ticker does, once a minute)."""
        run_inspections(self.workorders, self.inspections, self.clock.now())

    def stop(self) -> None:
        """Stop everything this started, newest first; the broker last (it saves its persistence)."""
        self._stop.set()
        for part in (self.simulator, self.commander, self.ingest):
            if part is not None:
                part.stop()
        self.history.close()
        self.alarms.close()
        self.workorders.close()
        if self.broker is not None:
            self.broker.stop()
        self._in_use.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
