"""The event log: events chained by hash, each with its outbox row until the broker has it.

The daemon is the only writer of events: each event and its outbox row are written in
one transaction, chained to the event before it (``edge.events.chain_hash``). The
publisher deletes outbox rows only after the broker acknowledged them; a collector that
finds a gap asks for events to be queued again (``outbox_requeue``).

Events come back as ``Event``s. A stored body that is not a readable event (edited by
hand, or with a reason this version does not know) is left out and logged; ``kindergate
verify-log`` names it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from edge.events import GENESIS, Draft, Event, EventError, EventType, Reason, dumps, seal
from edge.store.database import Database

log = logging.getLogger(__name__)


def sealed(draft: Draft, *, site: str, gate: str, seq: int, prev_hash: str) -> Event:
    """The event written for ``draft``: typed straight from the gate's own draft.

    The same as ``Event.from_json`` of the sealed JSON, without checking again what the
    gate itself made (this is on the path from a scan to its durable event).
    """
    raw = seal(draft, site=site, gate=gate, seq=seq, prev_hash=prev_hash)
    return Event(
        id=raw["id"],
        seq=seq,
        ts=draft.ts.replace(microsecond=draft.ts.microsecond // 1000 * 1000),  # as in the JSON
        site=site,
        gate=gate,
        type=draft.type,
        reason=draft.reason,
        decision=draft.decision,
        credential=draft.credential,
        person=draft.person,
        children=draft.children,
        reader=draft.reader,
        mode=draft.mode,
        approved_by=draft.approved_by,
        by=draft.by,
        detail=MappingProxyType(raw.get("detail") or {}),
        prev_hash=prev_hash,
        hash=raw["hash"],
        raw=raw,
    )


def read_event(seq: int, body: str) -> Event | None:
    """A stored body as an ``Event``; None (and a warning) when it is not one."""
    try:
        return Event.loads(body)
    except EventError as err:
        log.warning("stored event seq %s cannot be read, left out: %s", seq, err)
        return None


def runs(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted seqs as runs of consecutive numbers: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    out: list[tuple[int, int]] = []
    for seq in sorted(seqs):
        if out and seq == out[-1][1] + 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


class EventLog(Database):
    """The events and outbox tables (part of ``Store``)."""

    site: str
    gate: str

    def record(self, drafts: Sequence[Draft]) -> list[Event]:
        """Write events and their outbox rows durably, in one transaction."""
        if not drafts:
            return []
        out = []
        with self.transaction() as db:
            row = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0], row[1]) if row else (0, GENESIS)
            for draft in drafts:
                seq += 1
                event = sealed(draft, site=self.site, gate=self.gate, seq=seq, prev_hash=prev)
                db.execute(
                    "INSERT INTO events (seq, id, ts, type, reason, body, hash) VALUES (?,?,?,?,?,?,?)",
                    (
                        seq,
                        event.id,
                        event.raw["ts"],
                        event.raw["type"],
                        event.raw["reason"],
                        dumps(event.raw),
                        event.hash,
                    ),
                )
                db.execute("INSERT INTO outbox (seq) VALUES (?)", (seq,))
                prev = event.raw["hash"]
                out.append(event)
        return out

    def events(self, since: datetime | None = None) -> Iterator[Event]:
        """Stored events, oldest first."""
        # Stored times carry their own offset, so compare instants in Python; the SQL only
        # skips days that cannot hold one (no offset is more than 14 hours from UTC).
        floor = (
            ""
            if since is None
            else (since.astimezone(UTC) - timedelta(hours=14)).date().isoformat()
        )
        with self.reading() as db:
            rows = db.execute(
                "SELECT seq, body, ts FROM events WHERE ts >= ? ORDER BY seq", (floor,)
            ).fetchall()
        for seq, body, ts in rows:
            if since is not None and datetime.fromisoformat(ts) < since:
                continue
            event = read_event(seq, body)
            if event is not None:
                yield event

    def after(self, event_id: str, *, since: datetime, limit: int) -> list[Event] | None:
        """Events after the one with ``event_id`` ("": all), none before ``since``, oldest
        first; None when that id is not in the log or more than ``limit`` follow it."""
        floor = (since.astimezone(UTC) - timedelta(hours=14)).date().isoformat()
        with self.reading() as db:
            start = 0
            if event_id:
                row = db.execute("SELECT seq FROM events WHERE id = ?", (event_id,)).fetchone()
                if row is None:
                    return None
                start = row[0]
            rows = db.execute(
                "SELECT seq, body, ts FROM events WHERE seq > ? AND ts >= ? ORDER BY seq LIMIT ?",
                (start, floor, limit + 1),
            ).fetchall()
        if len(rows) > limit:
            return None
        found = (
            read_event(seq, body) for seq, body, ts in rows if datetime.fromisoformat(ts) >= since
        )
        return [e for e in found if e is not None]

    def last_event(self) -> Event | None:
        with self.reading() as db:
            row = db.execute("SELECT seq, body FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return read_event(row[0], row[1]) if row else None

    def newest(
        self,
        limit: int,
        *,
        type: EventType | None = None,
        reason: Reason | None = None,
        skip: EventType | None = None,
    ) -> list[Event]:
        """Up to ``limit`` latest events, newest first: of one type (and reason), or all
        but one type (``skip``)."""
        where, params = [], []
        for column, op, value in (
            ("type", "=", type),
            ("reason", "=", reason),
            ("type", "!=", skip),
        ):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(str(value))
        sql = "SELECT seq, body FROM events"
        sql += f" WHERE {' AND '.join(where)}" if where else ""
        with self.reading() as db:
            rows = db.execute(f"{sql} ORDER BY seq DESC LIMIT ?", (*params, limit)).fetchall()
        return [e for seq, body in rows if (e := read_event(seq, body)) is not None]

    # --- outbox -------------------------------------------------------------------------

    def outbox_batch(self, limit: int, after: int = 0) -> list[tuple[int, str]]:
        """Up to ``limit`` unpublished events after ``seq``, in order, as (seq, JSON)."""
        with self.reading() as db:
            return db.execute(
                "SELECT o.seq, e.body FROM outbox o JOIN events e USING (seq) "
                "WHERE o.seq > ? ORDER BY o.seq LIMIT ?",
                (after, limit),
            ).fetchall()

    def outbox_done(self, seqs: Sequence[int]) -> None:
        """The broker has these events: their outbox rows go, one statement per run.

        Acks arrive in order, so a drain's batch is nearly always one run; a DELETE per
        row cost more than the publishing itself.
        """
        if not seqs:
            return
        with self.transaction() as db:
            db.executemany("DELETE FROM outbox WHERE seq BETWEEN ? AND ?", runs(seqs))

    def outbox_depth(self) -> int:
        with self.reading() as db:
            return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def outbox_requeue(self, first: int, last: int) -> int:
        """Queue stored events ``first``..``last`` to be published again; how many were."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO outbox (seq) SELECT seq FROM events WHERE seq BETWEEN ? AND ?",
                (first, last),
            )
            return int(cur.rowcount)
