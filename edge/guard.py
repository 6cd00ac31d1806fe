"""What guards do at the gate: approve early pickups, open by hand, switch modes, visitors.

The same actions come from the console, the CLI (through the daemon) and `simulate`'s
``guard`` steps, as ``GuardAction`` values. The desk keeps no state of its own: what
waits for approval and who is on site are the day's (``edge.day.DayLog``), and the desk
works on the gate through ``DeskGate``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from drivers.base import Feedback, GateIO
from edge.config import Config
from edge.day import DayLog
from edge.events import Decision, Draft, EventType, Person, Reason
from edge.roster import Roster
from edge.rules import Mode

ACTIONS = (
    "approve",
    "refuse",
    "open",
    "lockdown",
    "evacuate",
    "normal",
    "visitor_in",
    "visitor_out",
)


class GuardError(ValueError):
    """A guard action that cannot be carried out as given."""


@dataclass(frozen=True)
class GuardAction:
    action: str
    by: str = "guard"
    credential: str | None = None
    reason: str | None = None
    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    host: str | None = None
    purpose: str | None = None
    visitor_id: str | None = None
    expected_minutes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, by: str = "guard") -> GuardAction:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "extra"}
        if "action" not in known:
            raise GuardError("guard step needs an action")
        if known["action"] not in ACTIONS:
            raise GuardError(
                f"unknown guard action {known['action']!r}; one of {', '.join(ACTIONS)}"
            )
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise GuardError(f"unknown field(s) {', '.join(unknown)}")
        known.setdefault("by", by)
        return cls(**known)


def mask_id(number: str) -> str:
    """An ID number as shown anywhere: all but the last four characters hidden."""
    clean = re.sub(r"\s+", "", number)
    return "*" * max(0, len(clean) - 4) + clean[-4:]


def mask_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def id_hash(number: str, salt: str) -> str:
    """A keyed hash of an ID number, to match a returning or blocked visitor without storing it.

    ``salt`` is ``Gate.id_salt``: derived from the site key where there is one, since an
    ID number has too little entropy for an unkeyed hash to hide it.
    """
    clean = re.sub(r"\s+", "", number).upper()
    return hmac.new(salt.encode(), clean.encode(), hashlib.sha256).hexdigest()


def id_salt(site_id: str, key: bytes | None) -> str:
    """The key of ID-number hashes: from the site key, or the site id on a gate without one."""
    if key is None:
        return site_id
    return hmac.new(key, b"kindergate id hash v1", hashlib.sha256).hexdigest()


def _norm_name(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip().casefold()


class DeskGate(Protocol):
    """What the desk needs of the gate (``edge.gate.Gate``)."""

    cfg: Config
    roster: Roster
    io: GateIO
    pass_key: bytes | None
    today: DayLog

    def draft(self, type_: EventType, reason: Reason, **fields: Any) -> Draft: ...

    def tick(self) -> list[Draft]: ...

    def open_by_guard(self) -> None: ...

    def set_mode(self, mode: Mode, *, by: str) -> list[Draft]: ...


class GuardDesk:
    def __init__(self, gate: DeskGate) -> None:
        self.gate = gate

    def handle(self, action: GuardAction) -> list[Draft]:
        handler = {
            "approve": self._approve,
            "refuse": self._refuse,
            "open": self._open,
            "lockdown": lambda a: self.gate.set_mode(Mode.LOCKDOWN, by=a.by),
            "evacuate": lambda a: self.gate.set_mode(Mode.EVACUATE, by=a.by),
            "normal": lambda a: self.gate.set_mode(Mode.NORMAL, by=a.by),
            "visitor_in": self._visitor_in,
            "visitor_out": self._visitor_out,
        }[action.action]
        return handler(action)

    def _refused(self, action: GuardAction, reason: Reason, why: str) -> list[Draft]:
        return [
            self.gate.draft(
                EventType.SYSTEM,
                reason,
                by=action.by,
                credential=action.credential,
                detail={"action": action.action, "why": why},
            )
        ]

    def _pending(self, action: GuardAction) -> Any:
        gate = self.gate
        if not action.credential:
            return None
        gate.tick()  # drop approvals that have run out
        return gate.today.pending.pop(action.credential, None)

    def _approve(self, action: GuardAction) -> list[Draft]:
        found = self._pending(action)
        if found is None:
            return self._refused(
                action, Reason.NO_PENDING_APPROVAL, "no early pickup waiting for this credential"
            )
        outcome, _ = found
        gate = self.gate
        gate.open_by_guard()
        gate.io.signal(Feedback.GRANTED)
        delegate = outcome.person is not None and outcome.person.kind == "delegate"
        detail: dict[str, Any] = {}
        if delegate and outcome.person is not None:
            detail["pass_id"] = outcome.person.id  # the day counts the pass used
        return [
            gate.draft(
                EventType.ACCESS,
                Reason.DELEGATE if delegate else Reason.PICKUP,
                detail=detail,
                decision=Decision.GRANTED,
                credential=outcome.credential,
                person=outcome.person,
                children=outcome.children,
                approved_by=action.by,
            )
        ]

    def _refuse(self, action: GuardAction) -> list[Draft]:
        found = self._pending(action)
        if found is None:
            return self._refused(
                action, Reason.NO_PENDING_APPROVAL, "no early pickup waiting for this credential"
            )
        outcome, _ = found
        self.gate.io.signal(Feedback.DENIED)  # ends the amber "waiting for a guard"
        return [
            self.gate.draft(
                EventType.ACCESS,
                Reason.EARLY_PICKUP,
                decision=Decision.DENIED,
                credential=outcome.credential,
                person=outcome.person,
                children=outcome.children,
                by=action.by,
                detail={"refused_by": action.by},
            )
        ]

    def _open(self, action: GuardAction) -> list[Draft]:
        if not action.reason or not action.reason.strip():
            return self._refused(action, Reason.REFUSED, "a manual open needs a reason")
        self.gate.open_by_guard()
        return [
            self.gate.draft(
                EventType.OVERRIDE,
                Reason.GUARD_OVERRIDE,
                decision=Decision.GRANTED,
                by=action.by,
                detail={"why": action.reason.strip()},
            )
        ]

    def _visitor_in(self, action: GuardAction) -> list[Draft]:
        missing = [k for k in ("name", "id_number", "host", "purpose") if not getattr(action, k)]
        if missing:
            return self._refused(action, Reason.REFUSED, f"visitor needs {', '.join(missing)}")
        assert action.name and action.id_number
        gate = self.gate
        hashed = id_hash(action.id_number, id_salt(gate.cfg.site.id, gate.pass_key))
        blocked = [
            b
            for b in gate.roster.blocked
            if _norm_name(b.name) == _norm_name(action.name)
            or (b.id_hash is not None and b.id_hash == hashed)
        ]
        vid = action.visitor_id or gate.today.next_visit_id()
        person = Person(vid, "visitor", action.name)
        detail: dict[str, Any] = {
            "id_number": mask_id(action.id_number),
            "id_hash": hashed,
            "host": action.host,
            "purpose": action.purpose,
        }
        if action.phone:
            detail["phone"] = mask_phone(action.phone)
        if action.expected_minutes:
            detail["expected_minutes"] = action.expected_minutes
        if blocked:
            kids = tuple(dict.fromkeys(c for b in blocked for c in gate.roster.blocked_children(b)))
            gate.io.signal(Feedback.ALARM)
            return [
                gate.draft(
                    EventType.VISITOR,
                    Reason.BLOCKED_PERSON,
                    decision=Decision.DENIED,
                    person=person,
                    by=action.by,
                    detail=detail,
                ),
                gate.draft(
                    EventType.ALARM,
                    Reason.BLOCKED_PERSON,
                    person=person,
                    children=kids,
                    by=action.by,
                ),
            ]
        gate.open_by_guard()
        return [
            gate.draft(
                EventType.VISITOR,
                Reason.VISITOR_IN,
                decision=Decision.GRANTED,
                person=person,
                by=action.by,
                detail=detail,
            )
        ]

    def _visitor_out(self, action: GuardAction) -> list[Draft]:
        on_site = {v.id: v for v in self.gate.today.on_site()}
        vid = action.visitor_id
        if vid is None and action.name:
            wanted = _norm_name(action.name)
            matches = [v.id for v in on_site.values() if _norm_name(v.name or "") == wanted]
            vid = matches[-1] if matches else None
        visit = on_site.get(vid) if vid is not None else None
        if visit is None:
            return self._refused(action, Reason.REFUSED, "no such visitor on site")
        self.gate.open_by_guard()
        return [
            self.gate.draft(
                EventType.VISITOR,
                Reason.VISITOR_OUT,
                person=Person(visit.id, "visitor", visit.name),
                by=action.by,
            )
        ]
