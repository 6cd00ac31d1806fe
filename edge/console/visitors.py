"""Visitors: registered at the desk, badged with a one-time QR pass, signed out, kept a while.

A registration is a guard's ``visitor_in`` action (so the blocked list is checked and the
door opened by the gate's own rules) and a row in the visitor register
(``edge.store.visitors``), written in the same transaction. The register keeps the
registration only: the ID number masked and as a keyed hash, the phone (to call a visitor
who overstays; shown masked in lists), host, purpose and expected stay. Who is on site,
when they left and whether an overstay was reported are the day's events
(``edge.day.DayLog``), rebuilt after a restart like the rest of the day.
``kindergate purge`` (edge/ops/retention.py) deletes register rows older than
``retention.visitor_days``.

The badge is a visitor pass (edge/passes.py) whose id is the visit's id, signed with the
site key so the gate's readers accept it. A visitor on site who shows it at the gate is
signed out; once the visit is over the gate refuses the pass as revoked.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from edge.config import Config
from edge.console.forms import Fields, clean_id_number, clean_phone
from edge.day import Visit
from edge.events import Decision, Event, EventType, Person, Reason
from edge.guard import GuardAction, id_hash, id_salt, mask_id, mask_phone
from edge.host import GateHost, later, refusal
from edge.passes import PassKind, PassRejected, issue_pass, verify_pass
from edge.store.visitors import VisitRecord

log = logging.getLogger(__name__)

MIN_MINUTES, MAX_MINUTES, DEFAULT_MINUTES = 5, 12 * 60, 60


@dataclass(frozen=True, slots=True)
class VisitorForm:
    name: str
    id_number: str
    phone: str | None
    host: str
    purpose: str
    minutes: int


def parse_visitor(data: Mapping[str, Any]) -> VisitorForm:
    """The registration form, checked; ``FormError`` lists every problem."""
    f = Fields(data)
    name = f.text("name", 64)
    id_number = clean_id_number(f.raw("id_number"))
    if not f.raw("id_number"):
        f.problems["id_number"] = ("required", {})
    elif id_number is None:
        f.problems["id_number"] = ("bad_id_number", {})
    phone = clean_phone(f.raw("phone")) if f.raw("phone") else None
    if f.raw("phone") and phone is None:
        f.problems["phone"] = ("bad_phone", {})
    host = f.text("host", 64)
    purpose = f.text("purpose", 120)
    minutes = f.number("minutes", MIN_MINUTES, MAX_MINUTES, default=DEFAULT_MINUTES)
    f.check()
    return VisitorForm(name, id_number or "", phone, host, purpose, minutes)


@dataclass(frozen=True, slots=True)
class Visitor:
    """A visit: its registration, and what today's events say became of it."""

    id: str
    day: date
    name: str
    id_masked: str
    phone: str | None
    host: str
    purpose: str
    minutes: int
    arrived_at: datetime
    due_at: datetime
    in_by: str
    on_site: bool
    left_at: datetime | None
    out_by: str | None
    overstay_reported: bool

    @classmethod
    def of(cls, record: VisitRecord, visit: Visit | None) -> Visitor:
        """``visit`` is the day's, None for a visit of another day (long over)."""
        return cls(
            id=record.id,
            day=record.day,
            name=record.name,
            id_masked=record.id_masked,
            phone=record.phone,
            host=record.host,
            purpose=record.purpose,
            minutes=record.minutes,
            arrived_at=record.arrived_at,
            due_at=record.due_at,
            in_by=record.in_by,
            on_site=visit is not None and visit.on_site,
            left_at=visit.left if visit else None,
            out_by=visit.out_by if visit else None,
            overstay_reported=visit is not None and visit.overstay_reported,
        )

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone) if self.phone else ""

    def overdue(self, now: datetime) -> bool:
        return self.on_site and now >= self.due_at


@dataclass(frozen=True, slots=True)
class Registration:
    visitor: Visitor | None  # None when the gate refused the visitor
    blocked: bool
    events: list[Event]
    refused: str | None = None


def load_pass_key(cfg: Config, site_key: bytes | None) -> bytes:
    """The key badges are signed with: the site key, so the gate's readers accept them.

    Without one (no MQTT configured) the gate cannot check any pass; badges are then signed
    with a key of the console's own, made once (0600), and sign out only at the console.
    """
    if site_key is not None:
        return site_key
    path = Path(cfg.store.path).parent / "visitor-pass.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


