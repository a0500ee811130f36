"""The viewer on a small and a large generated park: what a session costs, and what a state change costs.

    python bench/viewer.py [--out bench/out/viewer] [--repeat 50]

Generates (once; reused from ``--out`` afterwards) two parks with ``twin.generate_park.write_park``,
compiles them through the compile cache, serves each with :class:`twin.web.server.BackgroundServer`
and opens it in headless Chromium (``/usr/bin/chromium``, never a downloaded one; any request to a
host other than localhost is aborted and counted). For each park it prints:

- drawn nodes (nodes with cells in a render batch, by kind) and render batches;
- actors in the renderer (``data-actors``): goal, one per batch, whatever the number of nodes;
- bytes received at session start, from Chromium's own network log (CDP ``Network.loadingFinished``
  ``encodedDataLength``, i.e. on the wire, gzip included): page and scripts, geometry
  (``/geometry/*.bin``) and websocket frames;
- time to first frame: navigation start to the first batch drawn (the page's ``performance.now()``
  when ``data-loaded`` turns 1), of which ``data-first-frame-ms`` is the viewport's own part (from its
  first fetch); and the time until every batch is drawn (``data-state=ready``). A second session
  on the same server (fresh browser context, the server's gzip of each batch already made) is timed too;
- a state change of 1,000 nodes (``Viewport.style(ids, rgb=(255, 0, 0), blink=True)``): the JSON
  bytes of the message and its server time, the median of ``--repeat`` runs of the index lookup and
  message (``NodeIndex.parts``) plus Bokeh's serialisation of it (``Serializer().serialize`` and the
  JSON text). Two choices of nodes: 1,000 devices (in turn from each device-type batch: an alarm
  storm), and 1,000 nodes in turn from every batch (as many batches touched as the park allows:
  the worst case for the message's size). Each is also sent through the live session
  (``Viewport.style`` on the session's document, 10 times, median: message, Bokeh event and
  PATCH-DOC, in this same process as the browser driver) and the websocket bytes the page
  receives for it are counted, with the time until it has received all 10 (a busy page lags).

The small park is the baseline: every figure is also printed as large / small. Goals (issue):
actors grow with batches, not nodes; a 1,000-node change costs ≤ 5 ms of server time and sends
no geometry, whatever the park's size.
"""
from __future__ import annotations

import argparse
import base64
import json
import re
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import getitem
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
from bokeh.core.serialization import Serializer

from twin.batches import RenderBatch
from twin.cache import compile_scene
from twin.generate_park import write_park
from twin.park import Park
from app import create_app
from twin.web.deltas import NodeIndex, node_index
from twin.web.server import BackgroundServer
from twin.web.viewport import Viewport, style_message

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 "--disable-gpu", "--disable-background-networking"]
#: Requests to anything but the local server (and data:/blob: URLs) are aborted.
OFF_HOST = re.compile(r"^(?!(https?://(127\.0\.0\.1|localhost)[:/]|data:|blob:))")
CHANGE_NODES = 1_000
CHANGE_MS_GOAL = 5.0
#: The two choices of 1,000 nodes changed (see :func:`measure`).
CHOICES = {"devices": "1,000 devices", "wide": "1,000 nodes over all batches"}
READY_TIMEOUT_S = 900
LIVE_REPEAT = 10

#: Watches the viewport's root element (inside Panel's shadow DOM) and stamps, on the page's clock
#: (ms since navigation start), when the first batch is drawn and when all are.
WATCH_JS = """
window.__twin = {};
(function watch() {
  const find = (root) => {
    const hit = root.querySelector('[data-twin-viewport]');
    if (hit) return hit;
    for (const el of root.querySelectorAll('*')) if (el.shadowRoot) { const h = find(el.shadowRoot); if (h) return h; }
    return null;
  };
  const vp = document.documentElement && find(document);
  if (!vp) { setTimeout(watch, 10); return; }
  const stamp = () => {
    if (!window.__twin.first && Number(vp.dataset.loaded) >= 1) window.__twin.first = performance.now();
    if (!window.__twin.ready && vp.dataset.state === 'ready') window.__twin.ready = performance.now();
  };
  stamp();
  new MutationObserver(stamp).observe(vp, { attributes: true });
})();
"""


