"""Versioned schema migrations for the gate's SQLite store.

Each migration is a named function, applied once, in order, and recorded in the same
transaction that runs it: a crash mid-migration leaves the old schema, never half a new one.
Append new migrations at the end; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]


def m001_events_outbox(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            ts TEXT NOT NULL,
            type TEXT NOT NULL,
            reason TEXT NOT NULL,
            body TEXT NOT NULL,
            hash TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX events_ts ON events(ts)")
    db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY REFERENCES events(seq))")


def m002_state(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def m003_roster(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE roster (
            version INTEGER PRIMARY KEY,
            hash TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            source TEXT NOT NULL,
            data TEXT NOT NULL
        )"""
    )


def m004_nonces_passes(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE nonces (nonce TEXT PRIMARY KEY, ts INTEGER NOT NULL)")
    db.execute(
        "CREATE TABLE used_passes (pass_id TEXT PRIMARY KEY, event_id TEXT, used_at TEXT NOT NULL)"
    )


# --- guard console, visitors, device checks, repairs, roll call (100 onward) ---------


def m100_console_users(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE console_users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('guard', 'admin')),
            hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0
        )"""
    )


def m101_console_sessions(db: sqlite3.Connection) -> None:
    # Only a hash of the session id is kept: a copy of the database opens no session.
    db.execute(
        """CREATE TABLE console_sessions (
            id_hash TEXT PRIMARY KEY,
            user TEXT NOT NULL REFERENCES console_users(name) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        )"""
    )


def m102_visitors(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE visitors (
            id TEXT PRIMARY KEY,
            day TEXT NOT NULL,
            name TEXT NOT NULL,
            id_masked TEXT NOT NULL,
            id_hash TEXT NOT NULL,
            phone TEXT,
            host TEXT NOT NULL,
            purpose TEXT NOT NULL,
            expected_minutes INTEGER NOT NULL,
            arrived_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            left_at TEXT,
            in_by TEXT NOT NULL,
            out_by TEXT,
            overstay_event TEXT
        )"""
    )
    db.execute("CREATE INDEX visitors_left ON visitors(left_at)")
    db.execute("CREATE INDEX visitors_day ON visitors(day)")


def m103_repairs(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE repairs (
            id INTEGER PRIMARY KEY,
            device TEXT NOT NULL,
            problem TEXT NOT NULL,
            photo TEXT,
            opened_at TEXT NOT NULL,
            opened_by TEXT NOT NULL,
            closed_at TEXT,
            closed_by TEXT,
            fix TEXT
        )"""
    )


def m104_rollcall(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE rollcall_ticks (
            evacuation TEXT NOT NULL,
            kind TEXT NOT NULL,
            person TEXT NOT NULL,
            by TEXT NOT NULL,
            ts TEXT NOT NULL,
            PRIMARY KEY (evacuation, kind, person)
        )"""
    )


def m105_revoked_passes(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE revoked_passes (pass_id TEXT PRIMARY KEY, revoked_at TEXT NOT NULL, by TEXT NOT NULL)"
    )


def m106_drop_used_passes(db: sqlite3.Connection) -> None:
    # Written at a visitor's sign-out, never read: today's events say which passes were
    # used (edge/day.py), and a pass is valid on one date only.
    db.execute("DROP TABLE used_passes")


def m107_visitors_register_only(db: sqlite3.Connection) -> None:
    # Who is on site, when they left and whether an overstay was reported are the day's
    # events (edge/day.py); the register keeps the registration only.
    db.execute("DROP INDEX visitors_left")
    for column in ("left_at", "out_by", "overstay_event"):
        db.execute(f"ALTER TABLE visitors DROP COLUMN {column}")


MIGRATIONS: list[tuple[str, Migration]] = [
    ("001_events_outbox", m001_events_outbox),
    ("002_state", m002_state),
    ("003_roster", m003_roster),
    ("004_nonces_passes", m004_nonces_passes),
    ("100_console_users", m100_console_users),
    ("101_console_sessions", m101_console_sessions),
    ("102_visitors", m102_visitors),
    ("103_repairs", m103_repairs),
    ("104_rollcall", m104_rollcall),
    ("105_revoked_passes", m105_revoked_passes),
    ("106_drop_used_passes", m106_drop_used_passes),
    ("107_visitors_register_only", m107_visitors_register_only),
]


def migrate(
    db: sqlite3.Connection, migrations: list[tuple[str, Migration]] | None = None
) -> list[str]:
    """Apply the migrations not yet applied; return their names."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
    applied = []
    for name, fn in migrations if migrations is not None else MIGRATIONS:
        if name in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            fn(db)
            db.execute(
                "INSERT INTO schema_migrations VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                (name,),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
