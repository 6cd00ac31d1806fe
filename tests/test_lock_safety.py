"""The lock after a crash: a simulated gate's pin history, kept outside the daemon.

The daemon is killed with SIGKILL while the lock is released; the restarted daemon's
relay must go straight to its locked level, never through released, for each kind of
lock and active level.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.pinlog import read_log
from tests.conftest import wait_for
from tests.rosters import write_small_roster
from tests.test_daemon import stored

CONFIG = """
[site]
id = "s"
timezone = "Asia/Shanghai"
[gate]
id = "main"
hardware = "simulated"
unlock_seconds = 60
simulated_pin_log = "pins.log"
[store]
path = "state/gate.db"
[roster]
path = "roster"
[[reader]]
name = "entrance"
type = "line"
path = "state/entrance.fifo"
[gpio]
lock = 17
lock_active_high = {active_high}
lock_kind = "{kind}"
"""


def count(db: Path, reason: str) -> int:
    return sum(1 for event in stored(db) if event["reason"] == reason)


def start(cfg: Path, db: Path, starts: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "-c", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(
        lambda: count(db, "started") >= starts or proc.poll() is not None, 30, "the daemon to start"
    )
    assert proc.poll() is None, "the daemon exited"
    return proc


# (active level, lock kind) -> relay level when locked
CASES = {
    (True, "fail_secure"): 0,
    (False, "fail_secure"): 1,
    (True, "fail_safe"): 1,
    (False, "fail_safe"): 0,
}


@pytest.mark.parametrize(("active_high", "kind"), list(CASES))
def test_a_gate_killed_with_the_lock_open_restarts_locked_without_a_pulse(
    tmp_path: Path, active_high: bool, kind: str
) -> None:
    locked = CASES[(active_high, kind)]
    write_small_roster(tmp_path / "roster")
    cfg = tmp_path / "gate.toml"
    cfg.write_text(CONFIG.format(active_high=str(active_high).lower(), kind=kind))
    db, log = tmp_path / "state" / "gate.db", tmp_path / "pins.log"
    first = start(cfg, db, 1)
    try:
        fd = os.open(tmp_path / "state" / "entrance.fifo", os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"card:0000000201\n")  # staff: granted, the lock released for 60 s
        os.close(fd)
        wait_for(
            lambda: read_log(log).get(first.pid, {}).get("GPIO17", [])[-1:] == [1 - locked],
            30,
            "the lock to be released",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    second = start(cfg, db, 2)
    # A simulated pin starts as a floating input (low); the relay output is then created
    # straight at its locked level. Released never appears before a grant.
    from_floating = [0] if locked == 0 else [0, 1]
    try:
        history = read_log(log)
        assert history[first.pid]["GPIO17"] == [*from_floating, 1 - locked]  # the grant released it
        assert history[second.pid]["GPIO17"] == from_floating  # killed open, back locked, no pulse
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    assert (
        read_log(log)[second.pid]["GPIO17"] == from_floating
    )  # and still locked after a clean stop