class VisitorBook:
    def __init__(self, host: GateHost) -> None:
        self.host = host
        self.records = host.store.visitors
        self.key = load_pass_key(host.cfg, host.site_key)
        host.listeners.append(self.on_events)

    # --- queries ----------------------------------------------------------------------

    def _visitor(self, record: VisitRecord) -> Visitor:
        day = self.host.gate.today
        return Visitor.of(record, day.visits.get(record.id) if record.day == day.day else None)

    def on_site(self) -> list[Visitor]:
        """Visitors on site now, as the day's events say, by arrival."""
        visits = {v.id: v for v in self.host.gate.today.on_site()}
        return [Visitor.of(r, visits[r.id]) for r in self.records.these(visits)]

    def today(self) -> list[Visitor]:
        return [self._visitor(r) for r in self.records.of_day(self._today())]

    def get(self, vid: str) -> Visitor | None:
        record = self.records.get(vid)
        return self._visitor(record) if record else None

    def overdue(self) -> list[Visitor]:
        now = self.host.clock.now()
        return [v for v in self.on_site() if v.overdue(now)]

    def _today(self) -> date:
        return self.host.clock.now().astimezone(self.host.cfg.site.tz).date()

    # --- registration and sign-out ------------------------------------------------------

    def register(self, form: VisitorForm, *, by: str) -> Registration:
        now = self.host.clock.now()
        salt = id_salt(self.host.cfg.site.id, self.host.gate.pass_key)
        with self.host.store.transaction():
            # One transaction: the visitor event and the registration are written
            # together or not at all.
            vid = self.records.next_id(self._today())
            events = self.host.guard(
                GuardAction(
                    "visitor_in",
                    by=by,
                    name=form.name,
                    id_number=form.id_number,
                    phone=form.phone,
                    host=form.host,
                    purpose=form.purpose,
                    visitor_id=vid,
                    expected_minutes=form.minutes,
                )
            )
            admitted = any(
                e.type is EventType.VISITOR and e.reason is Reason.VISITOR_IN for e in events
            )
            if admitted:
                self.records.add(
                    VisitRecord(
                        id=vid,
                        day=self._today(),
                        name=form.name,
                        id_masked=mask_id(form.id_number),
                        id_hash=id_hash(form.id_number, salt),
                        phone=form.phone,
                        host=form.host,
                        purpose=form.purpose,
                        minutes=form.minutes,
                        arrived_at=now,
                        due_at=now + timedelta(minutes=form.minutes),
                        in_by=by,
                    )
                )
        blocked = any(e.reason is Reason.BLOCKED_PERSON for e in events)
        visitor = self.get(vid) if admitted else None
        return Registration(visitor, blocked, events, refusal(events))

    def sign_out(self, vid: str, *, by: str) -> list[Event] | None:
        """Sign a visitor on site out; None when no such visitor is on site.

        From the ``visitor_out`` event on, the visit is over for the day, so its badge
        opens the gate no more.
        """
        visitor = self.get(vid)
        if visitor is None or not visitor.on_site:
            return None
        return self.host.guard(GuardAction("visitor_out", by=by, visitor_id=vid))

    # --- badges -------------------------------------------------------------------------

    def badge_payload(self, visitor: Visitor) -> str:
        tz = self.host.cfg.site.tz
        end_of_day = datetime.combine(visitor.day + timedelta(days=1), time(0), tz)
        return issue_pass(
            self.key,
            kind=PassKind.VISITOR,
            pass_id=visitor.id,
            child=None,
            name=visitor.name,
            date=visitor.day,
            expires=end_of_day,
            phone=visitor.phone,
        )

    def visitor_of_badge(self, payload: str) -> Visitor | None:
        """The visitor on site whose genuine badge this is, else None."""
        payload = payload.strip().removeprefix("qr:")
        try:
            the_pass = verify_pass(
                self.key, payload, today=self._today(), now=self.host.clock.now()
            )
        except PassRejected as err:
            log.info("visitor badge refused: %s", err.reason)
            return None
        visitor = self.get(the_pass.id) if the_pass.kind is PassKind.VISITOR else None
        return visitor if visitor is not None and visitor.on_site else None

    def sign_out_badge(self, payload: str, *, by: str) -> tuple[Visitor, list[Event]] | None:
        visitor = self.visitor_of_badge(payload)
        if visitor is None:
            return None
        events = self.sign_out(visitor.id, by=by)
        return (visitor, events) if events is not None and not refusal(events) else None

    def on_events(self, events: list[Event]) -> None:
        """A badge that let its visitor through the gate signs the visitor out.

        The gate grants a genuine visitor pass (reason ``visitor``); the visitor came in
        through the desk, so a pass at the gate is the way out. Only after this batch, so
        the access event reaches every listener before the sign-out it causes.
        """
        for event in events:
            if (
                event.type is EventType.ACCESS
                and event.decision is Decision.GRANTED
                and event.reason is Reason.VISITOR
                and event.person is not None
            ):
                later(partial(self.sign_out, event.person.id, by="badge"))

    # --- overstay -----------------------------------------------------------------------

    def sweep(self) -> list[Event]:
        """An overstay event for each visitor past their time, once each."""
        now = self.host.clock.now()
        recorded: list[Event] = []
        for visitor in self.on_site():
            if visitor.overstay_reported or not visitor.overdue(now):
                continue
            draft = self.host.gate.draft(  # the day marks the overstay reported
                EventType.VISITOR,
                Reason.VISITOR_OVERSTAY,
                person=Person(visitor.id, "visitor", visitor.name),
                detail={
                    "host": visitor.host,
                    "due": visitor.due_at.isoformat(timespec="minutes"),
                    "expected_minutes": visitor.minutes,
                },
            )
            recorded += self.host.record([draft])
        return recorded
