"""The purge: old visitor events anonymised, old published events deleted, and the chain
still verifies, with every change declared by a chained `purge` event."""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest

import edge.ops.retention as retention
from edge.cli import main
from edge.config import RetentionConfig
from edge.events import EventType, Reason
from edge.ops.retention import purge
from edge.ops.timesync import ClockStatus, Sync
from edge.ops.verify import verify_path
from edge.store import Store
from edge.store.visitors import VisitRecord
from tests.ops_support import (
    NOW,
    access,
    body,
    edit,
    make_store,
    publish_all,
    raw_db,
    visitor,
    write_config,
)

KEEP = RetentionConfig(access_days=365, visitor_days=30, snapshot_days=30)
OLD = NOW - timedelta(days=400)  # past every retention
MONTHS = NOW - timedelta(days=40)  # past visitor_days only


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = make_store(tmp_path / "gate.db")
    # seq 1-3 very old, 4 an old visitor, 5 a month-old visitor, 6 a recent visitor, 7 recent
    s.record([access(OLD), access(OLD + timedelta(minutes=1)), access(OLD + timedelta(minutes=2))])
    s.record([visitor(OLD + timedelta(minutes=3), "Old Visitor")])
    s.record([visitor(MONTHS, "Zhao Lei")])
    s.record([visitor(NOW - timedelta(days=2), "Recent Visitor"), access(NOW)])
    publish_all(s)
    yield s
    s.close()


def test_old_events_go_visitors_are_anonymised_and_the_chain_verifies(store: Store) -> None:
    result = purge(store, KEEP, NOW)
    assert (result.deleted, result.anonymised, result.waiting) == (4, 2, 0)
    seqs = [e.seq for e in store.events()]
    assert seqs == [5, 6, 7, 8]  # 8 is the purge event
    kept = body(store.db, 5)
    assert kept["person"] == {"id": "V20261124-001", "kind": "visitor"}
    assert kept["detail"] == {"host": "Ms Li"}
    assert kept["redacted"] == NOW.isoformat(timespec="seconds")
    assert body(store.db, 6)["person"]["name"] == "Recent Visitor"
    purge_event = body(store.db, 8)
    assert (purge_event["type"], purge_event["reason"]) == ("system", "purge")
    assert purge_event["detail"]["first_kept"]["seq"] == 5
    assert [r["seq"] for r in purge_event["detail"]["redacted"]] == [4, 5]
    report = verify_path(store.path)
    assert report.ok, [str(p) for p in report.problems]
    assert (report.redacted, report.purged_before) == (1, 5)


def test_a_second_purge_changes_nothing_more(store: Store) -> None:
    purge(store, KEEP, NOW)
    again = purge(store, KEEP, NOW)
    assert (again.deleted, again.anonymised) == (0, 0)
    assert verify_path(store.path).ok


def test_unpublished_events_are_kept_and_counted(tmp_path: Path) -> None:
    s = make_store(tmp_path / "gate.db")
    s.record([access(OLD), access(OLD + timedelta(minutes=1)), visitor(MONTHS), access(NOW)])
    s.outbox_done([1])  # 2 onwards have not reached the office
    result = purge(s, KEEP, NOW)
    assert (result.deleted, result.anonymised, result.waiting) == (1, 0, 1)
    assert body(s.db, 3)["person"]["name"] == "Zhao Lei"  # the office has not got it yet
    assert verify_path(s.path).ok
    s.close()


def test_the_last_event_is_never_deleted(tmp_path: Path) -> None:
    s = make_store(tmp_path / "gate.db")
    s.record([access(OLD), access(OLD + timedelta(minutes=1))])
    publish_all(s)
    result = purge(s, KEEP, NOW)
    assert result.deleted == 1
    assert [e.seq for e in s.events()] == [2, 3]  # the purge event follows on seq 2
    assert verify_path(s.path).ok
    s.close()


def test_big_backlogs_go_in_batches_each_declared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "DELETE_BATCH", 3)
    monkeypatch.setattr(retention, "REDACT_BATCH", 2)
    s = make_store(tmp_path / "gate.db")
    s.record([access(OLD + timedelta(minutes=i)) for i in range(8)])
    s.record([visitor(MONTHS + timedelta(minutes=i)) for i in range(5)])
    publish_all(s)
    result = purge(s, KEEP, NOW)
    assert (result.deleted, result.anonymised) == (8, 5)
    assert len(result.events) == 3
    assert verify_path(s.path).ok
    s.close()


def test_deleting_past_the_declared_start_is_found(store: Store) -> None:
    purge(store, KEEP, NOW)
    store.db.execute("DELETE FROM events WHERE seq = 5")
    problems = verify_path(store.path).problems
    assert [(p.kind, p.seq) for p in problems] == [("missing", 6)]


