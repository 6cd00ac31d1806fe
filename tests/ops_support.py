"""Helpers for the operations tests: a store full of events, a config, tampering."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.events import Decision, Draft, Event, EventType, Person, Reason, chain_hash, dumps
from edge.store import Store

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 16, 0, tzinfo=TZ)
REPO = Path(__file__).resolve().parent.parent
ROSTER = REPO / "config" / "roster"


def access(ts: datetime, child: str = "C001") -> Draft:
    return Draft(
        type=EventType.ACCESS,
        reason=Reason.PICKUP,
        ts=ts,
        decision=Decision.GRANTED,
        credential="card:0004567890",
        person=Person("G001", "guardian", "Wang Fang"),
        children=(child,),
        reader="entrance",
    )


def visitor(ts: datetime, name: str = "Zhao Lei") -> Draft:
    return Draft(
        type=EventType.VISITOR,
        reason=Reason.VISITOR_IN,
        ts=ts,
        decision=Decision.GRANTED,
        person=Person("V20261124-001", "visitor", name),
        by="guard1",
        detail={
            "id_number": "**************1234",
            "id_hash": "ab" * 32,
            "phone": "138****5678",
            "host": "Ms Li",
            "purpose": "repairs",
        },
    )


def make_store(path: Path) -> Store:
    return Store(path, site="sunflower", gate="main")


def fill(
    store: Store, count: int, *, start: datetime = NOW, step: timedelta = timedelta(minutes=1)
) -> list[Event]:
    return store.record([access(start + i * step) for i in range(count)])


def publish_all(store: Store) -> None:
    store.outbox_done([seq for seq, _ in store.outbox_batch(10**9)])


def body(db: sqlite3.Connection, seq: int) -> dict[str, Any]:
    row = db.execute("SELECT body FROM events WHERE seq = ?", (seq,)).fetchone()
    return dict(json.loads(row[0]))


def raw_db(path: Path) -> sqlite3.Connection:
    """A plain connection, as someone with the file in hand would open it."""
    return sqlite3.connect(str(path), isolation_level=None)


def edit(path: Path, seq: int, *, rehash: bool = False, **changes: Any) -> dict[str, Any]:
    """Change an event's fields in place; with ``rehash`` also make its own hash fit."""
    db = raw_db(path)
    try:
        event = body(db, seq) | changes
        if rehash:
            event["hash"] = chain_hash(event["prev_hash"], event)
        db.execute(
            "UPDATE events SET body = ?, hash = ? WHERE seq = ?", (dumps(event), event["hash"], seq)
        )
    finally:
        db.close()
    return event


def write_config(tmp: Path, extra: str = "", *, store: Path | None = None) -> Path:
    state = tmp / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    cfg = tmp / "gate.toml"
    cfg.write_text(
        f"""
[site]
id = "sunflower"
timezone = "Asia/Shanghai"
[gate]
id = "main"
[store]
path = "{store or state / "gate.db"}"
[roster]
path = "{ROSTER}"
{extra}
""",
        encoding="utf-8",
    )
    return cfg
