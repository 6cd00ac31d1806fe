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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from edge.events import Event, EventError, chain_hash
from office.checks import Checker, chain_findings, seq_runs
from office.store import (
    CollectorStore,
    Finding,
    Row,
    epoch_ms,
    utc_text,
)

log = logging.getLogger(__name__)

MAX_EXCERPT = 300  # characters of a bad payload kept for the office to look at
MAX_PAYLOAD = 64 * 1024  # bytes; a gate's largest event is a few kilobytes
MAX_TOPICS = 4096  # parsed topic names remembered
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


def decode_event(payload: bytes) -> tuple[Event, str]:
    """The event in a payload and the payload as text, or ``EventError`` saying why not.

    ``Event.loads`` checks the shape and every field. The collector adds a bound on the
    whole payload (a forged message must not fill the office database) and wants UTF-8
    itself, as JSON is exchanged (``json.loads`` would also take UTF-16 and UTF-32 bytes),
    because the text is what it stores.
    """
    if len(payload) > MAX_PAYLOAD:
        raise EventError(f"payload: {len(payload)} bytes, more than {MAX_PAYLOAD}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise EventError(f"not JSON: not UTF-8 ({err.reason} at byte {err.start})") from None
    return Event.loads(text), text


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


def event_findings(event: Event, topic: Topic) -> list[Finding]:
    """What is wrong with an event that is still worth storing."""
    out: list[Finding] = []
    eid, site, gate = event.id, event.site, event.gate
    if (site, gate, str(event.type)) != (topic.site, topic.gate, topic.event_type):
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
    if event.hash is None or event.prev_hash is None:
        out.append(Finding(f"hash:{eid}", "no_hash", site, gate, {"seq": event.seq}, eid))
    elif chain_hash(event.prev_hash, event.raw) != event.hash:
        out.append(Finding(f"hash:{eid}", "hash_mismatch", site, gate, {"seq": event.seq}, eid))
    return out


def event_row(event: Event, body: str, received: str) -> Row:
    """The row in ``INSERT_EVENT``'s column order; ``ts`` is kept as the gate wrote it."""
    return (
        event.id,
        event.site,
        event.gate,
        event.seq,
        event.raw["ts"],
        epoch_ms(event.ts),
        str(event.type),
        str(event.reason),
        event.hash,
        event.prev_hash,
        body,
        received,
    )


@dataclass
class Batch:
    """One transaction's worth of work, built from messages before the database is touched."""

    rows: list[Row] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    last_ts: dict[GateKey, int] = field(default_factory=dict)
    seqs: dict[GateKey, set[int]] = field(default_factory=dict)
    status: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add_event(self, event: Event, body: str, received: str) -> None:
        key = (event.site, event.gate)
        row = event_row(event, body, received)
        self.rows.append(row)
        ts_ms = row[5]
        if ts_ms > self.last_ts.get(key, -1):
            self.last_ts[key] = ts_ms
        seq = event.seq
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
        self.checker = Checker(store, offline_after=offline_after, clock=clock)
        self._topics: dict[str, Topic | None] = {}  # a few per gate, parsed once each

    def build(self, messages: Sequence[Message], received: str) -> Batch:
        batch = Batch()
        for message in messages:
            self._add(batch, message, received)
        return batch

    def _add(self, batch: Batch, message: Message, received: str) -> None:
        topic = self._topic(message.topic)
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
            event, body = decode_event(message.payload)
        except EventError as err:
            log.warning("malformed event on %s: %s", message.topic, err)
            batch.findings.append(malformed(message, str(err), topic))
            return
        batch.findings.extend(event_findings(event, topic))
        batch.add_event(event, body, received)

    def _topic(self, name: str) -> Topic | None:
        try:
            return self._topics[name]
        except KeyError:
            if len(self._topics) >= MAX_TOPICS:  # forged topic names must not pile up
                self._topics.clear()
            topic = self._topics[name] = parse_topic(self.prefix, name)
            return topic

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
        self.checker.dirty.update(batch.seqs)
        for finding in found:
            if finding.kind != "malformed":
                log.warning(
                    "%s %s/%s: %s", finding.kind, finding.site, finding.gate, finding.detail
                )
        return batch

    def check(self) -> list[Finding]:
        """The periodic checks (gaps, the whole chain, silent gates); see ``Checker``."""
        return self.checker.check()