@dataclass(frozen=True)
class ParkSpec:
    """Arguments of ``write_park``."""

    buildings: int
    ifc_buildings: int
    storeys: int
    seed: int = 2026

    @property
    def name(self) -> str:
        return f"park-{self.buildings}b-{self.ifc_buildings}ifc-{self.storeys}s-{self.seed}"

    def __str__(self) -> str:
        return (f"--buildings {self.buildings} --ifc-buildings {self.ifc_buildings} "
                f"--storeys {self.storeys} --seed {self.seed}")


SMALL = ParkSpec(10, 3, 5)
LARGE = ParkSpec(420, 24, 5)


def spec_arg(text: str) -> ParkSpec:
    """``BUILDINGS,IFC_BUILDINGS,STOREYS``."""
    return ParkSpec(*map(int, text.split(",")))


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def every(seconds: float, report: Callable[..., None]) -> Callable[..., None]:
    """``report``, called at most once every ``seconds``."""
    last = [-seconds]

    def throttled(*args: int) -> None:
        if time.perf_counter() - last[0] >= seconds:
            last[0] = time.perf_counter()
            report(*args)
    return throttled


def prepare(spec: ParkSpec, out: Path) -> tuple[Park, float]:
    """The park of ``spec``, generated into ``out`` unless already there, then compiled (or read from the cache)."""
    folder = out / spec.name
    start = time.perf_counter()
    if not (folder / "scene.toml").exists():
        tick = every(10, lambda done, total: log(f"  generating {spec}: {done}/{total} IFC storeys written"))
        write_park(folder.with_suffix(".part"), spec.buildings, spec.ifc_buildings, spec.storeys, spec.seed, tick)
        folder.with_suffix(".part").rename(folder)
    tick = every(10, lambda percent: log(f"  compiling {spec.name}: IFC building being read at {percent} %"))
    park = compile_scene(folder, tick, cache_dir=out / "cache")
    return park, time.perf_counter() - start


def drawn_ids(park: Park) -> dict[str, None]:
    """Every node with cells in a batch, in batch order (a dict: ordered and unique)."""
    return {node_id: None for batch in park.batches for node_id in batch.node_ids}


def round_robin(batches: Sequence[RenderBatch], n: int) -> list[str]:
    """``n`` node ids taken in turn from each of ``batches`` (one from each, then a second from each…)."""
    columns = [list(dict.fromkeys(b.node_ids)) for b in batches]
    ids: dict[str, None] = {}
    for row in range(max(map(len, columns))):
        for column in columns:
            if row < len(column):
                ids.setdefault(column[row], None)
                if len(ids) == n:
                    return list(ids)
    return list(ids)


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls of ``fn``, in ms."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def change_cost(index: NodeIndex, ids: Sequence[str], repeat: int) -> dict:
    """Bytes and server time of one 1,000-node style change (medians of ``repeat`` runs)."""
    change = lambda: style_message(index, ids, rgb=(255, 0, 0), blink=True)
    message = change()
    flat = np.frombuffer(base64.b64decode(message["parts"]), "<i4")
    assert isinstance(message["parts"], str) and not any(isinstance(v, float) for v in message.values()), \
        "geometry in a change"
    encode = lambda: json.dumps(Serializer().serialize(message).content, separators=(",", ":"))
    text = encode()
    lookup_ms, encode_ms = median_ms(change, repeat), median_ms(encode, repeat)
    batches, at = 0, 0
    while at < len(flat):
        batches, at = batches + 1, at + 2 + int(flat[at + 1])
    return {"nodes": len(ids), "bytes": len(text), "batches": batches,
            "lookup_ms": lookup_ms, "encode_ms": encode_ms, "server_ms": lookup_ms + encode_ms}


