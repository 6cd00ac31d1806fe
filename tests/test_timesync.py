"""Clock synchronisation: each probe, their order, and the events the watch records."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from edge.events import Draft, EventType, Reason
from edge.ops.timesync import (
    STA_UNSYNC,
    TIME_ERROR,
    ClockStatus,
    ClockWatch,
    ProbeResult,
    Sync,
    adjtimex,
    check,
    find_rtc,
    kernel_probe,
    timedatectl_probe,
    timesyncd_probe,
)
from tests.conftest import async_wait_for
from tests.ops_support import NOW


@pytest.mark.parametrize(
    ("reading", "state"),
    [
        ((0, 0x2001, 15000), Sync.SYNCED),  # TIME_OK, PLL + NANO, 15 ms
        ((1, 0x2001, 15000), Sync.SYNCED),  # a leap second announced is still in sync
        ((TIME_ERROR, STA_UNSYNC, 16_000_000), Sync.UNSYNCED),
        ((0, STA_UNSYNC, 16_000_000), Sync.UNSYNCED),  # the flag alone is enough
    ],
)
def test_kernel_probe(reading: tuple[int, int, int], state: Sync) -> None:
    result = kernel_probe(lambda: reading)()
    assert result.state is state
    assert result.reason.startswith("kernel: ")


def test_kernel_probe_unreadable_is_unknown() -> None:
    def denied() -> tuple[int, int, int]:
        raise PermissionError(1, "Operation not permitted")

    assert kernel_probe(denied)().state is Sync.UNKNOWN


@pytest.mark.skipif(sys.platform != "linux", reason="adjtimex is Linux only")
def test_real_adjtimex_reads_without_privilege() -> None:
    state, status, maxerror = adjtimex()
    assert 0 <= state <= TIME_ERROR and status >= 0 and maxerror >= 0


def test_timesyncd_flag_only_says_yes(tmp_path: Path) -> None:
    flag = tmp_path / "synchronized"
    assert timesyncd_probe(flag)().state is Sync.UNKNOWN
    flag.touch()
    assert timesyncd_probe(flag)().state is Sync.SYNCED


def runner(code: int, out: str) -> Any:
    calls: list[Sequence[str]] = []

    def run(argv: Sequence[str]) -> tuple[int, str]:
        calls.append(argv)
        return code, out

    run.calls = calls  # type: ignore[attr-defined]
    return run


@pytest.mark.parametrize(
    ("code", "out", "state"),
    [
        (0, "yes\n", Sync.SYNCED),
        (0, "no\n", Sync.UNSYNCED),
        (1, "", Sync.UNKNOWN),  # no systemd as PID 1, no D-Bus
        (0, "maybe\n", Sync.UNKNOWN),
    ],
)
def test_timedatectl_probe(code: int, out: str, state: Sync) -> None:
    run = runner(code, out)
    assert timedatectl_probe(run)().state is state
    assert list(run.calls[0]) == ["timedatectl", "show", "-p", "NTPSynchronized", "--value"]


def test_timedatectl_missing_or_hung_is_unknown() -> None:
    def missing(argv: Sequence[str]) -> tuple[int, str]:
        raise FileNotFoundError(2, "No such file or directory", "timedatectl")

    def hung(argv: Sequence[str]) -> tuple[int, str]:
        raise subprocess.TimeoutExpired(list(argv), 5)

    assert timedatectl_probe(missing)().state is Sync.UNKNOWN
    assert timedatectl_probe(hung)().state is Sync.UNKNOWN


def test_rtc(tmp_path: Path) -> None:
    assert find_rtc(tmp_path / "none") is None
    (tmp_path / "rtc1").mkdir()
    (tmp_path / "rtc0").mkdir()
    assert find_rtc(tmp_path) == "rtc0"


def fixed(state: Sync, reason: str = "") -> Any:
    return lambda: ProbeResult(state, reason or str(state))


def never() -> ProbeResult:
    raise AssertionError("a later probe ran after a definite answer")


def test_the_first_definite_answer_decides() -> None:
    status = check(
        [fixed(Sync.UNKNOWN), fixed(Sync.UNSYNCED, "kernel says no"), never], lambda: "rtc0"
    )
    assert status == ClockStatus(Sync.UNSYNCED, "kernel says no", "rtc0")
    assert not status.trusted
    assert check([fixed(Sync.SYNCED), never], lambda: None).trusted


def test_no_answer_is_unknown_and_not_trusted() -> None:
    status = check([fixed(Sync.UNKNOWN, "a"), fixed(Sync.UNKNOWN, "b")], lambda: None)
    assert (status.state, status.reason, status.trusted) == (Sync.UNKNOWN, "a; b", False)
    assert status.describe() == "unknown: a; b (no RTC)"


# --- the watch in the daemon -------------------------------------------------------------


class FakeGate:
    def draft(self, type_: EventType, reason: Reason | str, **fields: Any) -> Draft:
        return Draft(type=type_, reason=reason, ts=NOW, **fields)


class FakeDaemon:
    loop = None

    def __init__(self) -> None:
        self.gate = FakeGate()
        self.recorded: list[Draft] = []

    def record(self, drafts: list[Draft]) -> list[dict[str, Any]]:
        self.recorded += drafts
        return []


SYNCED = ClockStatus(Sync.SYNCED, "kernel: synchronised")
UNSYNCED = ClockStatus(Sync.UNSYNCED, "kernel: not synchronised", None)


def test_the_watch_records_each_change_of_trust() -> None:
    daemon = FakeDaemon()
    watch = ClockWatch(daemon)  # type: ignore[arg-type]
    assert not watch.trusted()  # not until the first answer
    watch.update(SYNCED)
    assert watch.trusted() and daemon.recorded == []
    watch.update(UNSYNCED)
    watch.update(UNSYNCED)
    watch.update(ClockStatus(Sync.UNKNOWN, "no probe"))  # still untrusted: no new event
    watch.update(SYNCED)
    assert [(d.type, d.reason) for d in daemon.recorded] == [
        (EventType.SYSTEM, Reason.CLOCK_UNSYNCED),
        (EventType.SYSTEM, Reason.CLOCK_SYNCED),
    ]
    assert daemon.recorded[0].detail == {
        "state": "unsynced",
        "why": "kernel: not synchronised",
        "rtc": None,
    }


def test_an_unsynchronised_start_is_recorded() -> None:
    daemon = FakeDaemon()
    watch = ClockWatch(daemon)  # type: ignore[arg-type]
    watch.update(UNSYNCED)
    assert [d.reason for d in daemon.recorded] == [Reason.CLOCK_UNSYNCED]
    assert not watch.trusted()


def test_the_watch_checks_off_the_loop() -> None:
    import asyncio
    import threading

    threads: list[str] = []

    def checker() -> ClockStatus:
        threads.append(threading.current_thread().name)
        return UNSYNCED

    async def scenario() -> None:
        daemon = FakeDaemon()
        daemon.loop = asyncio.get_running_loop()  # type: ignore[assignment]
        watch = ClockWatch(daemon, checker=checker, every=3600)  # type: ignore[arg-type]
        watch.start()
        await async_wait_for(lambda: watch.status is not None, 10, "the first clock check")
        watch.stop()
        assert [d.reason for d in daemon.recorded] == [Reason.CLOCK_UNSYNCED]

    asyncio.run(scenario())
    assert threads and threads[0] != threading.main_thread().name
