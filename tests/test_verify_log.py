"""verify-log: an intact chain passes; an edit, an insertion or a deletion is found and placed."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.cli import main
from edge.events import Event, chain_hash, dumps
from edge.ops.verify import Problem, verify_path
from tests.ops_support import body, edit, fill, make_store, raw_db, write_config


@pytest.fixture
def log(tmp_path: Path) -> tuple[Path, list[Event]]:
    path = tmp_path / "gate.db"
    store = make_store(path)
    events = fill(store, 6)
    store.close()
    return path, events


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_an_intact_log_passes(log: tuple[Path, list[Event]]) -> None:
    path, _ = log
    report = verify_path(path)
    assert report.ok, report.problems
    assert (report.events, report.first_seq, report.last_seq) == (6, 1, 6)
    assert report.summary().endswith("chain intact")


def test_an_empty_log_passes(tmp_path: Path) -> None:
    make_store(tmp_path / "gate.db").close()
    report = verify_path(tmp_path / "gate.db")
    assert report.ok and report.events == 0


def test_an_edited_event_is_named(log: tuple[Path, list[Event]]) -> None:
    path, events = log
    edit(path, 3, reason="staff")
    problem = only(verify_path(path).problems)
    assert (problem.kind, problem.seq, problem.id) == ("edited", 3, events[2].id)


def test_an_edited_and_rehashed_event_breaks_the_next_link(
    log: tuple[Path, list[Event]],
) -> None:
    path, events = log
    edit(path, 3, rehash=True, children=["C999"])
    problem = only(verify_path(path).problems)
    assert (problem.kind, problem.seq) == ("broken", 4)
    assert f"seq 3 ({events[2].id})" in problem.message


def test_an_edited_column_is_found(log: tuple[Path, list[Event]]) -> None:
    path, _ = log
    db = raw_db(path)
    db.execute("UPDATE events SET reason = 'staff', id = 'X' WHERE seq = 2")
    db.close()
    problem = only(verify_path(path).problems)
    assert (problem.kind, problem.seq, problem.id) == ("edited", 2, "X")


def test_a_deleted_event_is_placed(log: tuple[Path, list[Event]]) -> None:
    path, events = log
    db = raw_db(path)
    db.execute("DELETE FROM outbox WHERE seq = 4")
    db.execute("DELETE FROM events WHERE seq = 4")
    db.close()
    problem = only(verify_path(path).problems)
    assert (problem.kind, problem.seq, problem.id) == ("missing", 5, events[4].id)
    assert problem.message == f"seq 4 deleted after seq 3 ({events[2].id})"


def test_deleted_first_events_are_found(log: tuple[Path, list[Event]]) -> None:
    path, events = log
    db = raw_db(path)
    db.execute("DELETE FROM outbox WHERE seq <= 2")
    db.execute("DELETE FROM events WHERE seq <= 2")
    db.close()
    problem = only(verify_path(path).problems)
    assert (problem.kind, problem.seq, problem.id) == ("missing", 3, events[2].id)


def test_an_inserted_event_is_placed(log: tuple[Path, list[Event]]) -> None:
    """A forged event with a sound hash, slotted in by renumbering the rows after it."""
    path, events = log
    db = raw_db(path)
    db.execute("DELETE FROM outbox")
    for seq in (6, 5, 4):
        db.execute("UPDATE events SET seq = seq + 1 WHERE seq = ?", (seq,))
    forged = dict(body(db, 3))
    forged.update(seq=4, id="FORGED", ts=events[2].json["ts"], prev_hash=events[2].hash)
    forged["hash"] = chain_hash(forged["prev_hash"], forged)
    db.execute(
        "INSERT INTO events (seq, id, ts, type, reason, body, hash) VALUES (4, 'FORGED', ?, 'access', 'pickup', ?, ?)",
        (forged["ts"], dumps(forged), forged["hash"]),
    )
    db.close()
    problems = verify_path(path).problems
    inserted = [p for p in problems if p.kind == "inserted"]
    assert [(p.seq, p.id) for p in inserted] == [(4, "FORGED")]
    assert f"seq 3 ({events[2].id})" in inserted[0].message
    # the renumbered rows no longer agree with their own bodies
    assert sorted(p.seq for p in problems if p.kind == "edited") == [5, 6, 7]


def test_an_event_with_a_wrong_prev_hash_between_good_ones_is_inserted(
    log: tuple[Path, list[Event]],
) -> None:
    """Seen from the event after it: that one still links to the event before."""
    path, _ = log
    db = raw_db(path)
    db.execute("DELETE FROM outbox")
    db.execute("DELETE FROM events WHERE seq = 6")
    db.execute("UPDATE events SET seq = 6 WHERE seq = 5")
    forged = dict(body(db, 4))
    forged.update(seq=5, id="FORGED", prev_hash="f" * 64)
    forged["hash"] = chain_hash(forged["prev_hash"], forged)
    db.execute(
        "INSERT INTO events (seq, id, ts, type, reason, body, hash) VALUES (5, 'FORGED', '', 'access', 'pickup', ?, ?)",
        (dumps(forged), forged["hash"]),
    )
    db.close()
    problems = verify_path(path).problems
    assert ("inserted", 5, "FORGED") in [(p.kind, p.seq, p.id) for p in problems]


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path)
    store = make_store(tmp_path / "state" / "gate.db")
    fill(store, 3)
    store.close()
    assert main(["verify-log", "-c", str(cfg)]) == 0
    assert "3 events, seq 1..3: chain intact" in capsys.readouterr().out
    edit(tmp_path / "state" / "gate.db", 2, reason="staff")
    assert main(["verify-log", "-c", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "1 problem(s)" in out and "seq 2 (" in out and "edited" in out


def test_cli_without_a_store_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path)
    assert main(["verify-log", "-c", str(cfg)]) == 1
    assert "no store" in capsys.readouterr().err
