"""Visitors: registered at the desk, badged with a one-time QR pass, signed out, kept a while.

A registration is a guard's ``visitor_in`` action (so the blocked list is checked and the
door opened by the gate's own rules) and a row in the ``visitors`` table, written in the
same transaction. The ID number is kept only masked and as a keyed hash; the phone is kept
to call a visitor who overstays and is shown masked in lists; ``kindergate purge``
(edge/ops/retention.py) deletes signed-out rows older than ``retention.visitor_days``.

The badge is a visitor pass (edge/passes.py) whose id is the visit's id, signed with the
site key so the gate's readers accept it. A visitor on site who shows it at the gate is
signed out, and the pass is then revoked: it serves this visit and no other.
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
from edge.console.host import GateHost, later, refusal
from edge.events import EventType, Person, Reason
from edge.guard import GuardAction, id_hash, id_salt, mask_id, mask_phone
from edge.passes import PassKind, PassRejected, issue_pass, verify_pass

log = logging.getLogger(__name__)

MIN_MINUTES, MAX_MINUTES, DEFAULT_MINUTES = 5, 12 * 60, 60
_COLUMNS = (
    "id, day, name, id_masked, phone, host, purpose, expected_minutes, arrived_at, due_at, "
    "left_at, in_by, out_by, overstay_event"
)


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
    left_at: datetime | None
    in_by: str
    out_by: str | None
    overstay_event: str | None

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone) if self.phone else ""

    def overdue(self, now: datetime) -> bool:
        return self.left_at is None and now >= self.due_at


def _visitor(row: tuple[Any, ...]) -> Visitor:
    def when(v: str | None) -> datetime | None:
        return datetime.fromisoformat(v) if v else None

    arrived, due = when(row[8]), when(row[9])
    assert arrived is not None and due is not None
    return Visitor(
        id=row[0],
        day=date.fromisoformat(row[1]),
        name=row[2],
        id_masked=row[3],
        phone=row[4],
        host=row[5],
        purpose=row[6],
        minutes=row[7],
        arrived_at=arrived,
        due_at=due,
        left_at=when(row[10]),
        in_by=row[11],
        out_by=row[12],
        overstay_event=row[13],
    )


@dataclass(frozen=True, slots=True)
class Registration:
    visitor: Visitor | None  # None when the gate refused the visitor
    blocked: bool
    events: list[dict[str, Any]]
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
        self.key = load_pass_key(host.cfg, getattr(host, "site_key", None))
        self._restore_gate()
        host.listeners.append(self.on_events)

    # --- queries ----------------------------------------------------------------------

    def _rows(self, where: str, params: tuple[Any, ...] = ()) -> list[Visitor]:
        with self.host.store.transaction() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM visitors {where}", params).fetchall()
        return [_visitor(r) for r in rows]

    def on_site(self) -> list[Visitor]:
        return self._rows("WHERE left_at IS NULL ORDER BY arrived_at")

    def today(self) -> list[Visitor]:
        return self._rows("WHERE day = ? ORDER BY arrived_at", (self._today().isoformat(),))

    def get(self, vid: str) -> Visitor | None:
        found = self._rows("WHERE id = ?", (vid,))
        return found[0] if found else None

    def overdue(self) -> list[Visitor]:
        now = self.host.clock.now()
        return [v for v in self.on_site() if v.overdue(now)]

    def _today(self) -> date:
        return self.host.clock.now().astimezone(self.host.cfg.site.tz).date()

    # --- registration and sign-out ------------------------------------------------------

    def register(self, form: VisitorForm, *, by: str) -> Registration:
        now = self.host.clock.now()
        with self.host.store.transaction() as db:
            # One transaction: the visitor event and the row that lists the visitor on site
            # are written together or not at all.
            vid = self._next_id(now)
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
            admitted = any(e["type"] == "visitor" and e["reason"] == "visitor_in" for e in events)
            if admitted:
                due = now + timedelta(minutes=form.minutes)
                db.execute(
                    "INSERT INTO visitors (id, day, name, id_masked, id_hash, phone, host, "
                    "purpose, expected_minutes, arrived_at, due_at, in_by) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        vid,
                        self._today().isoformat(),
                        form.name,
                        mask_id(form.id_number),
                        id_hash(
                            form.id_number, id_salt(self.host.cfg.site.id, self.host.gate.pass_key)
                        ),
                        form.phone,
                        form.host,
                        form.purpose,
                        form.minutes,
                        now.isoformat(timespec="seconds"),
                        due.isoformat(timespec="seconds"),
                        by,
                    ),
                )
        blocked = any(e["reason"] == "blocked_person" for e in events)
        visitor = self.get(vid) if admitted else None
        return Registration(visitor, blocked, events, refusal(events))

    def _next_id(self, now: datetime) -> str:
        day = now.astimezone(self.host.cfg.site.tz).strftime("%Y%m%d")
        stored = self.host.store.get_state("visitor_seq") or ""
        last_day, _, last = stored.partition(":")
        seq = int(last) + 1 if last_day == day and last.isdigit() else 1
        self.host.store.set_state("visitor_seq", f"{day}:{seq}")
        return f"V{day}-{seq:03d}"

    def sign_out(self, vid: str, *, by: str) -> list[dict[str, Any]] | None:
        """Sign a visitor on site out; None when no such visitor is on site."""
        visitor = self.get(vid)
        if visitor is None or visitor.left_at is not None:
            return None
        now = self.host.clock.now()
        with self.host.store.transaction() as db:
            events = self.host.guard(GuardAction("visitor_out", by=by, visitor_id=vid))
            if refusal(events):
                return events
            out_event = events[-1]["id"] if events else None
            db.execute(
                "UPDATE visitors SET left_at = ?, out_by = ? WHERE id = ?",
                (now.isoformat(timespec="seconds"), by, vid),
            )
            db.execute(
                "INSERT OR IGNORE INTO used_passes VALUES (?, ?, ?)",
                (vid, out_event, now.isoformat(timespec="seconds")),
            )
        self.host.gate.revoked_passes.add(vid)  # the badge opens the gate no more
        return events

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
        return visitor if visitor is not None and visitor.left_at is None else None

    def sign_out_badge(
        self, payload: str, *, by: str
    ) -> tuple[Visitor, list[dict[str, Any]]] | None:
        visitor = self.visitor_of_badge(payload)
        if visitor is None:
            return None
        events = self.sign_out(visitor.id, by=by)
        return (visitor, events) if events is not None and not refusal(events) else None

    def on_events(self, events: list[dict[str, Any]]) -> None:
        """A badge that let its visitor through the gate signs the visitor out.

        The gate grants a genuine visitor pass (reason ``visitor``); the visitor came in
        through the desk, so a pass at the gate is the way out. Only after this batch, so
        the access event reaches every listener before the sign-out it causes.
        """
        for event in events:
            person = event.get("person") or {}
            if (
                event["type"] == "access"
                and event.get("decision") == "granted"
                and event["reason"] == "visitor"
                and person.get("id")
            ):
                later(partial(self.sign_out, str(person["id"]), by="badge"))

    # --- overstay, purge, restart -------------------------------------------------------

    def sweep(self) -> list[dict[str, Any]]:
        """An overstay event for each visitor past their time, once each."""
        now = self.host.clock.now()
        recorded: list[dict[str, Any]] = []
        for visitor in self.on_site():
            if visitor.overstay_event or not visitor.overdue(now):
                continue
            draft = self.host.gate.draft(
                EventType.VISITOR,
                Reason.VISITOR_OVERSTAY,
                person=Person(visitor.id, "visitor", visitor.name),
                detail={
                    "host": visitor.host,
                    "due": visitor.due_at.isoformat(timespec="minutes"),
                    "expected_minutes": visitor.minutes,
                },
            )
            with self.host.store.transaction() as db:
                events = self.host.record([draft])
                db.execute(
                    "UPDATE visitors SET overstay_event = ? WHERE id = ?",
                    (events[0]["id"], visitor.id),
                )
            recorded += events
        return recorded

    def _restore_gate(self) -> None:
        """After a restart: the desk's visitors on site, and today's used badges revoked."""
        desk, gate = self.host.gate.desk, self.host.gate
        for v in self.on_site():
            desk.visitors.setdefault(
                v.id, {"name": v.name, "id_number": v.id_masked, "host": v.host}
            )
        for v in self.today():
            if v.left_at is not None:
                gate.revoked_passes.add(v.id)
