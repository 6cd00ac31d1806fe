"""Is the system clock right? A tri-state answer with the reason, from injectable probes.

The release rules judge pickups by the time of day and the date. A Raspberry Pi has no
battery clock unless one is fitted (the Pi 5 has one, with a battery): after a power cut
it boots with the time saved at the last shutdown (fake-hwclock) until NTP answers. A
gate that trusted such a clock could release a child at the wrong time, so the gate
asks this module and, while the answer is not ``synced``, sends every pickup to a guard.

Probes, in order, stop at the first definite answer:
1. the kernel (``adjtimex`` with no change requested): its ``STA_UNSYNC`` flag is cleared
   by whichever NTP client disciplines the clock (systemd-timesyncd, chrony, ntpd);
2. systemd-timesyncd's flag file ``/run/systemd/timesync/synchronized``;
3. ``timedatectl show -p NTPSynchronized``.
A real-time clock is reported alongside: it makes an unsynchronised clock likely close,
but it is still not verified, so it does not change the state.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import enum
import logging
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.events import EventType, Reason
from edge.host import GateHost

log = logging.getLogger(__name__)

TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")
RTC_CLASS = Path("/sys/class/rtc")
CHECK_SECONDS = 60.0

TIME_ERROR = 5  # adjtimex's return when the clock is not synchronised
STA_UNSYNC = 0x0040


class Sync(enum.StrEnum):
    SYNCED = "synced"
    UNSYNCED = "unsynced"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    state: Sync
    reason: str


@dataclass(frozen=True, slots=True)
class ClockStatus:
    state: Sync
    reason: str
    rtc: str | None = None  # the RTC's name (``rtc0``) when the board has one

    @property
    def trusted(self) -> bool:
        """Whether time windows may be applied without a guard."""
        return self.state is Sync.SYNCED

    def describe(self) -> str:
        rtc = f"RTC {self.rtc}" if self.rtc else "no RTC"
        return f"{self.state}: {self.reason} ({rtc})"


Probe = Callable[[], ProbeResult]


# --- the kernel ----------------------------------------------------------------------


class _Timex(ctypes.Structure):
    # The head of struct timex; the kernel writes the whole struct, hence the room after.
    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("_rest", ctypes.c_byte * 256),
    )


def adjtimex() -> tuple[int, int, int]:
    """(clock state, status flags, maxerror in µs), changing nothing; OSError on failure."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    tx = _Timex()  # modes = 0: read only, allowed without CAP_SYS_TIME
    state = int(libc.adjtimex(ctypes.byref(tx)))
    if state < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"adjtimex: {errno}")
    return state, int(tx.status), int(tx.maxerror)


def kernel_probe(call: Callable[[], tuple[int, int, int]] = adjtimex) -> Probe:
    def probe() -> ProbeResult:
        try:
            state, status, maxerror = call()
        except (OSError, AttributeError) as err:  # seccomp, or not Linux
            return ProbeResult(Sync.UNKNOWN, f"kernel clock state unreadable: {err}")
        if state == TIME_ERROR or status & STA_UNSYNC:
            return ProbeResult(
                Sync.UNSYNCED, "kernel: not synchronised (no NTP client has set the clock)"
            )
        return ProbeResult(Sync.SYNCED, f"kernel: synchronised (max error {maxerror // 1000} ms)")

    return probe


def timesyncd_probe(flag: Path = TIMESYNCD_FLAG) -> Probe:
    def probe() -> ProbeResult:
        # The flag only ever says yes: its absence is also what chrony or ntpd look like.
        if flag.exists():
            return ProbeResult(Sync.SYNCED, "systemd-timesyncd: synchronised")
        return ProbeResult(Sync.UNKNOWN, f"no {flag}")

    return probe


Runner = Callable[[Sequence[str]], tuple[int, str]]


def _run(argv: Sequence[str]) -> tuple[int, str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=5, check=False)
    return done.returncode, done.stdout


def timedatectl_probe(run: Runner = _run) -> Probe:
    def probe() -> ProbeResult:
        try:
            code, out = run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
        except (OSError, subprocess.SubprocessError) as err:
            return ProbeResult(Sync.UNKNOWN, f"timedatectl: {err}")
        answer = out.strip()
        if code != 0 or answer not in ("yes", "no"):
            return ProbeResult(Sync.UNKNOWN, f"timedatectl: no answer (exit {code})")
        if answer == "yes":
            return ProbeResult(Sync.SYNCED, "timedatectl: NTP synchronised")
        return ProbeResult(Sync.UNSYNCED, "timedatectl: not NTP synchronised")

    return probe


def find_rtc(root: Path = RTC_CLASS) -> str | None:
    try:
        names = sorted(p.name for p in root.iterdir() if p.name.startswith("rtc"))
    except OSError:
        return None
    return names[0] if names else None


DEFAULT_PROBES: tuple[Probe, ...] = (kernel_probe(), timesyncd_probe(), timedatectl_probe())


def check(
    probes: Sequence[Probe] = DEFAULT_PROBES, rtc: Callable[[], str | None] = find_rtc
) -> ClockStatus:
    """The clock's state: the first probe with a definite answer decides."""
    unknown: list[str] = []
    for probe in probes:
        result = probe()
        if result.state is not Sync.UNKNOWN:
            return ClockStatus(result.state, result.reason, rtc())
        unknown.append(result.reason)
    return ClockStatus(Sync.UNKNOWN, "; ".join(unknown) or "no probe", rtc())


# --- the daemon component ---------------------------------------------------------------


class ClockWatch:
    """Checks the clock every ``every`` seconds off the loop; logs each change as an event.

    ``trusted()`` is what the gate asks before applying a time window. Until the first
    check has answered, the clock is not trusted: the first check runs at start.
    """

    def __init__(
        self,
        host: GateHost,
        *,
        checker: Callable[[], ClockStatus] = check,
        every: float = CHECK_SECONDS,
    ) -> None:
        self.host = host
        self.checker = checker
        self.every = every
        self.status: ClockStatus | None = None
        self._task: asyncio.Task[None] | None = None

    def trusted(self) -> bool:
        return self.status is not None and self.status.trusted

    def start(self) -> None:
        loop = self.host.loop
        if loop is None:
            raise RuntimeError("the clock watch must be started on the daemon's running loop")
        self.host.gate.clock_trusted = self.trusted
        self._task = loop.create_task(self._watch())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # timedatectl is a process: never run it on the loop that drives the lock.
            status = await loop.run_in_executor(None, self.checker)
            self.update(status)
            await asyncio.sleep(self.every)

    def update(self, status: ClockStatus) -> None:
        """Take a new answer (on the loop); record an event when trust changes."""
        before, self.status = self.status, status
        was = before.trusted if before is not None else True
        if status.trusted == was:
            return
        if status.trusted:
            log.info("clock synchronised: %s", status.describe())
            reason = Reason.CLOCK_SYNCED
        else:
            log.warning("clock not trusted, pickups need a guard: %s", status.describe())
            reason = Reason.CLOCK_UNSYNCED
        detail = {"state": str(status.state), "why": status.reason, "rtc": status.rtc}
        self.host.record([self.host.gate.draft(EventType.SYSTEM, reason, detail=detail)])
