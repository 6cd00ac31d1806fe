"""`kindergate report export`: some days of the office database as one SQLite file."""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from edge.cli import main
from edge.events import dumps
from office.export import ExportError, export
from office.ingest import Ingestor, Message
from office.reports import roster_info
from office.store import CollectorStore, open_store
from tests.collector_support import topic_of, write_config
from tests.test_reports import DAY, Day, rows

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    d = Day(tmp_path_factory.mktemp("day"))
    d.run()
    return d


def fill(store: CollectorStore, day: Day) -> None:
    ingest = Ingestor(store, "kindergate", offline_after=timedelta(minutes=2), clock=lambda: NOW)
    state = {"mode": "normal", "outbox": 0, "roster_version": 3}
    ingest.write(
        [Message(topic_of(e), dumps(e).encode()) for e in day.events]
        + [
            Message("kindergate/sunflower/main/status", b"online"),
            Message("kindergate/sunflower/main/state", json.dumps(state).encode()),
            Message("kindergate/sunflower/main/event/access", b"{broken"),
        ]
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, day: Day) -> Iterator[CollectorStore]:
    url = (
        str(tmp_path / "office.db")
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    s = open_store(url)
    fill(s, day)
    yield s
    s.close()


def write(store: CollectorStore, day: Day, out: Path, first: date = DAY, last: date = DAY) -> Any:
    return export(
        store, out, first, last, day.tz, roster=roster_info(day.roster), site="sunflower", now=NOW
    )


def query(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def test_an_export_holds_the_days_events_typed_keyed_and_indexed(
    store: CollectorStore, day: Day, tmp_path: Path
) -> None:
    out = tmp_path / "export.db"
    done = write(store, day, out, DAY - timedelta(days=1), DAY)
    assert (done.days, done.events, done.unreadable, done.gates) == (2, len(day.events), 0, 1)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    ids = [r[0] for r in query(out, "SELECT id FROM events ORDER BY id")]
    assert ids == sorted(e["id"] for e in day.events)
    columns = {r[1]: (r[2], r[5]) for r in query(out, "PRAGMA table_info(events)")}
    assert columns["id"] == ("TEXT", 1) and columns["seq"] == ("INTEGER", 0)
    assert "credential" not in columns
    pks = {r[1] for r in query(out, "PRAGMA table_info(event_children)") if r[5]}
    assert pks == {"event_id", "child_id"}
    fks = query(out, "PRAGMA foreign_key_list(event_children)")
    assert [(r[2], r[3], r[4]) for r in fks] == [("events", "event_id", "id")]
    indexed = {r[1] for r in query(out, "PRAGMA index_list(events)")}
    assert {"idx_events_local_date_local_time", "idx_events_type_reason"} <= indexed
    written = ("2026-11-23", "2026-11-24", "2026-11-24T12:00:00.000000Z", len(day.events), 0)
    assert query(out, "SELECT * FROM export") == [("sunflower", "Asia/Shanghai", *written)]


def test_an_export_answers_who_collected_whom(
    store: CollectorStore, day: Day, tmp_path: Path
) -> None:
    out = tmp_path / "export.db"
    write(store, day, out)
    first = day.guardians[0]
    child = first["children"]
    found = query(
        out,
        "SELECT e.local_time, e.reason, e.person_name, c.name FROM events e"
        " JOIN event_children ec ON ec.event_id = e.id JOIN children c ON c.child_id = ec.child_id"
        " WHERE ec.child_id = ? AND e.decision = 'granted' ORDER BY e.ts",
        (child,),
    )
    name = next(r["name"] for r in rows(day.roster, "children.csv") if r["child_id"] == child)
    assert found[0] == ("08:00:00", "dropoff", first["name"], name)
    # full-text search on names, found the way Datasette finds it
    db = sqlite_utils.Database(out)
    assert db.table("events").detect_fts() == "events_fts"
    assert db.table("children").detect_fts() == "children_fts"
    db.close()
    hits = query(
        out,
        "SELECT person_name FROM events WHERE rowid IN"
        " (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)",
        (json.dumps(first["name"]),),
    )
    assert hits and {h[0] for h in hits} == {first["name"]}
    (malformed,) = query(out, "SELECT kind, detail FROM findings")
    assert malformed[0] == "malformed" and json.loads(malformed[1])["payload"] == "{broken"
    assert query(out, "SELECT site, gate, status, outbox, roster_version FROM gates") == [
        ("sunflower", "main", "online", 0, 3)
    ]


def test_an_export_holds_no_card_number_and_no_phone(
    store: CollectorStore, day: Day, tmp_path: Path
) -> None:
    out = tmp_path / "export.db"
    write(store, day, out)
    body = out.read_bytes()
    cards = [r["card"] for name in ("guardians.csv", "staff.csv") for r in rows(day.roster, name)]
    phones = [r["phone"] for r in rows(day.roster, "guardians.csv")]
    assert cards and phones
    assert not [c for c in cards if c and c.encode() in body]
    assert not [p for p in phones if p.encode() in body]


def test_a_stored_row_that_is_not_an_event_goes_to_its_own_table(
    store: CollectorStore, day: Day, tmp_path: Path
) -> None:
    ts = "2026-11-24T16:31:00+08:00"
    ts_ms = int(datetime.fromisoformat(ts).timestamp() * 1000)
    row = ("BAD1", "sunflower", "main", None, ts, ts_ms, "access", None, None, None, "{x", ts)
    with store.transaction():
        store.insert_events([row])
    out = tmp_path / "export.db"
    done = write(store, day, out)
    assert (done.events, done.unreadable) == (len(day.events), 1)
    ((eid, error),) = query(out, "SELECT id, error FROM unreadable")
    assert eid == "BAD1" and error.startswith("not JSON")


def test_a_failed_export_leaves_the_earlier_file_whole(
    store: CollectorStore, day: Day, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "export.db"
    write(store, day, out)
    earlier = out.read_bytes()
    calls = []
    real = store.read_events

    def failing(*args: Any) -> Any:
        calls.append(args)
        if len(calls) == 2:
            raise OSError("the disk went away")
        return real(*args)

    monkeypatch.setattr(store, "read_events", failing)
    with pytest.raises(OSError, match="went away"):
        write(store, day, out, DAY, DAY + timedelta(days=1))
    assert len(calls) == 2
    assert out.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir() if "export" in p.name) == ["export.db"]


def test_bad_requests_are_refused_before_anything_is_written(
    store: CollectorStore, day: Day, tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match="before"):
        write(store, day, tmp_path / "x.db", DAY, DAY - timedelta(days=1))
    with pytest.raises(ExportError, match="folder"):
        write(store, day, tmp_path)
    if store.db.file is not None:
        with pytest.raises(ExportError, match="office database itself"):
            write(store, day, store.db.file)
    assert not (tmp_path / "x.db").exists()


def test_the_export_command(tmp_path: Path, day: Day, capsys: Any) -> None:
    database = tmp_path / "office.db"
    store = open_store(str(database))
    fill(store, day)
    store.close()
    cfg = str(write_config(tmp_path / "o", 1883, str(database), roster=day.roster))
    out = tmp_path / "out" / "days.db"
    out.parent.mkdir()
    args = ["report", "export", "--from", "2026-11-24", "--out", str(out), "-c", cfg]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: {len(day.events)} events over 1 day,")
    assert query(out, "SELECT count(*) FROM events") == [(len(day.events),)]
    refused = {
        "--to before --from": [*args, "--to", "2026-11-23"],
        "no --out": ["report", "export", "--from", "2026-11-24", "-c", cfg],
        "--date for export": [*args, "--date", "2026-11-24"],
        "--format for export": [*args, "--format", "csv"],
        "--out for a report": ["report", "day", "--out", str(out), "-c", cfg],
        "a bad date": ["report", "export", "--from", "24.11.2026", "--out", str(out), "-c", cfg],
        "the database itself": [*args[:4], "--out", str(database), "-c", cfg],
    }
    for why, argv in refused.items():
        assert main(argv) == 2, why
        assert capsys.readouterr().err.strip(), why
    unwritable = ["report", "export", "--from", "2026-11-24", "-c", cfg]
    assert main([*unwritable, "--out", str(tmp_path / "nowhere" / "x.db")]) == 1
    assert "cannot write" in capsys.readouterr().err
