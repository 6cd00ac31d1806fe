"""What the purge changes in the event log (``edge.ops.retention`` decides what and when).

Only two changes are ever made to stored events: a visitor event's body replaced by its
anonymised JSON, and a prefix of published events deleted. The purge makes both inside
one transaction with the ``purge`` event that declares them.
"""

from __future__ import annotations

import json
from typing import Any

from edge.events import Event, dumps
from edge.store.database import Database
from edge.store.log import read_event

_VISITOR_LIKE = '%"kind":"visitor"%'


class LogRetention:
    """Old events, for the purge: ``store.retention``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def overwrite_deleted(self) -> None:
        """From now on, deleted and replaced content is overwritten on disk, not unlinked."""
        with self._db.reading() as db:
            db.execute("PRAGMA secure_delete=ON")

    def visitor_events(self) -> list[tuple[int, Event, bool]]:
        """Events about a visitor, oldest first: (seq, event, still in the outbox)."""
        with self._db.reading() as db:
            rows = db.execute(
                "SELECT e.seq, e.body, o.seq IS NOT NULL FROM events e "
                "LEFT JOIN outbox o USING (seq) WHERE e.body LIKE ? ORDER BY e.seq",
                (_VISITOR_LIKE,),
            ).fetchall()
        out = []
        for seq, body, queued in rows:
            event = read_event(seq, body)
            if event is not None:
                out.append((seq, event, bool(queued)))
        return out

    def rewrite(self, seq: int, body: dict[str, Any]) -> None:
        """Replace a stored event's JSON (its hash column stays as it was written)."""
        with self._db.transaction() as db:
            db.execute("UPDATE events SET body = ? WHERE seq = ?", (dumps(body), seq))

    def oldest(self, limit: int) -> tuple[int | None, list[tuple[int, str, bool]]]:
        """The last seq, and the first ``limit`` events (-1: all) as (seq, ts, queued)."""
        with self._db.reading() as db:
            (last,) = db.execute("SELECT max(seq) FROM events").fetchone()
            rows = db.execute(
                "SELECT e.seq, e.ts, o.seq IS NOT NULL FROM events e "
                "LEFT JOIN outbox o USING (seq) ORDER BY e.seq LIMIT ?",
                (limit,),
            ).fetchall()
        return last, [(seq, ts, bool(queued)) for seq, ts, queued in rows]

    def delete(self, first: int, last: int) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM events WHERE seq BETWEEN ? AND ?", (first, last))

    def first(self) -> dict[str, Any] | None:
        """Where the log starts: the first event's seq, id and ``prev_hash``."""
        with self._db.reading() as db:
            row = db.execute("SELECT seq, id, body FROM events ORDER BY seq LIMIT 1").fetchone()
        if row is None:
            return None
        return {"seq": row[0], "id": row[1], "prev_hash": json.loads(row[2])["prev_hash"]}

    def queued_times(self) -> list[str]:
        """The times of the events not yet published."""
        with self._db.reading() as db:
            return [r[0] for r in db.execute("SELECT e.ts FROM events e JOIN outbox o USING (seq)")]
