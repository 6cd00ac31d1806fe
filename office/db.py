"""The two database engines behind the office store: one small class each.

SQL reaches them written with ``?`` placeholders; the PostgreSQL class rewrites them to
``%s``. Everything else (``ON CONFLICT``, ``excluded.``, window functions) is SQL both
engines speak, so the statements themselves live once, in ``office.store``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

Row = tuple[Any, ...]


class Database(Protocol):
    """What the store needs from a connection; one small class per engine."""

    engine: str
    file: Path | None  # the database file, when it is one

    def transaction(self) -> AbstractContextManager[Database]: ...
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...
    def create_schema(self, statements: Sequence[str]) -> None: ...
    def reconnect(self) -> None: ...
    def close(self) -> None: ...


class SqliteDatabase:
    engine = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.file = None if str(path) == ":memory:" else Path(path)
        if self.file is not None:
            self.file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.db = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=30
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self._lock = threading.RLock()  # the writer thread and a web request may share it

    @contextmanager
    def transaction(self) -> Iterator[SqliteDatabase]:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            return self.db.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._lock:
            self.db.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def create_schema(self, statements: Sequence[str]) -> None:
        with self.transaction():
            for sql in statements:
                self.db.execute(sql)

    def reconnect(self) -> None:
        """Nothing to do: a local file does not go away."""

    def close(self) -> None:
        with self._lock:
            self.db.close()


class PostgresDatabase:
    engine = "postgresql"
    file: Path | None = None

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self.conn = psycopg.connect(url, autocommit=True)
        self._lock = threading.RLock()

    def reconnect(self) -> None:
        """A new connection after the server went away (the writer retries its batch)."""
        import psycopg

        with self._lock:
            if not self.conn.closed and not self.conn.broken:
                return
            self.conn = psycopg.connect(self.url, autocommit=True)

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    @contextmanager
    def transaction(self) -> Iterator[PostgresDatabase]:
        with self._lock, self.conn.transaction():
            yield self

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock, self.conn.cursor() as cur:
            cur.execute(self._sql(sql), params)
            return cur.rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._lock, self.conn.cursor() as cur:
            cur.executemany(self._sql(sql), rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock, self.conn.cursor() as cur:
            cur.execute(self._sql(sql), params)
            return cur.fetchall()

    def create_schema(self, statements: Sequence[str]) -> None:
        # Two collectors starting together would race on CREATE TABLE IF NOT EXISTS.
        with self.transaction():
            self.execute("SELECT pg_advisory_xact_lock(7301948221)")
            for sql in statements:
                self.execute(sql)

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def is_postgres_url(database: str) -> bool:
    return database.startswith(("postgresql://", "postgres://"))


def connect(database: str) -> Database:
    if is_postgres_url(database):
        return PostgresDatabase(database)
    return SqliteDatabase(database)
