"""`kindergate pass issue`: a pass made on the command line opens the gate once."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from gpiozero.pins.mock import MockFactory

from drivers.base import Read
from drivers.gpio import SimulatedGate
from edge.clock import VirtualClock
from edge.config import load_config
from edge.gate import Gate
from edge.roster_load import load_roster
from mqtt.signing import load_key
from tests.rosters import write_small_roster

CONFIG = """
[site]
id = "s"
timezone = "Asia/Shanghai"
[gate]
id = "main"
[store]
path = "gate.db"
[roster]
path = "roster"
"""
MQTT = '[mqtt]\nkey_file = "site.key"\n'


def kindergate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_issued_pass_opens_once_for_its_child(tmp_path: Path) -> None:
    write_small_roster(tmp_path / "roster")
    cfg = tmp_path / "gate.toml"
    cfg.write_text(CONFIG + MQTT)
    assert kindergate("keygen", "-c", str(cfg)).returncode == 0
    out = kindergate(
        "pass",
        "issue",
        "--child",
        "C1",
        "--name",
        "Grandma Li",
        "--date",
        "2026-11-24",
        "--png",
        str(tmp_path / "p.png"),
        "-c",
        str(cfg),
    )
    assert out.returncode == 0, out.stderr
    credential = out.stdout.strip()
    assert credential.startswith("qr:KG1.")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    config = load_config(cfg)
    tz = ZoneInfo("Asia/Shanghai")
    gate = Gate(
        config,
        load_roster(tmp_path / "roster"),
        SimulatedGate(config.gpio.pins(), pin_factory=MockFactory()),
        VirtualClock(datetime(2026, 11, 24, 16, 5, tzinfo=tz)),
        pass_key=load_key(tmp_path / "site.key"),
    )
    first = gate.scan(Read("camera", credential))[0]
    assert (first.decision, first.reason, first.children) == ("granted", "delegate", ("C1",))
    assert gate.scan(Read("camera", credential))[0].reason == "already_used"


def test_bad_pass_requests_exit_2(tmp_path: Path) -> None:
    write_small_roster(tmp_path / "roster")
    plain = tmp_path / "plain.toml"
    plain.write_text(CONFIG)
    out = kindergate("pass", "issue", "--child", "C1", "--name", "X", "-c", str(plain))
    assert out.returncode == 2 and "mqtt.key_file" in out.stderr
    keyed = tmp_path / "keyed.toml"
    keyed.write_text(CONFIG + MQTT)
    out = kindergate("pass", "issue", "--child", "C1", "--name", "X", "-c", str(keyed))
    assert out.returncode == 2 and "no such key file" in out.stderr  # no key made yet
    assert kindergate("keygen", "-c", str(keyed)).returncode == 0
    out = kindergate("pass", "issue", "--name", "X", "-c", str(keyed))
    assert out.returncode == 2 and "--child" in out.stderr
    out = kindergate("pass", "issue", "--child", "C99", "--name", "X", "-c", str(keyed))
    assert out.returncode == 2 and "no child 'C99'" in out.stderr
    assert "Traceback" not in out.stderr
