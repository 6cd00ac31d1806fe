"""The configured card readers: built, started, watched and closed for the daemon.

Reader threads hand every read and health report to the loop (``GateHost.from_thread``);
on the loop a ``ReaderWatch`` (edge/components/reader_watch.py, where the rules are) turns them into
``reader_down`` / ``reader_up`` and ``bad_reads_suppressed`` events. The count of bad
reads not yet logged is kept in the store, so a daemon killed in a flood loses at most
the last second of it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from drivers.base import GateIO, InputChange, Read
from drivers.feedback import ReaderFeedback
from drivers.health import ReaderHealth
from edge.components.reader_watch import ReaderWatch, Suppressed
from edge.config import (
    KeyboardReaderConfig,
    LineReaderConfig,
    OsdpReaderConfig,
    Rdm6300ReaderConfig,
    ReaderConfig,
    WiegandReaderConfig,
)
from edge.events import EventType, Reason
from edge.host import GateHost
from edge.store import StoreError

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
PENDING_KEY = "bad_reads_pending"  # the store's state: counts not yet logged


def ensure_fifo(path: Path) -> None:
    """A line reader's FIFO is made here, private to the service, when it is not there yet."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path, 0o600)


def make_reader(
    rc: ReaderConfig,
    io: GateIO,
    *,
    on_read: Callable[[Read], None],
    on_health: Callable[[ReaderHealth], None],
    on_input: Callable[[InputChange], None] | None = None,
) -> Any:
    """A reader for ``rc``; ``on_input`` gets what a reader's own switches say (OSDP tamper)."""
    if isinstance(rc, LineReaderConfig):
        from drivers.line import LineReader

        ensure_fifo(rc.path)
        return LineReader(rc.name, str(rc.path), on_read=on_read, on_health=on_health)
    if isinstance(rc, Rdm6300ReaderConfig):
        from drivers.rdm6300 import SerialRdm6300Reader

        return SerialRdm6300Reader(
            rc.name, str(rc.port), on_read=on_read, on_health=on_health, baudrate=rc.baudrate
        )
    if isinstance(rc, WiegandReaderConfig):
        from drivers.wiegand import GpioWiegandReader

        factory = getattr(io, "pin_factory", None)
        formats = (rc.bits,) if rc.bits else (26, 34)
        return GpioWiegandReader(
            rc.name,
            rc.d0,
            rc.d1,
            on_read=on_read,
            on_health=on_health,
            pin_factory=factory,
            formats=formats,
        )
    if isinstance(rc, KeyboardReaderConfig):
        from drivers.keyboard import KeyboardReader

        return KeyboardReader(rc.name, str(rc.device), on_read=on_read, on_health=on_health)
    if isinstance(rc, OsdpReaderConfig):
        from drivers.osdp import OsdpReader

        return OsdpReader(
            rc.name,
            str(rc.port),
            address=rc.address,
            scbk_file=rc.scbk_file,
            baudrate=rc.baudrate,
            install_mode=rc.install_mode,
            on_read=on_read,
            on_health=on_health,
            on_input=on_input,
        )
    raise ValueError(f"unknown reader type {rc!r}")


class Readers:
    """Every ``[[reader]]`` of the config, on the host's loop."""

    def __init__(
        self,
        host: GateHost,
        io: GateIO,
        *,
        watch: ReaderWatch | None = None,
        feedback: ReaderFeedback | None = None,
    ) -> None:
        self.host = host
        self.io = io
        self.watch = watch or ReaderWatch()
        self.feedback = feedback  # readers with lights show the gate's feedback too
        self._readers: list[Any] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Open every reader (a FIFO exists once this returns); then watch them."""
        for rc in self.host.cfg.reader:
            reader = make_reader(
                rc,
                self.io,
                on_read=self.host.from_thread(self.on_read),
                on_health=self.host.from_thread(self.on_health),
                on_input=self.host.from_thread(self.host.on_input),
            )
            reader.start()
            self._readers.append(reader)
            if self.feedback is not None:
                self.feedback.add(reader)
        self._log_counts(self._restored(), restarted=True)
        if self.host.loop is not None:
            self._task = self.host.loop.create_task(self._watching())

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for reader in reversed(self._readers):
            with suppress(Exception):
                reader.close()
        self._log_counts(self.watch.due(self.host.clock.monotonic(), all_=True))

    # --- on the loop ------------------------------------------------------------------

    def on_read(self, read: Read) -> None:
        now = self.host.clock.monotonic()
        if read.suppressed:
            self.watch.suppressed(read.reader, read.suppressed, now)
            self._keep_counts()
            return
        back = self.watch.heard(read.reader, now)
        if back is not None:
            self._log_health([back])
        self.host.on_read(read)

    def on_health(self, health: ReaderHealth) -> None:
        back = self.watch.reported(health, self.host.clock.monotonic())
        if back is not None:
            self._log_health([back])

    def check(self) -> None:
        now = self.host.clock.monotonic()
        self._log_health(self.watch.check(now))
        self._log_counts(self.watch.due(now))

    async def _watching(self) -> None:
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            try:
                self.check()
            except Exception:  # the next round tries again; the readers go on meanwhile
                log.exception("checking the readers failed")

    def _log_health(self, changes: list[ReaderHealth]) -> None:
        gate = self.host.gate
        drafts = [
            gate.draft(
                EventType.SYSTEM,
                Reason.READER_UP if h.ok else Reason.READER_DOWN,
                reader=h.reader,
                detail={"detail": h.detail},
            )
            for h in changes
        ]
        if drafts:
            self.host.record(drafts)

    def _log_counts(self, counts: list[Suppressed], *, restarted: bool = False) -> None:
        if not counts:
            return
        extra = {"before_restart": True} if restarted else {}
        window = self.watch.window
        self.host.record(
            [
                self.host.gate.draft(
                    EventType.SYSTEM,
                    Reason.BAD_READS_SUPPRESSED,
                    reader=c.reader,
                    detail={"count": c.count, "window_seconds": window, **extra},
                )
                for c in counts
            ]
        )
        self._keep_counts()

    # --- the counts not yet logged, kept across a restart -----------------------------

    def _keep_counts(self) -> None:
        try:
            self.host.store.set_state(PENDING_KEY, json.dumps(self.watch.pending()))
        except StoreError as err:  # the events are what matters; this is a courtesy
            log.warning("could not keep the count of suppressed bad reads: %s", err)

    def _restored(self) -> list[Suppressed]:
        try:
            kept = json.loads(self.host.store.get_state(PENDING_KEY) or "{}")
        except (StoreError, ValueError):
            return []
        if not isinstance(kept, dict):
            return []
        return [
            Suppressed(str(name), n)
            for name, n in sorted(kept.items())
            if isinstance(n, int) and not isinstance(n, bool) and n > 0
        ]
