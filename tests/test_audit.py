"""The hash-chained audit log: records, the chain across months, tampering named, the REST route, the CLI."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import run_twin
from live.clock import ManualClock
from twin.audit_log import GENESIS, AuditLog, record_hash
from twin.cli import main
from twin.park import Park
from twin.web import api
from twin.web.access import LOCAL, AccessDenied, Principal, audit_log, audit_path, check, session_remote
from twin.web.admin import AdminPage
from twin.web.server import BackgroundServer

START = datetime(2026, 12, 28, 23, 59, 58, tzinfo=UTC)
MONTHS = ("2026-12", "2027-01", "2027-02")
VISITOR = Principal("visitor", frozenset({"scene.read"}))


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def write_lines(path: Path, rows: list[str]) -> None:
    path.write_text("".join(row + "\n" for row in rows), encoding="utf-8")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def three_months(tmp_path, clock) -> AuditLog:
    """Three records in each of December, January and February, on the month's last three days."""
    log = AuditLog(tmp_path / "audit", now=clock.now)
    for month, last_day in ((datetime(2026, 12, 29, tzinfo=UTC), 31), (datetime(2027, 1, 29, tzinfo=UTC), 31),
                            (datetime(2027, 2, 26, tzinfo=UTC), 28)):
        for n in range(3):
            clock.advance((month.replace(day=last_day - 2 + n) - clock.now()).total_seconds())
            log.append(f"user{n}", "node.read", f"ifc:{month:%m}-{n}", "allowed", "10.0.0.1")
    return log


# --- records and their chain ------------------------------------------------------------------------
def test_records_chain_and_carry_who_what_where_and_when(tmp_path, clock):
    log = AuditLog(tmp_path / "audit", now=clock.now)
    written = [log.append("local", "node.read", "ifc:x", "allowed", "127.0.0.1"),
               log.append("visitor", "alarm.ack", "alarm/7", "denied")]
    records = [json.loads(line) for line in lines(tmp_path / "audit" / "2026-12.jsonl")]
    assert records == written
    assert list(records[0]) == ["ts", "user", "action", "target", "remote", "outcome", "prev", "hash"]
    assert records[0]["ts"] == "2026-12-28T23:59:58.000+00:00"
    assert (records[1]["user"], records[1]["action"], records[1]["target"], records[1]["remote"],
            records[1]["outcome"]) == ("visitor", "alarm.ack", "alarm/7", "", "denied")
    assert records[0]["prev"] == GENESIS and records[1]["prev"] == records[0]["hash"]
    assert all(r["hash"] == record_hash(r["prev"], r) for r in records)


def test_the_chain_continues_across_a_month_boundary(three_months):
    files = three_months.files()
    assert [p.stem for p in files] == list(MONTHS)
    for before, after in zip(files, files[1:]):
        assert json.loads(lines(after)[0])["prev"] == json.loads(lines(before)[-1])["hash"]


def test_a_new_log_on_the_folder_continues_from_the_tail(three_months, clock):
    """A restarted server (or a second writer) reads the last hash from the newest file."""
    other = AuditLog(three_months.folder, now=clock.now)
    other.append("local", "app.view", "park/x", "allowed")
    three_months.append("local", "app.view", "park/x", "allowed")  # after the other writer: reads the tail again
    assert three_months.verify().line() == "audit: 11 records in 3 files, chain intact"


OTHER_WRITER = """import sys
from pathlib import Path
from twin.audit_log import AuditLog
log, done, i = AuditLog(Path(sys.argv[1])), Path(sys.argv[2]), 0
while not done.exists():  # until the threads have finished: the writers overlap however loaded the machine
    log.append("other", "geometry.read", f"geometry/{i}", "allowed")
    i += 1
"""


def append_many(log: AuditLog, user: str, n: int) -> None:
    for i in range(n):
        log.append(user, "geometry.read", f"geometry/{i}", "allowed")


