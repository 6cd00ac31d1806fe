"""Schema migrations: from every earlier schema to the newest, with the data kept.

For each prefix of MIGRATIONS a database is built at that version, every table it has
gets rows, and then it is migrated to the head: the rows must still be there, the
schema must equal a fresh one, and the event chain must still verify. A new table with
constraints the generic rows do not meet needs rows in ``KNOWN`` below.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.events import GENESIS, dumps, seal
from edge.ops.verify import verify_path
from edge.store import Store
from edge.store.migrations import MIGRATIONS, Migration, migrate
from tests.ops_support import NOW, access

# Migrations that have shipped, in order: they are never edited, renamed or moved.
SHIPPED = [
    "001_events_outbox",
    "002_state",
    "003_roster",
    "004_nonces_passes",
    "100_console_users",
    "101_console_sessions",
    "102_visitors",
    "103_repairs",
    "104_rollcall",
]


def _events() -> list[dict[str, Any]]:
    prev, out = GENESIS, []
    for seq in (1, 2):
        event = seal(
            access(NOW + timedelta(minutes=seq)),
            site="sunflower",
            gate="main",
            seq=seq,
            prev_hash=prev,
        )
        prev = event["hash"]
        out.append(
            {
                "seq": seq,
                "id": event["id"],
                "ts": event["ts"],
                "type": event["type"],
                "reason": event["reason"],
                "body": dumps(event),
                "hash": event["hash"],
            }
        )
    return out


KNOWN: dict[str, list[dict[str, Any]]] = {
    "events": _events(),
    "outbox": [{"seq": 2}],
    "state": [{"key": "mode", "value": "lockdown"}],
    "roster": [
        {
            "version": 1,
            "hash": "c0ffee",
            "imported_at": "2026-11-01T08:00:00+00:00",
            "source": "/var/lib/kindergate/roster",
            "data": json.dumps({"classes": {}}),
        }
    ],
    "console_users": [
        {
            "name": "li",
            "role": "guard",
            "hash": "$argon2id$x",
            "created_at": "2026-11-01",
            "disabled": 0,
        }
    ],
}


# What later migrations drop on purpose, and only that: table -> its dropped columns, or
# None for the whole table. Every other row and column must survive every migration.
DROPPED: dict[str, tuple[str, ...] | None] = {
    "used_passes": None,  # 106: today's events say which passes were used
    "visitors": ("left_at", "out_by", "overstay_event"),  # 107: presence is the day's events
}


def kept_part(table: str, row: dict[str, Any]) -> dict[str, Any] | None:
    """What of an inserted row must still be there at the head (None: nothing)."""
    if table not in DROPPED:
        return row
    dropped = DROPPED[table]
    return None if dropped is None else {c: v for c, v in row.items() if c not in dropped}


def generic_row(db: sqlite3.Connection, table: str) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for _, name, decl, _, _, _ in db.execute(f'PRAGMA table_info("{table}")'):
        kind = (decl or "").upper()
        if "INT" in kind:
            row[name] = 7
        elif any(k in kind for k in ("REAL", "FLOA", "DOUB")):
            row[name] = 1.5
        else:
            row[name] = f"{table}.{name}"
    return row


def tables(db: sqlite3.Connection) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name != 'schema_migrations' ORDER BY name"
        )
    ]


def fill(db: sqlite3.Connection) -> list[tuple[str, dict[str, Any]]]:
    inserted = []
    for table in tables(db):
        for row in KNOWN.get(table) or [generic_row(db, table)]:
            cols = ", ".join(f'"{c}"' for c in row)
            marks = ", ".join("?" for _ in row)
            try:
                db.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', list(row.values()))
            except sqlite3.IntegrityError as err:
                pytest.fail(f"table {table}: generic rows rejected ({err}); add rows to KNOWN")
            inserted.append((table, row))
    return inserted


def still_there(db: sqlite3.Connection, table: str, row: dict[str, Any]) -> bool:
    where = " AND ".join(f'"{c}" IS ?' for c in row)
    found = db.execute(f'SELECT count(*) FROM "{table}" WHERE {where}', list(row.values()))
    return bool(found.fetchone()[0] == 1)


def schema(db: sqlite3.Connection) -> set[tuple[str, str, str]]:
    return {
        (kind, name, " ".join((sql or "").split()))
        for kind, name, sql in db.execute("SELECT type, name, sql FROM sqlite_master")
    }


def test_shipped_migrations_keep_their_names_and_places() -> None:
    names = [name for name, _ in MIGRATIONS]
    assert names[: len(SHIPPED)] == SHIPPED, "a shipped migration was renamed, moved or removed"
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("version", range(len(MIGRATIONS) + 1))
def test_every_earlier_schema_migrates_to_the_head_with_its_data(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "gate.db"
    db = sqlite3.connect(str(path), isolation_level=None)
    migrate(db, MIGRATIONS[:version])
    inserted = fill(db)
    applied = migrate(db)
    assert applied == [name for name, _ in MIGRATIONS[version:]]
    kept = [(t, k) for t, r in inserted if (k := kept_part(t, r)) is not None]
    assert len(kept) >= len(inserted) - 1  # at most the used_passes row went
    lost = [(t, r) for t, r in kept if not still_there(db, t, r)]
    assert lost == []
    fresh = sqlite3.connect(":memory:", isolation_level=None)
    migrate(fresh)
    assert schema(db) == schema(fresh)
    db.close()
    # The store opens it, chains on, and the log still verifies.
    store = Store(path, site="sunflower", gate="main")
    new = store.record([access(NOW + timedelta(hours=1))])
    store.close()
    expected = 3 if version >= 1 else 1
    assert new[0].seq == expected
    report = verify_path(path)
    assert report.ok, [str(p) for p in report.problems]


def test_migrating_twice_applies_nothing(tmp_path: Path) -> None:
    db = sqlite3.connect(str(tmp_path / "gate.db"), isolation_level=None)
    assert migrate(db) == [name for name, _ in MIGRATIONS]
    assert migrate(db) == []


def test_a_failing_migration_leaves_the_old_schema(tmp_path: Path) -> None:
    def half_done(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half (x INTEGER)")
        raise RuntimeError("power cut")

    broken: list[tuple[str, Migration]] = [*MIGRATIONS[:2], ("999_half", half_done)]
    db = sqlite3.connect(str(tmp_path / "gate.db"), isolation_level=None)
    with pytest.raises(RuntimeError, match="power cut"):
        migrate(db, broken)
    assert "half" not in tables(db)
    done = [r[0] for r in db.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert done == [name for name, _ in MIGRATIONS[:2]]
    assert migrate(db) == [name for name, _ in MIGRATIONS[2:]]
