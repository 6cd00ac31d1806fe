"""Walk the gate's hash chain and say where it was changed.

Each stored event carries ``prev_hash`` (the hash of the event before it) and ``hash``
(see ``edge.events.chain_hash``). An edited event no longer matches its hash, an inserted
one does not fit between its neighbours, a deleted one leaves a gap. The purge changes
the log in two sanctioned ways, both declared by a ``system``/``purge`` event that is
itself chained (so it cannot be forged without breaking the chain after it):

* ``first_kept``: events before it were deleted; the log may start there;
* ``redacted``: the new hash of each event whose personal fields were removed.

What a chain cannot show: events removed from the very end, or a log rewritten in full
from some point on by someone who recomputes every hash. The office's copy (every event
is published) is the check for those; see docs/operations.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.events import GENESIS, chain_hash
from edge.store import ReadOnlyStore


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    id: str
    kind: str  # edited | inserted | missing | broken | unreadable
    message: str

    def __str__(self) -> str:
        return f"seq {self.seq} ({self.id}): {self.kind}: {self.message}"


@dataclass
class Report:
    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    redacted: int = 0
    purged_before: int | None = None  # the log starts after a purge at this seq
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if not self.events:
            return "empty log: nothing to verify"
        span = f"{self.events} events, seq {self.first_seq}..{self.last_seq}"
        notes = []
        if self.purged_before is not None:
            notes.append(f"older events purged before seq {self.purged_before}")
        if self.redacted:
            notes.append(f"{self.redacted} anonymised by the purge")
        extra = f" ({'; '.join(notes)})" if notes else ""
        verdict = "chain intact" if self.ok else f"{len(self.problems)} problem(s)"
        return f"{span}{extra}: {verdict}"


@dataclass(frozen=True, slots=True)
class Row:
    seq: int
    id: str
    hash: str
    body: dict[str, Any]

    @property
    def prev_hash(self) -> str:
        return str(self.body.get("prev_hash", ""))

    def label(self) -> str:
        return f"seq {self.seq} ({self.id})"


@dataclass
class Declarations:
    """What purge events say about the log: where it may start, which hashes changed."""

    # Keys as read from JSON: a malformed declaration simply matches nothing.
    anchors: set[tuple[Any, ...]] = field(default_factory=set)
    redacted: dict[tuple[Any, ...], Any] = field(default_factory=dict)


def declarations(store: ReadOnlyStore) -> Declarations:
    out = Declarations()
    for body in store.purge_bodies():
        try:
            detail = json.loads(body).get("detail") or {}
        except (ValueError, AttributeError):
            continue  # an unreadable purge event is reported by the walk itself
        kept = detail.get("first_kept")
        if isinstance(kept, dict):
            out.anchors.add((kept.get("seq"), kept.get("id"), kept.get("prev_hash")))
        for item in detail.get("redacted") or []:
            if isinstance(item, dict):
                out.redacted[(item.get("seq"), item.get("id"))] = item.get("hash")
    return out


def _rows(store: ReadOnlyStore, problems: list[Problem]) -> Iterator[Row]:
    # The JSON as stored, not ``Event``s: the chain is checked on exactly what was written,
    # and an event this version could not read is still part of it.
    for seq, id_, hash_, body in store.chain():
        try:
            parsed = json.loads(body)
            if not isinstance(parsed, dict):
                raise ValueError("not an object")
        except ValueError as err:
            problems.append(Problem(seq, id_, "unreadable", f"body is not JSON: {err}"))
            continue
        yield Row(seq, id_, hash_, parsed)


def _self_check(row: Row, decl: Declarations, report: Report) -> None:
    """The event against its own hash (and its columns against its body)."""
    body = row.body
    if (body.get("seq"), body.get("id"), body.get("hash")) != (row.seq, row.id, row.hash):
        report.problems.append(
            Problem(row.seq, row.id, "edited", "its columns (seq, id, hash) differ from its body")
        )
        return
    actual = chain_hash(row.prev_hash, body)
    if actual == row.hash:
        return
    if decl.redacted.get((row.seq, row.id)) == actual:
        report.redacted += 1
        return
    report.problems.append(
        Problem(row.seq, row.id, "edited", "its content was changed after it was written")
    )


def _start_problem(row: Row, decl: Declarations, report: Report) -> None:
    if row.seq == 1 and row.prev_hash == GENESIS:
        return
    if (row.seq, row.id, row.prev_hash) in decl.anchors:
        report.purged_before = row.seq
        return
    report.problems.append(
        Problem(
            row.seq,
            row.id,
            "missing",
            f"the log starts here, but no purge removed the events before seq {row.seq}",
        )
    )


def _link_problem(chain: list[Row], row: Row, after: Row | None) -> Problem | None:
    """Why ``row`` does not follow the chain so far (``after`` comes next), or None."""
    prev = chain[-1]
    if row.prev_hash == prev.hash and row.seq == prev.seq + 1:
        return None
    if after is not None and after.prev_hash == prev.hash:
        return Problem(
            row.seq, row.id, "inserted", f"was inserted between {prev.label()} and {after.label()}"
        )
    if len(chain) == 2 and row.prev_hash == chain[0].hash:
        return Problem(
            prev.seq,
            prev.id,
            "inserted",
            f"was inserted between {chain[0].label()} and {row.label()}",
        )
    if row.seq > prev.seq + 1:
        gone = f"seq {prev.seq + 1}" + (f"..{row.seq - 1}" if row.seq > prev.seq + 2 else "")
        return Problem(row.seq, row.id, "missing", f"{gone} deleted after {prev.label()}")
    return Problem(
        row.seq,
        row.id,
        "broken",
        f"does not follow {prev.label()}: an event between them was deleted, "
        f"or {prev.label()} was replaced",
    )


def verify_store(store: ReadOnlyStore) -> Report:
    """Walk every event once, oldest first, keeping only a few rows in memory."""
    report = Report()
    decl = declarations(store)
    rows = _rows(store, report.problems)
    chain: list[Row] = []  # the last two rows the chain runs through
    current = next(rows, None)
    while current is not None:
        after = next(rows, None)
        _visit(current, after, chain, decl, report)
        current = after
    return report


def _visit(
    row: Row, after: Row | None, chain: list[Row], decl: Declarations, report: Report
) -> None:
    report.events += 1
    report.first_seq = row.seq if report.first_seq is None else report.first_seq
    report.last_seq = row.seq
    _self_check(row, decl, report)
    if not chain:
        _start_problem(row, decl, report)
        chain.append(row)
        return
    problem = _link_problem(chain, row, after)
    if problem is not None:
        report.problems.append(problem)
    # Around an event inserted here the chain goes on from the one before it.
    if problem is None or not (problem.kind == "inserted" and problem.seq == row.seq):
        chain.append(row)
    del chain[:-2]


def verify_path(path: str | Path) -> Report:
    with ReadOnlyStore(path) as store:
        return verify_store(store)
