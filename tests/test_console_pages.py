"""Console pages over httpx: approvals, confirmed control, visitors, checks, repairs, roll call.

Every form with bad input answers with a clear message and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from drivers.base import Read
from edge.events import EventType, Reason
from tests.console_support import (
    TZ,
    ConsoleGate,
    SettableClock,
    console_gate,
    events_of,
    school_guardian,
    sign_in,
)

GOOD_ID = "11010519491231002X"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[ConsoleGate]:
    g = console_gate(tmp_path)
    yield g
    g.close()


def post(gate: ConsoleGate, path: str, csrf: str, **data: Any) -> Any:
    return gate.client.post(path, data={"csrf": csrf, **data})


def scan(gate: ConsoleGate, credential: str) -> None:
    gate.daemon.on_read(Read("entrance", credential))


def visitor_form(**changes: str) -> dict[str, str]:
    return {
        "name": "Zhao Min",
        "id_number": GOOD_ID,
        "phone": "13912345678",
        "host": "Director Wu",
        "purpose": "meeting",
        "minutes": "45",
        **changes,
    }


def test_an_early_pickup_waits_on_the_live_page_and_is_approved(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    guardian = school_guardian(gate.daemon.roster)
    child = gate.daemon.roster.children[guardian.children[0]]
    scan(gate, guardian.card)
    page = gate.client.get("/").text
    assert guardian.name in page and child.name in page
    assert "Early pickup: needs a guard&#39;s approval" in page
    assert f'name="credential" value="{guardian.card}"' in page
    answer = post(gate, "/pending/approve", csrf, credential=guardian.card)
    assert answer.status_code == 303
    granted = events_of(gate.daemon, EventType.ACCESS)[-1]
    assert (granted.decision, granted.approved_by) == ("granted", "guard1")
    page = gate.client.get("/").text
    assert "Approved: door opened" in page
    assert "No early pickup waiting" in page


def test_a_live_fragment_does_not_use_up_the_pages_message(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    guardian = school_guardian(gate.daemon.roster)
    scan(gate, guardian.card)
    post(gate, "/pending/approve", csrf, credential=guardian.card)
    # the live stream refreshes the pending list before the browser follows the redirect
    assert gate.client.get("/live/pending").status_code == 200
    assert "Approved: door opened" in gate.client.get("/").text


def test_refusing_an_early_pickup_and_approving_nothing(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    guardian = school_guardian(gate.daemon.roster)
    scan(gate, guardian.card)
    post(gate, "/pending/refuse", csrf, credential=guardian.card)
    refused = events_of(gate.daemon, EventType.ACCESS)[-1]
    assert (refused.decision, refused.reason, refused.by) == (
        "denied",
        "early_pickup",
        "guard1",
    )
    post(gate, "/pending/approve", csrf, credential=guardian.card)
    assert "Not done: No early pickup waiting" in gate.client.get("/").text
    assert [e.decision for e in events_of(gate.daemon, EventType.ACCESS)] == [
        "needs_approval",
        "denied",
    ]


def test_a_blocked_card_raises_an_alarm_until_acknowledged(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    blocked = next(b for b in gate.daemon.roster.blocked if b.card)
    scan(gate, blocked.card)
    page = gate.client.get("/").text
    assert 'class="alarm" role="alert"' in page
    assert "Blocked person at the gate!" in page and blocked.name in page
    (alarm,) = events_of(gate.daemon, EventType.ALARM, Reason.BLOCKED_PERSON)
    post(gate, "/alarm/ack", csrf, event=alarm.id)
    assert 'class="alarm"' not in gate.client.get("/").text
    assert "alarm" not in gate.client.get("/live/alarms").text


def test_opening_needs_a_reason_and_a_confirmation(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    missing = post(gate, "/control", csrf, action="open", reason="   ")
    assert missing.status_code == 400
    assert "Give a reason for opening" in missing.text
    confirm = post(gate, "/control", csrf, action="open", reason="ambulance")
    assert confirm.status_code == 200
    assert "Open the gate now? Reason: ambulance" in confirm.text
    assert (
        events_of(gate.daemon, EventType.OVERRIDE) == []
    )  # nothing happens before the confirmation
    unconfirmed = post(gate, "/control/confirm", csrf, action="open", reason="ambulance")
    assert unconfirmed.status_code == 303
    assert events_of(gate.daemon, EventType.OVERRIDE) == []
    post(gate, "/control/confirm", csrf, action="open", reason="ambulance", confirmed="yes")
    (override,) = events_of(gate.daemon, EventType.OVERRIDE)
    assert (override.by, override.detail["why"]) == ("guard1", "ambulance")
    assert gate.daemon.gate.door.lock_released


def test_modes_are_switched_after_confirmation_with_who(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    for action in ("evacuate", "normal", "lockdown", "normal"):
        assert post(gate, "/control", csrf, action=action).status_code == 200
        post(gate, "/control/confirm", csrf, action=action, confirmed="yes")
        assert str(gate.daemon.gate.mode) == action
    assert [(e.mode, e.by) for e in events_of(gate.daemon, EventType.MODE)] == [
        ("evacuate", "guard1"),
        ("normal", "guard1"),
        ("lockdown", "guard1"),
        ("normal", "guard1"),
    ]
    assert post(gate, "/control", csrf, action="explode").status_code == 400


def test_a_bad_visitor_form_names_each_field_and_changes_nothing(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    answer = post(
        gate, "/visitors", csrf, **visitor_form(id_number="123", phone="call me", host="")
    )
    assert answer.status_code == 400
    assert "Please fix the marked fields; nothing was changed." in answer.text
    assert "not a valid ID number" in answer.text
    assert "not a valid phone number" in answer.text
    assert 'value="Zhao Min"' in answer.text  # what was typed is kept for correcting
    assert events_of(gate.daemon, EventType.VISITOR) == []
    assert gate.console.visitors.on_site() == []


def test_a_visitor_is_registered_badged_listed_masked_and_signed_out(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    answer = post(gate, "/visitors", csrf, **visitor_form())
    assert answer.status_code == 303
    badge_url = answer.headers["location"]
    vid = badge_url.split("/")[2]
    badge = gate.client.get(badge_url).text
    assert "Zhao Min" in badge and f"/visitors/{vid}/pass.png" in badge
    png = gate.client.get(f"/visitors/{vid}/pass.png")
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    listing = gate.client.get("/visitors").text
    assert "139****5678" in listing and "13912345678" not in listing
    assert GOOD_ID not in listing and "**************002X" in listing
    post(gate, f"/visitors/{vid}/out", csrf)
    assert "Zhao Min signed out" in gate.client.get("/visitors").text
    (out,) = events_of(gate.daemon, EventType.VISITOR, Reason.VISITOR_OUT)
    assert out.by == "guard1"
    assert gate.client.get(f"/visitors/{vid}/pass.png").status_code == 404


def test_a_blocked_visitor_is_stopped_at_the_form(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    name = gate.daemon.roster.blocked[-1].name
    answer = post(gate, "/visitors", csrf, **visitor_form(name=name))
    assert answer.status_code == 409
    assert "This person is on the blocked list!" in answer.text
    assert gate.console.visitors.on_site() == []


def test_scanning_a_badge_at_the_desk_signs_out(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    post(gate, "/visitors", csrf, **visitor_form())
    (visitor,) = gate.console.visitors.on_site()
    post(gate, "/visitors/scan-out", csrf, badge="KG1.forged.badge")
    assert "Badge not valid or already used" in gate.client.get("/visitors").text
    post(gate, "/visitors/scan-out", csrf, badge=gate.console.visitors.badge_payload(visitor))
    assert gate.console.visitors.on_site() == []


def test_the_device_check_needs_every_step_then_is_recorded(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    assert "Today&#39;s device check: NOT DONE" in gate.client.get("/check").text
    partial = post(gate, "/check", csrf, **{"result.relay": "pass"})
    assert partial.status_code == 400
    assert "Choose a result for every step" in partial.text
    assert events_of(gate.daemon, EventType.CHECK) == []
    steps = ("relay", "door", "exit_button", "reader:entrance", "camera", "fire_alarm")
    answers = {f"result.{s}": "pass" for s in steps} | {"result.camera": "not_present"}
    assert post(gate, "/check", csrf, **answers).status_code == 303
    (check,) = events_of(gate.daemon, EventType.CHECK)
    assert check.by == "guard1" and check.detail["ok"] is True
    assert "Today&#39;s device check: done" in gate.client.get("/").text


def test_the_relay_test_goes_through_the_confirmed_open(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    page = gate.client.get("/check").text
    assert 'id="test-relay"' in page
    confirm = post(gate, "/control", csrf, action="open", reason="check: relay", then="/check")
    assert "Open the gate now?" in confirm.text and 'name="then" value="/check"' in confirm.text
    done = post(
        gate,
        "/control/confirm",
        csrf,
        action="open",
        reason="check: relay",
        then="/check",
        confirmed="yes",
    )
    assert done.headers["location"] == "/check"
    assert "relay" in gate.console.checks.evidence()


def test_repairs_check_the_photo_and_keep_it_private(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    fake = gate.client.post(
        "/repairs",
        data={"csrf": csrf, "device": "Lock", "problem": "does not click"},
        files={"photo": ("lock.jpg", b"MZ\x90\x00 not an image", "image/jpeg")},
    )
    assert fake.status_code == 400
    assert "the photo must be a JPEG or PNG" in fake.text
    assert gate.console.repairs.all() == []
    good = gate.client.post(
        "/repairs",
        data={"csrf": csrf, "device": "Lock", "problem": "does not click"},
        files={"photo": ("lock.png", PNG, "image/png")},
    )
    assert good.status_code == 303
    (repair,) = gate.console.repairs.all()
    photo = gate.client.get(f"/repairs/{repair.id}/photo")
    assert photo.content == PNG and photo.headers["content-type"] == "image/png"
    empty_fix = post(gate, f"/repairs/{repair.id}/close", csrf, fix=" ")
    assert empty_fix.status_code == 303
    assert gate.console.repairs.all()[0].is_open
    post(gate, f"/repairs/{repair.id}/close", csrf, fix="new relay")
    assert not gate.console.repairs.all()[0].is_open
    assert [e.reason for e in events_of(gate.daemon, EventType.REPAIR)] == [
        "repair_opened",
        "repair_closed",
    ]
    gate.client.cookies.clear()
    assert gate.client.get(f"/repairs/{repair.id}/photo").status_code == 303


def test_the_roll_call_lists_who_is_inside_and_keeps_ticks(tmp_path: Path) -> None:
    clock = SettableClock(datetime(2026, 11, 24, 8, 0, tzinfo=TZ))  # drop-off time
    gate = console_gate(tmp_path, clock=clock)
    try:
        roster = gate.daemon.roster
        guardian = school_guardian(roster)
        staff = next(iter(roster.staff.values()))
        scan(gate, guardian.card)
        scan(gate, staff.card)
        csrf = sign_in(gate.client)
        assert "No evacuation yet" in gate.client.get("/rollcall").text
        post(gate, "/control/confirm", csrf, action="evacuate", confirmed="yes")
        page = gate.client.get("/rollcall").text
        child = roster.children[guardian.children[0]]
        assert child.name in page and staff.name in page and "Present 0/2" in page
        evacuation = events_of(gate.daemon, EventType.MODE)[-1].id
        post(
            gate,
            "/rollcall/tick",
            csrf,
            evacuation=evacuation,
            kind="child",
            person=child.child_id,
            on="1",
        )
        assert "Present 1/2" in gate.client.get("/rollcall").text
        post(
            gate,
            "/rollcall/tick",
            csrf,
            evacuation="old",
            kind="staff",
            person=staff.staff_id,
            on="1",
        )
        assert "Present 1/2" in gate.client.get("/rollcall").text
        post(gate, "/control/confirm", csrf, action="normal", confirmed="yes")
        assert "No evacuation now. Showing the last one." in gate.client.get("/rollcall").text
    finally:
        gate.close()


def test_the_local_api_needs_the_unix_socket(gate: ConsoleGate) -> None:
    sign_in(gate.client)  # even a signed-in browser cannot reach it
    assert gate.client.get("/local/status").status_code == 404
    assert gate.client.post("/local/guard", json={"action": "evacuate"}).status_code == 404
    assert str(gate.daemon.gate.mode) == "normal"


def test_what_people_type_is_shown_as_text_never_as_markup(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    markup = "<img src=x onerror=alert(1)>"
    assert post(gate, "/visitors", csrf, **visitor_form(name=markup)).status_code == 303
    for page in ("/visitors", "/"):
        text = gate.client.get(page).text
        assert markup not in text
        assert "&lt;img src=x onerror=alert(1)&gt;" in text
