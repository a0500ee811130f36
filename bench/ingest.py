"""Live ingest against a real Mosquitto: messages per second through bindings into State on one core,
next to a bare paho subscriber in the same run.

    .venv/bin/python bench/ingest.py [--messages 100000] [--qos 0 1] [--repeat 3] [--core N]
                                     [--scene scenes/demo] [--out bench/out/ingest] [--history]
                                     [--latency-s 60] [--latency-rate 1000] [--skip-latency]
                                     [--skip-throughput]

Setup: the demo park (``twin.cache.compile_scene``: built once, then read from the compile cache),
its ``[live]`` bindings, and a private Mosquitto (:class:`live.broker.Broker`, queues unbounded for
the bench) in ``--out``. The messages follow the demo convention: ``park/<device code>/telemetry``,
JSON ``{"ts", <1 to 3 of the device type's metrics>}``, for devices of the registry drawn at random
(seeded), values inside each metric's colour scale.

Each trial, for one QoS and one sink (the subscriber under test):

1. the sink, in its own process pinned to one core (``os.sched_setaffinity``), connects with a
   persistent session (clean start off, session expiry), subscribes (QoS 1) and disconnects;
2. a publisher process (its own interpreter, so no GIL is shared) publishes the messages at that QoS;
   the broker queues them for the absent session;
3. the sink reconnects and drains the queue; its rate is the messages over the time from the first
   arrival to the last.

Draining a full queue measures what the subscriber can take, not what the publisher can give, and on
a small machine keeps the publisher off the cores while the subscriber is timed. Sinks (:data:`SINKS`):
``bare paho`` counts messages and does nothing else; ``ingest → state`` is :class:`live.ingest.Ingest`
writing into a :class:`live.state.State` of the park; ``ingest → state + rules + history`` adds the
listeners ``twin serve`` wires (:class:`live.runtime.Live`): the demo's alarm rules with their SQLite
alarm book, and the SQLite history store (its writer thread on the same core), so the table shows
the full pipeline's cost next to the bare subscriber's. A sink is a function of the :class:`Setup`
and a client id that returns an object with ``client``, ``start()``, ``wait_ready(s)``, ``stop()``
and ``summary()``.

Latency (:func:`latency`, skipped with ``--skip-latency``): the whole live path of ``twin serve`` in
this process — a private Mosquitto, :class:`live.runtime.Live` (ingest, state, rules, history), the
app on :class:`twin.web.server.BackgroundServer` — and one session in headless Chromium (Debian's
``/usr/bin/chromium``, SwiftShader WebGL). Once the page has drawn the park (setup, not timed), a
publisher process sends the demo's telemetry at ``--latency-rate`` messages per second (QoS 1,
booleans mostly false) for ``--latency-s`` seconds, and a prober process switches one street light
(:data:`PROBE_DEVICE`) every :data:`PROBE_PERIOD_S`: ``on`` true (the lamp turns yellow) and false
(grey), noting the wall-clock time just before each publish. The probe is a value's colour, not an
alarm: an alarm every 0.3 s would measure the alarm list, camera flights and camera snapshots the
session runs for each new alarm, not the delta path. The viewport's root fires
``twin-applied`` after each message is applied, before the frame that shows it (``detail.at_ms``,
epoch ms, and the colour given); a probe's latency is the ``at_ms`` of the first ``style`` message
with the lamp that shows it or a later probe (:func:`match_probes`), minus its publish time (the
page's clock offset from ``Date.now()`` is measured and taken off). A probe still unshown
:data:`DRAIN_S` after the last one counts as later
than any (∞) in the percentiles. The server's share is shown too: publish → the session's viewport
sending the message (:class:`SentWatch` wraps ``Viewport.send`` for the run). Render time per frame
(``data-frame-ms``: ``renderWindow.render()`` on the page's main thread, every frame drawn during the
run, seen by a MutationObserver) is reported apart.

Parts of the issue's speed figures: ``throughput``, ``latency`` (here), ``history`` (``--history``:
the 30-day store of ``bench/history.py``, when that file is there).

Goals (issue 5): ingest → state ≥ 0.7 × the bare subscriber's rate, at each QoS; publish → delta
applied in the browser p95 ≤ 250 ms at 1,000 msg/s; with ``--history``, 30 days of the demo park's
history ≤ 2 GB and a 24 h chart query ≤ 200 ms.
"""
from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import math
import multiprocessing as mp
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from bisect import bisect_right
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from live.alarms import AlarmBook
from live.broker import Broker, mosquitto_binary
from live.clock import SystemClock
from live.config import LiveSpec
from live.history import SqliteHistory, policy_from
from live.ingest import SESSION_EXPIRY_S, Ingest, broker_address
from live.rules import Rules
from live.state import State, device_type
from twin.cache import compile_scene
from twin.park import Park
from twin.scene import read_scene, scene_file

