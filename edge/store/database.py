"""A connection to the gate's SQLite file: its pragmas, its lock and its transactions.

Every connection runs in WAL mode with a busy timeout and foreign keys. The gate's own
connection commits with ``synchronous=FULL`` (an event is durable before it is
published); the publisher's drain has one of its own with ``NORMAL`` (see
``Store.drain_connection``). The file, its WAL and its shared memory are 0600 in a 0700
directory: they hold everything the gate knows.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_MS = 5000
SYNCHRONOUS = ("FULL", "NORMAL")

StoreError = sqlite3.Error  # what a failing store raises: disk full, I/O error, locked


def connect(path: str | Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection with the pragmas every connection to the store must have."""
    if synchronous not in SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
    if str(path) != ":memory:":
        parent = Path(path).parent
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys=ON")
    if str(path) != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            p = Path(f"{path}{suffix}")
            if p.exists():
                os.chmod(p, 0o600)
    return db


class Database:
    """One connection, shared by the daemon's loop and worker threads behind one lock."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self.path = path
        self.db = connect(path, synchronous=synchronous)
        # sqlite3 connections are not safe to share across threads unguarded
        self._lock = threading.RLock()
        self._depth = 0

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; nested calls become savepoints.

        Outside the store package, use it only to make several store calls one unit
        (``with store.transaction(): ...``); the connection it yields is the store's own.
        """
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

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads: the lock only, no write transaction."""
        with self._lock:
            yield self.db
