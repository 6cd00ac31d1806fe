"""The amber "waiting for a guard" ends when the guard refuses or the request runs out.

An OSDP reader shows the gate's feedback on its own lights (drivers/feedback.py), so
the gate must say when nobody waits any more; here on simulated pins, in virtual time.
"""

from __future__ import annotations

from pathlib import Path

from drivers.base import Feedback
from drivers.feedback import ReaderFeedback
from drivers.gpio import SimulatedGate
from edge.gate import Gate
from edge.guard import GuardAction
from tests.rosters import small_roster
from tests.test_gate import Rig as GateRig

EARLY = "2026-11-24T10:00:00"  # Anna (card 101) for Amy, class K1: an early pickup


class Recorder(SimulatedGate):
    """Simulated pins that also note each feedback, in order."""

    signals: list[Feedback]

    def signal(self, feedback: Feedback) -> None:
        self.signals.append(feedback)
        super().signal(feedback)


def rig(tmp_path: Path) -> tuple[GateRig, Recorder]:
    gate_rig = GateRig(tmp_path, start=EARLY)
    io = Recorder(gate_rig.cfg.gpio.pins())
    io.signals = []
    gate_rig.gate = Gate(gate_rig.cfg, small_roster(tmp_path / "r3"), io, gate_rig.clock)
    io.signals.clear()  # what the gate showed at start is not the point here
    return gate_rig, io


def test_a_refused_early_pickup_turns_the_amber_red(tmp_path: Path) -> None:
    r, io = rig(tmp_path)
    drafts = r.scan("0000000101")
    assert drafts[0].decision == "needs_approval"
    r.gate.guard(GuardAction("refuse", credential="card:0000000101"))
    assert io.signals == [Feedback.NEEDS_APPROVAL, Feedback.DENIED]
    io.close()


def test_an_early_pickup_nobody_answered_turns_the_amber_off(tmp_path: Path) -> None:
    r, io = rig(tmp_path)
    r.scan("0000000101")
    r.advance(r.cfg.gate.approval_minutes * 60 - 1)
    assert io.signals == [Feedback.NEEDS_APPROVAL]  # still waiting
    r.advance(60)  # past the approval window (the daemon ticks at least every 30 s)
    assert io.signals == [Feedback.NEEDS_APPROVAL, Feedback.IDLE]
    assert r.gate.today.pending == {}
    io.close()


def test_the_reader_that_read_sees_the_amber_and_every_reader_the_guards_answer(
    tmp_path: Path,
) -> None:
    class Lights:
        def __init__(self, name: str) -> None:
            self.name = name
            self.shown: list[Feedback] = []

        def show(self, feedback: Feedback) -> None:
            self.shown.append(feedback)

    r, io = rig(tmp_path)
    feedback = ReaderFeedback(io)
    entrance, side = Lights("entrance"), Lights("side")
    feedback.add(entrance)
    feedback.add(side)
    r.gate.io = feedback
    with feedback.reading("entrance"):
        r.scan("0000000101")
    r.gate.guard(GuardAction("approve", credential="card:0000000101"))
    assert entrance.shown == [Feedback.NEEDS_APPROVAL, Feedback.GRANTED]
    assert side.shown == [Feedback.GRANTED]
    io.close()