RATIO_GOAL = 0.7
STORE_MB_GOAL = 2_000
CHART_MS_GOAL = 200.0
IDLE_S = 10.0  #: a drain that receives nothing for this long has lost messages
READY_S = 10.0
PUBLISH_WINDOW = 10_000  #: messages published and not yet confirmed
METRICS_PER_MESSAGE = (1, 3)
DRIFT = 0.01  #: a number's step from one message to the next, as a share of its scale (standard deviation)
TRUE_SHARE = 0.01  #: booleans (smoke, open…) are true this rarely
OPEN_SCALE = (0.0, 1000.0)  #: numbers of metrics with no colour scale
LATENCY_P95_GOAL_MS = 250.0
PROBE_DEVICE = "SL-001"  #: the street light the latency probes switch on and off
PROBE_METRIC = "on"
WINDOW = (1600, 1000)  #: the page size (SwiftShader reads every frame back: cost grows with pixels)
PROBE_PERIOD_S = 0.3
PROBES_MIN = 100
WARMUP_S = 3.0  #: background load before the first probe
DRAIN_S = 10.0  #: after the last probe, how long the page may take to apply what is on its way
PAGE_READY_S = 600  #: the demo's first session on SwiftShader: 5 to 30 s, far more on a loaded machine
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 "--disable-gpu", "--disable-background-networking"]
VIEWPORT = "[data-twin-viewport]"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- setup -----------------------------------------------------------------------------------------
@dataclass
class Setup:
    """What every part shares: the park, its live spec, the broker and the messages."""

    park: Park
    spec: LiveSpec
    url: str
    messages: list[tuple[str, bytes]]
    core: int
    folder: Path  #: scratch files of the sinks (alarm book, history)


@dataclass
class Part:
    """One part's figures: rows of the table, goals met or not, and the raw numbers."""

    name: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    goals: list[tuple[str, bool]] = field(default_factory=list)
    raw: dict = field(default_factory=dict)


class BenchBroker(Broker):
    """The private Mosquitto with unbounded queues, so that a session away while the publisher runs
    gets every message (QoS 0 included) when it is back."""

    def _config(self) -> str:
        return super()._config() + "max_queued_messages 0\nqueue_qos0_messages true\n"


def demo_messages(park: Park, spec: LiveSpec, count: int, seed: int, true_share: float = TRUE_SHARE,
                  leave_out: frozenset[str] = frozenset()) -> list[tuple[str, bytes]]:
    """``count`` telemetry messages of the demo convention for the park's devices with metrics (but
    the codes in ``leave_out``); numbers drift from message to message, booleans are true at
    ``true_share``."""
    rng = random.Random(seed)
    devices = [(node.code, spec.device_types[kind]) for node in park.of_kind("device")
               if (kind := device_type(node)) in spec.device_types and spec.device_types[kind].metrics
               and node.code not in leave_out]
    if not devices:
        raise SystemExit("the scene's [live] table declares no metrics for the park's devices")
    start = datetime.now(UTC).replace(microsecond=0)
    messages = []
    walk: dict[tuple[str, str], float] = {}
    for i in range(count):
        code, kind = rng.choice(devices)
        names = sorted(kind.metrics)
        chosen = rng.sample(names, rng.randint(METRICS_PER_MESSAGE[0], min(METRICS_PER_MESSAGE[1], len(names))))
        payload: dict[str, object] = {"ts": (start + timedelta(milliseconds=i)).isoformat()}
        for name in chosen:
            metric = kind.metrics[name]
            if metric.kind == "boolean":
                value: object = rng.random() < true_share
            elif metric.kind == "text":
                value = "ok"
            else:  # a drift, as real sensors do, from a random start inside the scale
                low, high = metric.scale or OPEN_SCALE
                previous = walk.get((code, name), rng.uniform(low, high))
                value = walk[code, name] = round(min(high, max(low, previous + rng.gauss(0, DRIFT * (high - low)))), 2)
            *parents, key = metric.path.removeprefix("$.").split(".")
            place = payload
            for parent in parents:  # a nested path such as data.t
                place = place.setdefault(parent, {})
            place[key] = value
        messages.append((f"park/{code}/telemetry", json.dumps(payload).encode()))
    return messages


