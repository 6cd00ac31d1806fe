"""The systemd watchdog, fed only while the gate really works.

A ping is sent from a timer on the daemon's own event loop, so a loop that is stuck (a
blocked call, a deadlock, a store that cannot be written) stops the pings by itself and
systemd restarts the daemon, which brings the lock up in its safe state. A reader that
has been down for longer than ``reader_grace`` also stops the pings: a reader thread that
hangs on a dead device is healed by a restart, while a short outage (a cable re-plugged)
is left to the reader's own reopen with backoff.

The component also tells systemd when the daemon is ready (``READY=1``, once the readers
and the components before it are started) and when it stops (``STOPPING=1``). Keep it
last in ``start_extras``, so it is started last and stopped first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from drivers.health import ReaderHealth
from edge.host import GateHost
from edge.ops.sdnotify import Notifier, watchdog_interval

log = logging.getLogger(__name__)

READER_GRACE_SECONDS = 60.0


class ReaderWatch:
    """Since when each reader has been down, from the health reports the daemon keeps."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._down_since: dict[str, float] = {}

    def failing(self, health: Mapping[str, ReaderHealth], now: float) -> list[str]:
        """Readers down for longer than the grace, as ``name (detail)``."""
        for name, h in health.items():
            if h.ok:
                self._down_since.pop(name, None)
            else:
                self._down_since.setdefault(name, now)
        for name in list(self._down_since):
            if name not in health:
                del self._down_since[name]
        return [
            f"{name} ({health[name].detail})"
            for name, since in sorted(self._down_since.items())
            if now - since >= self.grace
        ]


def summary(status: Mapping[str, Any]) -> str:
    """One line for ``systemctl status``."""
    readers = status.get("readers", {})
    down = sorted(name for name, r in readers.items() if not r.get("ok", True))
    parts = [
        f"mode {status.get('mode', '?')}",
        f"lock {status.get('lock', '?')}",
        f"door {status.get('door', '?')}",
        f"outbox {status.get('outbox', '?')}",
        f"readers down: {', '.join(down)}" if down else "readers ok",
    ]
    return ", ".join(parts)


class Watchdog:
    def __init__(
        self,
        host: GateHost,
        *,
        notifier: Notifier | None = None,
        interval: float | None = None,
        reader_grace: float = READER_GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.notifier = notifier or Notifier()
        self.interval = interval if interval is not None else watchdog_interval()
        self.readers = ReaderWatch(reader_grace)
        self.clock = clock
        self.pings = 0
        self._handle: asyncio.TimerHandle | None = None
        self._status = ""
        self._withholding = False

    @property
    def withholding(self) -> bool:
        """Whether pings are held back (a reader down past its grace)."""
        return self._withholding

    def start(self) -> None:
        self._status = self._summary()
        self.notifier.ready(self._status)
        if self.interval is None:
            return
        if self.host.loop is None:
            raise RuntimeError("the watchdog must be started on the daemon's running loop")
        log.info("systemd watchdog: pinging every %.1f s", self.interval)
        self._beat()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.notifier.stopping("stopping: lock going to its safe state")

    def _beat(self) -> None:
        loop = self.host.loop
        assert loop is not None and self.interval is not None
        self._handle = loop.call_later(self.interval, self._beat)
        failing = self.readers.failing(self.host.reader_health, self.clock())
        if failing:
            self._withhold(failing)
            return
        if self._withholding:
            log.info("systemd watchdog: readers healthy again, pinging")
            self._withholding = False
        self.notifier.watchdog()
        self.pings += 1
        status = self._summary()
        if status != self._status:
            self._status = status
            self.notifier.status(status)

    def _withhold(self, failing: list[str]) -> None:
        if not self._withholding:
            log.error("systemd watchdog: withholding pings, reader down: %s", "; ".join(failing))
            self._withholding = True
            self.notifier.status("reader down, restart expected: " + "; ".join(failing))

    def _summary(self) -> str:
        try:
            return summary(self.host.status())
        except Exception:  # a status line must never stop the pings
            log.exception("daemon status failed")
            return "running"
