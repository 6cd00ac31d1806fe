"""The day's state: what the gate does live and what its stored events rebuild are the same day."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.day import DayLog, Visit
from edge.events import Event, EventType, Reason
from edge.guard import GuardAction
from edge.sim.simulate import Simulation, run_scenario
from tests.rosters import write_small_roster

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 24)

SCENARIO = """
roster = "roster"
date = "2026-11-24"
timezone = "Asia/Shanghai"
[[step]]
at = "07:50:00"
scan = "card:0000000101"      # G1 drops off C1
[[step]]
at = "07:55:00"
scan = "card:0000000102"      # G2: C1 is in already, C2 is dropped off
[[step]]
at = "10:00:00"
guard = { action = "visitor_in", name = "Zhao Min", id_number = "11010519491231002X", host = "Director", purpose = "meeting" }
[[step]]
at = "10:05:00"
guard = { action = "visitor_in", name = "max", id_number = "E1234567", host = "Director", purpose = "visit" }
[[step]]
at = "10:10:00"
guard = { action = "visitor_in", name = "Qian Li", id_number = "E7654321", host = "Kitchen", purpose = "delivery" }
[[step]]
at = "11:00:00"
guard = { action = "visitor_out", name = "zhao  min" }
[[step]]
at = "16:05:00"
scan = "card:0000000101"      # G1 collects C1
"""


@pytest.fixture
def day_run(tmp_path: Path) -> tuple[Simulation, list[Event]]:
    write_small_roster(tmp_path / "roster")
    path = tmp_path / "day.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    events: list[Event] = []
    sim = run_scenario(path, events.append)
    yield sim, events
    sim.close()


def replayed(events: list[Event]) -> DayLog:
    day = DayLog(DAY)
    for event in events:
        day.apply(event)
    return day


def test_the_day_rebuilt_from_its_events_is_the_day_the_gate_had(
    day_run: tuple[Simulation, list[Event]],
) -> None:
    sim, events = day_run
    live, again = sim.gate.today, replayed(events)
    assert (live.dropped_off, live.collected) == ({"C1", "C2"}, {"C1"})
    assert live.late_reported >= {"K2"}  # C2 was never collected
    assert [e.children for e in events if e.type is EventType.LATE_PICKUP] == [("C2",)]
    assert again.dropped_off == live.dropped_off and again.collected == live.collected
    assert "K2" in again.late_reported and again.late_reported <= live.late_reported
    assert again.visits == live.visits and again.visitor_ids == live.visitor_ids
    assert again.inside() == live.inside() == {"C2"}


def test_visitors_on_site_come_from_the_events(day_run: tuple[Simulation, list[Event]]) -> None:
    sim, events = day_run
    day = sim.gate.today
    assert [v.name for v in day.on_site()] == ["Qian Li"]
    (zhao,) = [v for v in day.visits.values() if v.name == "Zhao Min"]
    assert zhao.left == datetime(2026, 11, 24, 11, 0, tzinfo=TZ) and zhao.out_by == "guard"
    assert day.visit_over(zhao.id) and not day.visit_over(day.on_site()[0].id)
    # the blocked visitor was refused: never on site, but the number is taken
    refused = [
        e for e in events if e.type is EventType.VISITOR and e.reason is Reason.BLOCKED_PERSON
    ]
    assert refused and refused[0].person is not None
    assert refused[0].person.id not in day.visits and refused[0].person.id in day.visitor_ids
    assert sorted(day.visitor_ids) == ["V20261124-001", "V20261124-002", "V20261124-003"]
    assert day.next_visit_id() == "V20261124-004"


def test_a_restarted_gate_signs_out_a_visitor_it_learnt_of_from_the_log(
    day_run: tuple[Simulation, list[Event]],
) -> None:
    sim, events = day_run
    restarted = Simulation(sim.cfg, sim.gate.roster, sim.clock.now(), lambda e: None)
    try:
        assert restarted.gate.today.on_site() == []
        restarted.gate.restore(events)
        (out,) = restarted.gate.guard(GuardAction("visitor_out", by="g2", name="Qian Li"))
        assert (out.reason, out.by) == (Reason.VISITOR_OUT, "g2")
        assert restarted.gate.today.on_site() == []
        (again,) = restarted.gate.guard(GuardAction("visitor_out", by="g2", name="Qian Li"))
        assert again.reason is Reason.REFUSED
    finally:
        restarted.close()


def test_an_overstay_is_remembered_by_the_visit() -> None:
    at = datetime(2026, 11, 24, 10, 0, tzinfo=TZ)
    stored = {"id": "01A", "site": "s", "gate": "main", "type": "visitor"}
    person = {"id": "V1", "kind": "visitor", "name": "Zhao Min"}
    day = DayLog(DAY)
    for reason, minute in (("visitor_in", 0), ("visitor_overstay", 30)):
        ts = at.replace(minute=minute).isoformat()
        decision = {"decision": "granted"} if reason == "visitor_in" else {}
        day.apply(
            Event.from_json({**stored, **decision, "ts": ts, "reason": reason, "person": person})
        )
    assert day.visits == {"V1": Visit("V1", "Zhao Min", at, overstay_reported=True)}
    assert [v.id for v in day.on_site()] == ["V1"]


def test_events_of_a_visitor_the_day_never_let_in_change_nothing() -> None:
    ts = datetime(2026, 11, 24, 10, 0, tzinfo=TZ).isoformat()
    stored = {"id": "01A", "site": "s", "gate": "main", "type": "visitor", "ts": ts}
    day = DayLog(DAY)
    person = {"id": "V9", "kind": "visitor"}
    day.apply(Event.from_json({**stored, "reason": "visitor_out", "person": person}))
    day.apply(
        Event.from_json(
            {**stored, "reason": "visitor_in", "decision": "denied"} | {"person": person}
        )
    )
    assert day.visits == {} and day.visitor_ids == {"V9"}
