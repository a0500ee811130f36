"""The soak: the demo park served as ``twin serve`` serves it, its simulator at ×10 (telemetry ten
times as fast), three browser sessions open (the wall, the workstation, the maintenance page), for
``--warmup-min`` and then ``--minutes``. Does the server grow, drop messages or slow down?

    .venv/bin/python bench/soak.py [--minutes 60] [--warmup-min 5] [--speed 10] [--out bench/out/soak]

Reported, every ``--every-min`` and at the end (also as ``soak.json`` in ``--out``):

- **memory**: the twin's memory: the proportional sets (Pss) of the server process (this one: the
  park, the live side, the app's sessions — the browsers run in their own processes) and its worker
  processes (the camera pictures') together, once the sessions are open and
  settled, after the warm-up (the start: caches filled, the first alarms' pictures drawn), and at
  the end; goal: growth from the start ≤ 5 % (the growth over the warm-up is printed too); and its
  trend after the first window (sampled every 30 s, least squares, MB/h): what a day would add;
- **dropped messages**: what the broker dropped (Mosquitto's ``$SYS`` count: a queue or in-flight
  limit reached) and what ingest refused; goal: none;
- **delta latency**: a street light (the ingest bench's ``PROBE_DEVICE``) switched every
  ``--probe-s`` seconds; each switch's time from publish to the wall session's viewport applying a
  style message that shows it or a later switch (``twin-applied``; :func:`ingest.match_probes`),
  p50/p95 over the run and per window, and the server's share (publish → sent, p95 of the slowest
  session); the baseline in the same run is the first window's p95.

The machine's load average is printed with each line: on a shared machine the latency is the
machine's as much as the twin's.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import (CHROMIUM, CHROMIUM_ARGS, LISTEN_JS, PROBE_DEVICE, PROBE_METRIC, SKEW_JS, VIEWPORT,  # noqa: E402
                    SentWatch, Shown, connect, decode_parts, match_probes, percentile, probe_events)

PAGES = ("/wall", "/", "/maintenance")  #: the three sessions; the first one's deltas are timed
WINDOW = (1920, 1080)
PAGE_READY_S = 600
DRAIN_S = 20.0


class Prober(threading.Thread):
    """Switches the probe light every ``period_s`` (QoS 1), noting each publish time (epoch ms)."""

    def __init__(self, url: str, period_s: float):
        super().__init__(name="soak-prober", daemon=True)
        self.client, self.period_s = connect(url, f"soak-prober-{os.getpid()}"), period_s
        self.sent: list[tuple[float, bool]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        value = True
        while not self.halt.wait(self.period_s):
            payload = json.dumps({"ts": datetime.now(UTC).isoformat(), PROBE_METRIC: value})
            self.sent.append((time.time() * 1000, value))
            self.client.publish(f"park/{PROBE_DEVICE}/telemetry", payload, qos=1)
            value = not value

    def stop(self) -> None:
        self.halt.set()
        self.join()
        self.client.disconnect()
        self.client.loop_stop()


def twin_mb() -> float:
    """The twin's memory: the proportional sets (Pss) of the server process (this one) and its worker
    processes, MB (Pss, not RSS: the libraries both map would be counted twice)."""
    from twin.memory import proportional_mb, worker_pids

    return proportional_mb() + sum(mb or 0.0 for mb in map(proportional_mb, worker_pids()))


class MemorySampler(threading.Thread):
    """The twin's memory (:func:`twin_mb`, Pss) every ``period_s`` from its start: ``samples`` of (minutes, MB)."""

    def __init__(self, period_s: float = 30.0):
        super().__init__(name="soak-memory", daemon=True)
        self.period_s, self.samples, self.halt = period_s, list[tuple[float, float]](), threading.Event()

    def run(self) -> None:
        start = time.perf_counter()
        while not self.halt.wait(self.period_s):
            self.samples.append(((time.perf_counter() - start) / 60, twin_mb()))

    def trend_mb_h(self, after_min: float) -> float:
        """The least-squares slope of the samples taken after ``after_min`` minutes, MB per hour."""
        later = [(m, mb) for m, mb in self.samples if m >= after_min]
        if len(later) < 3:
            return float("nan")
        minutes, mb = zip(*later)
        return 60 * float(np.polyfit(minutes, mb, 1)[0])


class BrokerDropped:
    """Mosquitto's own count of messages it dropped (``$SYS/broker/publish/messages/dropped``: a queue
    or in-flight limit reached), as last published (every 10 s)."""

    TOPIC = "$SYS/broker/publish/messages/dropped"

    def __init__(self, url: str):
        self.value = 0
        self.client = connect(url, f"soak-sys-{os.getpid()}")
        self.client.on_message = lambda _c, _u, message: setattr(self, "value", int(message.payload))
        self.client.subscribe(self.TOPIC)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def lost(live, broker: BrokerDropped) -> int:
    """Messages lost on the way in: dropped by the broker, plus refused by ingest (none are expected)."""
    return broker.value + sum(c.rejected for c in live.ingest.diagnostics().values())


