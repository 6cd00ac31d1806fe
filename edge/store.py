"""The gate's local truth: SQLite in WAL mode with ``synchronous=FULL``.

Every event is written together with its outbox row in one transaction, chained to the
event before it by hash. The daemon is the only writer of events; the publisher deletes
outbox rows only after the broker acknowledged them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.events import GENESIS, Draft, dumps, seal
from edge.migrations import migrate

BUSY_TIMEOUT_MS = 5000


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with the pragmas every connection to the store must have."""
    if str(path) != ":memory:":
        parent = Path(path).parent
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys=ON")
    if str(path) != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            p = Path(f"{path}{suffix}")
            if p.exists():
                os.chmod(p, 0o600)
    return db


@dataclass(frozen=True, slots=True)
class RosterRecord:
    version: int
    hash: str
    imported_at: str
    source: str
    data: dict[str, Any]


class Store:
    def __init__(self, path: str | Path, *, site: str, gate: str) -> None:
        self.path = path
        self.site = site
        self.gate = gate
        self.db = connect(path)
        self._lock = (
            threading.RLock()
        )  # sqlite3 connections are not safe to share across threads unguarded
        self._depth = 0
        migrate(self.db)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; nested calls become savepoints."""
        with self._lock:
            if self._depth:
                name = f"sp{self._depth}"
                self.db.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield self.db
                except BaseException:
                    self.db.execute(f"ROLLBACK TO {name}")
                    self.db.execute(f"RELEASE {name}")
                    raise
                else:
                    self.db.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            self.db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                # A COMMIT that fails (a full disk) can leave the transaction open: end it,
                # so nothing of it is ever committed by a later statement.
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0

    # --- events -----------------------------------------------------------------------

    def record(self, drafts: Sequence[Draft]) -> list[dict[str, Any]]:
        """Write events and their outbox rows durably, in one transaction."""
        if not drafts:
            return []
        out = []
        with self.transaction() as db:
            row = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0], row[1]) if row else (0, GENESIS)
            for draft in drafts:
                seq += 1
                event = seal(draft, site=self.site, gate=self.gate, seq=seq, prev_hash=prev)
                db.execute(
                    "INSERT INTO events (seq, id, ts, type, reason, body, hash) VALUES (?,?,?,?,?,?,?)",
                    (
                        seq,
                        event["id"],
                        event["ts"],
                        event["type"],
                        event["reason"],
                        dumps(event),
                        event["hash"],
                    ),
                )
                db.execute("INSERT INTO outbox (seq) VALUES (?)", (seq,))
                prev = event["hash"]
                out.append(event)
        return out

    def events(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Stored events, oldest first."""
        # Stored times carry their own offset, so compare instants in Python; the SQL only
        # skips days that cannot hold one (no offset is more than 14 hours from UTC).
        floor = (
            ""
            if since is None
            else (since.astimezone(UTC) - timedelta(hours=14)).date().isoformat()
        )
        with self._lock:
            rows = self.db.execute(
                "SELECT body, ts FROM events WHERE ts >= ? ORDER BY seq", (floor,)
            ).fetchall()
        for body, ts in rows:
            if since is not None and datetime.fromisoformat(ts) < since:
                continue
            yield json.loads(body)

    def last_event(self) -> dict[str, Any] | None:
        with self._lock:
            row = self.db.execute("SELECT body FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else None

    # --- outbox -------------------------------------------------------------------------

    def outbox_batch(self, limit: int, after: int = 0) -> list[tuple[int, str]]:
        """Up to ``limit`` unpublished events after ``seq``, in order, as (seq, JSON)."""
        with self._lock:
            return self.db.execute(
                "SELECT o.seq, e.body FROM outbox o JOIN events e USING (seq) "
                "WHERE o.seq > ? ORDER BY o.seq LIMIT ?",
                (after, limit),
            ).fetchall()

    def outbox_done(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        with self.transaction() as db:
            db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])

    def outbox_depth(self) -> int:
        with self._lock:
            return int(self.db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    # --- small persistent state (mode, ...) ------------------------------------------

    def get_state(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_state(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))

    # --- revoked passes -------------------------------------------------------------------

    def revoke_pass(self, pass_id: str, by: str) -> bool:
        """Remember a pass the office or a guard revoked; False when it already was."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO revoked_passes VALUES (?, ?, ?)",
                (pass_id, datetime.now(UTC).isoformat(timespec="seconds"), by),
            )
            return cur.rowcount == 1

    def revoked_passes(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self.db.execute("SELECT pass_id FROM revoked_passes")}

    # --- roster versions ---------------------------------------------------------------

    def roster_latest(self) -> RosterRecord | None:
        with self._lock:
            row = self.db.execute(
                "SELECT version, hash, imported_at, source, data FROM roster ORDER BY version DESC LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return RosterRecord(row[0], row[1], row[2], row[3], json.loads(row[4]))

    def roster_version(self) -> int:
        with self._lock:
            row = self.db.execute("SELECT max(version) FROM roster").fetchone()
        return int(row[0] or 0)

    def roster_save(self, data: dict[str, Any], content_hash: str, source: str) -> tuple[int, bool]:
        """Store a roster as a new version; (version, changed). Same content: no new version."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT version, hash FROM roster ORDER BY version DESC LIMIT 1"
            ).fetchone()
            if row and row[1] == content_hash:
                return int(row[0]), False
            version = (row[0] if row else 0) + 1
            db.execute(
                "INSERT INTO roster VALUES (?, ?, ?, ?, ?)",
                (
                    version,
                    content_hash,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    source,
                    json.dumps(data, ensure_ascii=False),
                ),
            )
            return version, True
