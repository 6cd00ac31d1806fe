"""`make demo`: the example kindergarten's day, told as a timeline and a summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edge.config import load_config
from edge.events import Decision, EventType, Reason
from edge.roster_load import load_roster
from edge.sim.demo import run_demo, summary

REPO = Path(__file__).resolve().parent.parent


def test_example_roster_has_what_the_demo_promises() -> None:
    roster = load_roster(REPO / "config" / "roster")
    assert len(roster.classes) >= 6 and len(roster.children) >= 100 and len(roster.guardians) >= 150
    assert roster.staff and roster.blocked
    kinds = {d.kind.value for d in roster.calendar.values()}
    assert {"holiday", "early_dismissal"} <= kinds
    assert any(c.channel for c in roster.classes.values())
    dismissals = sorted(c.dismiss_from for c in roster.classes.values())
    assert len(set(dismissals)) == len(dismissals)  # staggered


def test_demo_day_summary_matches_its_events() -> None:
    cfg = load_config(REPO / "config" / "example.toml")
    cfg = cfg.model_copy(update={"store": cfg.store.model_copy(update={"path": ":memory:"})})
    roster = load_roster(cfg.roster.path)
    events = run_demo(cfg, roster)
    facts = summary(events, roster)
    granted = [e for e in events if e.type is EventType.ACCESS and e.decision is Decision.GRANTED]
    dropped = {c for e in granted if e.reason is Reason.DROPOFF for c in e.children}
    collected = {c for e in granted if e.reason is Reason.PICKUP for c in e.children}
    assert facts["still_inside"] == sorted(dropped - collected)
    assert sum(total for _, total in facts["per_class"].values()) == len(dropped)
    late = [e for e in events if e.type is EventType.LATE_PICKUP]
    assert facts["late"] == [e.children[0] for e in late] and late
    # every late child was dropped off and not collected by its class's deadline
    for e in late:
        (child,) = e.children
        assert child in dropped
        pickups = [p.ts for p in granted if p.reason is Reason.PICKUP and child in p.children]
        assert all(ts > e.ts for ts in pickups)
    reasons = {e.reason for e in events}
    assert {
        "blocked_person",
        "fire_alarm",
        "early_pickup",
        "forced_open",
        "held_open",
        "wrong_channel",
        "expired",
    } <= reasons
    assert any(e.approved_by for e in granted)


def test_demo_command_prints_timeline_and_summary() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "edge.cli", "demo", "-c", str(REPO / "config" / "example.toml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Summary of the day" in out.stdout and "late pickups:" in out.stdout
    assert "\033[" not in out.stdout  # no colour codes when not on a terminal
    assert "blocked_person" in out.stdout
