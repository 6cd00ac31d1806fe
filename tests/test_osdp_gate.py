"""`kindergate run` with an OSDP reader: libosdp's PD on a pty plays the reader at the gate."""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from drivers.base import Feedback
from drivers.gpio import GatePins, SimulatedGate
from drivers.osdp_key import create_scbk
from drivers.osdp_proto import feedback_commands
from drivers.osdp_sim import PtyLine, SimulatedOsdpReader
from drivers.wiegand import encode_wiegand26
from edge.components.readers import make_reader
from edge.config import OsdpReaderConfig
from edge.console.i18n import Words
from edge.console.live import describe
from edge.events import Event
from edge.roster_load import load_roster
from tests.conftest import free_port, wait_for
from tests.osdp_support import WAIT, until_seen
from tests.reader_support import Log
from tests.rosters import write_small_roster
from tests.test_daemon import stored
from tests.test_hwtest import Run

STAFF_CARD = encode_wiegand26(0, 201)  # card:0000000201, staff: granted any time
UNKNOWN_CARD = encode_wiegand26(15, 16959)  # card:0000999999: nobody's


class Gate:
    def __init__(self, tmp_path: Path) -> None:
        write_small_roster(tmp_path / "roster")
        key_file = tmp_path / "secrets" / "entrance.scbk"
        self.line = PtyLine(tmp_path / "ttyOSDP")
        self.commands = Log[dict[str, Any]]()
        self.reader = SimulatedOsdpReader(
            self.line, address=3, scbk=create_scbk(key_file), on_command=self.commands
        )
        self.reader.start()
        self.cfg = tmp_path / "gate.toml"
        self.cfg.write_text(
            f"""
[site]
id = "s"
timezone = "Asia/Shanghai"
[gate]
id = "main"
hardware = "simulated"
[store]
path = "state/gate.db"
[roster]
path = "roster"
[console]
enabled = true
port = {free_port()}
[[reader]]
name = "entrance"
type = "osdp"
port = "{self.line.path}"
address = 3
scbk_file = "secrets/entrance.scbk"
"""
        )
        self.db = tmp_path / "state" / "gate.db"
        self.log = (tmp_path / "daemon.log").open("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "run", "-c", str(self.cfg)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: self.events("system", "started") or self._died(), WAIT, "the daemon")

    def _died(self) -> bool:
        if self.proc.poll() is not None:
            self.log.seek(0)
            raise AssertionError(f"daemon exited {self.proc.returncode}: {self.log.read()[-3000:]}")
        return False

    def events(self, type_: str, reason: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in stored(self.db)
            if e["type"] == type_ and (reason is None or e["reason"] == reason)
        ]

    def status(self) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-m", "edge.cli", "guard", "status", "-c", str(self.cfg)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return dict(json.loads(out.stdout))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.reader.close()
        self.line.unplug()
        self.log.close()


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    running = Gate(tmp_path)
    try:
        yield running
    finally:
        running.close()


def reader_state(gate: Gate) -> dict[str, Any]:
    return dict(gate.status()["readers"].get("entrance", {}))


def test_a_card_at_an_osdp_reader_opens_the_gate_and_lights_that_reader(gate: Gate) -> None:
    wait_for(lambda: reader_state(gate).get("ok"), WAIT, "the secure channel")
    granted = feedback_commands(Feedback.GRANTED, led=True, buzzer=True)
    until_seen(
        lambda: gate.reader.present(STAFF_CARD), lambda: len(gate.commands.items) >= len(granted)
    )
    assert gate.commands.items == granted  # green and one beep, at the reader that read
    denied = feedback_commands(Feedback.DENIED, led=True, buzzer=True)
    until_seen(
        lambda: gate.reader.present(UNKNOWN_CARD),
        lambda: len(gate.commands.items) >= len(granted) + len(denied),
    )
    assert gate.commands.items[len(granted) :] == denied
    access = wait_for(lambda: len(gate.events("access")) >= 2 and gate.events("access"), WAIT)
    assert [(e["decision"], e["reason"], e["credential"], e["reader"]) for e in access] == [
        ("granted", "staff", "card:0000000201", "entrance"),
        ("denied", "unknown_credential", "card:0000999999", "entrance"),
    ]
    gate.proc.send_signal(signal.SIGTERM)
    assert gate.proc.wait(20) == 0


def test_tamper_and_a_silent_reader_show_in_the_log_and_the_state(gate: Gate) -> None:
    wait_for(lambda: reader_state(gate).get("ok"), WAIT, "the secure channel")
    until_seen(lambda: gate.reader.tamper(True), lambda: gate.events("alarm", "tamper"))
    alarm = gate.events("alarm", "tamper")
    assert [(e["reader"], e["detail"]) for e in alarm] == [("entrance", {"active": True})]
    gate.line.cut()
    down = wait_for(lambda: gate.events("system", "reader_down"), WAIT, "reader_down")
    assert down[0]["reader"] == "entrance"
    assert down[0]["detail"]["detail"] == f"no answer from address 3 on {gate.line.path}"
    state = reader_state(gate)
    assert state == {"ok": False, "detail": down[0]["detail"]["detail"]}
    gate.line.mend()
    up = wait_for(lambda: gate.events("system", "reader_up"), WAIT, "reader_up")
    assert up[0]["reader"] == "entrance"
    assert wait_for(lambda: reader_state(gate).get("ok"), WAIT, "the state to say so")
    # the console's live view says why the reader went down
    roster = load_roster(gate.cfg.parent / "roster")
    view = describe(Event.from_json(down[0]), roster, Words("en"), ZoneInfo("Asia/Shanghai"))
    assert (view.reader, view.note) == ("entrance", down[0]["detail"]["detail"])


def test_hw_test_reports_an_osdp_reader_and_answers_its_card_on_its_lights(
    tmp_path: Path,
) -> None:
    key = create_scbk(tmp_path / "k.scbk")
    line = PtyLine(tmp_path / "ttyOSDP")
    commands = Log[dict[str, Any]]()
    reader = SimulatedOsdpReader(line, address=0, scbk=key, on_command=commands)
    reader.start()
    rc = OsdpReaderConfig(
        name="entrance", type="osdp", port=line.path, address=0, scbk_file=tmp_path / "k.scbk"
    )
    gate = SimulatedGate(GatePins())
    run = Run(gate, {"entrance": functools.partial(make_reader, rc, gate)}, wait=120.0)
    try:
        wait_for(lambda: "reader entrance: ok" in run.out.getvalue(), WAIT, "the secure channel")
        until_seen(
            lambda: reader.tamper(True),
            lambda: "reader entrance: tamper active" in run.out.getvalue(),
        )
        for inp in gate.inputs:
            gate.drive(inp, True)
        until_seen(lambda: reader.present(STAFF_CARD), lambda: "card:" in run.out.getvalue())
        result = run.join()
    finally:
        reader.close()
        line.unplug()
        gate.close()
    assert result["complete"] is True
    assert result["readers"]["entrance"] == {
        "reads": ["card:0000000201"],
        "read_ok": True,
        "health": "ok",
    }
    # the card was answered on the reader itself before the check let the reader go
    assert commands.items == feedback_commands(Feedback.GRANTED, led=True, buzzer=True)
