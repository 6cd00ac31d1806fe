"""Visitors: checked input, masked storage, blocked names, badges, sign-out, overstay, restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from drivers.base import Read
from edge.console.forms import FormError, clean_id_number, clean_phone
from edge.console.visitors import Visitor, VisitorBook, VisitorForm, parse_visitor
from edge.daemon import Daemon
from edge.events import Decision, EventType, Reason
from edge.passes import PassKind, verify_pass
from tests.console_support import (
    SCHOOL_DAY,
    SITE_KEY,
    SettableClock,
    events_of,
    make_config,
    open_daemon,
)

GOOD_ID = "11010519491231002X"


class Desk:
    def __init__(self, folder: Path) -> None:
        self.cfg = make_config(folder)
        self.clock = SettableClock(SCHOOL_DAY)
        self.daemon = open_daemon(self.cfg, self.clock)
        self.book = VisitorBook(self.daemon)

    def reopen(self) -> None:
        self.daemon.store.close()
        self.daemon = open_daemon(self.cfg, self.clock)
        self.book = VisitorBook(self.daemon)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk(tmp_path)
    yield d
    d.daemon.store.close()


def form(**changes: Any) -> VisitorForm:
    values = {
        "name": "Zhao Min",
        "id_number": GOOD_ID,
        "phone": "139 1234 5678",
        "host": "Director Wu",
        "purpose": "meeting",
        "minutes": "30",
        **changes,
    }
    return parse_visitor(values)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("name", "", "required"),
        ("name", "x" * 65, "too_long"),
        ("id_number", "", "required"),
        ("id_number", "110105194912310021", "bad_id_number"),  # wrong check digit
        ("id_number", "12", "bad_id_number"),
        ("phone", "12ab", "bad_phone"),
        ("host", "  ", "required"),
        ("purpose", "p" * 121, "too_long"),
        ("minutes", "0", "bad_minutes"),
        ("minutes", "9999", "bad_minutes"),
        ("minutes", "ten", "bad_minutes"),
    ],
)
def test_each_bad_field_is_named(field: str, value: str, problem: str) -> None:
    with pytest.raises(FormError) as err:
        form(**{field: value})
    assert err.value.problems == {field: (problem, err.value.problems[field][1])}


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(FormError) as err:
        parse_visitor({"minutes": "x"})
    assert sorted(err.value.problems) == ["host", "id_number", "minutes", "name", "purpose"]


def test_id_numbers_and_phones_are_cleaned() -> None:
    assert clean_id_number("110105 19491231 002x") == GOOD_ID
    assert clean_id_number("E1234 5678") == "E12345678"  # a passport
    assert clean_phone("+86 139-1234-5678") == "+8613912345678"
    assert form(minutes="").minutes == 60


def test_a_visitor_is_stored_with_the_id_masked_and_hashed_only(desk: Desk) -> None:
    result = desk.book.register(form(), by="guard1")
    assert result.visitor is not None and not result.blocked
    visitor = result.visitor
    assert visitor.id == "V20261124-001"
    assert visitor.id_masked == "**************002X"
    assert visitor.phone_masked == "139****5678"
    assert visitor.due_at - visitor.arrived_at == timedelta(minutes=30)
    (event,) = events_of(desk.daemon, EventType.VISITOR, Reason.VISITOR_IN)
    assert event.by == "guard1"
    assert event.detail["id_number"] == "**************002X"
    assert len(event.detail["id_hash"]) == 64
    desk.daemon.store.db.execute("PRAGMA wal_checkpoint(FULL)")
    stored = b"".join(
        p.read_bytes() for p in desk.cfg.store.path.parent.glob("gate.db*") if p.is_file()
    )
    assert GOOD_ID.encode() not in stored
    assert GOOD_ID.encode().lower() not in stored
    assert [v.id for v in desk.book.on_site()] == [visitor.id]


def test_a_blocked_name_raises_the_alarm_and_is_not_let_in(desk: Desk) -> None:
    blocked = desk.daemon.roster.blocked[0]
    result = desk.book.register(form(name=f"  {blocked.name.upper()} "), by="guard1")
    assert result.blocked and result.visitor is None
    assert [e.decision for e in events_of(desk.daemon, EventType.VISITOR)] == ["denied"]
    (alarm,) = events_of(desk.daemon, EventType.ALARM, Reason.BLOCKED_PERSON)
    assert alarm.children == tuple(desk.daemon.roster.blocked_children(blocked))
    assert desk.book.on_site() == []


def test_sign_out_records_who_and_revokes_the_badge(desk: Desk) -> None:
    visitor = desk.book.register(form(), by="guard1").visitor
    assert visitor is not None
    events = desk.book.sign_out(visitor.id, by="guard2")
    assert events is not None and events[-1].reason == "visitor_out"
    assert events[-1].by == "guard2"
    assert desk.book.on_site() == []
    assert desk.book.get(visitor.id).out_by == "guard2"  # type: ignore[union-attr]
    assert badge_at_gate(desk, visitor) == (Decision.DENIED, Reason.REVOKED)
    assert desk.book.sign_out(visitor.id, by="guard2") is None


def badge_at_gate(desk: Desk, visitor: Visitor) -> tuple[Decision | None, Reason]:
    """What the gate decides when the visitor shows their badge at its reader."""
    desk.daemon.on_read(Read("entrance", "qr:" + desk.book.badge_payload(visitor)))
    shown = events_of(desk.daemon, EventType.ACCESS)[-1]
    return shown.decision, shown.reason


def test_the_badge_is_a_visitor_pass_for_this_visit_today(desk: Desk) -> None:
    visitor = desk.book.register(form(), by="guard1").visitor
    assert visitor is not None
    payload = desk.book.badge_payload(visitor)
    now = desk.clock.now()
    the_pass = verify_pass(SITE_KEY, payload, today=now.date(), now=now)
    assert (the_pass.kind, the_pass.id, the_pass.name) == (PassKind.VISITOR, visitor.id, "Zhao Min")
    assert the_pass.phone == "***5678"


def test_showing_the_badge_at_the_gate_signs_out_once(desk: Desk) -> None:
    visitor = desk.book.register(form(), by="guard1").visitor
    assert visitor is not None
    credential = "qr:" + desk.book.badge_payload(visitor)
    desk.daemon.on_read(Read("entrance", credential))
    granted = events_of(desk.daemon, EventType.ACCESS)
    assert [(e.decision, e.reason) for e in granted] == [("granted", "visitor")]
    (out,) = events_of(desk.daemon, EventType.VISITOR, Reason.VISITOR_OUT)
    assert out.by == "badge"
    assert desk.book.on_site() == []
    desk.daemon.on_read(Read("entrance", credential))
    again = events_of(desk.daemon, EventType.ACCESS)[-1]
    assert (again.decision, again.reason) == ("denied", "revoked")


def test_a_badge_scanned_at_the_desk_signs_out(desk: Desk) -> None:
    visitor = desk.book.register(form(), by="guard1").visitor
    assert visitor is not None
    assert desk.book.sign_out_badge("not a badge", by="guard1") is None
    done = desk.book.sign_out_badge(desk.book.badge_payload(visitor), by="guard1")
    assert done is not None and done[0].id == visitor.id
    assert desk.book.sign_out_badge(desk.book.badge_payload(visitor), by="guard1") is None


def test_an_overstay_is_reported_once(desk: Desk) -> None:
    visitor = desk.book.register(form(minutes="5"), by="guard1").visitor
    assert visitor is not None
    assert desk.book.sweep() == []
    desk.clock.set(desk.clock.now() + timedelta(minutes=6))
    (event,) = desk.book.sweep()
    assert (event.type, event.reason, event.person.id) == (
        "visitor",
        "visitor_overstay",
        visitor.id,
    )
    assert [v.id for v in desk.book.overdue()] == [visitor.id]
    assert desk.book.sweep() == []


def test_visitors_on_site_survive_a_restart(desk: Desk) -> None:
    stays = desk.book.register(form(), by="guard1").visitor
    left = desk.book.register(form(name="Qian Li"), by="guard1").visitor
    assert stays is not None and left is not None
    desk.book.sign_out(left.id, by="guard1")
    desk.reopen()
    assert [v.id for v in desk.book.on_site()] == [stays.id]
    assert desk.book.get(left.id).out_by == "guard1"  # type: ignore[union-attr]
    assert badge_at_gate(desk, left) == (Decision.DENIED, Reason.REVOKED)
    assert desk.book.register(form(name="Sun Yu"), by="g").visitor.id == "V20261124-003"  # type: ignore[union-attr]
    events = desk.book.sign_out(stays.id, by="guard1")
    assert events is not None and events[-1].reason == "visitor_out"


def test_registration_is_one_transaction(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the gate admitted the visitor leaves neither the event nor the row."""

    def broken(action: Any) -> list[dict[str, Any]]:
        events = Daemon.guard(desk.daemon, action)
        raise RuntimeError(f"disk full after {len(events)} events")

    monkeypatch.setattr(desk.daemon, "guard", broken)
    with pytest.raises(RuntimeError):
        desk.book.register(form(), by="guard1")
    assert events_of(desk.daemon, EventType.VISITOR) == []
    assert desk.book.on_site() == []