def test_an_anonymised_event_edited_again_is_found(store: Store) -> None:
    purge(store, KEEP, NOW)
    edit(Path(store.path), 5, by="someone else")
    problems = verify_path(store.path).problems
    assert [(p.kind, p.seq) for p in problems] == [("edited", 5)]


def test_anonymising_by_hand_is_found(store: Store) -> None:
    """Only the purge's own declared changes pass."""
    purge(store, KEEP, NOW)
    db = raw_db(Path(store.path))
    db.execute("UPDATE events SET body = replace(body, 'Recent Visitor', 'X') WHERE seq = 6")
    db.close()
    assert [p.seq for p in verify_path(store.path).problems] == [6]


def test_dry_run_changes_nothing_and_predicts(store: Store) -> None:
    before = [body(store.db, s) for s in range(1, 8)]
    plan = purge(store, KEEP, NOW, dry_run=True)
    assert [body(store.db, s) for s in range(1, 8)] == before
    assert plan.events == []
    done = purge(store, KEEP, NOW)
    assert (plan.deleted, plan.anonymised) == (done.deleted, done.anonymised)


def test_visitor_register_rows_are_purged(store: Store) -> None:
    """A visit of a day before the cutoff is long over (presence is the day's, from events),
    so its registration goes whether or not a sign-out was ever recorded."""
    for vid, day in [
        ("V1", date(2026, 9, 1)),
        ("V2", date(2026, 9, 2)),
        ("V3", date(2026, 11, 20)),
    ]:
        at = datetime.combine(day, time(10), NOW.tzinfo)
        store.visitors.add(VisitRecord(vid, day, "n", "m", "h", None, "host", "p", 60, at, at, "g"))
    assert purge(store, KEEP, NOW, dry_run=True).visitor_rows == 2
    assert store.visitors.get("V1") is not None  # the dry run changed nothing
    result = purge(store, KEEP, NOW)
    assert result.visitor_rows == 2
    assert [v for v in ("V1", "V2", "V3") if store.visitors.get(v)] == ["V3"]


def test_snapshots_older_than_their_days_go(store: Store, tmp_path: Path) -> None:
    from drivers.snapshot import SnapshotStore

    shots = SnapshotStore(tmp_path / "snapshots")
    frame = np.zeros((8, 8, 3), dtype=np.uint8)
    old, new = shots.save("OLD1", frame), shots.save("NEW1", frame)
    stamp = (NOW - timedelta(days=31)).timestamp()
    os.utime(old, (stamp, stamp))
    os.utime(new, (NOW.timestamp(), NOW.timestamp()))
    assert purge(store, KEEP, NOW, snapshots=shots.directory, dry_run=True).snapshots == 1
    assert shots.list() == ["NEW1", "OLD1"]
    result = purge(store, KEEP, NOW, snapshots=shots.directory)
    assert result.snapshots == 1
    assert shots.list() == ["NEW1"]
    assert body(store.db, 8)["detail"]["snapshots"] == 1


def test_removed_personal_data_is_not_left_on_disk(tmp_path: Path) -> None:
    s = make_store(tmp_path / "gate.db")
    names = [visitor(MONTHS + timedelta(minutes=i), f"Unforgettable Name {i}") for i in range(20)]
    s.record([*names, access(NOW)])
    publish_all(s)
    s.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the names are in the database file
    s.db.execute("PRAGMA secure_delete=OFF")  # as SQLite is built by default, unlike Debian
    purge(s, KEEP, NOW)
    s.close()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("gate.db"))
    assert b"Unforgettable Name" not in data
    assert b"Ms Li" in data  # what is kept is still there


def test_cli_refuses_with_an_untrusted_clock_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    s = make_store(tmp_path / "state" / "gate.db")
    s.record([access(NOW)])
    s.close()
    unsynced = ClockStatus(Sync.UNSYNCED, "test clock")
    monkeypatch.setattr("edge.ops.timesync.check", lambda: unsynced)
    assert main(["purge", "-c", str(cfg)]) == 1
    assert "clock not trusted" in capsys.readouterr().err
    assert main(["purge", "-c", str(cfg), "--dry-run"]) == 0
    assert "would delete 0 old events" in capsys.readouterr().out
    assert main(["purge", "-c", str(cfg), "--force"]) == 0
    assert "recorded 1 purge event" in capsys.readouterr().out
    events = list(make_store(tmp_path / "state" / "gate.db").events())
    assert [(e.type, e.reason) for e in events][-1] == (EventType.SYSTEM, Reason.PURGE)


def test_cli_with_no_store_yet_has_nothing_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    assert main(["purge", "-c", str(cfg), "--force"]) == 0
    assert "nothing to purge" in capsys.readouterr().out
    assert not (tmp_path / "state" / "gate.db").exists()
