"""From MQTT messages to committed rows: parse, dedup, chain check, gap and silence checks.

Nothing here talks to the broker. ``Ingestor.write`` turns a batch of messages into one
database transaction; the caller acknowledges the messages only after it returns. A
payload that is not a usable event becomes a finding (and is acknowledged like any
other message), never an exception: a poison message must not stall the stream.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from edge.events import chain_hash
from mqtt.collector_store import (
    CollectorStore,
    Finding,
    Row,
    epoch_ms,
    from_utc_text,
    utc_text,
)

log = logging.getLogger(__name__)

MAX_EXCERPT = 300  # characters of a bad payload kept for the office to look at
GateKey = tuple[str, str]


class Message(NamedTuple):
    """One MQTT message as paho's thread hands it over (a tuple: it is made per message)."""

    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 0
    session: int = 0  # which broker connection delivered it (acks go back on the same one)


@dataclass(frozen=True, slots=True)
class Topic:
    site: str
    gate: str
    kind: str  # "event" | "status" | "state"
    event_type: str | None = None


def parse_topic(prefix: str, topic: str) -> Topic | None:
    """``{prefix}/{site}/{gate}/event/{type}``, ``.../status`` or ``.../state``."""
    if not topic.startswith(prefix + "/"):
        return None
    parts = topic[len(prefix) + 1 :].split("/")
    if len(parts) == 4 and parts[2] == "event" and all(parts):
        return Topic(parts[0], parts[1], "event", parts[3])
    if len(parts) == 3 and parts[2] in ("status", "state") and parts[0] and parts[1]:
        return Topic(parts[0], parts[1], parts[2])
    return None


class BadEvent(ValueError):
    """A payload that cannot be stored as an event."""


def _text(event: dict[str, Any], key: str, limit: int = 200) -> str:
    value = event.get(key)
    if type(value) is not str or not 0 < len(value) <= limit:
        raise BadEvent(f"{key}: missing or not a short string")
    return value


def decode_event(payload: bytes) -> tuple[dict[str, Any], int]:
    """The event and its time in Unix milliseconds (as stored for ordering), or BadEvent."""
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadEvent(f"not JSON: {err}") from None
    if type(event) is not dict:
        raise BadEvent("not a JSON object")
    for key in ("id", "site", "gate", "type"):
        _text(event, key)
    seq = event.get("seq")
    if seq is not None and (type(seq) is not int or seq < 1):
        raise BadEvent("seq: not a positive integer")
    try:
        ts = datetime.fromisoformat(_text(event, "ts", 64))
    except ValueError:
        raise BadEvent("ts: not an ISO 8601 time") from None
    if ts.tzinfo is None:
        raise BadEvent("ts: no UTC offset")
    return event, epoch_ms(ts)


def excerpt(payload: bytes) -> str:
    return payload[: MAX_EXCERPT * 4].decode("utf-8", "replace")[:MAX_EXCERPT]


def malformed(message: Message, why: str, topic: Topic | None = None) -> Finding:
    digest = hashlib.sha256(message.topic.encode() + b"\0" + message.payload).hexdigest()[:32]
    return Finding(
        key=f"malformed:{digest}",
        kind="malformed",
        site=topic.site if topic else None,
        gate=topic.gate if topic else None,
        detail={"topic": message.topic, "error": why, "payload": excerpt(message.payload)},
    )


def event_findings(event: dict[str, Any], topic: Topic) -> list[Finding]:
    """What is wrong with an event that is still worth storing."""
    out: list[Finding] = []
    eid, site, gate = event["id"], event["site"], event["gate"]
    if (site, gate, event["type"]) != (topic.site, topic.gate, topic.event_type):
        out.append(
            Finding(
                f"topic:{eid}",
                "topic_mismatch",
                site,
                gate,
                {"topic": [topic.site, topic.gate, topic.event_type]},
                eid,
            )
        )
    stated, prev = event.get("hash"), event.get("prev_hash")
    if not isinstance(stated, str) or not isinstance(prev, str):
        out.append(Finding(f"hash:{eid}", "no_hash", site, gate, {"seq": event.get("seq")}, eid))
    elif chain_hash(prev, event) != stated:
        out.append(
            Finding(f"hash:{eid}", "hash_mismatch", site, gate, {"seq": event.get("seq")}, eid)
        )
    return out


