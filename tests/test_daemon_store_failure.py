"""A store that refuses writes (disk full) loses no event and stops no decision."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from drivers.base import Read
from edge.clock import VirtualClock
from edge.config import config_from_dict
from edge.daemon import Daemon
from edge.events import EventType, Reason
from tests.rosters import write_small_roster

TZ = ZoneInfo("Asia/Shanghai")


def test_events_held_while_the_store_fails_are_written_in_order_later(tmp_path: Path) -> None:
    write_small_roster(tmp_path / "roster")
    cfg = config_from_dict(
        {
            "site": {"id": "s", "timezone": "Asia/Shanghai"},
            "gate": {"id": "main"},
            "store": {"path": str(tmp_path / "gate.db")},
            "roster": {"path": str(tmp_path / "roster")},
        },
        tmp_path / "gate.toml",
    )
    daemon = Daemon(cfg, clock=VirtualClock(datetime(2026, 11, 24, 16, 5, tzinfo=TZ)))
    daemon.open()
    real = daemon.store.record
    failing = True

    def record(drafts: list[Any]) -> list[dict[str, Any]]:
        if failing:
            raise sqlite3.OperationalError("database or disk is full")
        return real(drafts)

    daemon.store.record = record  # type: ignore[method-assign]
    lock_before = daemon.io.lock_released  # type: ignore[attr-defined]
    assert daemon.record(daemon.gate.scan(Read("entrance", "card:0000000101"))) == []
    assert daemon.io.lock_released and not lock_before  # type: ignore[attr-defined]  # decided, lock moved
    assert daemon.record(daemon.gate.scan(Read("entrance", "card:0000999999"))) == []
    assert daemon.status()["unsaved"] == 2
    failing = False
    # within the retry interval a new event queues behind the held ones, in order
    assert daemon.record(daemon.gate.scan(Read("entrance", "card:0000000201"))) == []
    daemon.clock.advance(1)  # type: ignore[attr-defined]
    written = daemon.record([])
    assert [e.reason for e in written] == [Reason.PICKUP, Reason.UNKNOWN_CREDENTIAL, Reason.STAFF]
    assert [e.seq for e in written] == [1, 2, 3]
    assert daemon.status()["unsaved"] == 0
    daemon.store.close()
    daemon.io.close()


def test_revoked_passes_survive_a_restart(tmp_path: Path) -> None:
    write_small_roster(tmp_path / "roster")
    cfg = config_from_dict(
        {
            "site": {"id": "s", "timezone": "Asia/Shanghai"},
            "gate": {"id": "main"},
            "store": {"path": str(tmp_path / "gate.db")},
            "roster": {"path": str(tmp_path / "roster")},
        },
        tmp_path / "gate.toml",
    )
    first = Daemon(cfg)
    first.open()
    (event,) = first.revoke_pass("gm1", by="office")
    assert (event.type, event.reason, event.by) == (EventType.SYSTEM, Reason.REVOKED, "office")
    first.store.close()
    first.io.close()
    again = Daemon(cfg)
    again.open()
    assert "gm1" in again.gate.revoked_passes
    again.store.close()
    again.io.close()


def test_events_since_compares_instants_across_offsets(tmp_path: Path) -> None:
    from datetime import timedelta, timezone

    from edge.events import Draft
    from edge.store import Store

    store = Store(tmp_path / "s.db", site="s", gate="g")
    utc, east, west = UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))
    times = [
        datetime(2026, 11, 24, 23, 0, tzinfo=west),  # 2026-11-25 11:00 UTC
        datetime(2026, 11, 25, 9, 0, tzinfo=utc),
        datetime(2026, 11, 26, 1, 0, tzinfo=east),  # 2026-11-25 11:00 UTC
    ]
    store.record([Draft(EventType.SYSTEM, Reason.STARTED, ts) for ts in times])
    since = datetime(2026, 11, 25, 10, 0, tzinfo=utc)
    assert [e.seq for e in store.events(since)] == [1, 3]
    assert [e.seq for e in store.events()] == [1, 2, 3]
    store.close()