# --- the publisher (its own process) ---------------------------------------------------------------
def connect(url: str, client_id: str) -> mqtt.Client:
    """A connected MQTT v5 client (clean start, no session kept) with its network loop running."""
    host, port, user, password = broker_address(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if user:
        client.username_pw_set(user, password)
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect(host, port, clean_start=True)
    client.loop_start()
    if not connected.wait(READY_S):
        raise SystemExit(f"{url}: {client_id} could not connect within {READY_S:g} s")
    return client


def publish(url: str, messages: Sequence[tuple[str, bytes]], qos: int, rate_per_s: float | None = None) -> float:
    """Publish every message at ``qos`` (as fast as possible, or ``rate_per_s``); seconds taken until
    the broker has them all."""
    client = connect(url, f"bench-publisher-{uuid.uuid4().hex[:6]}")
    start = time.perf_counter()
    unconfirmed: deque[mqtt.MQTTMessageInfo] = deque()
    for i, (topic, payload) in enumerate(messages):
        if rate_per_s:
            delay = start + i / rate_per_s - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        unconfirmed.append(client.publish(topic, payload, qos=qos))
        if len(unconfirmed) > PUBLISH_WINDOW:  # paho's message ids wrap at 65,535
            unconfirmed.popleft().wait_for_publish(READY_S)
    if unconfirmed:
        unconfirmed[-1].wait_for_publish(60)  # the broker reads in order: the last in, all in
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return elapsed


def _publisher(url: str, messages: Sequence[tuple[str, bytes]], qos: int, cores: set[int], out) -> None:
    if cores:
        os.sched_setaffinity(0, cores)
    out.send(publish(url, messages, qos))


# --- sinks: the subscribers under test ---------------------------------------------------------------
class Sink(Protocol):
    client: mqtt.Client

    def start(self) -> object: ...
    def wait_ready(self, timeout_s: float) -> bool: ...
    def stop(self) -> None: ...
    def summary(self) -> dict: ...


class BareSubscriber:
    """A paho subscriber with the same session as Ingest's that does nothing with a message."""

    def __init__(self, url: str, topic_filter: str, client_id: str):
        self.host, self.port, _, _ = broker_address(url)
        self.topic_filter = topic_filter
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self._ready = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe(self.topic_filter, qos=1)
        self.client.on_subscribe = lambda *_: self._ready.set()
        self.client.on_message = lambda *_: None

    def start(self) -> BareSubscriber:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect_async(self.host, self.port, clean_start=False, properties=properties)
        self.client.loop_start()
        return self

    def wait_ready(self, timeout_s: float) -> bool:
        return self._ready.wait(timeout_s)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self._ready.clear()

    def summary(self) -> dict:
        return {}


class IngestSink(Ingest):
    """Ingest into a fresh State of the park: what ``twin serve`` runs, without rules and history."""

    def __init__(self, setup: Setup, client_id: str):
        state = State(setup.park, SystemClock(), setup.spec.heartbeat_s())
        super().__init__(setup.url, setup.spec.bindings, state, park=setup.park, client_id=client_id)

    def summary(self) -> dict:
        counters = self.diagnostics().values()
        rejected = [c.last_rejection for c in counters if c.rejected]
        return {"accepted": sum(c.accepted for c in counters), "rejected": sum(c.rejected for c in counters),
                "a_rejection": rejected[0] if rejected else None, "state_version": self.state.version}


class PipelineSink(IngestSink):
    """Ingest into State with the listeners ``twin serve`` wires (:class:`live.runtime.Live`): the
    scene's alarm rules (an alarm book journalled in SQLite) and the SQLite history store."""

    def __init__(self, setup: Setup, client_id: str):
        self.folder = setup.folder / client_id
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        clock = SystemClock()
        state = State(setup.park, clock, setup.spec.heartbeat_s())
        self.alarms = AlarmBook(self.folder / "alarms.sqlite", clock)
        self.rules = Rules(setup.spec.rules, setup.park, state, self.alarms, clock)
        self.history = SqliteHistory(self.folder / "history.sqlite", clock, policy_from(setup.spec, setup.park))
        Ingest.__init__(self, setup.url, setup.spec.bindings, state, park=setup.park, client_id=client_id,
                        listeners=(self.rules.observe, self.history.record))

    def summary(self) -> dict:
        self.history.flush()
        found = {**super().summary(), "alarms": len(self.alarms.list()), "history_dropped": self.history.dropped}
        self.history.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        return found


SinkFactory = Callable[[Setup, str], Sink]
SINKS: dict[str, SinkFactory] = {
    "bare paho": lambda setup, client_id: BareSubscriber(setup.url, "park/+/telemetry", client_id),
    "ingest → state": IngestSink,
    "ingest → state + rules + history": PipelineSink,
}
BASELINE = "bare paho"
GOAL_SINK = "ingest → state"  #: the issue's ratio goal is for bindings into state; the rest is shown


class Arrivals:
    """Counts messages as the sink's client hands them over, with the first and last arrival times."""

    def __init__(self, client: mqtt.Client):
        self.count, self.first, self.last = 0, 0.0, 0.0
        handle = client.on_message

        def on_message(c: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
            handle(c, userdata, message)
            now = time.perf_counter()
            if not self.count:
                self.first = now
            self.count += 1
            self.last = now
        client.on_message = on_message


def _sink(factory: SinkFactory, setup: Setup, client_id: str, expected: int, conn) -> None:
    """The sink's process: subscribe, go away, come back on cue and drain; send the figures."""
    os.sched_setaffinity(0, {setup.core})
    sink = factory(setup, client_id)
    arrivals = Arrivals(sink.client)
    sink.start()
    conn.send(sink.wait_ready(READY_S))
    sink.stop()
    conn.recv()  # the publisher is done
    cpu_start_s = time.process_time()  # this process, all its threads
    sink.start()
    seen, seen_at = 0, time.perf_counter()
    while arrivals.count < expected and time.perf_counter() - seen_at < IDLE_S:
        time.sleep(0.01)
        if arrivals.count != seen:
            seen, seen_at = arrivals.count, time.perf_counter()
    cpu_s = time.process_time() - cpu_start_s
    sink.stop()
    ended = connect(setup.url, client_id)  # a clean start ends the session: no queue for it later
    ended.disconnect()
    ended.loop_stop()
    span_s = arrivals.last - arrivals.first
    conn.send({"received": arrivals.count, "span_s": span_s,
               "per_s": (arrivals.count - 1) / span_s if span_s > 0 else 0.0,
               "cpu_us_per_msg": cpu_s / max(arrivals.count, 1) * 1e6, **sink.summary()})


def receive(conn, process: mp.process.BaseProcess, what: str) -> object:
    """The next thing ``process`` sends on ``conn``; SystemExit when it dies first."""
    while not conn.poll(0.5):
        if not process.is_alive():
            raise SystemExit(f"{what} failed (exit code {process.exitcode}); see above")
    return conn.recv()


def trial(setup: Setup, name: str, qos: int) -> dict:
    """One sink draining the messages published at ``qos``."""
    ctx = mp.get_context("fork")  # the children inherit the park and the messages
    here, there = ctx.Pipe()
    client_id = f"bench-{name.split()[0]}-{uuid.uuid4().hex[:6]}"
    sink = ctx.Process(target=_sink, args=(SINKS[name], setup, client_id, len(setup.messages), there))
    sink.start()
    try:
        if not receive(here, sink, f"sink {name!r}"):
            raise SystemExit(f"sink {name!r} did not subscribe within {READY_S:g} s")
        done, said = ctx.Pipe()
        others = set(os.sched_getaffinity(0)) - {setup.core}
        publisher = ctx.Process(target=_publisher, args=(setup.url, setup.messages, qos, others, said))
        publisher.start()
        publish_s = receive(done, publisher, "the publisher")
        publisher.join()
        here.send("go")
        result = receive(here, sink, f"sink {name!r}")
    finally:
        sink.join(IDLE_S)  # it ends once it has sent its figures
        if sink.is_alive():
            sink.kill()
    return {"sink": name, "qos": qos, "publish_s": publish_s, **result}


def throughput(setup: Setup, qos_levels: Sequence[int], repeat: int) -> Part:
    """Every sink at every QoS, ``repeat`` rounds (interleaved); the median rate of each."""
    part = Part("throughput")
    trials = []
    for round_ in range(repeat):
        for qos in qos_levels:
            for name in SINKS:
                found = trial(setup, name, qos)
                log(f"  round {round_ + 1}/{repeat}, QoS {qos}, {name}: {found['per_s']:,.0f} msg/s "
                    f"({found['received']:,} received, published in {found['publish_s']:.1f} s)")
                trials.append(found)
    n = len(setup.messages)
    part.raw = {"messages": n, "trials": trials, "median_per_s": {}}
    part.raw["median_cpu_us_per_msg"] = {}
    for qos in qos_levels:
        def median(key: str) -> dict[str, float]:
            return {name: statistics.median(t[key] for t in trials if t["sink"] == name and t["qos"] == qos)
                    for name in SINKS}
        rates, cpu_us = median("per_s"), median("cpu_us_per_msg")
        part.raw["median_per_s"][qos], part.raw["median_cpu_us_per_msg"][qos] = rates, cpu_us
        for name, rate in rates.items():
            part.rows.append((f"QoS {qos} · {name}: msg/s (median of {repeat})", f"{rate:,.0f}"))
            part.rows.append((f"QoS {qos} · {name}: CPU µs per message, all its threads", f"{cpu_us[name]:.1f}"))
            if name == BASELINE:
                continue
            ratio = rate / rates[BASELINE] if rates[BASELINE] else 0.0
            cpu_ratio = cpu_us[BASELINE] / cpu_us[name] if cpu_us[name] else 0.0
            part.rows.append((f"QoS {qos} · {name} / {BASELINE}: msg/s", f"{ratio:.2f}"))
            part.rows.append((f"QoS {qos} · {name} / {BASELINE}: by CPU time (rate on an idle core)",
                              f"{cpu_ratio:.2f}"))
            if name == GOAL_SINK:
                part.goals.append((f"QoS {qos}: {name} ≥ {RATIO_GOAL:g} × {BASELINE} in msg/s ({ratio:.2f})",
                                   ratio >= RATIO_GOAL))
    lost = [t for t in trials if t["received"] != n]
    part.goals.append((f"every sink received all {n:,} messages in every trial",
                       not lost))
    bad = [t for t in trials if t.get("rejected")]
    part.goals.append(("ingest accepted every message (none rejected)" +
                       (f"; e.g. {bad[0]['a_rejection']}" if bad else ""), not bad))
    return part


def history(days: int, out: Path) -> Part:
    """The store of ``bench/history.py`` (its ``measure(days, out) -> dict``): size and chart query."""
    path = ROOT / "bench" / "history.py"
    if not path.exists():
        raise SystemExit(f"--history: {path} is not there yet")
    spec = importlib.util.spec_from_file_location("bench_history", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures = module.measure(days, out)
    part = Part("history", raw=figures)
    for key, value in figures.items():
        if not isinstance(value, dict):
            part.rows.append((f"history: {key}", f"{value:,}" if isinstance(value, (int, float)) else str(value)))
    size_mb = figures.get("store_mb_per_30_days")
    chart_ms = max((value for key, value in figures.items() if "chart" in key and key.endswith("ms_max")),
                   default=None)
    part.goals += [(f"history: 30 days of the demo park ≤ {STORE_MB_GOAL:,} MB ({size_mb} MB)",
                    size_mb is not None and size_mb <= STORE_MB_GOAL),
                   (f"history: a 24 h chart query ≤ {CHART_MS_GOAL:g} ms (slowest {chart_ms} ms)",
                    chart_ms is not None and chart_ms <= CHART_MS_GOAL)]
    return part


# --- latency: publish → delta applied in the browser -------------------------------------------------
#: Collects every ``twin-applied`` event and every frame's render time on the viewport's root, and
#: how long after each frame's draw the page's next task starts: the frame's commit (in headless
#: Chromium on SwiftShader, a synchronous read-back of the WebGL canvas) and tasks queued before it.
LISTEN_JS = """
root => {
  const bench = window.__bench = {applied: [], frames: [], after: []};
  root.addEventListener('twin-applied', (e) => bench.applied.push(e.detail));
  new MutationObserver(() => {
    const drawn = performance.now();
    bench.frames.push([performance.timeOrigin + drawn, parseFloat(root.dataset.frameMs)]);
    setTimeout(() => bench.after.push([performance.timeOrigin + drawn, performance.now() - drawn]), 0);
  }).observe(root, {attributes: true, attributeFilter: ['data-frame-ms']});
}
"""
#: The page's epoch clock (the events' ``at_ms``) minus the wall clock, in ms.
SKEW_JS = "() => performance.timeOrigin + performance.now() - Date.now()"


def _load(url: str, messages: Sequence[tuple[str, bytes]], qos: int, rate_per_s: float, go, out) -> None:
    """The background publisher's process: on cue, ``messages`` at ``rate_per_s``."""
    go.recv()
    out.send(publish(url, messages, qos, rate_per_s))


def _prober(url: str, topic: str, count: int, period_s: float, delay_s: float, go, out) -> None:
    """The prober's process: on cue, after ``delay_s``, ``count`` readings of :data:`PROBE_METRIC`
    every ``period_s``, true and false in turn (QoS 1); sends ``[(published at, epoch ms; value)]``."""
    client = connect(url, f"bench-prober-{uuid.uuid4().hex[:6]}")
    go.recv()
    start = time.perf_counter() + delay_s
    sent, info = [], None
    for i in range(count):
        delay = start + i * period_s - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        value = i % 2 == 0
        payload = json.dumps({"ts": datetime.now(UTC).isoformat(), PROBE_METRIC: value}).encode()
        published_ms = time.time() * 1000
        info = client.publish(topic, payload, qos=1)
        sent.append((published_ms, value))
    if info is not None:
        info.wait_for_publish(READY_S)
    client.disconnect()
    client.loop_stop()
    out.send(sent)


def decode_parts(parts: str) -> set[tuple[int, int]]:
    """``(batch, index)`` of every node in a style message's ``parts`` (see :meth:`NodeIndex.parts`)."""
    flat = np.frombuffer(base64.b64decode(parts), "<i4").tolist()
    found, at = set(), 0
    while at < len(flat):
        batch, count = flat[at], flat[at + 1]
        found.update((batch, index) for index in flat[at + 2:at + 2 + count])
        at += 2 + count
    return found


#: A probe event: when (epoch ms, wall clock) a style message with the probe's node was applied or
#: sent, and the colour it gave (its ``rgb`` as text: the probe's value as the session shows it).
Shown = tuple[float, str]


def probe_events(applied: Sequence[dict], probe: set[tuple[int, int]], skew_ms: float) -> list[Shown]:
    """The probe's events among a page's ``twin-applied`` details (``at_ms`` on the page's clock)."""
    return [(e["at_ms"] - skew_ms, str(e["rgb"])) for e in applied
            if e["op"] == "style" and probe & decode_parts(e["parts"])]


def match_probes(sent: Sequence[tuple[float, bool]], shown: Sequence[Shown]) -> list[float]:
    """Each probe's latency (ms): from its publish to the first event that shows it or a later probe.

    An event shows the latest probe published before it with the value its colour stands for; which
    colour is which value is learnt from the events (each votes for the value of the probe published
    just before it). A probe never shown is left out. A probe overtaken before its session sent it
    (a stalled server sends only the net change) is shown by its successor's event, so a stall costs
    the probes in it their wait and never shifts the pairing of the probes after it.
    """
    times = [published_ms for published_ms, _ in sent]
    votes: dict[str, Counter[bool]] = defaultdict(Counter)
    for at_ms, colour in shown:
        if (before := bisect_right(times, at_ms) - 1) >= 0:
            votes[colour][sent[before][1]] += 1
    value_of = {colour: counts.most_common(1)[0][0] for colour, counts in votes.items()}
    latencies: list[float] = []
    for at_ms, colour in sorted(shown):
        latest = bisect_right(times, at_ms) - 1
        while latest >= len(latencies) and sent[latest][1] != value_of.get(colour):
            latest -= 1
        latencies += [at_ms - times[i] for i in range(len(latencies), latest + 1)]
    return latencies


def ms_text(value: float) -> str:
    """Milliseconds for the table; ∞ for a probe never applied."""
    return f"{value:.0f}" if math.isfinite(value) else "∞ (unmatched)"


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0…1) of ``values``."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


class SentWatch:
    """While in use, notes per session (``id`` of its viewport) the wall-clock time (epoch ms) and
    colour of each ``style`` message its viewport sends with the probe's node in it: the server's
    side of the latency."""

    def __init__(self, probe: set[tuple[int, int]]):
        from twin.web.viewport import Viewport

        self.probe, self.viewport = probe, Viewport
        self.sent: dict[int, list[Shown]] = defaultdict(list)  # id(viewport) → its probe events
        self._send = Viewport.send

    def __enter__(self) -> SentWatch:
        send = self._send

        def watched(viewport, message: dict) -> None:
            send(viewport, message)
            if message.get("op") == "style" and self.probe & decode_parts(message.get("parts", "")):
                self.sent[id(viewport)].append((time.time() * 1000, str(message.get("rgb"))))
        self.viewport.send = watched
        return self

    def __exit__(self, *exc: object) -> None:
        self.viewport.send = self._send


def drain(page, probe: set[tuple[int, int]], count: int) -> None:
    """Let the page apply what is still on its way: until it has applied ``count`` style messages
    with the probe's node, or :data:`DRAIN_S` has passed (later probes count as unmatched)."""
    deadline, seen, found = time.perf_counter() + DRAIN_S, 0, 0
    while found < count and time.perf_counter() < deadline:
        page.wait_for_timeout(250)
        new = page.evaluate("n => window.__bench.applied.slice(n)", seen)
        seen += len(new)
        found += sum(e["op"] == "style" and bool(probe & decode_parts(e["parts"])) for e in new)


def latency(setup: Setup, duration_s: float, rate_per_s: float, seed: int, out: Path) -> Part:
    """Publish → delta applied in one browser session, under ``rate_per_s`` of background telemetry."""
    from playwright.sync_api import sync_playwright

    from live.runtime import Live
    from twin.web.deltas import node_index
    from twin.web.server import BackgroundServer

    if not CHROMIUM.exists():
        raise SystemExit(f"latency: {CHROMIUM} is absent (apt-get install chromium), or --skip-latency")
    node_id = f"dev:{PROBE_DEVICE}"
    probe = decode_parts(node_index(setup.park).parts([node_id]))
    if not probe:
        raise SystemExit(f"latency: the probe {node_id} is not drawn in {setup.park.name}")
    count = int((duration_s - WARMUP_S - 1.0) / PROBE_PERIOD_S)
    background = demo_messages(setup.park, setup.spec, int(duration_s * rate_per_s), seed + 1, true_share=0.0,
                               leave_out=frozenset({PROBE_DEVICE}))
    folder = out / "latency"
    shutil.rmtree(folder, ignore_errors=True)
    os.environ.setdefault("TWIN_HOME", str(out / "home"))  # the app's audit log: not the user's
    part = Part("latency")
    ctx = mp.get_context("fork")  # forked before any thread of this process starts
    with Broker(folder / "broker") as broker:
        load_go, load_go_there = ctx.Pipe()
        load_out, load_out_there = ctx.Pipe()
        probe_go, probe_go_there = ctx.Pipe()
        probe_out, probe_out_there = ctx.Pipe()
        loader = ctx.Process(target=_load, args=(broker.url, background, 1, rate_per_s, load_go_there,
                                                  load_out_there))
        prober = ctx.Process(target=_prober, args=(broker.url, f"park/{PROBE_DEVICE}/telemetry", count,
                                                    PROBE_PERIOD_S, WARMUP_S, probe_go_there, probe_out_there))
        loader.start()
        prober.start()
        try:
            with Live(setup.park, setup.spec, broker_url=broker.url, folder=folder / "live") as live, \
                    BackgroundServer(setup.park, live=live) as server, sync_playwright() as playwright, \
                    SentWatch(probe) as watch:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": WINDOW[0], "height": WINDOW[1]})
                opened = time.perf_counter()
                page.goto(f"{server.url}/?lang=en")
                page.wait_for_selector(f"{VIEWPORT}[data-state=ready]", state="attached",
                                       timeout=PAGE_READY_S * 1000)
                log(f"  the page drew the park in {time.perf_counter() - opened:.0f} s (not timed)")
                page.evaluate(LISTEN_JS, page.locator(VIEWPORT).element_handle())
                page.wait_for_timeout(2000)  # the first pulls and frames settle
                skew_before = page.evaluate(SKEW_JS)
                accepted_before = sum(c.accepted for c in live.ingest.diagnostics().values())
                load_before, started_ms, started = os.getloadavg(), time.time() * 1000, time.perf_counter()
                log(f"  {len(background):,} messages at {rate_per_s:,.0f}/s and {count} probes "
                    f"every {PROBE_PERIOD_S:g} s on {PROBE_DEVICE}")
                load_go.send("go")
                probe_go.send("go")
                while not (load_out.poll() and probe_out.poll()):
                    if not (loader.is_alive() or load_out.poll()) or not (prober.is_alive() or probe_out.poll()):
                        raise SystemExit("latency: a publisher died; see above")
                    page.wait_for_timeout(250)  # the page runs on; its events are collected in it
                publish_s, sent = load_out.recv(), probe_out.recv()
                elapsed_s = time.perf_counter() - started
                drain(page, probe, len(sent))
                accepted = sum(c.accepted for c in live.ingest.diagnostics().values()) - accepted_before
                load_after = os.getloadavg()
                skew_ms = (skew_before + page.evaluate(SKEW_JS)) / 2
                collected = page.evaluate("() => window.__bench")
                browser.close()
                server_rejected = sum(c.rejected for c in live.ingest.diagnostics().values())
        finally:
            for process in (loader, prober):
                process.join(READY_S)
                if process.is_alive():
                    process.kill()
    shown = probe_events(collected["applied"], probe, skew_ms)
    latencies = match_probes(sent, shown)
    sent_by_server = match_probes(sent, next(iter(watch.sent.values()), []))  # one session
    node_events = len(shown)
    frames = [ms for at_ms, ms in collected["frames"] if at_ms - skew_ms >= started_ms and not math.isnan(ms)]
    after = [ms for at_ms, ms in collected["after"] if at_ms - skew_ms >= started_ms]
    rate = len(background) / publish_s if publish_s else 0.0
    part.raw = {"probes": len(sent), "matched": len(latencies), "probe_node_events": node_events,
                "publish_to_sent_by_server_ms": sent_by_server,
                "latency_ms": latencies,
                "background_messages": len(background), "background_per_s": rate,
                "ingest_accepted_per_s": accepted / elapsed_s, "rejected": server_rejected,
                "frames": len(frames), "frame_ms": frames,
                "frame_to_next_task_ms": after, "clock_skew_ms": skew_ms,
                "load_average_before": load_before, "load_average_after": load_after,
                "style_messages": sum(e["op"] == "style" for e in collected["applied"])}
    every = latencies + [math.inf] * (len(sent) - len(latencies))  # an unmatched probe: later than any
    p50, p95 = (percentile(every, 0.5), percentile(every, 0.95)) if every else (math.inf, math.inf)
    part.raw.update({key: value if math.isfinite(value) else None for key, value in
                     (("p50_ms", p50), ("p95_ms", p95), ("max_matched_ms", max(latencies, default=math.inf)))})
    part.rows += [
        ("latency: background telemetry published, msg/s (QoS 1)", f"{rate:,.0f}"),
        ("latency: accepted by ingest during the run, msg/s", f"{accepted / elapsed_s:,.0f}"),
        (f"latency: probes matched / published ({PROBE_DEVICE}, every {PROBE_PERIOD_S:g} s)",
         f"{len(latencies)} / {len(sent)}"),
        ("latency: style messages with the probe's node (one per probe expected)", f"{node_events}"),
        ("latency: publish → delta applied in the browser, p50 ms (unmatched probes: ∞)", ms_text(p50)),
        ("latency: publish → delta applied in the browser, p95 ms", ms_text(p95)),
        ("latency: publish → delta applied in the browser, max of the matched, ms",
         ms_text(max(latencies, default=math.inf))),
        ("latency: of which publish → message sent by the session (server), p50 / p95 ms",
         f"{statistics.median(sent_by_server):.0f} / {percentile(sent_by_server, 0.95):.0f}"
         if sent_by_server else "–"),
        ("latency: style messages applied in the page, per s", f"{part.raw['style_messages'] / elapsed_s:.1f}"),
        ("render: frames drawn during the run, per s", f"{len(frames) / elapsed_s:.1f}"),
        ("render: ms per frame, median", f"{statistics.median(frames):.1f}" if frames else "–"),
        ("render: ms per frame, p95", f"{percentile(frames, 0.95):.1f}" if frames else "–"),
        ("render: ms from a frame's draw to the page's next task (its commit with SwiftShader's "
         "read-back, and tasks queued ahead), median / p95",
         f"{statistics.median(after):.0f} / {percentile(after, 0.95):.0f}" if after else "–"),
        ("latency: load average (1 min) before → after", f"{load_before[0]:.2f} → {load_after[0]:.2f}")]
    part.goals += [(f"latency: p95 publish → delta applied ≤ {LATENCY_P95_GOAL_MS:g} ms at "
                    f"{rate_per_s:,.0f} msg/s ({ms_text(p95)}{' ms' if math.isfinite(p95) else ''})",
                    p95 <= LATENCY_P95_GOAL_MS),
                   (f"latency: at least {PROBES_MIN} probes matched ({len(latencies)} of {len(sent)})",
                    len(latencies) >= PROBES_MIN)]
    return part


# --- report ------------------------------------------------------------------------------------------
def environment() -> dict:
    version = subprocess.run([str(mosquitto_binary()), "-h"], capture_output=True, text=True).stdout
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "paho": paho.mqtt.__version__,
            "mosquitto": version.split("\n", 1)[0].removeprefix("mosquitto version "),
            "when": datetime.now(UTC).isoformat(timespec="seconds")}


def report(parts: Sequence[Part]) -> bool:
    """Print the table and each goal with ✓ or ✗; whether all are met."""
    print("| measure | value |\n|---|---|")
    for part in parts:
        for label, value in part.rows:
            print(f"| {label} | {value} |")
    print()
    goals = [goal for part in parts for goal in part.goals]
    for label, ok in goals:
        print(f"{'✓' if ok else '✗'} {label}")
    return all(ok for _, ok in goals)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=100_000, help="messages per trial")
    ap.add_argument("--qos", type=int, nargs="+", choices=(0, 1), default=[0, 1], help="QoS levels to publish at")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of trials (the median is reported)")
    ap.add_argument("--core", type=int, default=max(os.sched_getaffinity(0)),
                    help="the one core the subscriber under test runs on")
    ap.add_argument("--scene", type=Path, default=ROOT / "scenes" / "demo", help="the park and its [live] table")
    ap.add_argument("--seed", type=int, default=2026, help="seed of the messages")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "ingest",
                    help="broker data and results.json")
    ap.add_argument("--history", action="store_true", help="also measure the history store (bench/history.py)")
    ap.add_argument("--latency-s", type=float, default=60.0,
                    help="seconds of background load in the latency part (≥ 35 for 100 probes)")
    ap.add_argument("--latency-rate", type=float, default=1000.0, help="background msg/s in the latency part")
    ap.add_argument("--skip-latency", action="store_true", help="leave out the browser latency part")
    ap.add_argument("--skip-throughput", action="store_true", help="leave out the throughput part")
    ap.add_argument("--days", type=int, default=30, help="--history: days of simulated history")
    args = ap.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    log(f"loading {args.scene} (built once, then from the compile cache)")
    park = compile_scene(args.scene)
    spec = read_scene(scene_file(args.scene)).live
    messages = [] if args.skip_throughput else demo_messages(park, spec, args.messages, args.seed)
    if messages:
        log(f"  {len(park):,} nodes; {args.messages:,} messages, {len({t for t, _ in messages}):,} topics, "
            f"{sum(len(p) for _, p in messages) / len(messages):.0f} bytes each on average")
    broker_dir = args.out / "broker"
    for stale in broker_dir.glob("mosquitto.db*"):
        stale.unlink()  # no sessions left from an earlier run
    parts = []
    with BenchBroker(broker_dir) as broker:
        setup = Setup(park, spec, broker.url, messages, args.core, args.out / "sinks")
        if not args.skip_throughput:
            parts.append(throughput(setup, args.qos, args.repeat))
    if not args.skip_latency:
        parts.append(latency(setup, args.latency_s, args.latency_rate, args.seed, args.out))
    if args.history:
        parts.append(history(args.days, args.out / "history"))
    env = environment()
    print(f"{env['cpu']}, {env['cores']} cores (subscriber on core {args.core}); Python {env['python']}, "
          f"paho-mqtt {env['paho']}, Mosquitto {env['mosquitto']}"
          + ("" if args.skip_throughput else f"; {args.messages:,} messages per trial") + "\n")
    met = report(parts)
    print(f"\nbench time {time.perf_counter() - start:.0f} s")
    results = {"environment": env, "args": {k: str(v) for k, v in vars(args).items()},
               **{part.name: part.raw for part in parts}}
    (args.out / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