def _str_or_none(value: Any) -> str | None:
    return value if type(value) is str else None


def event_row(event: dict[str, Any], ts_ms: int, body: bytes, received: str) -> Row:
    return (
        event["id"],
        event["site"],
        event["gate"],
        event.get("seq"),
        event["ts"],
        ts_ms,
        event["type"],
        _str_or_none(event.get("reason")),
        _str_or_none(event.get("hash")),
        _str_or_none(event.get("prev_hash")),
        body.decode("utf-8"),
        received,
    )


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


@dataclass
class Batch:
    """One transaction's worth of work, built from messages before the database is touched."""

    rows: list[Row] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    last_ts: dict[GateKey, int] = field(default_factory=dict)
    seqs: dict[GateKey, set[int]] = field(default_factory=dict)
    status: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add_event(self, event: dict[str, Any], ts_ms: int, body: bytes, received: str) -> None:
        key = (event["site"], event["gate"])
        self.rows.append(event_row(event, ts_ms, body, received))
        if ts_ms > self.last_ts.get(key, -1):
            self.last_ts[key] = ts_ms
        seq = event.get("seq")
        if seq is not None:
            self.seqs.setdefault(key, set()).add(seq)

    def gate_rows(self, received: str) -> list[tuple[str, str, str, str | None, int | None]]:
        """(site, gate, last_seen, last_event_ts, last_seq) for each gate in the batch."""
        return [
            (
                site,
                gate,
                received,
                utc_text(datetime.fromtimestamp(ms / 1000, UTC)),
                max(self.seqs.get((site, gate), ()), default=None),
            )
            for (site, gate), ms in self.last_ts.items()
        ]


