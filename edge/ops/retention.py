"""Retention: keep personal data only as long as the school's policy says.

Per kind of record (``[retention]`` in the config):

* visitor events older than ``visitor_days``: anonymised in place (the visitor's name,
  masked ID number, ID hash, phone and purpose removed);
* the gate's event log older than ``access_days``: deleted, oldest first, and only
  events the office already has (no outbox row). The office keeps the long record;
* rows of the visitor register (``edge.store.visitors``) of days older than
  ``visitor_days``;
* camera snapshots older than ``snapshot_days`` (``drivers.snapshot.SnapshotStore``).

Editing or deleting events would break the hash chain, so each purge transaction also
records a ``system`` event with reason ``purge`` that declares what it did: the new hash
of every event it anonymised and the first event it kept (``first_kept``). That event is
chained like any other, so ``verify-log`` accepts exactly these changes and no others
(see ``edge.ops.verify``). Deleted and replaced content is overwritten on disk
(``secure_delete``), not just unlinked from the b-tree. The SQL of it is the store's
(``edge.store.retention``); this module decides what goes.
"""

from __future__ import annotations

import logging
import stat
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from edge.config import Config, RetentionConfig
from edge.events import Draft, Event, EventType, Reason, chain_hash
from edge.store import Store

log = logging.getLogger(__name__)

PII_DETAIL_KEYS = ("id_number", "id_hash", "phone", "purpose")
REDACT_BATCH = 200  # each anonymised event is listed in the purge event: keep it small
DELETE_BATCH = 2000  # one transaction holds the store's write lock: keep the daemon's wait short


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
    events: list[Event] = field(default_factory=list)

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


def needs_anonymising(event: Event) -> bool:
    return (
        event.person is not None and event.person.kind == "visitor" and "redacted" not in event.json
    )


def anonymise(event: Event, at: str) -> dict[str, Any]:
    """The event's JSON without the visitor's personal fields; ``hash`` is left as written."""
    out = event.to_json()
    out["person"] = {k: v for k, v in out["person"].items() if k != "name"}
    if isinstance(out.get("detail"), dict):
        out["detail"] = {k: v for k, v in out["detail"].items() if k not in PII_DETAIL_KEYS}
    out["redacted"] = at
    return out


def _old(ts: str | datetime, cutoff: datetime) -> bool:
    return (datetime.fromisoformat(ts) if isinstance(ts, str) else ts) < cutoff


def _visitor_events(store: Store, cut: Cutoffs) -> list[tuple[int, Event, bool]]:
    """Old visitor events still to anonymise: (seq, event, still in the outbox)."""
    return [
        (seq, event, queued)
        for seq, event, queued in store.retention.visitor_events()
        if _old(event.ts, cut.visitor) and needs_anonymising(event)
    ]


def _anonymise_batch(store: Store, cut: Cutoffs) -> list[dict[str, Any]]:
    at = cut.now.isoformat(timespec="seconds")
    done: list[dict[str, Any]] = []
    for seq, event, queued in _visitor_events(store, cut):
        if queued:
            continue  # the office must receive the event as it was written
        changed = anonymise(event, at)
        store.retention.rewrite(seq, changed)
        new_hash = chain_hash(changed["prev_hash"], changed)
        done.append({"seq": seq, "id": event.id, "hash": new_hash})
        if len(done) >= REDACT_BATCH:
            break
    return done


# --- deleting old events -----------------------------------------------------------------


def _deletable(store: Store, cut: Cutoffs, limit: int) -> list[int]:
    """The oldest events that may go: published, older than the cutoff, never the last."""
    last, rows = store.retention.oldest(limit)
    out = []
    for seq, ts, queued in rows:
        # A prefix only: a hole in the middle of the chain could not be told from tampering.
        if seq == last or queued or not _old(ts, cut.access):
            break
        out.append(seq)
    return out


def _delete_batch(store: Store, cut: Cutoffs) -> int:
    seqs = _deletable(store, cut, DELETE_BATCH)
    if seqs:
        store.retention.delete(seqs[0], seqs[-1])
    return len(seqs)


# --- side tables and files -----------------------------------------------------------------


def _visitor_rows(store: Store, cut: Cutoffs, *, delete: bool) -> int:
    # The visitor register, by local day: a visit of a day before the cutoff is long over.
    return store.visitors.before(cut.visitor.date(), delete=delete)


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


def _waiting(store: Store, cut: Cutoffs) -> int:
    return sum(1 for ts in store.retention.queued_times() if _old(ts, cut.access))


def plan(store: Store, cut: Cutoffs, snapshots: Path | None) -> PurgeResult:
    """What a purge would do, changing nothing."""
    result = PurgeResult(dry_run=True)
    result.anonymised = sum(1 for _, _, queued in _visitor_events(store, cut) if not queued)
    result.deleted = len(_deletable(store, cut, limit=-1))
    result.visitor_rows = _visitor_rows(store, cut, delete=False)
    result.waiting = _waiting(store, cut)
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
    store.retention.overwrite_deleted()
    while True:
        more = _purge_step(store, cut, result)
        if not more:
            break
    result.waiting = _waiting(store, cut)
    log.info("purge: %s", result.summary())
    return result


def _purge_step(store: Store, cut: Cutoffs, result: PurgeResult) -> bool:
    """One transaction: a batch of changes and the event declaring them. True: more to do."""
    first = not result.events
    with store.transaction():
        anonymised = _anonymise_batch(store, cut)
        deleted = _delete_batch(store, cut)
        rows = _visitor_rows(store, cut, delete=True) if first else 0
        detail: dict[str, Any] = {
            "cutoffs": cut.to_json(),
            "deleted": deleted,
            "first_kept": store.retention.first(),
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
