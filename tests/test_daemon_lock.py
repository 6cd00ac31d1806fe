"""One daemon per store: a second `kindergate run` on the same store refuses to start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import wait_for
from tests.rosters import write_small_roster
from tests.test_daemon import stored

CONFIG = """
[site]
id = "s"
timezone = "Asia/Shanghai"
[gate]
id = "{gate}"
hardware = "simulated"
[store]
path = "{store}"
[roster]
path = "roster"
[[reader]]
name = "entrance"
type = "line"
path = "{fifo}"
"""


def config(folder: Path, name: str, store: str, gate: str = "main") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(CONFIG.format(gate=gate, store=store, fifo=f"state/{name}.fifo"))
    return path


def run(cfg: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "-c", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def started(db: Path) -> int:
    return sum(1 for event in stored(db) if event["reason"] == "started")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)


def test_a_second_daemon_on_the_same_store_refuses_and_names_the_holder(tmp_path: Path) -> None:
    write_small_roster(tmp_path / "roster")
    db = tmp_path / "state" / "gate.db"
    first = run(config(tmp_path, "first", "state/gate.db"))
    try:
        wait_for(lambda: started(db) >= 1 or first.poll() is not None, 30, "the daemon to start")
        assert first.poll() is None, first.communicate()
        # the same store, reached through another path and another config
        second = run(config(tmp_path, "second", str(db.resolve()), gate="main"))
        out, err = second.communicate(timeout=30)
        assert second.returncode == 1, (out, err)
        assert str(db.resolve()) in err
        assert f"pid {first.pid}" in err
        assert "Traceback" not in err
        assert started(db) == 1  # the second never wrote to the store
        assert first.poll() is None  # and the first runs on
    finally:
        stop(first)
    assert first.returncode == 0


def test_the_store_is_free_again_once_the_daemon_stopped(tmp_path: Path) -> None:
    write_small_roster(tmp_path / "roster")
    db = tmp_path / "state" / "gate.db"
    cfg = config(tmp_path, "gate", "state/gate.db")
    for round_ in (1, 2):
        proc = run(cfg)
        try:
            wait_for(
                lambda: started(db) >= round_ or proc.poll() is not None,  # noqa: B023
                30,
                "the daemon to start",
            )
            assert proc.poll() is None, proc.communicate()
        finally:
            stop(proc)
    lock = Path(f"{db}.lock")
    assert lock.exists() and oct(os.stat(lock).st_mode & 0o777) == "0o600"
