"""The one event schema: the local log, MQTT, `simulate` and the collector all use it.

A ``Draft`` is an event as the gate decides it; the store seals it (id, seq, chain hash)
into an ``Event``, which is immutable. Whatever reads events back (the day's state after a
restart, the console, reports, the collector, the simulation) reads them as ``Event``s
through ``Event.from_json``, which checks the shape and gives typed fields: a reason is
compared as a ``Reason``, never as a bare string. An ``Event`` keeps the exact JSON object
it came from, so writing it out again reproduces the bytes its hash was computed on.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from types import MappingProxyType
from typing import Any


class EventType(enum.StrEnum):
    ACCESS = "access"
    DOOR = "door"
    MODE = "mode"
    VISITOR = "visitor"
    OVERRIDE = "override"
    ALARM = "alarm"
    CHECK = "check"
    LATE_PICKUP = "late_pickup"
    SYSTEM = "system"
    REPAIR = "repair"


class Decision(enum.StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    NEEDS_APPROVAL = "needs_approval"


class Reason(enum.StrEnum):
    # access, granted
    PICKUP = "pickup"
    DROPOFF = "dropoff"
    STAFF = "staff"
    VISITOR = "visitor"
    DELEGATE = "delegate"
    GUARD_OVERRIDE = "guard_override"
    EXIT_REQUEST = "exit_request"
    EVACUATION = "evacuation"
    # access, denied
    UNKNOWN_CREDENTIAL = "unknown_credential"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NOT_SCHOOL_DAY = "not_school_day"
    OUTSIDE_WINDOW = "outside_window"
    BLOCKED_PERSON = "blocked_person"
    LOCKDOWN = "lockdown"
    WRONG_CHANNEL = "wrong_channel"
    RATE_LIMITED = "rate_limited"
    ALREADY_COLLECTED = "already_collected"
    BAD_SIGNATURE = "bad_signature"
    WRONG_DATE = "wrong_date"
    ALREADY_USED = "already_used"
    # access, needs approval
    EARLY_PICKUP = "early_pickup"
    # door
    OPENED = "opened"
    CLOSED = "closed"
    HELD_OPEN = "held_open"
    FORCED_OPEN = "forced_open"
    LOCK_NOT_ENGAGED = "lock_not_engaged"
    # mode
    NORMAL = "normal"
    EVACUATE = "evacuate"
    # alarm
    FIRE_ALARM = "fire_alarm"
    FIRE_ALARM_CLEARED = "fire_alarm_cleared"
    TAMPER = "tamper"
    ALARM_ACKNOWLEDGED = "alarm_acknowledged"  # a guard saw a blocked-person alarm: by, when
    # visitor
    VISITOR_IN = "visitor_in"
    VISITOR_OUT = "visitor_out"
    VISITOR_OVERSTAY = "visitor_overstay"
    # late pickup
    LATE_PICKUP = "late_pickup"
    # check / repair
    DEVICE_CHECK = "device_check"
    REPAIR_OPENED = "repair_opened"
    REPAIR_CLOSED = "repair_closed"
    # system
    STARTED = "started"
    STOPPED = "stopped"
    BAD_READ = "bad_read"
    BAD_READS_SUPPRESSED = "bad_reads_suppressed"
    READER_DOWN = "reader_down"
    READER_UP = "reader_up"
    ROSTER_LOADED = "roster_loaded"
    ROSTER_REJECTED = "roster_rejected"
    NO_PENDING_APPROVAL = "no_pending_approval"
    FIRE_ALARM_ACTIVE = "fire_alarm_active"
    REFUSED = "refused"
    STALE = "stale"
    REPLAYED = "replayed"
    MALFORMED = "malformed"
    UNKNOWN_COMMAND = "unknown_command"
    CLOCK_UNSYNCED = "clock_unsynced"
    CLOCK_SYNCED = "clock_synced"
    PURGE = "purge"


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    kind: str  # guardian | staff | child | visitor | delegate | blocked | guard
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind}
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True, slots=True)
class Draft:
    """An event as the gate decides it, before the store gives it an id and a place."""

    type: EventType
    reason: Reason
    ts: datetime
    decision: Decision | None = None
    credential: str | None = None
    person: Person | None = None
    children: tuple[str, ...] = ()
    reader: str | None = None
    mode: str | None = None
    approved_by: str | None = None
    by: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The event's fields other than identity, in the shared JSON shape."""
        out: dict[str, Any] = {
            "ts": self.ts.isoformat(timespec="milliseconds"),
            "type": str(self.type),
            "reason": str(self.reason),
        }
        if self.decision is not None:
            out["decision"] = str(self.decision)
        if self.type is EventType.ACCESS or self.credential is not None:
            out["credential"] = self.credential
        if self.type is EventType.ACCESS or self.person is not None:
            out["person"] = self.person.to_json() if self.person else None
        if self.type in (EventType.ACCESS, EventType.LATE_PICKUP, EventType.ALARM) or self.children:
            out["children"] = list(self.children)
        optional = {
            "reader": self.reader,
            "mode": self.mode,
            "approved_by": self.approved_by,
            "by": self.by,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.detail:
            out["detail"] = self.detail
        return out


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _b32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[number & 31])
        number >>= 5
    return "".join(reversed(chars))


