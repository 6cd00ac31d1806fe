"""What the collector checks about each gate's stream: the hash chain, gaps, silence.

The chain is checked twice. As a batch is written, each new event is compared with its
stored neighbours: a quick warning, but two collectors of a group writing neighbours at
the same moment cannot see each other's rows. So the periodic check walks every gate's
events from the last point it verified (``checked_seq``) and checks every link and every
missing seq there; it moves that point on only over a stretch with no gap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from office.store import CollectorStore, Finding, Row, from_utc_text

log = logging.getLogger(__name__)

GateKey = tuple[str, str]
NO_END = 2**62


def seq_runs(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Ranges [lo - 1, hi + 1] around runs of nearby seqs: the rows a chain check needs."""
    out: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if out and seq - 1 <= out[-1][1]:
            out[-1] = (out[-1][0], seq + 1)
        else:
            out.append((seq - 1, seq + 1))
    return out


def chain_findings(site: str, gate: str, rows: Sequence[Row], seqs: set[int]) -> list[Finding]:
    """Breaks between each new event and its stored neighbours (the stored rows given)."""
    by_seq: dict[int, list[Row]] = {}
    for row in rows:
        by_seq.setdefault(int(row[0]), []).append(row)
    out: list[Finding] = []
    where = f"{site}/{gate}"
    for seq in sorted(seqs):
        here = by_seq.get(seq, [])
        if len(here) > 1:
            ids = sorted(r[1] for r in here)
            out.append(
                Finding(f"seq:{where}:{seq}", "seq_reused", site, gate, {"seq": seq, "ids": ids})
            )
            continue
        for lo in (seq - 1, seq):
            a, b = by_seq.get(lo, []), by_seq.get(lo + 1, [])
            if len(a) == 1 and len(b) == 1 and a[0][2] and b[0][3] and b[0][3] != a[0][2]:
                out.append(
                    Finding(
                        f"chain:{where}:{lo + 1}",
                        "chain_break",
                        site,
                        gate,
                        {"seq": lo + 1, "prev_hash": b[0][3], "hash_before": a[0][2]},
                        b[0][1],
                    )
                )
    return list({f.key: f for f in out}.values())


def missing_ranges(seqs: Sequence[int], start: int) -> list[tuple[int, int]]:
    """The (first, last) seq ranges absent from sorted ``seqs``, counting from ``start``."""
    out: list[tuple[int, int]] = []
    expected = start
    for seq in seqs:
        if seq > expected:
            out.append((expected, seq - 1))
        expected = max(expected, seq + 1)
    return out


def gaps(store: CollectorStore, site: str, gate: str) -> list[tuple[int, int]]:
    """Every seq range of a gate not stored (a gate numbers its events from 1)."""
    return missing_ranges(store.seqs(site, gate), 1)


def gap_finding(site: str, gate: str, lo: int, hi: int) -> Finding:
    detail = {"from": lo, "to": hi, "missing": hi - lo + 1}
    return Finding(f"gap:{site}/{gate}:{lo}-{hi}", "gap", site, gate, detail)


class Checker:
    """The periodic checks; run by the collector's writer thread every ``check_seconds``."""

    def __init__(
        self, store: CollectorStore, *, offline_after: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.offline_after = offline_after
        self.clock = clock
        self.dirty: set[GateKey] = set()  # gates with new events since the last check
        self._open_gaps: dict[GateKey, list[tuple[int, int]]] = {}

    def check(self) -> list[Finding]:
        now = self.clock()
        found: list[Finding] = []
        for site, gate in sorted(self.dirty | set(self._open_gaps)):
            found += self.check_gate(site, gate, now)
        self.dirty.clear()
        found += self.check_silence(now)
        return found

    def check_gate(self, site: str, gate: str, now: datetime) -> list[Finding]:
        store = self.store
        row = store.gate_row(site, gate)
        checked = row.checked_seq if row else 0
        rows = store.chain_rows(site, gate, checked, NO_END)
        seqs = sorted({int(r[0]) for r in rows})
        gaps = missing_ranges(seqs, checked + 1)
        before = self._open_gaps.get((site, gate), [])
        # A gap seen by one check only may be an event still in flight (or with another
        # collector of the group): it is recorded once a second check still sees it.
        lasting = [g for g in gaps if any(a <= g[0] and g[1] <= b for a, b in before)]
        if gaps:
            self._open_gaps[(site, gate)] = gaps
        else:
            self._open_gaps.pop((site, gate), None)
        findings = [gap_finding(site, gate, lo, hi) for lo, hi in lasting]
        findings += chain_findings(site, gate, rows, {s for s in seqs if s > checked})
        with store.transaction():
            store.add_findings(findings, now)
            self._resolve_filled(site, gate, now)
            contiguous = gaps[0][0] - 1 if gaps else (seqs[-1] if seqs else 0)
            if contiguous > checked:
                store.set_checked_seq(site, gate, contiguous)
        for f in findings:
            log.warning("%s %s/%s: %s", f.kind, site, gate, f.detail)
        return findings

    def _resolve_filled(self, site: str, gate: str, now: datetime) -> None:
        store = self.store
        for key, detail in store.open_findings("gap", site, gate):
            lo, hi = int(detail["from"]), int(detail["to"])
            if store.count_seqs(site, gate, lo, hi) == hi - lo + 1:
                store.resolve_finding(key, now)
                log.info("gap %s/%s %s-%s filled", site, gate, lo, hi)

    def check_silence(self, now: datetime) -> list[Finding]:
        """Gates gone for longer than ``offline_after``.

        A gate publishes its state only when it changes, so a quiet gate whose retained
        status says ``online`` is fine (the broker's last will tells us when it is not).
        A gate that said ``offline``, or whose status we never had, and that has been
        silent that long, is recorded once per silence (the key holds when it began).
        """
        found: list[Finding] = []
        for gate in self.store.gate_rows():
            if gate.status == "online" or not gate.last_seen:
                continue
            offline = gate.status == "offline" and gate.status_at
            since = gate.status_at if offline and gate.status_at else gate.last_seen
            if now - from_utc_text(since) < self.offline_after:
                continue
            kind = "offline" if offline else "silent"
            key = f"{kind}:{gate.site}/{gate.gate}:{since}"
            found.append(Finding(key, kind, gate.site, gate.gate, {"since": since}))
        if found:
            with self.store.transaction():
                self.store.add_findings(found, now)
        return found
