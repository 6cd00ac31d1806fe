"""Retention: keep personal data only as long as the school's policy says.

Per kind of record (``[retention]`` in the config):

* visitor events older than ``visitor_days``: anonymised in place (the visitor's name,
  masked ID number, ID hash, phone and purpose removed);
* the gate's event log older than ``access_days``: deleted, oldest first, and only
  events the office already has (no outbox row). The office keeps the long record;
* rows of the console's ``visitors`` table older than ``visitor_days`` (signed out);
* camera snapshots older than ``snapshot_days`` (``drivers.snapshot.SnapshotStore``).

Editing or deleting events would break the hash chain, so each purge transaction also
records a ``system`` event with reason ``purge`` that declares what it did: the new hash
of every event it anonymised and the first event it kept (``first_kept``). That event is
chained like any other, so ``verify-log`` accepts exactly these changes and no others
(see ``edge.ops.verify``). Deleted and replaced content is overwritten on disk
(``secure_delete``), not just unlinked from the b-tree.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import stat
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from edge.config import Config, RetentionConfig
from edge.events import Draft, EventType, Reason, chain_hash, dumps
from edge.store import Store

log = logging.getLogger(__name__)

PII_DETAIL_KEYS = ("id_number", "id_hash", "phone", "purpose")
REDACT_BATCH = 200  # each anonymised event is listed in the purge event: keep it small
DELETE_BATCH = 2000  # one transaction holds the store's write lock: keep the daemon's wait short
_VISITOR_LIKE = '%"kind":"visitor"%'


@dataclass(frozen=True, slots=True)
class Cutoffs:
    now: datetime
    access: datetime
    visitor: datetime
    snapshot: datetime

    @classmethod
    def of(cls, retention: RetentionConfig, now: datetime) -> Cutoffs:
        if now.tzinfo is None:
            raise ValueError("the purge needs an aware time")
        return cls(
            now,
            now - timedelta(days=retention.access_days),
            now - timedelta(days=retention.visitor_days),
            now - timedelta(days=retention.snapshot_days),
        )

    def to_json(self) -> dict[str, str]:
        iso = "seconds"
        return {
            "access": self.access.isoformat(timespec=iso),
            "visitor": self.visitor.isoformat(timespec=iso),
            "snapshot": self.snapshot.isoformat(timespec=iso),
        }


@dataclass
class PurgeResult:
    dry_run: bool
    anonymised: int = 0
    deleted: int = 0
    waiting: int = 0  # old events kept because the office does not have them yet
    visitor_rows: int = 0
    snapshots: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would " if self.dry_run else ""
        text = (
            f"{verb}anonymise {self.anonymised} visitor events, {verb}delete {self.deleted} "
            f"old events, {self.visitor_rows} visitor records and {self.snapshots} snapshots"
        )
        if self.waiting:
            text += f"; {self.waiting} old events kept until they are published"
        return text


def snapshot_directory(cfg: Config) -> Path:
    """Where the camera keeps snapshots: beside the store, readable by the service only."""
    return cfg.store.path.parent / "snapshots"


# --- anonymising -------------------------------------------------------------------------


def needs_anonymising(event: dict[str, Any]) -> bool:
    person = event.get("person") or {}
    return person.get("kind") == "visitor" and "redacted" not in event


def anonymise(event: dict[str, Any], at: str) -> dict[str, Any]:
    """The event without the visitor's personal fields; ``hash`` is left as written."""
    out = dict(event)
    out["person"] = {k: v for k, v in event["person"].items() if k != "name"}
    if isinstance(event.get("detail"), dict):
        out["detail"] = {k: v for k, v in event["detail"].items() if k not in PII_DETAIL_KEYS}
    out["redacted"] = at
    return out


def _old(ts: str, cutoff: datetime) -> bool:
    return datetime.fromisoformat(ts) < cutoff


def _visitor_events(db: sqlite3.Connection, cut: Cutoffs) -> list[tuple[int, dict[str, Any], bool]]:
    """Old visitor events still to anonymise: (seq, event, still in the outbox)."""
    rows = db.execute(
        "SELECT e.seq, e.ts, e.body, o.seq IS NOT NULL FROM events e "
        "LEFT JOIN outbox o USING (seq) WHERE e.body LIKE ? ORDER BY e.seq",
        (_VISITOR_LIKE,),
    ).fetchall()
    out = []
    for seq, ts, body, queued in rows:
        event = json.loads(body)
        if _old(ts, cut.visitor) and needs_anonymising(event):
            out.append((seq, event, bool(queued)))
    return out


def _anonymise_batch(db: sqlite3.Connection, cut: Cutoffs) -> list[dict[str, Any]]:
    at = cut.now.isoformat(timespec="seconds")
    done: list[dict[str, Any]] = []
    for seq, event, queued in _visitor_events(db, cut):
        if queued:
            continue  # the office must receive the event as it was written
        changed = anonymise(event, at)
        db.execute("UPDATE events SET body = ? WHERE seq = ?", (dumps(changed), seq))
        new_hash = chain_hash(changed["prev_hash"], changed)
        done.append({"seq": seq, "id": event["id"], "hash": new_hash})
        if len(done) >= REDACT_BATCH:
            break
    return done