def test_threads_and_another_process_appending_at_once_keep_the_chain(tmp_path):
    log, done = AuditLog(tmp_path / "audit"), tmp_path / "done"
    other = subprocess.Popen([sys.executable, "-c", OTHER_WRITER, str(log.folder), str(done)])
    while other.poll() is None and not log.files():
        time.sleep(0.01)  # until the other process writes
    workers = [threading.Thread(target=append_many, args=(log, f"u{n}", 300)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.touch()
    assert other.wait(60) == 0
    users = [json.loads(line)["user"] for line in lines(log.files()[0])]
    assert users[0] == "other" and "other" in users[users.index("u0"):], "the process and the threads interleaved"
    assert log.verify().line() == f"audit: {len(users)} records in 1 files, chain intact"
    assert users.count("u0") == users.count("u1") == users.count("u2") == 300


# --- verify: an untouched log passes, every tampering is named --------------------------------------
def test_verify_passes_on_an_untouched_log(three_months):
    assert three_months.verify().line() == "audit: 9 records in 3 files, chain intact"
    assert AuditLog(three_months.folder / "none").verify().line() == "audit: 0 records in 0 files, chain intact"


def test_a_quiet_month_without_a_file_is_no_break(tmp_path, clock):
    log = AuditLog(tmp_path / "audit", now=clock.now)
    log.append("local", "app.view", "park/x", "allowed")
    clock.advance(40 * 86_400)  # nothing at all in January
    log.append("local", "app.view", "park/x", "allowed")
    assert [p.stem for p in log.files()] == ["2026-12", "2027-02"]
    assert log.verify().intact


def test_a_record_still_being_written_is_no_break(three_months):
    with (three_months.folder / "2027-02.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"ts": "2027-02-28T')
    assert three_months.verify().line() == "audit: 9 records in 3 files, chain intact"


def edit_field(folder: Path) -> None:
    rows = lines(folder / "2027-01.jsonl")
    rows[1] = rows[1].replace('"user1"', '"admin"')
    write_lines(folder / "2027-01.jsonl", rows)


def delete_line(folder: Path) -> None:
    rows = lines(folder / "2027-01.jsonl")
    write_lines(folder / "2027-01.jsonl", rows[:1] + rows[2:])


def swap_lines(folder: Path) -> None:
    rows = lines(folder / "2027-01.jsonl")
    write_lines(folder / "2027-01.jsonl", [rows[0], rows[2], rows[1]])


def garble_line(folder: Path) -> None:
    rows = lines(folder / "2027-01.jsonl")
    write_lines(folder / "2027-01.jsonl", [rows[0], rows[1][:-9], rows[2]])


def remove_month(folder: Path) -> None:
    (folder / "2027-01.jsonl").unlink()


@pytest.mark.parametrize("tamper, problem", [
    (edit_field, "audit/2027-01.jsonl line 2: hash mismatch (the record was changed)"),
    (delete_line, "audit/2027-01.jsonl line 2: prev mismatch (a record before it was deleted, moved or changed)"),
    (swap_lines, "audit/2027-01.jsonl line 2: prev mismatch (a record before it was deleted, moved or changed)"),
    (garble_line, "audit/2027-01.jsonl line 2: unreadable JSON or not an audit record"),
    (remove_month, "audit/2027-02.jsonl line 1: month file 2027-01.jsonl missing between 2026-12.jsonl and "
                   "2027-02.jsonl"),
])
def test_tampering_is_detected_and_named(three_months, tamper, problem):
    tamper(three_months.folder)
    verdict = three_months.verify()
    assert not verdict.intact and verdict.problem == problem
    assert verdict.line().startswith(f"audit: chain broken at {problem}; the ")


# --- the door: check() writes the record, with the client's address ---------------------------------
def test_check_audits_into_this_months_file_with_the_remote(twin_home):
    check(LOCAL, "node.read", "ifc:x", remote="192.0.2.1")
    with pytest.raises(AccessDenied):
        check(VISITOR, "node.read", "ifc:y")
    *_, allowed, denied = (json.loads(line) for line in lines(audit_path()))
    assert audit_path().parent == twin_home / "audit" and audit_path().stem == datetime.now(UTC).strftime("%Y-%m")
    assert (allowed["user"], allowed["remote"], denied["user"], denied["remote"]) == ("local", "192.0.2.1",
                                                                                      "visitor", "")


def test_an_app_sessions_remote_comes_from_its_request(twin_home):
    from panel.io.state import set_curdoc

    assert session_remote() == ""
    session = SimpleNamespace(session_context=SimpleNamespace(request=SimpleNamespace(remote_ip="10.1.2.3")))
    with set_curdoc(session):
        assert session_remote() == "10.1.2.3"
        check(LOCAL, "view.home", "park/x")
    assert json.loads(lines(audit_path())[-1])["remote"] == "10.1.2.3"


# --- GET /api/audit -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(twin_home):
    with BackgroundServer(Park("审计园区 Audit park")) as running:
        yield running


def get(server: BackgroundServer, path: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(server.url + path, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_route_lists_records_newest_first_with_the_remote(server):
    assert get(server, "/api/scene")[0] == 200
    status, rows = get(server, "/api/audit")
    assert status == 200 and list(rows[0]) == ["ts", "user", "action", "target", "remote", "outcome"]
    assert [(r["action"], r["target"]) for r in rows[:2]] == [("audit.read", "audit"),
                                                              ("scene.read", "park/审计园区 Audit park")]
    assert rows[0]["remote"] == "127.0.0.1" and rows[0]["ts"] >= rows[1]["ts"]


def test_the_route_filters_by_time_user_action_and_limit(server, monkeypatch):
    get(server, "/api/scene")
    monkeypatch.setattr(api, "current_principal", lambda request=None: VISITOR)
    assert get(server, "/api/audit")[0] == 403  # a visitor may not read the log, and that is audited too
    monkeypatch.undo()
    rows = get(server, "/api/audit?user=visitor")[1]
    assert [(r["action"], r["outcome"]) for r in rows][:1] == [("audit.read", "denied")]
    assert all(r["user"] == "visitor" for r in rows)
    assert {r["action"] for r in get(server, "/api/audit?action=scene.read")[1]} == {"scene.read"}
    assert len(get(server, "/api/audit?limit=2")[1]) == 2
    query = urllib.parse.urlencode({"since": "2000-01-01", "until": "2000-12-31T23:59:59+08:00"})
    assert get(server, f"/api/audit?{query}")[1] == []
    everything = get(server, "/api/audit")[1]
    newest = everything[0]["ts"]
    since = get(server, "/api/audit?" + urllib.parse.urlencode({"since": newest}))[1]
    assert 2 <= len(since) < len(everything) and all(r["ts"] >= newest for r in since)
    until = get(server, "/api/audit?" + urllib.parse.urlencode({"until": everything[1]["ts"]}))[1]
    assert until[0]["ts"] <= everything[1]["ts"] and len(until) >= len(everything) - 1


def test_an_app_pages_checks_carry_its_sessions_remote(server):
    with urllib.request.urlopen(server.url + "/admin", timeout=30) as response:
        assert response.status == 200
    viewed = get(server, "/api/audit?action=page.admin&limit=1")[1][0]
    shown = get(server, "/api/audit?action=audit.read&user=local")[1]
    assert (viewed["target"], viewed["remote"]) == ("park/审计园区 Audit park/admin", "127.0.0.1")
    assert ("audit?limit=50", "127.0.0.1") in {(r["target"], r["remote"]) for r in shown}  # the admin page's table


@pytest.mark.parametrize("query, parameter", [
    ("since=yesterday", "since"), ("until=2026-13-01", "until"), ("limit=0", "limit"), ("limit=x", "limit"),
    ("limit=10001", "limit"),
])
def test_a_bad_parameter_is_400_and_one_line(server, query, parameter):
    status, error = get(server, f"/api/audit?{query}")
    assert status == 400 and list(error) == ["error"]
    assert error["error"].startswith(f"{parameter}: ") and "\n" not in error["error"]


# --- the admin page and the CLI ------------------------------------------------------------------------
def test_the_verdict_never_waits_for_the_verifier(three_months):
    assert three_months.verdict() is None, "the first ask starts the verifier and answers at once"
    verdict = settled_verdict(three_months)
    assert verdict.intact and verdict.records == 9
    edit_field(three_months.folder)
    assert three_months.verdict() is verdict, "a fresh verdict is reused"
    assert not settled_verdict(three_months, max_age_s=0).intact, "a stale one is verified again"


def settled_verdict(log: AuditLog, max_age_s: float = 600):
    """The verdict once the verifier it starts has finished."""
    first, deadline = log.verdict(max_age_s), time.monotonic() + 30
    while (verdict := log.verdict(max_age_s=600)) is first and time.monotonic() < deadline:
        time.sleep(0.02)
    return verdict


def test_the_admin_page_shows_the_latest_records_and_the_chain_status(twin_home):
    check(LOCAL, "node.read", "ifc:for-the-admin")
    html = AdminPage(Park("审计园区 Audit park"), None, "en").audit.object
    assert "Verifying the audit chain" in html or "chain intact" in html
    settled_verdict(audit_log())
    html = AdminPage(Park("审计园区 Audit park"), None, "en").audit.object
    assert "Audit log" in html and "chain intact" in html and "ifc:for-the-admin" in html
    assert html.count("<tr>") <= 51


def test_cli_verify_names_the_break_and_exits_1(three_months, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(three_months.folder, copy / "audit")
    assert main(["audit", "verify", "--home", str(copy)]) == 0
    edit_field(copy / "audit")
    done = run_twin("audit", "verify", "--home", copy)
    assert done.returncode == 1
    assert done.stdout.splitlines() == ["audit: chain broken at audit/2027-01.jsonl line 2: hash mismatch (the record "
                                        "was changed); the 4 records before it are intact"]
    assert main(["audit", "verify", "--home", str(tmp_path / "nowhere")]) == 2