class Applied:
    """The timed session's probe events, taken from the page at each call (the page keeps none, so
    neither it nor this process grows with the run's length)."""

    TAKE_JS = """() => { const b = window.__bench; b.frames.length = 0; b.after.length = 0;
                         return b.applied.splice(0).filter(e => e.op === 'style'); }"""

    def __init__(self, page, probe: set[tuple[int, int]]):
        self.page, self.probe, self.shown = page, probe, list[Shown]()

    def latencies(self, sent: list[tuple[float, bool]]) -> list[float]:
        """Each probe's publish → applied time (ms) in the timed session, so far."""
        skew_ms = self.page.evaluate(SKEW_JS)
        self.shown += probe_events(self.page.evaluate(self.TAKE_JS), self.probe, skew_ms)
        return match_probes(sent, self.shown)


def server_p95(watch: SentWatch, sent: list[tuple[float, bool]], first: int) -> float:
    """The server's share: publish → a session's viewport sending the probe, p95 over the probes from
    ``first`` on, for the slowest of the sessions."""
    shares = [match_probes(sent, events)[first:] for events in watch.sent.values()]
    return max((percentile(share, 0.95) for share in shares if share), default=float("nan"))


class Tracer:
    """What the server's memory grows with, window by window (``--trace N``): Python's own allocations
    (tracemalloc, one frame: the N source lines grown most), the N object types grown most in number,
    and how much of the resident set glibc gives back when asked (``malloc_trim``: freed heap it kept,
    as opposed to live objects or native memory in use). Slows the server; a diagnosis, not a figure."""

    def __init__(self, top: int):
        import tracemalloc

        self.top, self.tracemalloc = top, tracemalloc
        tracemalloc.start(1)
        self.snapshot, self.types = tracemalloc.take_snapshot(), self.type_counts()

    @staticmethod
    def type_counts() -> Counter:
        import gc

        return Counter(type(o).__qualname__ for o in gc.get_objects())

    def window(self) -> None:
        from twin.memory import release_free_memory, resident_mb

        snapshot, types = self.tracemalloc.take_snapshot(), self.type_counts()
        traced_mb = self.tracemalloc.get_traced_memory()[0] / 1e6
        for stat in snapshot.compare_to(self.snapshot, "lineno")[:self.top]:
            print(f"    traced {stat.size_diff / 1e6:+7.2f} MB {stat.count_diff:+8d} blocks  {stat.traceback}")
        grown = sorted(((n - self.types[name], name) for name, n in types.items()), reverse=True)
        print("    objects " + ", ".join(f"{name} {d:+d}" for d, name in grown[:self.top]))
        before = resident_mb()
        release_free_memory()
        print(f"    traced total {traced_mb:.0f} MB; RSS {before:.0f} MB, {resident_mb():.0f} MB once trimmed",
              flush=True)
        self.snapshot, self.types = snapshot, types


def line(label: str, elapsed_s: float, rss: float, base_rss: float, drop: int, lat: list[float],
         server_ms: float) -> dict:
    from twin.memory import resident_mb, workers_mb

    server, workers = resident_mb(), workers_mb() or 0.0
    p50 = percentile(lat, 0.5) if lat else float("nan")
    p95 = percentile(lat, 0.95) if lat else float("nan")
    load = os.getloadavg()[0]
    print(f"{label:>8} {elapsed_s / 60:6.1f} min  twin {rss:5.0f} MB Pss ({100 * (rss / base_rss - 1):+5.1f} %; "
          f"RSS server {server:4.0f}, workers {workers:4.0f})  dropped {drop:6d}  probes {len(lat):5d}  "
          f"p50 {p50:6.0f} ms  p95 {p95:6.0f} ms  "
          f"(server p95 {server_ms:5.0f} ms)  load {load:4.1f}", flush=True)
    return {"label": label, "minutes": elapsed_s / 60, "memory_mb": rss, "server_rss_mb": server,
            "workers_rss_mb": workers, "dropped": drop,
            "probes": len(lat), "p50_ms": p50, "p95_ms": p95, "server_p95_ms": server_ms, "load": load}


