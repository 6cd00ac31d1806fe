"""Reports on a simulated day, with the expected figures worked out here from the plan."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import Read
from edge.config import config_from_dict
from edge.events import Event, EventType, Reason, dumps
from edge.guard import GuardAction, mask_phone
from edge.roster_load import load_roster
from edge.sim.sample import write_roster
from edge.sim.simulate import Simulation
from office.ingest import Ingestor, Message
from office.report_build import KINDS, build_report, gates, render
from office.reports import alarms, late, pickups, roster_info, visitors
from office.store import CollectorStore, open_store
from tests.collector_support import topic_of

DAY = date(2026, 11, 24)  # a Tuesday, a school day
ZONE = "Asia/Shanghai"


def rows(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class Day:
    """The plan of the day, the events the gate produced for it, and the expected figures."""

    def __init__(self, tmp: Path) -> None:
        self.roster = tmp / "roster"
        write_roster(self.roster, classes=3, children=12, guardians=14)
        cfg = config_from_dict(
            {
                "site": {"id": "sunflower", "timezone": ZONE},
                "gate": {"id": "main"},
                "store": {"path": ":memory:"},
                "roster": {"path": str(self.roster)},
            },
            tmp / "sim.toml",
        )
        self.tz = cfg.site.tz
        self.events: list[dict[str, Any]] = []  # as the collector receives them: JSON
        self.sim = Simulation(
            cfg,
            load_roster(self.roster),
            self.at("00:00"),
            lambda e: self.events.append(e.to_json()),
        )
        classes = {r["class_id"]: r for r in rows(self.roster, "classes.csv")}
        self.class_of = {r["child_id"]: r["class_id"] for r in rows(self.roster, "children.csv")}
        single = [g for g in rows(self.roster, "guardians.csv") if ";" not in g["children"]]
        self.guardians = single[:10]
        self.dismiss = {
            g["guardian_id"]: classes[self.class_of[g["children"]]] for g in self.guardians
        }

    def at(self, hhmm: str) -> datetime:
        return datetime.combine(DAY, time.fromisoformat(hhmm), self.tz)

    def plus(self, hhmm: str, minutes: int) -> str:
        return (self.at(hhmm) + timedelta(minutes=minutes)).strftime("%H:%M")

    def run(self) -> None:
        steps: list[tuple[str, Callable[[], list[Any]]]] = []
        gate = self.sim.gate

        def scan(card: str) -> Callable[[], list[Any]]:
            credential = card if ":" in card else f"card:{card}"  # the CSVs hold the bare number
            return lambda: gate.scan(Read("entrance", credential))

        def guard(**action: Any) -> Callable[[], list[Any]]:
            return lambda: gate.guard(GuardAction.from_dict(action))

        for i, g in enumerate(self.guardians):  # ten drop-offs
            steps.append((f"08:{i:02d}", scan(g["card"])))
        for g in self.guardians[:6]:  # six on time
            steps.append(
                (self.plus(self.dismiss[g["guardian_id"]]["dismiss_from"], 5), scan(g["card"]))
            )
        early = self.guardians[6]
        steps += [
            ("15:00", scan(early["card"])),
            ("15:02", guard(action="approve", credential=f"card:{early['card']}")),
            ("18:00", scan(self.guardians[8]["card"])),  # late, then collected
            ("09:00", scan("card:0000000001")),
            ("09:01", scan("card:0000000002")),
            (
                "10:00",
                guard(
                    action="visitor_in",
                    name="Liu Yang",
                    id_number="110101199001011234",
                    host="office",
                    purpose="repair",
                    expected_minutes=30,
                ),
            ),
            ("11:00", guard(action="visitor_out", name="Liu Yang")),
            (
                "14:00",
                guard(
                    action="visitor_in",
                    name="Ma Lin",
                    id_number="110101199001015678",
                    host="kitchen",
                    purpose="delivery",
                ),
            ),
            ("12:00", lambda: gate.fire_alarm(True)),
            ("12:05", lambda: gate.fire_alarm(False)),
            ("12:10", guard(action="normal")),
            (
                "07:00",
                lambda: [
                    gate.draft(
                        EventType.CHECK,
                        Reason.DEVICE_CHECK,
                        by="S001",
                        detail={"ok": True, "steps": {}, "failed": []},
                    )
                ],
            ),
        ]
        blocked = next(b for b in rows(self.roster, "blocked.csv") if b["card"])
        steps.append(("16:30", scan(blocked["card"])))
        for hhmm, action in sorted(steps, key=lambda s: s[0]):
            self.sim.advance_to(self.at(hhmm))
            self.sim.record(action())
        self.sim.advance_to(self.at("23:59"))


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    d = Day(tmp_path_factory.mktemp("day"))
    d.run()
    return d


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, day: Day) -> Any:
    url = (
        str(tmp_path / "office.db")
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    s = open_store(url)
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 20:00 at the site
    ingest = Ingestor(s, "kindergate", offline_after=timedelta(minutes=2), clock=lambda: now)
    state = {"mode": "normal", "outbox": 0, "roster_version": 3}
    ingest.write(
        [Message(topic_of(e), dumps(e).encode()) for e in day.events]
        + [
            Message("kindergate/sunflower/main/status", b"online"),
            Message("kindergate/sunflower/main/state", json.dumps(state).encode()),
            Message("kindergate/sunflower/side/status", b"offline"),
        ]
    )
    yield s
    s.close()


def report(store: CollectorStore, day: Day, kind: str) -> Any:
    return build_report(
        kind,
        store,
        DAY,
        day.tz,
        roster=roster_info(day.roster),
        now=datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
    )


def test_pickups(store: CollectorStore, day: Day) -> None:
    r = report(store, day, "pickups")
    assert r.summary == {
        "children": 10,
        "dropped_off": 10,
        "collected": 8,  # six on time, one early with approval, one late
        "not_collected": 2,
        "early_approved": 1,
        "late": 3,
    }
    early_child = day.guardians[6]["children"]
    (row,) = [x for x in r.rows if x["child"] == early_child]
    assert row["approval"] == "early, approved by guard"
    assert (row["collected"], row["collected_by"]) == ("15:02:00", day.guardians[6]["name"])
    first = day.guardians[0]
    (row,) = [x for x in r.rows if x["child"] == first["children"]]
    assert (row["dropped_off"], row["dropped_off_by"]) == ("08:00:00", first["name"])
    assert row["class"] == day.class_of[first["children"]]


def test_late_pickups_name_guardians_with_masked_phones(store: CollectorStore, day: Day) -> None:
    r = report(store, day, "late")
    late = {g["children"]: g for g in day.guardians[7:10]}
    assert sorted(x["child"] for x in r.rows) == sorted(late)
    assert r.summary == {"late": 3, "still_waiting": 2}
    for x in r.rows:
        g = late[x["child"]]
        assert f"{g['name']} {mask_phone(g['phone'])}" in x["guardians"]
        due = day.plus(day.dismiss[g["guardian_id"]]["dismiss_until"], 15)
        assert x["due"] == due
    text = render(r, "table") + render(r, "csv") + render(r, "json")
    assert not any(g["phone"] in text for g in rows(day.roster, "guardians.csv"))


def test_visitors(store: CollectorStore, day: Day) -> None:
    r = report(store, day, "visitors")
    assert r.summary == {"visitors": 2, "on_site": 1, "overstays": 2, "refused": 0}
    first, second = r.rows
    assert (first["name"], first["in"], first["out"], first["minutes"]) == (
        "Liu Yang",
        "10:00:00",
        "11:00:00",
        60,
    )
    assert (second["name"], second["status"], second["minutes"]) == ("Ma Lin", "on site", 360)


def test_alarms(store: CollectorStore, day: Day) -> None:
    r = report(store, day, "alarms")
    assert [x["reason"] for x in r.rows] == [
        "fire_alarm",
        "evacuate",
        "fire_alarm_cleared",
        "blocked_person",
    ]


def test_gates_show_the_device_check_and_who_is_offline(store: CollectorStore, day: Day) -> None:
    r = report(store, day, "gates")
    main, side = r.rows
    assert (main["gate"], main["online"], main["device_check"], main["roster_version"]) == (
        "main",
        "yes",
        "done 07:00:00",
        3,
    )
    assert (side["gate"], side["online"], side["device_check"]) == ("side", "no", "missing")
    assert r.summary["checks_done"] == 1 and r.summary["checks_missing"] == 1


def test_the_day_on_one_page(store: CollectorStore, day: Day) -> None:
    r = report(store, day, "day")
    s = r.summary
    assert s["events.total"] == len(day.events)
    assert (s["pickups.collected"], s["late.late"], s["visitors.on_site"]) == (8, 3, 1)
    assert (s["denied.unknown_credential"], s["denied.blocked_person"]) == (2, 1)
    assert s["gates.checks_missing"] == 1


def test_other_days_are_empty(store: CollectorStore, day: Day) -> None:
    r = build_report("pickups", store, date(2026, 11, 25), day.tz, roster=None)
    assert r.rows == [] and r.summary["children"] == 0
    assert "(none)" in render(r, "table")


def test_formats(store: CollectorStore, day: Day) -> None:
    r = report(store, day, "pickups")
    table = render(r, "table").splitlines()
    assert table[0] == "Drop-offs and pickups, 2026-11-24"
    assert table[2].split() == list(r.columns)
    parsed = list(csv.DictReader(render(r, "csv").splitlines()))
    assert len(parsed) == 10 and set(parsed[0]) == set(r.columns)
    body = json.loads(render(r, "json"))
    assert body["summary"] == r.summary and len(body["rows"]) == 10
    with pytest.raises(ValueError):
        render(r, "xml")


def store_row(store: CollectorStore, eid: str, ts: str, body: str) -> None:
    """A row as an older collector (or a hand in the database) may have left it."""
    ts_ms = int(datetime.fromisoformat(ts).timestamp() * 1000)
    row = (eid, "sunflower", "main", None, ts, ts_ms, "access", None, None, None, body, ts)
    with store.transaction():
        store.insert_events([row])


def test_a_stored_row_that_is_not_an_event_is_left_out_and_named(
    store: CollectorStore, day: Day
) -> None:
    before = {kind: report(store, day, kind) for kind in KINDS}
    pickup = next(e for e in day.events if e.get("reason") == "pickup")
    forged = dict(pickup, id="BAD1", children=[{"id": c} for c in pickup["children"]])
    store_row(store, "BAD1", "2026-11-24T16:30:00+08:00", dumps(forged))
    store_row(store, "BAD2", "2026-11-24T16:31:00+08:00", "{not json")
    store_row(store, "BAD3", "2026-11-24T16:32:00+08:00", dumps(dict(pickup, reason="beamed")))

    def figures(made: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Everything but the count of unreadable rows (in the day report only)."""
        unreadable = {"section": "events", "figure": "unreadable"}
        rows = [r for r in made.rows if {k: r.get(k) for k in unreadable} != unreadable]
        return rows, {k: v for k, v in made.summary.items() if k != "events.unreadable"}

    for kind in KINDS:
        after = report(store, day, kind)
        assert figures(after) == figures(before[kind]), kind
        assert [n.split(" (")[0] for n in after.notes] == [
            "stored event BAD1",
            "stored event BAD2",
            "stored event BAD3",
        ]
        assert "children: not a list of ids" in after.notes[0]
        assert "reason: unknown value 'beamed'" in after.notes[2]
        assert before[kind].notes == ()
    assert before["day"].summary["events.unreadable"] == 0
    assert report(store, day, "day").summary["events.unreadable"] == 3
    text = render(report(store, day, "late"), "table")
    assert "note: stored event BAD2 (sunflower/main, 2026-11-24T16:31:00+08:00) skipped" in text
    assert len(json.loads(render(report(store, day, "pickups"), "json"))["notes"]) == 3


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
DETAIL_KEYS = ("expected_minutes", "host", "purpose", "ok", "class_id", "due")


@settings(max_examples=60, deadline=None)
@given(details=st.lists(st.dictionaries(st.sampled_from(DETAIL_KEYS), JSON_VALUES), min_size=4))
def test_whatever_a_detail_holds_every_report_is_made(
    day: Day, details: list[dict[str, Any]]
) -> None:
    """A forged event is still an ``Event``: what its ``detail`` holds is only JSON."""
    kinds = {"visitor": "visitor_in", "check": "device_check", "late_pickup": "late_pickup"}
    chosen = [e for e in day.events if e["type"] in kinds][: len(details)]
    forged = [
        Event.from_json(dict(e, id=f"F{i}", detail=d))
        for i, (e, d) in enumerate(zip(chosen, details, strict=False))
    ]
    events = [Event.from_json(e) for e in day.events] + forged
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    info = roster_info(day.roster)
    for made in (
        pickups(events, DAY, day.tz, info),
        late(events, DAY, day.tz, info),
        visitors(events, DAY, day.tz, now),
        alarms(events, DAY, day.tz),
        gates([], events, DAY, day.tz, now, timedelta(minutes=2)),
    ):
        for fmt in ("table", "csv", "json"):
            assert render(made, fmt)
