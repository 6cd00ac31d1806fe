"""`kindergate run` on simulated hardware: a FIFO reader, the store, a clean SIGTERM."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.rosters import write_small_roster

CONFIG = """
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
[[reader]]
name = "entrance"
type = "line"
path = "state/entrance.fifo"
"""


def stored(db: Path) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return [json.loads(r[0]) for r in con.execute("SELECT body FROM events ORDER BY seq")]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


class Running:
    def __init__(self, tmp_path: Path, starts: int = 1) -> None:
        write_small_roster(tmp_path / "roster")
        self.cfg = tmp_path / "gate.toml"
        self.cfg.write_text(CONFIG)
        self.db = tmp_path / "state" / "gate.db"
        self.fifo = tmp_path / "state" / "entrance.fifo"
        self.log = (tmp_path / "daemon.log").open("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "run", "-c", str(self.cfg)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: len(self.events_of("system", "started")) >= starts or self._died(),
            20,
            "the daemon to start",
        )

    def _died(self) -> bool:
        if self.proc.poll() is not None:
            self.log.seek(0)
            raise AssertionError(f"daemon exited {self.proc.returncode}: {self.log.read()[-3000:]}")
        return False

    def events_of(self, type_: str, reason: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in stored(self.db)
            if e["type"] == type_ and (reason is None or e["reason"] == reason)
        ]

    def write(self, *lines: str) -> None:
        fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, "".join(f"{line}\n" for line in lines).encode())
        finally:
            os.close(fd)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Running]:
    running = Running(tmp_path)
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait(10)


def test_scans_are_decided_stored_and_sigterm_is_clean(daemon: Running, tmp_path: Path) -> None:
    daemon.write("card:0000000201", "0000999999", "not a card", "0000000201")
    access = wait_for(
        lambda: len(daemon.events_of("access")) >= 3 and daemon.events_of("access"),
        20,
        "three access events",
    )
    assert [(e["decision"], e["reason"]) for e in access] == [
        ("granted", "staff"),
        ("denied", "unknown_credential"),
        ("granted", "staff"),
    ]
    bad = daemon.events_of("system", "bad_read")
    assert len(bad) == 1 and bad[0]["detail"]["error"] == "not a credential"
    assert daemon.stop() == 0
    last = stored(daemon.db)[-1]
    assert (last["type"], last["reason"]) == ("system", "stopped")
    out = subprocess.run(
        [sys.executable, "-m", "edge.cli", "events", "-c", str(daemon.cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    printed = [json.loads(line) for line in out.stdout.splitlines()]
    assert [e["id"] for e in printed] == [e["id"] for e in stored(daemon.db)]
    assert oct(daemon.db.stat().st_mode & 0o777) == "0o600"


def test_roster_import_is_picked_up_without_restart(daemon: Running, tmp_path: Path) -> None:
    daemon.write("0000000777")
    wait_for(lambda: daemon.events_of("access"), 20, "the first scan")
    staff = (tmp_path / "roster" / "staff.csv").read_text() + "S9,New,guard,0000000777\n"
    (tmp_path / "roster" / "staff.csv").write_text(staff)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "roster",
            "import",
            str(tmp_path / "roster"),
            "-c",
            str(daemon.cfg),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    loaded = wait_for(lambda: daemon.events_of("system", "roster_loaded"), 20, "the roster reload")
    assert loaded[0]["detail"]["version"] == 2
    daemon.write("0000000777")
    access = wait_for(
        lambda: len(daemon.events_of("access")) >= 2 and daemon.events_of("access"),
        20,
        "the second scan",
    )
    assert [e["reason"] for e in access] == ["unknown_credential", "staff"]


def test_restart_keeps_sequence_and_chain(daemon: Running, tmp_path: Path) -> None:
    daemon.write("card:0000000201")
    wait_for(lambda: daemon.events_of("access"), 20, "a scan")
    assert daemon.stop() == 0
    again = Running(tmp_path, starts=2)
    try:
        events = stored(again.db)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(events))
    finally:
        assert again.stop() == 0
