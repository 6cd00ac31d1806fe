"""Time comes from a clock object, so rules and the door run in virtual time in tests."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware current time."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; for timers only."""
        ...


class SystemClock:
    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def monotonic(self) -> float:
        return time.monotonic()


class VirtualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a virtual clock needs an aware start time")
        self._now = start
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance_to(self, when: datetime) -> None:
        if when < self._now:
            raise ValueError(f"time cannot go back: {when.isoformat()} < {self._now.isoformat()}")
        self._mono += (when - self._now).total_seconds()
        self._now = when

    def advance(self, seconds: float) -> None:
        self.advance_to(self._now + timedelta(seconds=seconds))
