"""Roster versions: each import that changes the content is a new version, kept whole."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edge.store.database import Database


@dataclass(frozen=True, slots=True)
class RosterRecord:
    version: int
    hash: str
    imported_at: str
    source: str
    data: dict[str, Any]


class RosterVersions(Database):
    """The ``roster`` table (part of ``Store``)."""

    def roster_latest(self) -> RosterRecord | None:
        with self.reading() as db:
            row = db.execute(
                "SELECT version, hash, imported_at, source, data FROM roster ORDER BY version DESC LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return RosterRecord(row[0], row[1], row[2], row[3], json.loads(row[4]))

    def roster_version(self) -> int:
        with self.reading() as db:
            row = db.execute("SELECT max(version) FROM roster").fetchone()
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