# --- deleting old events -----------------------------------------------------------------


def _deletable(db: sqlite3.Connection, cut: Cutoffs, limit: int) -> list[int]:
    """The oldest events that may go: published, older than the cutoff, never the last."""
    (last,) = db.execute("SELECT max(seq) FROM events").fetchone()
    rows = db.execute(
        "SELECT e.seq, e.ts, o.seq IS NOT NULL FROM events e LEFT JOIN outbox o USING (seq) "
        "ORDER BY e.seq LIMIT ?",
        (limit,),
    )
    out = []
    for seq, ts, queued in rows:
        # A prefix only: a hole in the middle of the chain could not be told from tampering.
        if seq == last or queued or not _old(ts, cut.access):
            break
        out.append(seq)
    return out


def _first_kept(db: sqlite3.Connection) -> dict[str, Any] | None:
    row = db.execute("SELECT seq, id, body FROM events ORDER BY seq LIMIT 1").fetchone()
    if row is None:
        return None
    return {"seq": row[0], "id": row[1], "prev_hash": json.loads(row[2])["prev_hash"]}


def _delete_batch(db: sqlite3.Connection, cut: Cutoffs) -> int:
    seqs = _deletable(db, cut, DELETE_BATCH)
    if seqs:
        db.execute("DELETE FROM events WHERE seq BETWEEN ? AND ?", (seqs[0], seqs[-1]))
    return len(seqs)


# --- side tables and files -----------------------------------------------------------------


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None


def _visitor_rows(db: sqlite3.Connection, cut: Cutoffs, *, delete: bool) -> int:
    # The console's register of visits (edge/console/visitors.py), by local day, once signed out.
    if not _has_table(db, "visitors"):
        return 0
    oldest = cut.visitor.date().isoformat()
    where = "FROM visitors WHERE day < ? AND left_at IS NOT NULL"
    if not delete:
        return int(db.execute(f"SELECT count(*) {where}", (oldest,)).fetchone()[0])
    return int(db.execute(f"DELETE {where}", (oldest,)).rowcount)


def purge_snapshots(directory: Path, cutoff: datetime, *, dry_run: bool) -> int:
    if not directory.is_dir():
        return 0
    if dry_run:
        return sum(
            1
            for p in directory.glob("*.jpg")
            if stat.S_ISREG(p.lstat().st_mode) and p.lstat().st_mtime < cutoff.timestamp()
        )
    from drivers.snapshot import SnapshotStore  # OpenCV: only when there is work for it

    return SnapshotStore(directory).purge(cutoff)


# --- the purge -----------------------------------------------------------------------------


def _waiting(db: sqlite3.Connection, cut: Cutoffs) -> int:
    rows = db.execute("SELECT e.ts FROM events e JOIN outbox o USING (seq)").fetchall()
    return sum(1 for (ts,) in rows if _old(ts, cut.access))


def plan(store: Store, cut: Cutoffs, snapshots: Path | None) -> PurgeResult:
    """What a purge would do, changing nothing."""
    db = store.db
    result = PurgeResult(dry_run=True)
    result.anonymised = sum(1 for _, _, queued in _visitor_events(db, cut) if not queued)
    result.deleted = len(_deletable(db, cut, limit=-1))
    result.visitor_rows = _visitor_rows(db, cut, delete=False)
    result.waiting = _waiting(db, cut)
    if snapshots is not None:
        result.snapshots = purge_snapshots(snapshots, cut.snapshot, dry_run=True)
    return result


def purge(
    store: Store,
    retention: RetentionConfig,
    now: datetime,
    *,
    snapshots: Path | None = None,
    dry_run: bool = False,
) -> PurgeResult:
    """Apply the retention; each transaction records its own ``purge`` event."""
    cut = Cutoffs.of(retention, now)
    if dry_run:
        return plan(store, cut, snapshots)
    result = PurgeResult(dry_run=False)
    if snapshots is not None:
        result.snapshots = purge_snapshots(snapshots, cut.snapshot, dry_run=False)
    store.db.execute("PRAGMA secure_delete=ON")
    while True:
        more = _purge_step(store, cut, result)
        if not more:
            break
    result.waiting = _waiting(store.db, cut)
    log.info("purge: %s", result.summary())
    return result


def _purge_step(store: Store, cut: Cutoffs, result: PurgeResult) -> bool:
    """One transaction: a batch of changes and the event declaring them. True: more to do."""
    first = not result.events
    with store.transaction() as db:
        anonymised = _anonymise_batch(db, cut)
        deleted = _delete_batch(db, cut)
        rows = _visitor_rows(db, cut, delete=True) if first else 0
        detail: dict[str, Any] = {
            "cutoffs": cut.to_json(),
            "deleted": deleted,
            "first_kept": _first_kept(db),
            "redacted": anonymised,
            "visitor_rows": rows,
        }
        if first:
            detail["snapshots"] = result.snapshots
        draft = Draft(type=EventType.SYSTEM, reason=Reason.PURGE, ts=cut.now, detail=detail)
        result.events += store.record([draft])
    result.anonymised += len(anonymised)
    result.deleted += deleted
    result.visitor_rows += rows
    return len(anonymised) >= REDACT_BATCH or deleted >= DELETE_BATCH
