"""Readers down and up, bad reads counted: the rules in virtual time, then a running daemon."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.health import ReaderHealth
from edge.components.reader_watch import ReaderWatch, Suppressed
from edge.config import Config, load_config
from edge.daemon import Daemon
from tests.conftest import wait_for
from tests.console_support import SCHOOL_DAY, DaemonThread, SettableClock
from tests.rosters import write_small_roster
from tests.test_daemon import Running, stored

# --- the rules, in virtual time ------------------------------------------------------------


def test_a_fault_is_down_after_the_grace_and_up_at_the_first_sign_of_life() -> None:
    watch = ReaderWatch(grace=10.0)
    assert watch.reported(ReaderHealth("gate", True, "/dev/ttyUSB0 open"), 0.0) is None
    assert watch.health == {"gate": ReaderHealth("gate", True, "/dev/ttyUSB0 open")}
    assert watch.reported(ReaderHealth("gate", False, "unplugged"), 100.0) is None
    assert watch.check(109.9) == []
    assert watch.health["gate"].ok  # still within the grace
    down = watch.check(110.0)
    assert down == [ReaderHealth("gate", False, "unplugged")]
    assert watch.check(500.0) == []  # reported once
    assert watch.health["gate"] == down[0]
    back = watch.reported(ReaderHealth("gate", True, "/dev/ttyUSB0 open"), 501.0)
    assert back == ReaderHealth("gate", True, "/dev/ttyUSB0 open")
    assert watch.health["gate"] == back
    assert watch.reported(ReaderHealth("gate", True, "/dev/ttyUSB0 open"), 502.0) is None


def test_a_glitch_shorter_than_the_grace_is_no_event() -> None:
    watch = ReaderWatch(grace=10.0)
    watch.reported(ReaderHealth("fifo", False, "replaced"), 0.0)
    assert watch.reported(ReaderHealth("fifo", True, "open"), 2.0) is None
    assert watch.check(60.0) == []


def test_a_read_is_a_sign_of_life() -> None:
    watch = ReaderWatch(grace=5.0)
    watch.reported(ReaderHealth("w", False, "D0 held low"), 0.0)
    assert [h.ok for h in watch.check(5.0)] == [False]
    assert watch.heard("w", 6.0) == ReaderHealth("w", True, "recovered")
    assert watch.heard("w", 7.0) is None


def test_a_reader_that_never_opened_is_down_and_silence_alone_is_not() -> None:
    watch = ReaderWatch(grace=10.0)
    watch.reported(ReaderHealth("a", False, "cannot open /dev/ttyUSB9"), 0.0)
    watch.reported(ReaderHealth("b", True, "open"), 0.0)
    assert watch.check(3600.0) == [ReaderHealth("a", False, "cannot open /dev/ttyUSB9")]
    assert "a" in watch.health and watch.health["b"].ok  # b said nothing for an hour: fine


def test_suppressed_bad_reads_are_counted_once_per_window() -> None:
    watch = ReaderWatch(window=60.0)
    watch.suppressed("gate", 40, 0.0)
    watch.suppressed("gate", 0, 0.5)
    watch.suppressed("gate", 30, 1.0)
    watch.suppressed("side", 5, 30.0)
    assert watch.pending() == {"gate": 70, "side": 5}
    assert watch.due(59.9) == []
    assert watch.due(60.0) == [Suppressed("gate", 70)]
    assert watch.pending() == {"side": 5}
    watch.suppressed("gate", 1, 61.0)  # a new window from here
    assert watch.due(100.0) == [Suppressed("side", 5)]
    assert watch.due(200.0, all_=False) == [Suppressed("gate", 1)]
    watch.suppressed("gate", 2, 201.0)
    assert watch.due(201.0, all_=True) == [Suppressed("gate", 2)]
    assert watch.pending() == {}


# --- a running daemon --------------------------------------------------------------------

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
[[reader]]
name = "side"
type = "wiegand"
d0 = 20
d1 = 21
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    write_small_roster(tmp_path / "roster")
    (tmp_path / "gate.toml").write_text(CONFIG)
    return load_config(tmp_path / "gate.toml")


@pytest.fixture
def running(cfg: Config) -> Iterator[DaemonThread]:
    # A short grace and window: the clock runs at real speed here.
    daemon = Daemon(
        cfg, clock=SettableClock(SCHOOL_DAY), reader_watch=ReaderWatch(grace=0.3, window=1.0)
    )
    daemon.open()
    thread = DaemonThread(daemon)
    thread.start()
    wait_for(lambda: system(thread, "started"), 30, "the readers open and the gate started")
    yield thread
    thread.stop()


def system(thread: DaemonThread, reason: str) -> list[dict[str, Any]]:
    events = thread.call(lambda: list(thread.daemon.store.events()))
    return [e.to_json() for e in events if e.type == "system" and e.reason == reason]


def readers(thread: DaemonThread) -> dict[str, Any]:
    return dict(thread.call(thread.daemon.status)["readers"])


def test_a_fifo_that_vanishes_is_down_then_up_when_it_is_back(
    running: DaemonThread, cfg: Config
) -> None:
    fifo = cfg.reader[0].path
    assert isinstance(fifo, Path)
    fifo.unlink()
    (down,) = wait_for(lambda: system(running, "reader_down"), 30, "reader_down")
    assert down["reader"] == "entrance" and "No such file" in down["detail"]["detail"]
    assert readers(running)["entrance"]["ok"] is False
    os.mkfifo(fifo, 0o600)
    (up,) = wait_for(lambda: system(running, "reader_up"), 30, "reader_up")
    assert up["reader"] == "entrance" and up["seq"] > down["seq"]
    assert readers(running)["entrance"] == {"ok": True, "detail": f"{fifo} open"}


def test_a_wiegand_line_held_low_is_down_until_released(running: DaemonThread) -> None:
    pin = running.daemon.io.pin_factory.pin(21)  # type: ignore[attr-defined]
    pin.drive_low()
    (down,) = wait_for(lambda: system(running, "reader_down"), 30, "reader_down")
    assert down["reader"] == "side" and down["detail"]["detail"].startswith("D1 held low")
    assert readers(running)["side"]["ok"] is False
    assert readers(running)["entrance"]["ok"] is True
    pin.drive_high()
    (up,) = wait_for(lambda: system(running, "reader_up"), 30, "reader_up")
    assert up["reader"] == "side"
    # the one edge before the line stuck was one bit: a bad read, logged as such
    assert [e["detail"]["error"] for e in system(running, "bad_read")] == ["wrong length: 1 bits"]


def write_fifo(path: Path, lines: list[str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, "".join(f"{line}\n" for line in lines).encode())
    finally:
        os.close(fd)


def test_a_flood_of_bad_reads_is_five_events_and_a_count(
    running: DaemonThread, cfg: Config
) -> None:
    fifo = cfg.reader[0].path
    assert isinstance(fifo, Path)
    write_fifo(fifo, ["not a card"] * 25)
    counts = wait_for(
        lambda: sum(e["detail"]["count"] for e in system(running, "bad_reads_suppressed")) >= 20
        and system(running, "bad_reads_suppressed"),
        30,
        "the count of suppressed bad reads",
    )
    assert sum(e["detail"]["count"] for e in counts) == 20
    assert all(e["reader"] == "entrance" and e["detail"]["window_seconds"] == 1.0 for e in counts)
    assert len(system(running, "bad_read")) == 5
    assert running.call(lambda: running.daemon.store.get_state("bad_reads_pending")) == "{}"


def pending(db: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = con.execute("SELECT value FROM state WHERE key = 'bad_reads_pending'").fetchone()
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()
    return dict(json.loads(row[0])) if row else {}


def test_the_count_survives_a_sigkill(tmp_path: Path) -> None:
    first = Running(tmp_path)
    try:
        first.write(*["not a card"] * 25)
        wait_for(lambda: pending(first.db).get("entrance") == 20, 30, "the count kept")
    finally:
        first.proc.kill()
        first.proc.wait(10)
    again = Running(tmp_path, starts=2)
    try:
        counted = wait_for(
            lambda: [e for e in stored(again.db) if e["reason"] == "bad_reads_suppressed"],
            30,
            "the count logged",
        )
        # logged after the restart (or, on a machine slower than the 60 s window, before)
        assert sum(e["detail"]["count"] for e in counted) == 20
        assert pending(again.db) == {}
    finally:
        assert again.stop() == 0
    assert [e["reason"] for e in stored(again.db) if e["reason"] == "bad_read"] == ["bad_read"] * 5
