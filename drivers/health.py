"""Reader health, and the guards that keep a faulty reader from flooding the gate.

Everything here is pure (time is passed in) except ``ReadFilter``, which reads an
injected clock. A reader thread reports its health only when it changes, and its bad
reads go through a ``BadReadLimiter``: a noisy cable or a dying reader shows up as a
few ``bad_read`` events and one summary per window, never as a million events.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import Read, ReadCallback

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReaderHealth:
    """Whether a reader's device is usable, and why not."""

    reader: str
    ok: bool
    detail: str = ""


HealthCallback = Callable[[ReaderHealth], None]


class HealthState:
    """Reports a reader's health to a callback only when it changes."""

    def __init__(self, reader: str, on_health: HealthCallback | None) -> None:
        self.reader = reader
        self._on_health = on_health
        self._ok: bool | None = None

    @property
    def ok(self) -> bool | None:
        return self._ok

    def report(self, ok: bool, detail: str) -> None:
        if ok == self._ok:
            return
        self._ok = ok
        if ok:
            log.info("reader %s: %s", self.reader, detail)
        else:
            log.warning("reader %s: %s", self.reader, detail)
        if self._on_health is not None:
            self._on_health(ReaderHealth(self.reader, ok, detail))


class Backoff:
    """Delays between attempts to reopen a device: doubling, capped."""

    def __init__(self, first: float = 0.2, limit: float = 5.0) -> None:
        if not 0 < first <= limit:
            raise ValueError("backoff needs 0 < first <= limit")
        self.first = first
        self.limit = limit
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.limit)
        return delay

    def reset(self) -> None:
        self._next = self.first


class BadReadLimiter:
    """Lets at most ``limit`` bad reads through in any ``window`` seconds; counts the rest."""

    def __init__(self, limit: int = 5, window: float = 60.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._passed: deque[float] = deque()
        self._suppressed = 0
        self._first_suppressed = 0.0

    @property
    def suppressed(self) -> int:
        """Bad reads held back and not yet reported by ``take_summary``."""
        return self._suppressed

    def allow(self, now: float) -> bool:
        while self._passed and now - self._passed[0] >= self.window:
            self._passed.popleft()
        if len(self._passed) < self.limit:
            self._passed.append(now)
            return True
        if self._suppressed == 0:
            self._first_suppressed = now
        self._suppressed += 1
        return False

    def take_suppressed(self) -> int:
        """How many were suppressed since the last take; resets the count.

        For a caller that reports the count with the next read it lets through.
        """
        count, self._suppressed = self._suppressed, 0
        return count

    def take_summary(self, now: float) -> int:
        """How many were suppressed, once a window has passed since the first of them.

        Returns 0 until then (so a flood gives one summary per window) and resets the
        count when it returns a number.
        """
        if self._suppressed == 0 or now - self._first_suppressed < self.window:
            return 0
        count, self._suppressed = self._suppressed, 0
        return count


# How often a reader hands the count of the bad reads it held back to the gate: the gate
# keeps the count (across a restart too) and logs it once per window.
COUNT_EVERY_SECONDS = 1.0


class ReadFilter:
    """Passes a reader's reads on, holding back a flood of bad ones.

    What it held back is passed on as a count (a ``Read`` with ``suppressed``): once per
    window by default, or, with ``count_every``, as often as that, so a process killed in
    a flood loses no more than that much of the count. Reader threads call it for every
    read and call ``flush()`` when idle, so the count of a flood that has stopped is
    still delivered.
    """

    def __init__(
        self,
        reader: str,
        on_read: ReadCallback,
        *,
        limiter: BadReadLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        count_every: float | None = None,
    ) -> None:
        self.reader = reader
        self._on_read = on_read
        self._limiter = limiter if limiter is not None else BadReadLimiter()
        self._clock = clock
        self._count_every = count_every
        self._counted_at = float("-inf")

    def __call__(self, read: Read) -> None:
        now = self._clock()
        self.flush(now)
        if read.credential is None and not self._limiter.allow(now):
            return
        self._on_read(read)

    def flush(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        if self._count_every is None:
            count = self._limiter.take_summary(now)
        elif self._limiter.suppressed and now - self._counted_at >= self._count_every:
            self._counted_at = now
            count = self._limiter.take_suppressed()
        else:
            count = 0
        if count:
            log.warning("reader %s: %s bad reads suppressed", self.reader, count)
            error = f"{count} more bad reads suppressed"
            self._on_read(Read(self.reader, None, error=error, suppressed=count))


class SilenceWatch:
    """Says when a reader has been failing, or silent, for longer than ``limit`` seconds.

    Most readers are silent when no card is shown, so silence alone is only a fault
    when ``expect_traffic`` is set (hardware with a heartbeat). Errors are what a
    serial or evdev reader can report: a port that vanished or cannot be opened.
    Each fault is reported once by ``check`` and its end once by ``heard``.
    """

    def __init__(self, reader: str, limit: float, *, expect_traffic: bool = False) -> None:
        if limit <= 0:
            raise ValueError("limit must be > 0")
        self.reader = reader
        self.limit = limit
        self.expect_traffic = expect_traffic
        self._last_heard: float | None = None
        self._error_since: float | None = None
        self._error = ""
        self._alerted = False

    def heard(self, now: float) -> ReaderHealth | None:
        """The reader works (data arrived or its device opened)."""
        self._last_heard = now
        self._error_since = None
        if not self._alerted:
            return None
        self._alerted = False
        return ReaderHealth(self.reader, True, "recovered")

    def error(self, now: float, detail: str) -> None:
        if self._error_since is None:
            self._error_since = now
            self._error = detail

    def check(self, now: float) -> ReaderHealth | None:
        if self._alerted:
            return None
        detail = self._fault(now)
        if detail is None:
            return None
        self._alerted = True
        return ReaderHealth(self.reader, False, detail)

    def _fault(self, now: float) -> str | None:
        if self._error_since is not None and now - self._error_since >= self.limit:
            return f"{self._error} for {now - self._error_since:.0f} s"
        if not self.expect_traffic:
            return None
        if self._last_heard is None:
            self._last_heard = now  # the watch starts counting when first checked
            return None
        if now - self._last_heard >= self.limit:
            return f"silent for {now - self._last_heard:.0f} s"
        return None
