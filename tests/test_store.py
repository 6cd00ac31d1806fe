"""The store package: events come back as ``Event``s, each table group's methods, the
read-only and drain connections, and the schema after the last migrations."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from edge.events import Decision, Draft, EventType, Person, Reason
from edge.store import ReadOnlyStore, Store
from edge.store.visitors import VisitRecord
from tests.ops_support import NOW, access, visitor


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "gate.db", site="sunflower", gate="main")
    yield s
    s.close()


def system(reason: Reason, ts: datetime = NOW) -> Draft:
    return Draft(type=EventType.SYSTEM, reason=reason, ts=ts)


# --- the event log ----------------------------------------------------------------------


def test_recorded_events_are_the_events_read_back(store: Store) -> None:
    draft = Draft(
        type=EventType.ACCESS,
        reason=Reason.PICKUP,
        ts=NOW.replace(microsecond=123456),  # the JSON keeps milliseconds
        decision=Decision.GRANTED,
        credential="card:0000000101",
        person=Person("G1", "guardian", "Anna"),
        children=("C1",),
        reader="entrance",
        detail={"pass_id": "p1"},
    )
    (written,) = store.record([draft])
    (read,) = store.events()
    assert read == written and read.raw == written.raw
    for field in ("id", "seq", "ts", "type", "reason", "decision", "person", "children", "hash"):
        assert getattr(read, field) == getattr(written, field), field
    assert written.ts == NOW.replace(microsecond=123000)
    assert dict(written.detail) == {"pass_id": "p1"}
    assert store.last_event() == written


def test_a_stored_event_that_cannot_be_read_is_left_out_and_logged(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    store.record(
        [access(NOW), access(NOW + timedelta(minutes=1)), access(NOW + timedelta(minutes=2))]
    )
    store.db.execute(
        "UPDATE events SET body = replace(body, '\"pickup\"', '\"parade\"') WHERE seq = 2"
    )
    with caplog.at_level(logging.WARNING):
        assert [e.seq for e in store.events()] == [1, 3]
        assert [e.seq for e in store.newest(10)] == [3, 1]
    assert "seq 2 cannot be read" in caplog.text and "parade" in caplog.text


def test_newest_filters_by_type_and_reason_newest_first(store: Store) -> None:
    store.record(
        [
            system(Reason.STARTED),
            access(NOW + timedelta(minutes=1)),
            visitor(NOW + timedelta(minutes=2)),
            access(NOW + timedelta(minutes=3)),
            system(Reason.STOPPED, NOW + timedelta(minutes=4)),
        ]
    )
    assert [e.seq for e in store.newest(10)] == [5, 4, 3, 2, 1]
    assert [e.seq for e in store.newest(1, type=EventType.ACCESS)] == [4]
    assert [e.seq for e in store.newest(10, type=EventType.SYSTEM, reason=Reason.STOPPED)] == [5]
    assert [e.seq for e in store.newest(10, skip=EventType.SYSTEM)] == [4, 3, 2]
    assert store.newest(10, type=EventType.ALARM) == []


def test_outbox_rows_go_in_runs_and_can_be_queued_again(store: Store) -> None:
    store.record([system(Reason.STARTED, NOW + timedelta(seconds=i)) for i in range(6)])
    store.outbox_done([1, 2, 3, 5])
    assert [seq for seq, _ in store.outbox_batch(10)] == [4, 6]
    assert store.outbox_requeue(2, 5) == 3  # 4 was still queued
    assert [seq for seq, _ in store.outbox_batch(10)] == [2, 3, 4, 5, 6]
    assert store.outbox_requeue(7, 9) == 0  # no such events
    assert store.outbox_depth() == 5


# --- the connections ----------------------------------------------------------------------


def test_the_drain_has_its_own_connection_committing_with_synchronous_normal(store: Store) -> None:
    drain = store.drain_connection()
    try:
        assert drain is not store and drain.db is not store.db
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert drain.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        store.record([system(Reason.STARTED)])
        drain.outbox_done([1])
        assert store.outbox_depth() == 0
    finally:
        drain.close()
    memory = Store(":memory:", site="s", gate="g")
    assert memory.drain_connection() is memory
    memory.close()


def test_a_read_only_store_cannot_write(store: Store, tmp_path: Path) -> None:
    store.record([access(NOW)])
    with ReadOnlyStore(store.path) as readonly:
        assert readonly.outbox() == (1, NOW.isoformat(timespec="milliseconds"))
        assert readonly.integrity() == "ok"
        with pytest.raises(sqlite3.OperationalError):
            readonly.db.execute("DELETE FROM outbox")
    assert store.outbox_depth() == 1
    with pytest.raises(FileNotFoundError):
        ReadOnlyStore(tmp_path / "nothing.db")
    assert not (tmp_path / "nothing.db").exists()


def test_reader_reports_oldest_first(store: Store) -> None:
    drafts = [
        Draft(EventType.SYSTEM, Reason.READER_DOWN, NOW, reader="entrance"),
        Draft(EventType.SYSTEM, Reason.BAD_READ, NOW, reader="entrance"),
        Draft(EventType.SYSTEM, Reason.READER_UP, NOW + timedelta(seconds=5), reader="entrance"),
    ]
    store.record(drafts)
    with ReadOnlyStore(store.path) as readonly:
        reports = readonly.reader_reports()
    assert [(r, reason) for r, reason, _ in reports] == [
        ("entrance", Reason.READER_DOWN),
        ("entrance", Reason.READER_UP),
    ]


# --- feature tables -----------------------------------------------------------------------


def visit(vid: str, day: date, minutes: int = 30) -> VisitRecord:
    at = datetime.combine(day, NOW.timetz())
    due = at + timedelta(minutes=minutes)
    return VisitRecord(
        vid, day, "Zhao Min", "****002X", "h" * 64, None, "Ms Li", "meeting", minutes, at, due, "g1"
    )


def test_visit_ids_count_on_per_day_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "gate.db"
    s = Store(path, site="s", gate="g")
    assert [s.visitors.next_id(NOW.date()) for _ in range(2)] == ["V20261124-001", "V20261124-002"]
    s.close()
    s = Store(path, site="s", gate="g")
    assert s.visitors.next_id(NOW.date()) == "V20261124-003"
    assert s.visitors.next_id(NOW.date() + timedelta(days=1)) == "V20261125-001"
    s.close()


def test_the_visitor_register_keeps_registrations(store: Store) -> None:
    today, earlier = NOW.date(), NOW.date() - timedelta(days=40)
    for record in (visit("V2", today), visit("V1", today), visit("V0", earlier)):
        store.visitors.add(record)
    assert store.visitors.get("V1") == visit("V1", today)
    assert store.visitors.get("nobody") is None
    assert [v.id for v in store.visitors.of_day(today)] == ["V1", "V2"]
    assert [v.id for v in store.visitors.these(["V2", "V0", "nobody"])] == ["V0", "V2"]
    assert store.visitors.these([]) == []
    assert store.visitors.before(today, delete=False) == 1
    assert store.visitors.before(today, delete=True) == 1
    assert store.visitors.get("V0") is None
    with pytest.raises(sqlite3.IntegrityError):
        store.visitors.add(visit("V1", today))


def test_a_new_secret_or_a_disabled_account_ends_its_sessions(store: Store) -> None:
    accounts = store.accounts
    accounts.save("li", "guard", "$argon2id$one", created_at="2026-11-24T08:00:00+08:00")
    accounts.open_session("h1", "li", "csrf1", now=100.0, until=200.0)
    assert accounts.session("h1") is not None and accounts.session("h1").role == "guard"  # type: ignore[union-attr]
    accounts.save("li", "admin", "$argon2id$two", created_at="2026-11-24T09:00:00+08:00")
    assert accounts.session("h1") is None
    assert accounts.get("li").role == "admin"  # type: ignore[union-attr]
    accounts.open_session("h2", "li", "csrf2", now=300.0, until=400.0)
    assert accounts.set_disabled("li", True) and accounts.session("h2") is None
    assert not accounts.set_disabled("nobody", True)
    accounts.set_disabled("li", False)
    accounts.open_session("h3", "li", "csrf3", now=500.0, until=600.0)
    accounts.open_session("h4", "li", "csrf4", now=700.0, until=800.0)  # h3 ran out at 600
    assert accounts.session("h3") is None and accounts.session("h4") is not None
    accounts.end_session("h4")
    assert accounts.session("h4") is None


def test_nonces_are_kept_once_and_forgotten_when_old(store: Store) -> None:
    assert store.nonces.remember("abcdefgh-1", 1000, forget_before=0)
    assert not store.nonces.remember("abcdefgh-1", 1000, forget_before=0)
    assert store.nonces.remember("abcdefgh-2", 2000, forget_before=1500)  # -1 is forgotten
    assert store.nonces.count() == 1


def test_repairs_open_photo_and_close_once(store: Store) -> None:
    rid = store.repairs.open("lock", "stuck", at="2026-11-24T08:00:00+08:00", by="li")
    store.repairs.set_photo(rid, f"repair-{rid}.jpg")
    (repair,) = store.repairs.all()
    assert (repair.id, repair.photo, repair.is_open) == (rid, f"repair-{rid}.jpg", True)
    assert store.repairs.close(rid, "new relay", at="2026-11-24T09:00:00+08:00", by="wu") == "lock"
    assert store.repairs.close(rid, "again", at="2026-11-24T10:00:00+08:00", by="wu") is None
    assert store.repairs.all()[0].fix == "new relay"


def test_roll_call_ticks_per_evacuation(store: Store) -> None:
    store.rollcall.tick("E1", "child", "C1", by="li", at="10:00")
    store.rollcall.tick("E1", "child", "C1", by="wu", at="10:01")  # the first tick stands
    store.rollcall.tick("E2", "staff", "S1", by="wu", at="11:00")
    assert store.rollcall.of("E1") == {("child", "C1"): "li"}
    store.rollcall.untick("E1", "child", "C1")
    assert store.rollcall.of("E1") == {} and store.rollcall.of("E2") == {("staff", "S1"): "wu"}


def test_the_schema_has_no_used_passes_and_a_register_only_visitors_table(store: Store) -> None:
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "used_passes" not in tables and "visitors" in tables
    columns = {r[1] for r in store.db.execute("PRAGMA table_info(visitors)")}
    assert not columns & {"left_at", "out_by", "overstay_event"}
