"""The office store and ingest, without a broker: dedup, chain check, gaps, silence.

Every test runs against SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.events import dumps
from office.checks import gaps
from office.ingest import (
    MAX_PAYLOAD,
    Ingestor,
    Message,
    chain_findings,
    parse_topic,
    seq_runs,
)
from office.store import CollectorStore, open_store
from tests.collector_support import gate_events, topic_of

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "office.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(database: str) -> Any:
    s = open_store(database)
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ingestor(store: CollectorStore, clock: Clock) -> Ingestor:
    return Ingestor(store, "kindergate", offline_after=timedelta(seconds=60), clock=clock)


def messages(events: list[dict[str, Any]]) -> list[Message]:
    return [Message(topic_of(e), dumps(e).encode(), i + 1, 1) for i, e in enumerate(events)]


def kinds(store: CollectorStore) -> list[tuple[str, str]]:
    return sorted((f["kind"], f["key"]) for f in store.findings())


def test_events_are_stored_once_however_often_they_come(
    ingestor: Ingestor, store: CollectorStore
) -> None:
    events = gate_events(50)
    ingestor.write(messages(events))
    ingestor.write(messages(events[10:30]))  # a redelivery
    ingestor.write(messages(events[:5] + events[:5]))  # twice within one batch
    assert store.count_events() == 50
    assert store.event_ids() == sorted(e["id"] for e in events)
    stored = store.read_events()
    assert [e.to_json() for e in stored.events] == events  # oldest first, the exact JSON
    assert stored.unreadable == []
    assert kinds(store) == []


def test_events_since_and_until_select_by_time_in_any_offset(
    ingestor: Ingestor, store: CollectorStore
) -> None:
    events = gate_events(8)  # 250 ms apart from 16:00 +08:00
    ingestor.write(messages(events))
    since = datetime.fromisoformat("2026-11-24T08:00:00.500+00:00")
    until = datetime.fromisoformat("2026-11-24T16:00:01.250+08:00")
    assert [e.seq for e in store.read_events(since, until).events] == [3, 4, 5]


def test_gate_row_follows_events_status_and_state(
    ingestor: Ingestor, store: CollectorStore
) -> None:
    ingestor.write(messages(gate_events(3)))
    state = {"mode": "normal", "outbox": 4, "roster_version": 7}
    ingestor.write(
        [
            Message("kindergate/sunflower/main/status", b"online", 0, 0),
            Message("kindergate/sunflower/main/state", json.dumps(state).encode(), 0, 0),
        ]
    )
    (row,) = store.gate_rows()
    assert (row.site, row.gate, row.status, row.last_seq) == ("sunflower", "main", "online", 3)
    assert row.state == state
    assert row.last_event_ts == "2026-11-24T08:00:00.500000Z"
    ingestor.write(messages(gate_events(1)))  # an old event again: nothing goes backwards
    assert store.gate_rows()[0].last_seq == 3


def test_malformed_payloads_become_findings_and_the_batch_goes_on(
    ingestor: Ingestor, store: CollectorStore
) -> None:
    good = gate_events(2)
    no_id = dict(good[1], id=None)
    bad_ts = dict(good[1], id="X1", ts="yesterday")
    naive_ts = dict(good[1], id="X2", ts="2026-11-24T16:00:00")
    bad_seq = dict(good[1], id="X3", seq="7")
    # What once took the office page down: children that are objects, not ids.
    forged = dict(good[1], id="X4", children=[{"id": "C0001", "name": "x"}])
    new_reason = dict(good[1], id="X5", reason="teleported")
    new_type = dict(good[1], id="X6", type="hologram")
    person = dict(good[1], id="X7", person={"id": 7, "kind": "guardian"})
    huge = dict(good[1], id="X8", detail={"pad": "x" * MAX_PAYLOAD})
    topic = topic_of(good[0])
    batch = [
        Message(topic, b"\xff\xfe not json", 1, 1),
        Message(topic, b"[1, 2]", 2, 1),
        Message(topic, json.dumps(good[0]).encode("utf-16"), 3, 1),
        Message(topic, b"[" * 30_000 + b"]" * 30_000, 3, 1),  # nested beyond the parser
        *(
            Message(topic, json.dumps(e).encode(), 3, 1)
            for e in (no_id, bad_ts, naive_ts, bad_seq, forged, new_reason, new_type, person, huge)
        ),
        Message("kindergate/sunflower/main/state", b"not json", 4, 1),
        Message("elsewhere/x", b"{}", 5, 1),
        *messages(good),
    ]
    ingestor.write(batch)
    ingestor.write(batch[:3])  # redelivered: recorded once
    assert store.count_events() == 2
    assert [e.id for e in store.read_events().events] == [e["id"] for e in good]
    found = store.findings("malformed")
    assert len(found) == 15
    errors = sorted(f["detail"]["error"].split(":")[0] for f in found)
    assert errors == [
        "children",
        "id",
        "not JSON",
        "not JSON",
        "not JSON",
        "not a JSON object",
        "payload",
        "person.id",  # not a string
        "reason",
        "seq",
        "state is not a JSON object",
        "ts",
        "ts",
        "type",
        "unexpected topic",
    ]
    assert all(len(f["detail"]["payload"]) <= 300 for f in found)


def test_a_tampered_event_is_stored_and_flagged(ingestor: Ingestor, store: CollectorStore) -> None:
    events = gate_events(5)
    events[2] = dict(events[2], reason="dropoff")  # content changed after sealing
    ingestor.write(messages(events))
    assert store.count_events() == 5
    assert kinds(store) == [("hash_mismatch", f"hash:{events[2]['id']}")]


def test_chain_breaks_are_found_whichever_neighbour_comes_first(
    ingestor: Ingestor, store: CollectorStore
) -> None:
    events = gate_events(6)
    forged = gate_events(1, first_seq=4, prev_hash="f" * 64)[0]  # a valid hash, wrong link
    ingestor.write(messages([events[4], events[5]]))
    ingestor.write(messages([forged]))  # seq 4 links to a seq 3 not seen yet; 5 does not link to it
    ingestor.write(messages(events[:3]))
    found = kinds(store)
    assert found == [
        ("chain_break", "chain:sunflower/main:4"),
        ("chain_break", "chain:sunflower/main:5"),
    ]
    assert store.count_events() == 6


def test_a_gate_that_restarts_its_numbering_is_flagged(
    ingestor: Ingestor, store: CollectorStore
) -> None:
    ingestor.write(messages(gate_events(3)))
    later = gate_events(2, start=datetime.fromisoformat("2026-11-25T08:00:00+08:00"))
    ingestor.write(messages(later))
    assert store.count_events() == 5
    assert {k for k, _ in kinds(store)} == {"seq_reused"}


def test_a_gap_is_recorded_when_it_lasts_and_resolved_when_filled(
    ingestor: Ingestor, store: CollectorStore
) -> None:
    events = gate_events(10)
    ingestor.write(messages(events[:4] + events[6:]))
    assert ingestor.check() == []  # maybe still in flight
    found = ingestor.check()
    assert [(f.kind, f.detail) for f in found] == [("gap", {"from": 5, "to": 6, "missing": 2})]
    assert gaps(store, "sunflower", "main") == [(5, 6)]
    assert store.findings("gap")[0]["resolved_at"] is None
    ingestor.write(messages(events[4:6]))
    ingestor.check()
    assert gaps(store, "sunflower", "main") == []
    assert store.findings("gap")[0]["resolved_at"] is not None
    assert store.gate_rows()[0].checked_seq == 10


def test_missing_first_events_count_as_a_gap(ingestor: Ingestor, store: CollectorStore) -> None:
    ingestor.write(messages(gate_events(5)[3:]))
    assert gaps(store, "sunflower", "main") == [(1, 3)]
    ingestor.check()
    assert [f.detail["to"] for f in ingestor.check()] == [3]


def test_a_gate_offline_or_unheard_for_too_long_is_recorded_once(
    ingestor: Ingestor, store: CollectorStore, clock: Clock
) -> None:
    ingestor.write([Message("kindergate/sunflower/main/status", b"online", 0, 0)])
    ingestor.write(messages(gate_events(2, gate="side")))  # no status known for this one
    clock.now += timedelta(seconds=30)
    ingestor.write([Message("kindergate/sunflower/main/status", b"offline", 0, 0)])
    assert ingestor.check() == []
    clock.now += timedelta(seconds=61)
    assert sorted(f.kind for f in ingestor.check()) == ["offline", "silent"]
    ingestor.check()
    assert sorted(f["kind"] for f in store.findings()) == ["offline", "silent"]


def test_topics_and_runs() -> None:
    assert parse_topic("kindergate", "kindergate/s/g/event/access") is not None
    assert parse_topic("kg/test", "kg/test/s/g/status") is not None
    for bad in (
        "kindergate/s/g/event",
        "kindergate/s//status",
        "other/s/g/state",
        "kindergate/s/g/cmd/open",
    ):
        assert parse_topic("kindergate", bad) is None
    assert seq_runs([5, 1, 2, 9, 7]) == [(0, 3), (4, 10)]
    assert chain_findings("s", "g", [], {1}) == []
