"""A QR pass at the gate: the right child, on its date, in the pickup window, once."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.base import Read
from drivers.gpio import SimulatedGate
from edge.clock import VirtualClock
from edge.events import Decision, Event, EventType, Reason
from edge.gate import Gate
from edge.guard import GuardAction
from edge.passes import issue_pass
from tests.rosters import small_roster
from tests.test_gate import make_cfg

TZ = ZoneInfo("Asia/Shanghai")
KEY = bytes(range(32))
DAY = date(2026, 11, 24)


def make_pass(
    *,
    child: str | None = "C1",
    name: str = "Grandma Li",
    day: date = DAY,
    kind: str = "delegate",
    pass_id: str = "p1",
    key: bytes = KEY,
) -> str:
    expires = datetime(day.year, day.month, day.day, 19, 0, tzinfo=TZ)
    return "qr:" + issue_pass(
        key, kind=kind, pass_id=pass_id, child=child, name=name, date=day, expires=expires
    )  # type: ignore[arg-type]


@pytest.fixture
def gate(tmp_path: Path) -> Gate:
    cfg = make_cfg(tmp_path)
    clock = VirtualClock(datetime(2026, 11, 24, 16, 5, tzinfo=TZ))
    return Gate(
        cfg,
        small_roster(tmp_path / "r"),
        SimulatedGate(cfg.gpio.pins(), pin_factory=MockFactory()),
        clock,
        pass_key=KEY,
    )


def scan(gate: Gate, credential: str) -> tuple[Decision | None, str, tuple[str, ...]]:
    event = gate.scan(Read("camera", credential))[0]
    return event.decision, str(event.reason), event.children


def test_a_pass_opens_once_for_its_child(gate: Gate) -> None:
    credential = make_pass()
    assert scan(gate, credential) == (Decision.GRANTED, "delegate", ("C1",))
    assert scan(gate, credential) == (Decision.DENIED, "already_used", ("C1",))
    # and the child counts as collected: a guardian now finds C1 gone
    assert scan(gate, "card:0000000101")[1] == "already_collected"


def test_forged_expired_and_wrong_date_passes(gate: Gate) -> None:
    assert scan(gate, make_pass(key=bytes(32)))[:2] == (Decision.DENIED, "bad_signature")
    assert scan(gate, make_pass()[:-3] + "AAA")[:2] == (Decision.DENIED, "bad_signature")
    assert scan(gate, make_pass(day=date(2026, 11, 25)))[:2] == (Decision.DENIED, "wrong_date")
    gate.clock.advance(3 * 3600)  # 19:05, past the pass's expiry
    assert scan(gate, make_pass(pass_id="p2"))[:2] == (Decision.DENIED, "expired")


def test_pass_outside_the_pickup_window(tmp_path: Path, gate: Gate) -> None:
    gate.clock = VirtualClock(datetime(2026, 11, 24, 14, 0, tzinfo=TZ))
    credential = make_pass()
    assert scan(gate, credential) == (Decision.NEEDS_APPROVAL, "early_pickup", ("C1",))
    (approved,) = gate.guard(GuardAction("approve", by="S1", credential=credential))
    assert (approved.decision, approved.reason, approved.detail["pass_id"]) == (
        Decision.GRANTED,
        Reason.DELEGATE,
        "p1",
    )
    assert scan(gate, credential)[1] == "already_used"
    gate.clock = VirtualClock(datetime(2026, 11, 24, 8, 0, tzinfo=TZ))
    assert scan(gate, make_pass(pass_id="p3"))[:2] == (Decision.DENIED, "outside_window")


def test_blocked_name_on_a_pass_raises_the_alarm(gate: Gate) -> None:
    events = gate.scan(Read("camera", make_pass(name="max ", child="C2")))
    assert [(e.type, e.reason) for e in events] == [
        (EventType.ACCESS, Reason.BLOCKED_PERSON),
        (EventType.ALARM, Reason.BLOCKED_PERSON),
    ]


def test_revoked_pass(gate: Gate) -> None:
    gate.revoked_passes.add("p1")
    assert scan(gate, make_pass())[:2] == (Decision.DENIED, "revoked")


def test_wrong_channel_and_evacuation(gate: Gate) -> None:
    assert scan(gate, make_pass(child="C3"))[:2] == (Decision.DENIED, "wrong_channel")
    gate.guard(GuardAction("evacuate"))
    assert scan(gate, make_pass(key=bytes(32)))[:2] == (Decision.GRANTED, "evacuation")


def test_used_pass_remembered_across_restart(gate: Gate) -> None:
    gate.today.used_passes.clear()
    gate.restore(
        [
            Event.from_json(
                {
                    "id": "01A",
                    "site": "s",
                    "gate": "main",
                    "ts": "2026-11-24T16:01:00+08:00",
                    "type": "access",
                    "decision": "granted",
                    "reason": "delegate",
                    "children": ["C1"],
                    "detail": {"pass_id": "p1"},
                }
            )
        ]
    )
    assert scan(gate, make_pass())[1] == "already_used"


def test_no_site_key_means_no_pass_is_genuine(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    clock = VirtualClock(datetime(2026, 11, 24, 16, 5, tzinfo=TZ))
    gate = Gate(
        cfg,
        small_roster(tmp_path / "r"),
        SimulatedGate(cfg.gpio.pins(), pin_factory=MockFactory()),
        clock,
    )
    assert scan(gate, make_pass())[:2] == (Decision.DENIED, "bad_signature")


def test_visitor_pass(gate: Gate) -> None:
    assert scan(gate, make_pass(kind="visitor", child=None, name="Plumber Wu", pass_id="v1")) == (
        Decision.GRANTED,
        "visitor",
        (),
    )