def event_id(ts: datetime, site: str, gate: str, seq: int) -> str:
    """A ULID-shaped id: sortable by time, unique per (site, gate, seq), deterministic."""
    millis = int(ts.timestamp() * 1000)
    tail = int.from_bytes(hashlib.blake2b(f"{site}/{gate}/{seq}".encode(), digest_size=10).digest())
    return _b32(millis, 10) + _b32(tail, 16)


# One encoder for every hash (``json.dumps`` with options builds a new one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(obj: dict[str, Any]) -> bytes:
    return _CANONICAL.encode(obj).encode()


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """The hash that links an event to the one before it (the tamper-evident log)."""
    without = dict(body)  # a copy and a deletion: cheaper than a filtered comprehension
    without.pop("hash", None)
    return hashlib.sha256(prev_hash.encode() + canonical(without)).hexdigest()


GENESIS = "0" * 64


def seal(draft: Draft, *, site: str, gate: str, seq: int, prev_hash: str) -> dict[str, Any]:
    """The full event as stored and published."""
    event: dict[str, Any] = {
        "id": event_id(draft.ts, site, gate, seq),
        "seq": seq,
        "site": site,
        "gate": gate,
        **draft.body(),
        "prev_hash": prev_hash,
    }
    event["hash"] = chain_hash(prev_hash, event)
    return event


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


class EventError(ValueError):
    """A JSON object that is not a usable event."""


def _text(obj: Mapping[str, Any], key: str, *, limit: int = 200, required: bool = True) -> Any:
    value = obj.get(key)
    if value is None and not required:
        return None
    if type(value) is not str or not 0 < len(value) <= limit:
        raise EventError(f"{key}: missing or not a short string")
    return value


def _enum(kind: type[enum.StrEnum], obj: Mapping[str, Any], key: str) -> Any:
    value = obj.get(key)
    if type(value) is not str:
        raise EventError(f"{key}: missing or not a string")
    member = kind._value2member_map_.get(value)  # kind(value), without its cost per event
    if member is None:
        raise EventError(f"{key}: unknown value {value[:64]!r}")
    return member


def _person(value: Any) -> Person | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise EventError("person: not an object")
    try:
        return Person(
            _text(value, "id"),
            _text(value, "kind", limit=32),
            _text(value, "name", limit=500, required=False),
        )
    except EventError as err:
        raise EventError(f"person.{err}") from None