class Session:
    """One browser session on the app: network log via CDP, shadow-DOM timings via :data:`WATCH_JS`."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.off_host: list[str] = []
        self.page.route(OFF_HOST, self._refuse)
        self.page.add_init_script(WATCH_JS)
        self.urls: dict[str, str] = {}
        self.bytes = Counter()
        self.ws_bytes = 0
        self.lock = threading.Lock()
        cdp = self.context.new_cdp_session(self.page)
        cdp.send("Network.enable")
        cdp.send("Performance.enable")
        cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], e["request"]["url"]))
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.loadingFailed", self._failed)
        cdp.on("Network.webSocketFrameReceived", self._frame)
        self.cdp = cdp
        self.url = url

    def _refuse(self, route) -> None:
        self.off_host.append(route.request.url)
        route.abort()

    def _finished(self, event: dict) -> None:
        url = self.urls.get(event["requestId"], "")
        self.bytes["geometry" if "/geometry/" in url else "page"] += int(event["encodedDataLength"])

    def _failed(self, event: dict) -> None:
        url = self.urls.get(event["requestId"], "")
        if not url.endswith("/favicon.ico"):
            log(f"  failed: {url} {event['errorText']}")

    def _frame(self, event: dict) -> None:
        frame = event["response"]
        size = len(base64.b64decode(frame["payloadData"])) if frame["opcode"] == 2 else len(
            frame["payloadData"].encode())
        with self.lock:
            self.ws_bytes += size

    def wait_ws_bytes(self, at_least: int, limit_s: float = 120) -> int:
        """Websocket bytes received so far, once they reach ``at_least`` (or after ``limit_s``)."""
        deadline = time.perf_counter() + limit_s
        while True:
            with self.lock:
                now = self.ws_bytes
            if now >= at_least or time.perf_counter() > deadline:
                return now
            self.page.wait_for_timeout(50)

    def open(self) -> dict:
        """Navigate, wait until every batch is drawn; timings (ms) and the viewport's attributes."""
        self.page.goto(self.url + "/", timeout=120_000)
        self.page.wait_for_selector("[data-twin-viewport][data-state=ready]", state="attached",
                                    timeout=READY_TIMEOUT_S * 1000)
        self.page.wait_for_timeout(500)  # websocket traffic that follows 'ready'
        viewport = self.page.locator("[data-twin-viewport]")
        stamps = self.page.evaluate("window.__twin")
        metrics = {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        with self.lock:
            ws_bytes = self.ws_bytes
        return {"bytes": Counter(self.bytes), "ws_bytes": ws_bytes,
                "actors": int(viewport.get_attribute("data-actors")),
                "loaded": int(viewport.get_attribute("data-loaded")),
                "viewport_first_ms": float(viewport.get_attribute("data-first-frame-ms")),
                "first_ms": stamps["first"], "ready_ms": stamps["ready"],
                "script_s": metrics["ScriptDuration"], "task_s": metrics["TaskDuration"]}

    def close(self) -> None:
        self.context.close()


class Sessions:
    """The app's page factory for the server, keeping each session's viewport and document."""

    def __init__(self, park: Park):
        self.park, self.opened = park, []

    def page(self):
        """One session's page (a method: Panel calls functions and methods per session)."""
        import panel as pn

        page = create_app(self.park)
        self.opened.append((page.select(Viewport)[0], pn.state.curdoc))
        return page


def live_change(session: Session, sessions: Sessions, ids: Sequence[str], repeat: int, size: int) -> dict:
    """Send the change ``repeat`` times through the live session, one at a time on its document: median
    server time of ``Viewport.style`` (message, Bokeh event, PATCH-DOC), websocket bytes per change, and
    the seconds until the page has received them all."""
    viewport, doc = sessions.opened[-1]
    timed: list[float] = []
    sent = threading.Event()

    def send() -> None:
        start = time.perf_counter()
        viewport.style(ids, rgb=(255, 0, 0), blink=True)
        timed.append(time.perf_counter() - start)
        sent.set()

    session.page.wait_for_timeout(1000)  # idle traffic after 'ready' passes first
    with session.lock:
        before = session.ws_bytes
    start = time.perf_counter()
    for _ in range(repeat):
        sent.clear()
        doc.add_next_tick_callback(send)
        sent.wait(30)
    received = session.wait_ws_bytes(before + repeat * size) - before
    return {"ws_bytes": received / repeat, "style_ms": 1000 * statistics.median(timed),
            "received_s": time.perf_counter() - start}


def measure(spec: ParkSpec, out: Path, browser, repeat: int) -> dict:
    """Every figure of one park: nodes and batches, two browser sessions, the 1,000-node changes."""
    log(f"{spec.name}:")
    park, prepare_s = prepare(spec, out)
    drawn = drawn_ids(park)
    kinds = Counter(park.get(node_id).kind for node_id in drawn)
    log(f"  {len(drawn):,} drawn nodes ({', '.join(f'{k} {n:,}' for k, n in kinds.most_common())}), "
        f"{len(park.batches):,} batches, {sum(len(b.payload) for b in park.batches) / 1e6:.1f} MB of geometry; "
        f"generate/compile/cache {prepare_s:.1f} s")
    index = node_index(park)
    choices = {"devices": round_robin([b for b in park.batches if b.category.startswith("devices:")], CHANGE_NODES),
               "wide": round_robin(park.batches, CHANGE_NODES)}
    changes = {key: change_cost(index, ids, repeat) for key, ids in choices.items()}
    sessions = Sessions(park)
    with BackgroundServer(park, page=sessions.page) as server:
        first = Session(browser, server.url)
        cold = first.open()
        live = {key: live_change(first, sessions, ids, LIVE_REPEAT, changes[key]["bytes"])
                for key, ids in choices.items()}
        first.close()
        second = Session(browser, server.url)
        warm = second.open()
        second.close()
    result = {"spec": str(spec), "drawn": len(drawn), "kinds": dict(kinds), "batches": len(park.batches),
              "elements": kinds.get("element", 0), "prepare_s": prepare_s, "cold": cold, "warm": warm,
              "bytes": dict(cold.pop("bytes")), "ws_bytes": cold.pop("ws_bytes"),
              "off_host": first.off_host + second.off_host, "changes": changes, "live": live}
    log(f"  session: {json.dumps({k: result[k] for k in ('cold', 'warm', 'bytes', 'ws_bytes', 'live')})}")
    return result


def at(*path: str) -> Callable[[dict], float]:
    """The figure at ``path`` in a result."""
    return lambda result: reduce(getitem, path, result)


def table(small: dict, large: dict) -> None:
    def row(label: str, pick: Callable[[dict], float], fmt: str = "{:,.0f}") -> None:
        s, g = pick(small), pick(large)
        ratio = f"{g / s:.2f}" if s else "-"
        print(f"| {label} | {fmt.format(s)} | {fmt.format(g)} | {ratio} |")

    mb = ms = "{:,.2f}"
    print("| metric | small | large | large/small |\n|---|---|---|---|")
    row("drawn nodes", lambda r: r["drawn"])
    row("of which IFC elements", lambda r: r["elements"])
    row("render batches", lambda r: r["batches"])
    row("actors in the renderer", lambda r: r["cold"]["actors"])
    row("session start: page + scripts (MB)", lambda r: r["bytes"].get("page", 0) / 1e6, mb)
    row("session start: geometry (MB, gzip)", lambda r: r["bytes"].get("geometry", 0) / 1e6, mb)
    row("session start: websocket (MB)", lambda r: r["ws_bytes"] / 1e6, mb)
    row("time to first frame (ms from navigation)", lambda r: r["cold"]["first_ms"])
    row("  of which the viewport's fetch → first batch (ms)", lambda r: r["cold"]["viewport_first_ms"])
    row("all batches drawn (ms from navigation)", lambda r: r["cold"]["ready_ms"])
    row("renderer main thread busy until all drawn (s)", lambda r: r["cold"]["task_s"], ms)
    row("  of which running JavaScript (s)", lambda r: r["cold"]["script_s"], ms)
    row("second session: first frame (ms)", lambda r: r["warm"]["first_ms"])
    row("second session: all drawn (ms)", lambda r: r["warm"]["ready_ms"])
    for key, label in CHOICES.items():
        row(f"{label}: nodes changed", at("changes", key, "nodes"))
        row(f"{label}: batches touched", at("changes", key, "batches"))
        row(f"{label}: bytes", at("changes", key, "bytes"))
        row(f"{label}: index lookup (ms)", at("changes", key, "lookup_ms"), ms)
        row(f"{label}: Bokeh serialisation (ms)", at("changes", key, "encode_ms"), ms)
        row(f"{label}: server time (ms)", at("changes", key, "server_ms"), ms)
        row(f"{label}, live: websocket bytes", at("live", key, "ws_bytes"))
        row(f"{label}, live: Viewport.style (ms)", at("live", key, "style_ms"), ms)
        row(f"{label}, live: until the page received {LIVE_REPEAT} (s)", at("live", key, "received_s"), ms)


def goals(small: dict, large: dict) -> bool:
    """Print each goal with ✓ or ✗; whether all are met."""
    checks = [("actors == batches on both parks (grow with batches, not nodes)",
               all(r["cold"]["actors"] == r["batches"] == r["cold"]["loaded"] for r in (small, large)))]
    for key, label in CHOICES.items():
        goal = f"{label}: ≤ {CHANGE_MS_GOAL:g} ms of server time on both parks (lookup + serialisation, and live)"
        worst_ms = max(max(r["changes"][key]["server_ms"], r["live"][key]["style_ms"]) for r in (small, large))
        checks.append((goal, worst_ms <= CHANGE_MS_GOAL))
    checks += [
        ("1,000 devices changed weigh the same on both parks (within 5 %)",
         abs(large["changes"]["devices"]["bytes"] / small["changes"]["devices"]["bytes"] - 1) <= 0.05),
        ("no geometry in a change (asserted on every message), no request off the host",
         not small["off_host"] and not large["off_host"]),
        (f"the large park has ≥ 100,000 drawn nodes ({large['drawn']:,})", large["drawn"] >= 100_000),
    ]
    for label, ok in checks:
        print(f"{'✓' if ok else '✗'} {label}")
    return all(ok for _, ok in checks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "viewer",
                    help="where the parks and their compile cache are kept between runs")
    ap.add_argument("--repeat", type=int, default=50, help="runs of each change timing (median)")
    ap.add_argument("--small", type=spec_arg, default=SMALL, help=f"baseline park, BUILDINGS,IFC,STOREYS ({SMALL})")
    ap.add_argument("--large", type=spec_arg, default=LARGE, help=f"large park, BUILDINGS,IFC,STOREYS ({LARGE})")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    args = ap.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is absent: this benchmark needs the system Chromium")
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        small, large = (measure(spec, args.out, browser, args.repeat) for spec in (args.small, args.large))
        browser.close()
    print(f"small: {small['spec']}\nlarge: {large['spec']}\n")
    table(small, large)
    print()
    met = goals(small, large)
    print(f"\nbench time {time.perf_counter() - start:.0f} s (parks prepared in {small['prepare_s']:.0f} s "
          f"+ {large['prepare_s']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({"small": small, "large": large}, indent=1))
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