def soak(minutes: float, warmup_min: float, speed: float, every_min: float, probe_s: float, out: Path,
         trace: int = 0) -> dict:
    from playwright.sync_api import sync_playwright

    from live.runtime import Live
    from twin.cache import compile_scene
    from twin.cameras import snapshots
    from twin.memory import cap_arenas
    from twin.scene import read_scene
    from twin.web.deltas import node_index
    from twin.web.server import BackgroundServer

    cap_arenas()  # as twin serve does, before the threads
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TWIN_HOME", str(out / "home"))  # audit log and data: not the user's
    scene, park = read_scene(ROOT / "scenes" / "demo"), compile_scene(ROOT / "scenes" / "demo")
    probe = decode_parts(node_index(park).parts([f"dev:{PROBE_DEVICE}"]))
    with Live(park, scene.live, simulated=scene, speed=speed, folder=out / "live", inspections=scene.inspections,
              energy=scene.energy) as live, \
            BackgroundServer(park, live=live, plans=scene.plans, wall=scene.wall) as server, \
            sync_playwright() as playwright, SentWatch(probe) as watch:
        snapshots(park).warm()  # as twin serve does
        # the probes alone switch the lamp: a reading of the simulator's own would change (or not) its
        # colour between two probes, and a probe that changes nothing would be matched to a later one
        live.simulator.devices[PROBE_DEVICE].paths = {}
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        pages = []
        for path in PAGES:
            page = browser.new_page(viewport={"width": WINDOW[0], "height": WINDOW[1]})
            page.goto(f"{server.url}{path}")
            page.wait_for_selector(f"{VIEWPORT}[data-state=ready]", state="attached", timeout=PAGE_READY_S * 1000)
            pages.append(page)
        timed = pages[0]
        timed.evaluate(LISTEN_JS, timed.locator(VIEWPORT).element_handle())
        applied = Applied(timed, probe)
        timed.wait_for_timeout(30_000)  # sessions settle: first pulls, figures, energy cache
        prober, broker = Prober(live.url, probe_s), BrokerDropped(live.url)
        time.sleep(11)  # the broker's first $SYS report
        settled_rss = twin_mb()
        prober.start()
        print(f"soak: twin {settled_rss:.0f} MB Pss with the sessions settled; {warmup_min:g} min of warm-up "
              f"(probes running) before the {minutes:g} min counted", flush=True)
        timed.wait_for_timeout(warmup_min * 60_000)
        base_rss, start, drop0, first = twin_mb(), time.perf_counter(), lost(live, broker), len(prober.sent)
        print(f"soak: {minutes:g} min, simulator ×{speed:g}, sessions {', '.join(PAGES)}; twin at start "
              f"{base_rss:.0f} MB ({100 * (base_rss / settled_rss - 1):+.1f} % in the warm-up)", flush=True)
        rows, window_from, tracer, sampler = [], first, Tracer(trace) if trace else None, MemorySampler()
        sampler.start()
        while (elapsed := time.perf_counter() - start) < minutes * 60:
            timed.wait_for_timeout(min(every_min * 60, minutes * 60 - elapsed) * 1000)
            lat = applied.latencies(prober.sent)
            rows.append(line("window", time.perf_counter() - start, twin_mb(), base_rss, lost(live, broker) - drop0,
                             lat[window_from:], server_p95(watch, prober.sent, window_from)))
            window_from = len(lat)
            if tracer:
                tracer.window()
        prober.stop()
        sampler.halt.set()
        timed.wait_for_timeout(DRAIN_S * 1000)
        lat = applied.latencies(prober.sent)
        final = line("total", time.perf_counter() - start, twin_mb(), base_rss, lost(live, broker) - drop0,
                     lat[first:], server_p95(watch, prober.sent, first))
        broker.stop()
        browser.close()
    result = {"minutes": minutes, "warmup_min": warmup_min, "speed": speed, "pages": PAGES,
              "memory_settled_mb": settled_rss, "memory_start_mb": base_rss,
              "memory_growth_pct": 100 * (final["memory_mb"] / base_rss - 1),
              "memory_growth_from_settled_pct": 100 * (final["memory_mb"] / settled_rss - 1),
              "memory_trend_mb_h": sampler.trend_mb_h(every_min), "memory_samples": sampler.samples,
              "unshown_probes": len(prober.sent) - len(lat),
              "baseline_p95_ms": rows[0]["p95_ms"] if rows else None, "windows": rows, "total": final}
    (out / "soak.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"memory growth {result['memory_growth_pct']:+.1f} % over the {minutes:g} min (goal ≤ 5 %; "
          f"{result['memory_growth_from_settled_pct']:+.1f} % with the warm-up), dropped {final['dropped']} (goal 0), "
          f"p95 {final['p95_ms']:.0f} ms over the run vs {result['baseline_p95_ms']:.0f} ms in the first window "
          f"(×{final['p95_ms'] / result['baseline_p95_ms']:.2f}); {result['unshown_probes']} probes never shown",
          flush=True)
    trend, later = result["memory_trend_mb_h"], [mb for m, mb in sampler.samples if m >= every_min]
    print(f"memory trend after the first window: {trend:+.1f} MB/h (a day at that rate: "
          f"{100 * trend * 24 / base_rss:+.1f} % of the start; a step, such as the picture worker's takeover, "
          f"tilts it), samples {min(later, default=float('nan')):.0f}–{max(later, default=float('nan')):.0f} MB",
          flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--warmup-min", type=float, default=5.0,
                        help="minutes run (probes included) before memory and windows are counted")
    parser.add_argument("--speed", type=float, default=10.0, help="the simulator's speed (×)")
    parser.add_argument("--every-min", type=float, default=10.0, help="minutes per reported window")
    parser.add_argument("--probe-s", type=float, default=2.0, help="seconds between probe switches")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "soak")
    parser.add_argument("--trace", type=int, default=0, metavar="N",
                        help="diagnose growth: print the N source lines and object types grown most per window")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"soak: {CHROMIUM} is absent (apt-get install chromium)")
    soak(args.minutes, args.warmup_min, args.speed, args.every_min, args.probe_s, args.out, args.trace)


if __name__ == "__main__":
    main()