class Ingestor:
    """Writes batches of messages to the store and runs the periodic checks."""

    def __init__(
        self,
        store: CollectorStore,
        prefix: str,
        *,
        offline_after: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.offline_after = offline_after
        self.clock = clock
        self.dirty: set[GateKey] = set()  # gates with new seqs since the last gap check
        self._open_gaps: dict[GateKey, list[tuple[int, int]]] = {}

    def build(self, messages: Sequence[Message], received: str) -> Batch:
        batch = Batch()
        for message in messages:
            self._add(batch, message, received)
        return batch

    def _add(self, batch: Batch, message: Message, received: str) -> None:
        topic = parse_topic(self.prefix, message.topic)
        if topic is None:
            batch.findings.append(malformed(message, "unexpected topic"))
            return
        if topic.kind == "status":
            status = message.payload.decode("utf-8", "replace").strip()[:32] or "(empty)"
            batch.status.append((topic.site, topic.gate, "status", status))
            return
        if topic.kind == "state":
            try:
                state = json.loads(message.payload) if message.payload else {}
            except (ValueError, UnicodeDecodeError):
                state = None
            if not isinstance(state, dict):
                batch.findings.append(malformed(message, "state is not a JSON object", topic))
                return
            text = json.dumps(state, ensure_ascii=False)
            batch.status.append((topic.site, topic.gate, "state", text))
            return
        try:
            event, ts_ms = decode_event(message.payload)
        except BadEvent as err:
            log.warning("malformed event on %s: %s", message.topic, err)
            batch.findings.append(malformed(message, str(err), topic))
            return
        batch.findings.extend(event_findings(event, topic))
        batch.add_event(event, ts_ms, message.payload, received)

    def write(self, messages: Sequence[Message]) -> Batch:
        """Store a batch in one transaction; return what was written.

        Every message of the batch counts as received now: the batch is a few
        milliseconds long, and one clock read per message would cost more than that.
        """
        now = self.clock()
        batch = self.build(messages, utc_text(now))
        store = self.store
        with store.transaction():
            store.insert_events(sorted(batch.rows, key=lambda r: r[0]))
            store.touch_gates(batch.gate_rows(utc_text(now)))
            for site, gate, what, value in batch.status:
                if what == "status":
                    store.set_status(site, gate, value, now)
                else:
                    store.set_state(site, gate, value, now)
            found = list(batch.findings)
            for (site, gate), seqs in sorted(batch.seqs.items()):
                for lo, hi in seq_runs(seqs):
                    rows = store.chain_rows(site, gate, lo, hi)
                    found += chain_findings(site, gate, rows, seqs)
            store.add_findings(found, now)
        self.dirty.update(batch.seqs)
        for finding in found:
            if finding.kind != "malformed":
                log.warning(
                    "%s %s/%s: %s", finding.kind, finding.site, finding.gate, finding.detail
                )
        return batch

    # --- periodic checks --------------------------------------------------------------

    def check(self) -> list[Finding]:
        """Gaps in each gate's seq (open since the last check too), and silent gates."""
        now = self.clock()
        found: list[Finding] = []
        for site, gate in sorted(self.dirty | set(self._open_gaps)):
            found += self._check_gaps(site, gate, now)
        self.dirty.clear()
        found += self._check_silence(now)
        return found

    def _check_gaps(self, site: str, gate: str, now: datetime) -> list[Finding]:
        store = self.store
        row = store.gate_row(site, gate)
        checked = row.checked_seq if row else 0
        gaps = store.gaps(site, gate, checked)
        before = self._open_gaps.get((site, gate), [])
        # A gap seen by one check only may be an event still in flight (or on another
        # collector of the group): it is recorded once a second check still sees it.
        lasting = [g for g in gaps if any(a <= g[0] and g[1] <= b for a, b in before)]
        if gaps:
            self._open_gaps[(site, gate)] = gaps
        else:
            self._open_gaps.pop((site, gate), None)
        findings = [
            Finding(
                f"gap:{site}/{gate}:{lo}-{hi}",
                "gap",
                site,
                gate,
                {"from": lo, "to": hi, "missing": hi - lo + 1},
            )
            for lo, hi in lasting
        ]
        with store.transaction():
            store.add_findings(findings, now)
            for key, detail in store.open_findings("gap", site, gate):
                lo, hi = int(detail["from"]), int(detail["to"])
                if store.count_seqs(site, gate, lo, hi) == hi - lo + 1:
                    store.resolve_finding(key, now)
            contiguous = gaps[0][0] - 1 if gaps else (row.last_seq if row else None)
            if contiguous:
                store.set_checked_seq(site, gate, contiguous)
        for f in findings:
            log.warning(
                "gap %s/%s: seq %s to %s missing", site, gate, f.detail["from"], f.detail["to"]
            )
        return findings

    def _check_silence(self, now: datetime) -> list[Finding]:
        """Gates gone for longer than ``offline_after``.

        A gate publishes its state only when it changes, so a quiet gate whose retained
        status says ``online`` is fine (the broker's last will tells us when it is not).
        A gate that said ``offline``, or whose status we never had, and that has been
        silent that long, is recorded once per silence (the key holds when it began).
        """
        found: list[Finding] = []
        for gate in self.store.gate_rows():
            where = f"{gate.site}/{gate.gate}"
            if gate.status == "online" or not gate.last_seen:
                continue
            since = (
                gate.status_at if gate.status == "offline" and gate.status_at else gate.last_seen
            )
            if now - from_utc_text(since) < self.offline_after:
                continue
            kind = "offline" if gate.status == "offline" else "silent"
            found.append(
                Finding(f"{kind}:{where}:{since}", kind, gate.site, gate.gate, {"since": since})
            )
        if found:
            with self.store.transaction():
                self.store.add_findings(found, now)
        return found
