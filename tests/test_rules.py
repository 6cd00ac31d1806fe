"""The release rules of DESIGN.md, boundary by boundary, in virtual time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.events import Decision, Reason
from edge.roster import Roster
from edge.rules import GateState, Mode, Scan, UnknownLimiter, decide, late_children, late_deadline
from tests.rosters import small_roster

TZ = ZoneInfo("Asia/Shanghai")
TUE = "2026-11-24"  # an ordinary Tuesday
HOLIDAY = "2026-11-25"  # a Wednesday marked holiday
EARLY = "2026-11-26"  # early dismissal, -60 min
LATE_SHIFT = "2026-11-27"  # a Friday with dismissal 30 min later
SAT_SCHOOL = "2026-11-28"  # a Saturday that is a school day
SUN = "2026-11-29"


@pytest.fixture(scope="module")
def roster(tmp_path_factory: pytest.TempPathFactory) -> Roster:
    return small_roster(tmp_path_factory.mktemp("roster"))


def at(day: str, hhmmss: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmmss}").replace(tzinfo=TZ)


def run(roster: Roster, card: str, day: str, t: str, **state: object):
    return decide(Scan(f"card:{card}"), roster, GateState(**state), at(day, t), TZ)  # type: ignore[arg-type]


G1, G2, G3, G4, S1, BLOCKED_G5, REX = (
    "0000000101",
    "0000000102",
    "0000000103",
    "0000000104",
    "0000000201",
    "0000000105",
    "0000000301",
)

WINDOWS = [
    # guardian G1 of C1 (K1: arrive 07:30-08:30, dismiss 16:00-16:30)
    ("07:29:59", Decision.DENIED, Reason.OUTSIDE_WINDOW),
    ("07:30:00", Decision.GRANTED, Reason.DROPOFF),
    ("08:30:00", Decision.GRANTED, Reason.DROPOFF),
    ("08:30:59", Decision.GRANTED, Reason.DROPOFF),  # windows are whole minutes
    ("08:31:00", Decision.NEEDS_APPROVAL, Reason.EARLY_PICKUP),
    ("15:59:59", Decision.NEEDS_APPROVAL, Reason.EARLY_PICKUP),
    ("16:00:00", Decision.GRANTED, Reason.PICKUP),
    ("16:30:00", Decision.GRANTED, Reason.PICKUP),
    ("23:59:59", Decision.GRANTED, Reason.PICKUP),  # "to the end of the day"
    ("00:00:00", Decision.DENIED, Reason.OUTSIDE_WINDOW),  # midnight: a new day
]


@pytest.mark.parametrize(("t", "decision", "reason"), WINDOWS)
def test_window_boundaries(roster: Roster, t: str, decision: Decision, reason: Reason) -> None:
    out = run(roster, G1, TUE, t)
    assert (out.decision, out.reason) == (decision, reason)
    assert out.children == ("C1",)
    assert out.person is not None and out.person.id == "G1"


@pytest.mark.parametrize(
    ("day", "t", "decision", "reason"),
    [
        (EARLY, "14:59:00", Decision.NEEDS_APPROVAL, Reason.EARLY_PICKUP),
        (EARLY, "15:00:00", Decision.GRANTED, Reason.PICKUP),  # 16:00 - 60 min
        (LATE_SHIFT, "16:00:00", Decision.NEEDS_APPROVAL, Reason.EARLY_PICKUP),
        (LATE_SHIFT, "16:29:59", Decision.NEEDS_APPROVAL, Reason.EARLY_PICKUP),
        (LATE_SHIFT, "16:30:00", Decision.GRANTED, Reason.PICKUP),
        (EARLY, "07:30:00", Decision.GRANTED, Reason.DROPOFF),  # arrival is not shifted
    ],
)
def test_shift_minutes_move_dismissal_only(
    roster: Roster, day: str, t: str, decision: Decision, reason: Reason
) -> None:
    out = run(roster, G1, day, t)
    assert (out.decision, out.reason) == (decision, reason)


@pytest.mark.parametrize(
    ("day", "decision", "reason"),
    [
        (HOLIDAY, Decision.DENIED, Reason.NOT_SCHOOL_DAY),
        (SUN, Decision.DENIED, Reason.NOT_SCHOOL_DAY),
        ("2026-11-21", Decision.DENIED, Reason.NOT_SCHOOL_DAY),  # a plain Saturday
        (SAT_SCHOOL, Decision.GRANTED, Reason.PICKUP),  # a Saturday listed as school_day
        (TUE, Decision.GRANTED, Reason.PICKUP),
    ],
)
def test_school_days(roster: Roster, day: str, decision: Decision, reason: Reason) -> None:
    out = run(roster, G1, day, "16:05:00")
    assert (out.decision, out.reason) == (decision, reason)


@pytest.mark.parametrize("day", [HOLIDAY, SUN, TUE])
def test_staff_any_day_any_time(roster: Roster, day: str) -> None:
    for t in ("00:00:00", "03:17:00", "12:00:00", "23:59:59"):
        out = run(roster, S1, day, t)
        assert (out.decision, out.reason) == (Decision.GRANTED, Reason.STAFF)
        assert out.person is not None and out.person.kind == "staff"


def test_unknown_credential(roster: Roster) -> None:
    out = run(roster, "0000999999", TUE, "16:05:00")
    assert (out.decision, out.reason, out.person) == (
        Decision.DENIED,
        Reason.UNKNOWN_CREDENTIAL,
        None,
    )


def test_evacuation_grants_everyone_even_unknown_and_blocked(roster: Roster) -> None:
    for card in (G1, "0000999999", REX, BLOCKED_G5):
        out = run(roster, card, SUN, "03:00:00", mode=Mode.EVACUATE)
        assert (out.decision, out.reason) == (Decision.GRANTED, Reason.EVACUATION)


def test_lockdown_denies_staff_and_guardians(roster: Roster) -> None:
    for card in (S1, G1):
        out = run(roster, card, TUE, "16:05:00", mode=Mode.LOCKDOWN)
        assert (out.decision, out.reason) == (Decision.DENIED, Reason.LOCKDOWN)


def test_unknown_before_lockdown_and_blocked_before_lockdown(roster: Roster) -> None:
    assert (
        run(roster, "0000999999", TUE, "16:05:00", mode=Mode.LOCKDOWN).reason
        is Reason.UNKNOWN_CREDENTIAL
    )
    assert run(roster, REX, TUE, "16:05:00", mode=Mode.LOCKDOWN).reason is Reason.BLOCKED_PERSON


def test_card_on_guardian_and_blocked_entry_is_blocked(roster: Roster) -> None:
    # G5's card is also on Max's blocked entry for C2: the blocked entry wins, always.
    out = run(roster, BLOCKED_G5, TUE, "16:25:00")
    assert (out.decision, out.reason) == (Decision.DENIED, Reason.BLOCKED_PERSON)
    assert out.blocked_children == ("C2",)
    assert out.person is not None and out.person.kind == "blocked"


def test_blocked_star_names_every_child(roster: Roster) -> None:
    out = run(roster, REX, TUE, "16:25:00")
    assert out.reason is Reason.BLOCKED_PERSON
    assert set(out.blocked_children) == {"C1", "C2", "C3", "C4", "C5"}


def test_expired_guardian(roster: Roster) -> None:
    assert run(roster, G4, "2026-11-20", "16:05:00").reason is Reason.PICKUP  # the last valid day
    out = run(roster, G4, "2026-11-23", "16:05:00")
    assert (out.decision, out.reason) == (Decision.DENIED, Reason.EXPIRED)


def test_expired_before_not_school_day(roster: Roster) -> None:
    assert run(roster, G4, SUN, "16:05:00").reason is Reason.EXPIRED


@pytest.mark.parametrize(
    ("t", "decision", "reason", "children"),
    [
        # G2 has C1 (K1 dismiss 16:00) and C2 (K2 dismiss 16:20)
        ("16:00:00", Decision.GRANTED, Reason.PICKUP, ("C1",)),
        ("16:19:59", Decision.GRANTED, Reason.PICKUP, ("C1",)),
        ("16:20:00", Decision.GRANTED, Reason.PICKUP, ("C1", "C2")),
        ("15:00:00", Decision.NEEDS_APPROVAL, Reason.EARLY_PICKUP, ("C1", "C2")),
        ("07:30:00", Decision.GRANTED, Reason.DROPOFF, ("C1",)),  # K2 opens at 07:45
        ("07:29:00", Decision.DENIED, Reason.OUTSIDE_WINDOW, ("C1", "C2")),
        ("08:40:00", Decision.GRANTED, Reason.DROPOFF, ("C2",)),  # K1 closed at 08:30
    ],
)
def test_guardian_of_two_children_in_different_classes(
    roster: Roster, t: str, decision: Decision, reason: Reason, children: tuple[str, ...]
) -> None:
    out = run(roster, G2, TUE, t)
    assert (out.decision, out.reason, out.children) == (decision, reason, children)


def test_already_collected(roster: Roster) -> None:
    out = run(roster, G1, TUE, "16:10:00", collected=frozenset({"C1"}))
    assert (out.decision, out.reason) == (Decision.DENIED, Reason.ALREADY_COLLECTED)
    # one child collected, the other not yet: the other is granted
    out = run(roster, G2, TUE, "16:25:00", collected=frozenset({"C1"}))
    assert (out.decision, out.reason, out.children) == (Decision.GRANTED, Reason.PICKUP, ("C2",))


def test_wrong_channel(roster: Roster) -> None:
    out = run(roster, G3, TUE, "16:15:00", channel="main")
    assert (out.decision, out.reason) == (Decision.DENIED, Reason.WRONG_CHANNEL)
    out = run(roster, G3, TUE, "16:15:00", channel="side")
    assert (out.decision, out.reason) == (Decision.GRANTED, Reason.PICKUP)


def test_first_childs_reason_when_all_denied(roster: Roster) -> None:
    out = run(roster, G2, TUE, "16:25:00", collected=frozenset({"C1", "C2"}))
    assert (out.decision, out.reason, out.children) == (
        Decision.DENIED,
        Reason.ALREADY_COLLECTED,
        ("C1", "C2"),
    )


def test_window_up_to_midnight(roster: Roster) -> None:
    # class KN: arrive 20:00-23:00, dismiss 23:30-23:59
    assert run(roster, "0000000106", TUE, "23:29:59").reason is Reason.EARLY_PICKUP
    assert run(roster, "0000000106", TUE, "23:59:59").reason is Reason.PICKUP
    assert run(roster, "0000000106", "2026-11-25", "00:00:30").reason is Reason.NOT_SCHOOL_DAY


def test_child_card_records_arrival_only(roster: Roster) -> None:
    assert run(roster, "0000001004", TUE, "08:00:00").reason is Reason.DROPOFF
    out = run(roster, "0000001004", TUE, "16:10:00")
    assert out.decision is Decision.DENIED


def test_rate_limit_locks_reader_after_five_unknowns_in_60s() -> None:
    limiter = UnknownLimiter(limit=5, window=60, lockout=60)
    for i in range(4):
        assert not limiter.unknown("r", 10.0 + i)
    assert limiter.unknown("r", 69.0)  # the fifth within 60 s of the first
    assert limiter.locked("r", 69.0) and limiter.locked("r", 128.9)
    assert not limiter.locked("r", 129.0)
    assert not limiter.locked("other", 70.0)


def test_rate_limit_window_slides() -> None:
    limiter = UnknownLimiter(limit=5, window=60, lockout=60)
    for t in (0, 10, 20, 30):
        limiter.unknown("r", t)
    assert not limiter.unknown("r", 60.0)  # the one at 0 has left the window
    assert limiter.unknown("r", 61.0)


def test_rate_limited_reader_denies_known_cards(roster: Roster) -> None:
    out = run(roster, S1, TUE, "16:05:00", reader_locked=True)
    assert (out.decision, out.reason) == (Decision.DENIED, Reason.RATE_LIMITED)


def test_late_pickup_deadline_and_children(roster: Roster) -> None:
    day = at(TUE, "00:00").date()
    assert late_deadline(roster, "K1", day, 15, TZ) == at(TUE, "16:45:00")
    assert late_deadline(roster, "K1", at(EARLY, "00:00").date(), 15, TZ) == at(EARLY, "15:45:00")
    assert late_children(roster, "K1", {"C1", "C4", "C2"}, {"C4"}) == ["C1"]


def test_low24_match_only_when_unique(tmp_path: Path) -> None:
    roster = small_roster(tmp_path)
    # 0000000101 has the same low 24 bits as 16777317 (0x1000065)
    out = decide(Scan("card:0016777317", low24=True), roster, GateState(), at(TUE, "16:05"), TZ)
    assert out.reason is Reason.PICKUP and out.person is not None and out.person.id == "G1"
    exact = decide(Scan("card:0016777317", low24=False), roster, GateState(), at(TUE, "16:05"), TZ)
    assert exact.reason is Reason.UNKNOWN_CREDENTIAL