def _children(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(type(c) is str and c for c in value):
        raise EventError("children: not a list of ids")
    return tuple(value)


@dataclass(frozen=True, slots=True, eq=False)
class Event:
    """A sealed event: immutable, typed, and carrying the exact JSON object it stands for."""

    id: str
    seq: int | None
    ts: datetime
    site: str
    gate: str
    type: EventType
    reason: Reason
    decision: Decision | None
    credential: str | None
    person: Person | None
    children: tuple[str, ...]
    reader: str | None
    mode: str | None
    approved_by: str | None
    by: str | None
    detail: Mapping[str, Any]
    prev_hash: str | None
    hash: str | None
    raw: dict[str, Any] = field(repr=False)  # the JSON object; never modified

    @property
    def json(self) -> Mapping[str, Any]:
        """The JSON object, read-only."""
        return MappingProxyType(self.raw)

    @classmethod
    def from_json(cls, obj: Any) -> Event:
        """Read an event back from its JSON object; ``EventError`` says what is wrong."""
        if not isinstance(obj, dict):
            raise EventError("not a JSON object")
        seq = obj.get("seq")
        if seq is not None and (type(seq) is not int or not 0 < seq < 2**63):
            raise EventError("seq: not a positive integer")
        try:
            ts = datetime.fromisoformat(_text(obj, "ts", limit=64))
        except ValueError:
            raise EventError("ts: not an ISO 8601 time") from None
        if ts.tzinfo is None:
            raise EventError("ts: no UTC offset")
        decision = obj.get("decision")
        detail = obj.get("detail")
        if detail is not None and not isinstance(detail, dict):
            raise EventError("detail: not an object")
        return cls(
            id=_text(obj, "id"),
            seq=seq,
            ts=ts,
            site=_text(obj, "site"),
            gate=_text(obj, "gate"),
            type=_enum(EventType, obj, "type"),
            reason=_enum(Reason, obj, "reason"),
            decision=None if decision is None else _enum(Decision, obj, "decision"),
            credential=_text(obj, "credential", limit=4096, required=False),
            person=_person(obj.get("person")),
            children=_children(obj.get("children")),
            reader=_text(obj, "reader", required=False),
            mode=_text(obj, "mode", limit=32, required=False),
            approved_by=_text(obj, "approved_by", required=False),
            by=_text(obj, "by", required=False),
            detail=MappingProxyType(detail or {}),
            prev_hash=_text(obj, "prev_hash", limit=64, required=False),
            hash=_text(obj, "hash", limit=64, required=False),
            raw=obj,
        )

    @classmethod
    def loads(cls, text: str | bytes) -> Event:
        try:
            obj = json.loads(text)
        except (ValueError, UnicodeDecodeError, RecursionError) as err:  # nested too deep
            raise EventError(f"not JSON: {err}") from None
        return cls.from_json(obj)

    def to_json(self) -> dict[str, Any]:
        """The JSON object, exactly as stored, published and hashed (a copy)."""
        return dict(self.raw)

    def dumps(self) -> str:
        return json.dumps(self.raw, ensure_ascii=False, separators=(",", ":"))

    def local_day(self, tz: tzinfo) -> date:
        return self.ts.astimezone(tz).date()

    @property
    def granted(self) -> bool:
        return self.decision is Decision.GRANTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self.raw == other.raw

    def __hash__(self) -> int:
        return hash(self.id)


# Groups of reasons, defined once: compare with ``in``, never with a list of strings.
COLLECTING = frozenset({Reason.PICKUP, Reason.DELEGATE})  # granted: the children leave
GUARD_REFUSALS = frozenset({Reason.REFUSED, Reason.NO_PENDING_APPROVAL, Reason.FIRE_ALARM_ACTIVE})
NOT_GENUINE = frozenset({Reason.UNKNOWN_CREDENTIAL, Reason.BAD_SIGNATURE})  # count to a lockout
DOOR_PASSAGE = frozenset({Reason.OPENED, Reason.CLOSED})  # an ordinary passage
DOOR_ALARMS = frozenset({Reason.FORCED_OPEN, Reason.HELD_OPEN})  # snapshot, demo summary, reports
ALARM_MODES = frozenset({Reason.LOCKDOWN, Reason.EVACUATE})  # mode events that are alarms
DOOR_FAULTS = DOOR_ALARMS | {Reason.LOCK_NOT_ENGAGED}  # door events a guard must see
READER_HEALTH = frozenset({Reason.READER_DOWN, Reason.READER_UP})
# How the console colours an event: an alarm, or a warning (shown like a denial).
ALARMING = frozenset(
    {
        Reason.BLOCKED_PERSON,
        Reason.FORCED_OPEN,
        Reason.FIRE_ALARM,
        Reason.TAMPER,
        Reason.LOCK_NOT_ENGAGED,
    }
)
WARNING = frozenset(
    {
        Reason.VISITOR_OVERSTAY,
        Reason.LATE_PICKUP,
        Reason.HELD_OPEN,
        Reason.LOCKDOWN,
        Reason.EVACUATE,
    }
)
