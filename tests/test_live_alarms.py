"""live.alarms: severities, de-duplication, condition clearing, ack and clear, filters, versions, the journal."""
from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from live.alarms import Alarm, AlarmBook, Severity, UnknownAlarm
from live.clock import ManualClock
from live.state import Status
from twin.errors import InputError

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SMOKE, TEMP = "dev:SD-101", "dev:TS-101"
MESSAGE = {"zh": "烟感报警", "en": "Smoke detected"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def book(clock) -> AlarmBook:
    return AlarmBook(None, clock)


def smoke(book: AlarmBook, seconds: float = 0, value: bool = True) -> Alarm:
    return book.raise_alarm("smoke", SMOKE, "smoke", "critical", MESSAGE, value, at(seconds))


def hot(book: AlarmBook, seconds: float = 0, value: float = 31.0, node: str = TEMP) -> Alarm:
    return book.raise_alarm("hot", node, "temperature", Severity.MINOR, {"en": "Hot"}, value, at(seconds))


def test_severities_give_node_statuses_and_rank():
    assert [s.status for s in Severity] == [Status.ALARM, Status.ALARM, Status.WARNING, Status.WARNING]
    assert max(Severity, key=lambda s: s.rank) is Severity.CRITICAL
    assert Severity.parse("major") is Severity.MAJOR and str(Severity.MINOR) == "minor"
    with pytest.raises(InputError, match="no severity 'fatal'; one of critical, major, minor, warning"):
        Severity.parse("fatal")


def test_a_raised_alarm_records_as_json_with_its_node_and_iso_times(book):
    alarm = smoke(book)
    assert alarm.active and alarm.open and not alarm.acked and alarm.count == 1
    record = alarm.record()
    assert json.loads(json.dumps(record, ensure_ascii=False)) == record
    assert record["node"] == SMOKE and record["severity"] == "critical" and record["value"] is True
    assert record["raised_at"] == "2026-03-01T08:00:00+00:00" == record["updated_at"]
    assert record["message"] == MESSAGE and record["acked_by"] is None and record["cleared_at"] is None


def test_a_repeat_updates_the_open_alarm_instead_of_adding_one(book):
    first = hot(book, 0, 31.0)
    second = hot(book, 30, 32.5)
    assert second.id == first.id and second.count == 2 and second.value == 32.5
    assert second.raised_at == at(0) and second.updated_at == at(30)
    assert [a.id for a in book.list()] == [first.id]
    other = hot(book, 40, node="dev:TS-102")  # another node: another alarm
    assert other.id != first.id and len(book.list()) == 2


def test_an_ended_condition_stays_listed_until_acknowledged(book, clock):
    alarm = smoke(book)
    assert book.clear_condition("smoke", SMOKE, at(20)) is not None
    ended = book.get(alarm.id)
    assert not ended.active and ended.ended_at == at(20) and ended.open
    assert book.clear_condition("smoke", SMOKE, at(25)) is None  # nothing active any more
    assert [a.id for a in book.list(active=False)] == [alarm.id]
    clock.advance(60)
    acked = book.ack(alarm.id, "operator-7")
    assert acked.acked_by == "operator-7" and acked.acked_at == at(60) and not acked.open
    assert book.list() == [] and [a.id for a in book.list(open=None)] == [alarm.id]


def test_an_acknowledged_alarm_stays_open_while_its_condition_holds(book, clock):
    alarm = smoke(book)
    clock.advance(5)
    assert book.ack(alarm.id, "local").open
    assert book.ack(alarm.id, "someone else").acked_by == "local"  # the first acknowledgement stands
    assert [a.id for a in book.list(active=True, unacked=False)] == [alarm.id]
    assert not book.clear_condition("smoke", SMOKE, at(30)).open
    assert smoke(book, 40).id != alarm.id  # the closed alarm is not reopened


def test_a_condition_coming_back_before_acknowledgement_reopens_the_same_alarm(book):
    alarm = smoke(book)
    book.clear_condition("smoke", SMOKE, at(10))
    again = smoke(book, 20)
    assert again.id == alarm.id and again.active and again.count == 2 and again.ended_at is None


def test_clearing_closes_an_alarm_with_principal_and_time(book, clock):
    alarm = smoke(book)
    clock.advance(90)
    cleared = book.clear(alarm.id, "operator-7")
    assert (cleared.cleared_by, cleared.cleared_at) == ("operator-7", at(90))
    assert not cleared.active and not cleared.open
    assert book.worst(SMOKE) is None and not book.is_active("smoke", SMOKE)
    assert book.clear(alarm.id, "other").cleared_by == "operator-7"
    assert smoke(book, 100).id != alarm.id  # the condition again: a new alarm


def test_unknown_ids_and_missing_principals_are_refused(book):
    with pytest.raises(UnknownAlarm, match="no alarm '99'") as caught:
        book.ack("99", "local")
    assert isinstance(caught.value, InputError) and isinstance(caught.value, KeyError)
    with pytest.raises(UnknownAlarm):
        book.clear("99", "local")
    with pytest.raises(UnknownAlarm):
        book.get("nope")
    alarm = smoke(book)
    with pytest.raises(InputError, match=f"alarm {alarm.id}: acked by whom"):
        book.ack(alarm.id, "")


def ids(alarms: list[Alarm]) -> list[str]:
    return [a.id for a in alarms]


def test_list_filters_and_newest_first(book):
    old = smoke(book, 0)
    mid = hot(book, 10)
    new = book.raise_alarm("cold", "dev:TS-201", "temperature", "warning", {}, 12.0, at(20))
    book.clear_condition("hot", TEMP, at(30))
    book.ack(new.id, "local")
    assert ids(book.list()) == [new.id, mid.id, old.id]
    assert ids(book.list(active=True)) == [new.id, old.id]
    assert ids(book.list(active=False)) == [mid.id]
    assert ids(book.list(severity="critical")) == [old.id]
    assert ids(book.list(severity=Severity.WARNING)) == [new.id]
    assert ids(book.list(node_prefix="dev:TS-")) == [new.id, mid.id]
    assert ids(book.list(unacked=True)) == [mid.id, old.id]
    assert ids(book.list(unacked=False)) == [new.id]
    assert ids(book.list(limit=1)) == [new.id]
    with pytest.raises(InputError):
        book.list(severity="fatal")


def test_changes_since_gives_what_changed_after_a_version(book, clock):
    assert book.changes_since(0) == (0, [])
    alarm = smoke(book)
    other = hot(book, 5)
    version, changed = book.changes_since(0)
    assert version == book.version == 2 and [a.id for a in changed] == [alarm.id, other.id]
    assert book.changes_since(version) == (version, [])
    book.ack(alarm.id, "local")
    version2, changed = book.changes_since(version)
    assert version2 == version + 1 and [(a.id, a.acked_by) for a in changed] == [(alarm.id, "local")]
    book.ack(alarm.id, "local")  # no change, no version
    assert book.changes_since(version2) == (version2, [])
    changed[0].acked_by = "tampered"  # callers get copies
    assert book.get(alarm.id).acked_by == "local"


def test_worst_active_severity_per_node_and_listeners(book):
    heard: list[str] = []
    book.listen(heard.append)
    hot(book)
    major = book.raise_alarm("very hot", TEMP, "temperature", "major", {}, 45.0, at(1))
    smoke(book)
    assert book.worst(TEMP) is Severity.MAJOR and book.worst("dev:nothing") is None
    assert book.worst_by_node() == {TEMP: Severity.MAJOR, SMOKE: Severity.CRITICAL}
    book.clear_condition("very hot", TEMP, at(2))
    assert book.worst(TEMP) is Severity.MINOR
    book.clear(major.id, "local")
    assert heard == [TEMP, TEMP, SMOKE, TEMP, TEMP]


def test_the_journal_survives_a_restart(tmp_path, clock):
    path = tmp_path / "live" / "alarms.sqlite"
    book = AlarmBook(path, clock)
    alarm = smoke(book)
    hot(book, 5)
    hot(book, 6, 33.0)
    clock.advance(30)
    book.ack(alarm.id, "operator-7")
    book.clear_condition("hot", TEMP, at(40))
    before = book.list(open=None)
    book.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT count(*) FROM alarms").fetchone()[0] == 2

    reopened = AlarmBook(path, clock)
    after = reopened.list(open=None)
    assert [a.record() for a in after] == [a.record() for a in before]
    assert reopened.is_active("smoke", SMOKE) and reopened.worst(SMOKE) is Severity.CRITICAL
    hot_id = next(a.id for a in after if a.rule == "hot")
    assert hot(reopened, 50).id == hot_id  # the open, unacknowledged alarm goes on
    version, changed = reopened.changes_since(0)
    assert len(changed) == 2 and version == reopened.version
    fresh = reopened.raise_alarm("cold", "dev:TS-201", "temperature", "warning", {}, 12.0, at(60))
    assert int(fresh.id) > max(int(a.id) for a in before)  # ids are never reused
    reopened.close()


def test_a_file_that_is_not_an_alarm_book_is_refused(tmp_path, clock):
    path = tmp_path / "alarms.sqlite"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(InputError, match=f"alarm book {path}: cannot open"):
        AlarmBook(path, clock)


def test_threads_raising_at_once_keep_one_alarm_per_rule_and_node(tmp_path, clock):
    book = AlarmBook(tmp_path / "alarms.sqlite", clock)
    nodes = [f"dev:TS-{i}" for i in range(8)]

    def raise_many(node: str) -> None:
        for i in range(50):
            hot(book, i, node=node)
            hot(book, i, node=TEMP)

    threads = [threading.Thread(target=raise_many, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = {a.node: a.count for a in book.list()}
    assert counts == {**{node: 50 for node in nodes}, TEMP: 400}
    assert book.version == 800
    book.close()
