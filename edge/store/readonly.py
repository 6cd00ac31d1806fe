"""A store file opened read-only, for the tools that must never change it.

``verify-log`` walks the chain, ``backup`` copies the file with SQLite's online backup
(one consistent moment, while the daemon keeps writing) and checks the copy, ``doctor``
looks at the outbox and the readers' last reports. None of them can write: the file is
opened ``mode=ro`` and the connection is ``query_only``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from edge.events import READER_HEALTH, EventType, Reason


class ReadOnlyStore:
    def __init__(self, path: str | Path) -> None:
        if not Path(path).exists():
            raise FileNotFoundError(f"no such store: {path}")
        self.path = Path(path)
        self.db = sqlite3.connect(f"file:{self.path.resolve()}?mode=ro", uri=True)
        self.db.execute("PRAGMA query_only=ON")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ReadOnlyStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def chain(self) -> Iterator[tuple[int, str, str, str]]:
        """Every stored event as (seq, id, hash, body), oldest first, one at a time."""
        yield from self.db.execute("SELECT seq, id, hash, body FROM events ORDER BY seq")

    def purge_bodies(self) -> Iterator[str]:
        """The JSON of every ``purge`` event, oldest first."""
        rows = self.db.execute(
            "SELECT body FROM events WHERE type = ? AND reason = ? ORDER BY seq",
            (str(EventType.SYSTEM), str(Reason.PURGE)),
        )
        for (body,) in rows:
            yield body

    def integrity(self) -> str:
        """SQLite's ``integrity_check``: "ok", or what is wrong."""
        (result,) = self.db.execute("PRAGMA integrity_check").fetchone()
        return str(result)

    def outbox(self) -> tuple[int, str | None]:
        """How many events are not yet published, and the time of the oldest."""
        depth, oldest = self.db.execute(
            "SELECT count(*), min(e.ts) FROM outbox o JOIN events e USING (seq)"
        ).fetchone()
        return int(depth), oldest

    def reader_reports(self) -> list[tuple[str | None, Reason, str]]:
        """Every ``reader_down``/``reader_up`` event as (reader, reason, ts), oldest first."""
        health = sorted(str(r) for r in READER_HEALTH)
        rows = self.db.execute(
            "SELECT json_extract(body, '$.reader'), reason, ts FROM events WHERE type = ? "
            f"AND reason IN ({', '.join('?' for _ in health)}) ORDER BY seq",
            (str(EventType.SYSTEM), *health),
        ).fetchall()
        return [(reader, Reason(reason), ts) for reader, reason, ts in rows]

    def copy_to(self, dest: Path, *, pages: int) -> None:
        """An online backup into the (new, empty) file ``dest``, as a single file.

        The source is locked only while each step of ``pages`` pages is copied, so the
        daemon's writes wait little.
        """
        copy = sqlite3.connect(str(dest))
        try:
            self.db.backup(copy, pages=pages)
            copy.execute("PRAGMA journal_mode=DELETE")  # no -wal/-shm beside the copy
        finally:
            copy.close()
