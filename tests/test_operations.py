"""Operations (issue 9): ``/healthz``, pages that reload after a restart, ``twin backup`` and ``twin
restore``, nothing acknowledged lost when the server is killed, and a service stop that leaves nothing
running. A one-detector park on the run's Mosquitto keeps it quick."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import ROOT, TWIN, needs_chromium, run_twin
from live import runtime
from live.runtime import Live, live_folder
from test_live_app import needs_clients, now_iso, publish
from twin.backup import backup, restore
from twin.errors import InputError
from twin.park import Node, Park
from twin.ports import free_port
from twin.scene import read_scene
from twin.web.access import data_dir
from twin.web.health import history_problem
from twin.web.server import BackgroundServer

ARTIFACTS = ROOT / "tests" / "artifacts"
DETECTOR = "SD-OPS-1"
SCENE_TOML = """name = "运维园区 Ops"
crs = "EPSG:4549"
origin = [640060.0, 3457410.0, 4.0]

[[live.device_types]]
type = "smoke_detector"
heartbeat_s = 600.0
[live.device_types.metrics.smoke]
kind = "boolean"

[[live.bindings]]
topic = "park/{device}/telemetry"

[[live.rules]]
key = "smoke"
device_type = "smoke_detector"
metric = "smoke"
equals = true
severity = "critical"
message = { zh = "烟感报警", en = "Smoke detected" }
workorder = "urgent"
"""


def ops_park(name: str) -> Park:
    """A park of one smoke detector."""
    park = Park(name, origin_m=(640060.0, 3457410.0, 4.0), crs="EPSG:4549")
    park.add(Node(f"dev:{DETECTOR}", "device", "烟感 1", parent="park", code=DETECTOR,
                  properties_loader=lambda: {"device": {"type": "smoke_detector"}},
                  bounds_m=(0.0, 0.0, 2.8, 0.2, 0.2, 3.0)))
    return park


def ops_live(scene: Path, name: str, broker_url: str, folder: Path | None = None) -> Live:
    """The park's live side (not started) on ``broker_url``, its smoke rule opening urgent orders."""
    return Live(ops_park(name), read_scene(scene).live, broker_url=broker_url, folder=folder)


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ops_scene")
    (folder / "scene.toml").write_text(SCENE_TOML, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def live(scene, mosquitto, twin_home):
    with ops_live(scene, "运维园区 Ops", mosquitto.url) as running:
        assert running.ingest.wait_ready(10)
        yield running


@pytest.fixture(scope="module")
def server(live):
    with BackgroundServer(live.park, live=live) as running:
        yield running


def healthz(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- /healthz ------------------------------------------------------------------------------------------
def test_healthz_answers_ok_with_the_boot_and_writes_no_audit_record(server, live, twin_home):
    audit_before = files_under(twin_home)
    status, found = healthz(server.url)
    assert status == 200
    assert set(found) == {"status", "boot", "started_at", "uptime_s", "resident_mb", "workers_mb", "park", "live"}
    assert 50 < found["resident_mb"] < 100_000, "the server's own resident memory, MB"
    assert found["workers_mb"] >= 0, "its worker processes' (none, or the camera pictures' and drills')"
    assert found["status"] == "ok" and found["park"] == "运维园区 Ops" and len(found["boot"]) == 16
    assert datetime.fromisoformat(found["started_at"]) <= datetime.now(UTC) and found["uptime_s"] >= 0
    assert found["live"] == {"broker": "connected", "history": "ok",
                             "alarms_active": len(live.alarms.list(active=True))}
    assert healthz(server.url)[1]["boot"] == found["boot"], "one boot id for the whole run of a server"
    assert files_under(twin_home) == audit_before, "probes are not audited"


def test_healthz_is_degraded_503_when_the_broker_is_down_or_history_unwritable(scene, tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "READY_TIMEOUT_S", 0.2)
    dead = ops_live(scene, "断线园区", f"mqtt://127.0.0.1:{free_port()}", tmp_path / "live").start()
    try:
        with BackgroundServer(dead.park, live=dead) as server:
            status, found = healthz(server.url)
            assert (status, found["status"]) == (503, "degraded")
            assert found["live"] == {"broker": "disconnected", "history": "ok", "alarms_active": 0}
            dead.history.close()
            (tmp_path / "live" / "history.sqlite").unlink()
            status, found = healthz(server.url)
            assert status == 503 and found["live"]["history"] == "unable to open database file"
    finally:
        dead.stop()
    assert history_problem(tmp_path / "no such folder" / "history.sqlite") == "unable to open database file"


# --- nothing acknowledged is lost ------------------------------------------------------------------------
CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from test_operations import ops_live
live = ops_live(Path(sys.argv[2]), "崩溃园区", sys.argv[3], Path(sys.argv[4])).start()
print("ready", flush=True)
while not live.alarms.list(active=True):
    time.sleep(0.05)
alarm = live.alarms.ack(live.alarms.list(active=True)[0].id, "张工")
order = live.workorders.list()[0]
live.workorders.update(order.id, status="in_progress", note="到场处理", by="张工")
order = live.workorders.attach(order.id, "现场.jpg", bytes(range(256)), by="张工")
print(json.dumps({"alarm": alarm.record(), "order": order.record()}, ensure_ascii=False), flush=True)
time.sleep(600)
"""


@needs_clients
def test_nothing_acknowledged_is_lost_when_the_server_is_killed(scene, mosquitto, tmp_path):
    folder = tmp_path / "live"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(ROOT / "tests"), str(scene), mosquitto.url, str(folder)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n", child.stderr.read()
        publish(mosquitto.url, f"park/{DETECTOR}/telemetry", json.dumps({"ts": now_iso(), "smoke": True}))
        acknowledged = json.loads(child.stdout.readline() or child.stderr.read())
    finally:
        child.send_signal(signal.SIGKILL)  # a crash: no stop, no close
        child.wait(10)
    assert acknowledged["alarm"]["acked_by"] == "张工" and acknowledged["order"]["status"] == "in_progress"
    for restart in ("after the crash", "after a clean stop"):
        with ops_live(scene, "崩溃园区", mosquitto.url, folder) as again:
            alarm = again.alarms.get(acknowledged["alarm"]["id"]).record()
            order = again.workorders.get(acknowledged["order"]["id"])
            assert alarm == acknowledged["alarm"], restart
            assert order.record() == acknowledged["order"], restart
            assert (folder / order.attachments[0]["path"]).read_bytes() == bytes(range(256)), restart


# --- backup and restore ------------------------------------------------------------------------------------
def fill(scene: Path, name: str) -> None:
    """A park's live folder with an acknowledged alarm, a moved order with an attachment, history rows;
    and audit files (monthly and the older single file)."""
    live = ops_live(scene, name, "mqtt://127.0.0.1:1")  # never started: the books and the history only
    now = datetime.now(UTC)
    alarm = live.alarms.raise_alarm("smoke", f"dev:{DETECTOR}", "smoke", "critical", {"zh": "烟感报警"}, True, now)
    live.alarms.ack(alarm.id, "值班员")
    order = live.workorders.list()[0]
    live.workorders.update(order.id, status="resolved", note="误报，已清洁", by="张工")
    live.workorders.attach(order.id, "清洁后.jpg", b"\xff\xd8" + bytes(5000), by="张工")
    for minute in range(30):
        live.history.record(f"dev:{DETECTOR}", "smoke", minute % 2 == 0, now.replace(second=0, microsecond=0,
                                                                                     minute=minute))
    live.history.flush()
    live.stop()
    audit = data_dir() / "audit"
    audit.mkdir(exist_ok=True)
    (audit / "2026-03.jsonl").write_text('{"principal": "张工", "action": "order.update"}\n', encoding="utf-8")
    (audit.parent / "audit.jsonl").write_text('{"principal": "local", "action": "app.view"}\n', encoding="utf-8")


def snapshot(name: str) -> dict[str, object]:
    """Every row of every journal table, every attachment's and audit file's bytes."""
    folder, home = live_folder(name), data_dir()
    found: dict[str, object] = {}
    for journal in sorted(folder.glob("*.sqlite")):
        db = sqlite3.connect(journal)
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        found |= {f"{journal.name}:{t}": sorted(db.execute(f"SELECT * FROM {t}"), key=repr) for t in tables}
        db.close()
    found |= {f"attachments/{k}": v for k, v in files_under(folder / "attachments").items()}
    found |= {f"audit/{k}": v for k, v in files_under(home / "audit").items()}
    return found | {"audit.jsonl": (home / "audit.jsonl").read_bytes()}


def wipe(name: str) -> None:
    home = data_dir()
    shutil.rmtree(live_folder(name))
    shutil.rmtree(home / "audit")
    (home / "audit.jsonl").unlink()


def test_backup_wipe_restore_gives_back_every_row_attachment_and_audit_file(scene, twin_home, tmp_path):
    fill(scene, "备份园区")
    kept = snapshot("备份园区")
    assert kept["alarms.sqlite:alarms"] and kept["workorders.sqlite:workorders"] and len(kept["history.sqlite:sample"]) == 30
    users = tmp_path / "users.toml"
    users.write_text('[[users]]\nname = "张工"\n', encoding="utf-8")
    archive = tmp_path / "out" / "park.tar.gz"
    done = run_twin("backup", "备份园区", archive, "--users", users)
    assert done.returncode == 0 and f"wrote {archive}" in done.stderr, done.stderr
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[-1] == "manifest.json" and "live/attachments/1/清洁后.jpg" in names and "users/users.toml" in names
    manifest = json.loads(tarfile.open(archive).extractfile("manifest.json").read())
    assert manifest["park"] == "备份园区" and manifest["twin_version"] and set(manifest["members"]) == set(names[:-1])

    wipe("备份园区")
    back = tmp_path / "restored-users.toml"
    done = run_twin("restore", archive, "--users", back)
    assert done.returncode == 0 and "restored" in done.stderr, done.stderr
    assert snapshot("备份园区") == kept and back.read_bytes() == users.read_bytes()

    refused = run_twin("restore", archive, "--users", back)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "already there" in refused.stderr and "--force" in refused.stderr
    restore(archive, force=True, users=back)
    assert snapshot("备份园区") == kept


def rewritten(archive: Path, out: Path, change) -> Path:
    """A copy of ``archive`` with each member's bytes passed through ``change(name, data)``."""
    with tarfile.open(archive) as tar, tarfile.open(out, "w:gz") as copy:
        for member in tar.getmembers():
            data = change(member.name, tar.extractfile(member).read())
            member.size = len(data)
            copy.addfile(member, io.BytesIO(data))
    return out


def test_a_damaged_archive_is_refused_in_one_line_and_nothing_is_written(scene, twin_home, tmp_path):
    fill(scene, "损坏园区")
    archive = tmp_path / "good.tar.gz"
    backup("损坏园区", archive)
    wipe("损坏园区")
    flipped = rewritten(archive, tmp_path / "flipped.tar.gz",
                        lambda name, data: data[:100] + bytes([data[100] ^ 1]) + data[101:]
                        if name == "live/alarms.sqlite" else data)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[:-200])
    done = run_twin("restore", flipped)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"{flipped}: member live/alarms.sqlite is corrupt" in done.stderr, done.stderr
    with pytest.raises(InputError, match=f"^{truncated}: [^\n]+$"):
        restore(truncated)
    assert not live_folder("损坏园区").exists() and not (twin_home / "audit").exists(), "nothing written"


def test_restore_refuses_while_the_parks_server_runs(live, tmp_path):
    archive = tmp_path / "running.tar.gz"
    manifest = backup(live.park.name, archive)  # a running server's journals copy consistently
    assert {"live/alarms.sqlite", "live/history.sqlite", "live/workorders.sqlite"} <= set(manifest["members"])
    with pytest.raises(InputError, match="in use by a running twin server"):
        restore(archive, force=True)


# --- pages reload after a restart ------------------------------------------------------------------------
@needs_chromium
@pytest.mark.browser
def test_a_page_reloads_by_itself_when_the_server_restarts(browser, live):
    port = free_port()
    first = BackgroundServer(live.park, port=port, live=live).start()
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        for path in ("/", "/admin", "/wall"):
            page.goto(f"{first.url}{path}")
            page.wait_for_function(f"window.__twinBoot === {healthz(first.url)[1]['boot']!r}", timeout=60_000)
            assert page.locator(".twin-reconnecting").is_hidden()
        page.evaluate("window.__before = true")
        first.stop()
        page.locator(".twin-reconnecting").wait_for(state="visible", timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "operations_reconnecting.png"))
        badge = page.locator(".twin-reconnecting").bounding_box()
        assert badge["x"] + badge["width"] <= 1280 and badge["y"] + badge["height"] <= 720
        second = BackgroundServer(live.park, port=port, live=live).start()
        try:
            boot = healthz(second.url)[1]["boot"]
            page.wait_for_function(f"window.__twinBoot === {boot!r}", timeout=60_000)
            assert page.evaluate("window.__before") is None, "the page was loaded again"
            assert page.locator(".twin-reconnecting").is_hidden()
        finally:
            second.stop()
    finally:
        page.close()
        first.stop()


class Outage:
    """The page's websockets through Playwright (``route_web_socket``): :meth:`cut` closes the open ones,
    and while ``down`` every new one is refused — a network outage with the server up."""

    def __init__(self, page):
        self.down, self.open = False, []
        page.route_web_socket(lambda url: url.split("?")[0].endswith("/ws"), self.route)

    def route(self, ws) -> None:
        if self.down:
            ws.close()
            return
        ws.connect_to_server()
        self.open.append(ws)

    def cut(self, down: bool) -> None:
        self.down = down
        for ws in self.open:
            ws.close()
        self.open.clear()


@needs_chromium
@pytest.mark.browser
def test_a_page_comes_back_by_itself_after_a_network_outage_with_the_server_up(browser, live):
    with BackgroundServer(live.park, live=live) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        try:
            outage = Outage(page)
            page.goto(f"{server.url}/admin")
            page.wait_for_function("window.__twinBoot !== undefined", timeout=60_000)
            assert len(outage.open) == 1, "the page's websocket goes through the outage's route"
            page.evaluate("window.__before = true")
            outage.cut(down=True)
            page.locator(".twin-reconnecting").wait_for(state="visible", timeout=10_000)
            page.wait_for_timeout(3_000)
            outage.down = False
            page.wait_for_function("window.__before === undefined && window.__twinBoot !== undefined",
                                   timeout=60_000)
            page.locator(".twin-reconnecting").wait_for(state="hidden", timeout=15_000)
            assert len(outage.open) == 1, "the page loaded again with a new websocket"
        finally:
            page.close()


# --- stopping the service -----------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_a_service_stop_sigterm_ends_the_server_and_its_broker_cleanly(tmp_path):
    (tmp_path / "scene.toml").write_text(SCENE_TOML.split("\n\n")[0] + "\n", encoding="utf-8")  # no devices
    port = free_port()
    served = subprocess.Popen([str(TWIN), "serve", str(tmp_path), "--port", str(port), "--no-simulator"],
                              env={**os.environ, "TWIN_HOME": str(tmp_path / "home")},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and served.poll() is None:
            with contextlib.suppress(OSError):
                if healthz(f"http://127.0.0.1:{port}")[0] == 200:
                    break
            time.sleep(0.5)
        broker = children(served.pid)
        assert len(broker) == 1 and "mosquitto" in Path(f"/proc/{broker[0]}/cmdline").read_text()
        served.send_signal(signal.SIGTERM)
        assert served.wait(30) == 0, served.stderr.read()
        assert not Path(f"/proc/{broker[0]}").exists(), "the private broker stopped with the server"
    finally:
        served.kill()
