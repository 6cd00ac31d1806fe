"""`kindergate run`: the gate daemon. One asyncio loop owns the gate's state.

Components start in a fixed order and stop in reverse: store, roster, hardware (lock
created already locked), gate, readers, MQTT link, console. Threads (readers, gpiozero
callbacks, paho) hand their input to the loop and never touch state.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Protocol, TypeVar

from drivers.base import GateIO, Input, InputChange, Read
from drivers.feedback import ReaderFeedback
from drivers.health import ReaderHealth
from edge.clock import Clock, SystemClock
from edge.components.reader_watch import ReaderWatch
from edge.components.readers import Readers
from edge.config import Config
from edge.events import Draft, Event, EventType, Reason
from edge.gate import Gate
from edge.guard import GuardAction
from edge.ops.daemon_lock import DaemonLock, lock_store
from edge.roster import Roster, roster_from_json
from edge.roster_load import load_roster
from edge.rules import Mode
from edge.store import Store, StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")

ROSTER_POLL_SECONDS = 2.0
MAX_IDLE_SECONDS = 30.0
STORE_RETRY_SECONDS = 1.0
MAX_UNSAVED = 100_000  # events held in memory while the store refuses writes


class Component(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class Daemon:
    def __init__(
        self,
        cfg: Config,
        *,
        io: GateIO | None = None,
        clock: Clock | None = None,
        site_key: bytes | None = None,
        reader_watch: ReaderWatch | None = None,
    ) -> None:
        self.cfg = cfg
        self.site_key = site_key  # verifies QR passes; the MQTT link signs with it too
        self.clock = clock or SystemClock(cfg.site.tz)
        self._io = io
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = asyncio.Event()
        self.components: list[tuple[str, Component]] = []
        self.listeners: list[Callable[[list[Event]], None]] = []
        self.readers: Readers | None = None
        self._reader_watch = (
            reader_watch  # the rules of reader health (edge/components/reader_watch.py)
        )
        self._timer: asyncio.TimerHandle | None = None
        self._unsaved: list[Draft] = []  # drafts the store refused; written first next time
        self._retry_at = float("-inf")  # while the store fails: when to try it again
        self.early_signals: list[int] = []  # SIGTERM before the loop ran: stop at once
        # Components add their own lines to status() (e.g. whether today's device check is done).
        self.status_parts: dict[str, Callable[[], Any]] = {}
        self.store_lock: DaemonLock | None = None

    # --- start and stop -------------------------------------------------------------

    def open(self) -> None:
        cfg = self.cfg
        self.store_lock = lock_store(cfg.store.path)  # StoreInUse: another daemon has it
        self.store = Store(cfg.store.path, site=cfg.site.id, gate=cfg.gate.id)
        self.roster = self._load_roster()
        mode = self._start_mode()
        self.io = self._io or make_io(cfg)
        # The gate's feedback goes to its own LEDs and buzzer, and to readers with lights.
        self.feedback = ReaderFeedback(self.io)
        self.gate = Gate(
            cfg, self.roster, self.feedback, self.clock, mode=mode, pass_key=self.site_key
        )
        self.gate.restore(self.store.events(since=self.gate.day_start()))
        self.gate.revoked_passes.update(self.store.revoked_passes())
        self.io.on_input(self.from_thread(self.on_input))
        # Inputs report changes only: the lock sensor's state now is where its watch starts.
        engaged = self.io.read_inputs().get(Input.LOCK_SENSOR)
        if engaged is not None:
            self.record(self.gate.input_changed(InputChange(Input.LOCK_SENSOR, engaged)))

    def _load_roster(self) -> Roster:
        latest = self.store.roster_latest()
        if latest is None:
            roster = load_roster(self.cfg.roster.path)  # RosterError is the caller's to report
            version, _ = self.store.roster_save(
                roster.to_json(), roster.content_hash, str(self.cfg.roster.path)
            )
            return roster_from_json(roster.to_json(), version=version)
        return roster_from_json(latest.data, version=latest.version)

    def _start_mode(self) -> Mode:
        stored = Mode(self.store.get_state("mode", "normal") or "normal")
        if stored is Mode.EVACUATE and not self.cfg.gate.evacuation_survives_restart:
            return Mode.NORMAL
        return stored

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self.stopping.set)
        if self.early_signals:
            self.stopping.set()
        # Readers open their devices (and the FIFO exists) before `started` is logged:
        # from that event on, a card presented is a card read.
        self.readers = Readers(self, self.io, watch=self._reader_watch, feedback=self.feedback)
        self.readers.start()
        self._start_extras()
        self.record(
            [
                self.gate.draft(
                    EventType.SYSTEM,
                    Reason.STARTED,
                    mode=str(self.gate.mode),
                    detail={"roster_version": self.roster.version},
                )
            ]
        )
        self._schedule()
        poll = asyncio.create_task(self._poll_roster())
        try:
            await self.stopping.wait()
        finally:
            poll.cancel()
            with suppress(asyncio.CancelledError):
                await poll
            self.shutdown()

    def shutdown(self) -> None:
        if self._timer:
            self._timer.cancel()
        if self.readers is not None:
            self.readers.close()
        self.record([self.gate.draft(EventType.SYSTEM, Reason.STOPPED, mode=str(self.gate.mode))])
        for name, component in reversed(self.components):
            try:
                component.stop()
            except Exception:
                log.exception("stopping %s failed", name)
        if self._unsaved:
            self._retry_at = float("-inf")  # one last try before the process ends
            self.record([])
        if self._unsaved:
            log.error("store refused to the end: %d events not written", len(self._unsaved))
        self.io.set_lock(False)  # the safe state: locked
        self.io.close()
        self.store.close()
        if self.store_lock is not None:
            self.store_lock.release()

    def _start_extras(self) -> None:
        """MQTT link and console, when configured."""
        from edge.components.wiring import start_extras

        for name, component in start_extras(self):
            component.start()
            self.components.append((name, component))

    @property
    def reader_health(self) -> dict[str, ReaderHealth]:
        """Each reader's health as the events last told it."""
        return self.readers.watch.health if self.readers is not None else {}

    def from_thread(self, fn: Callable[[T], None]) -> Callable[[T], None]:
        """A callable for another thread: it hands its argument to ``fn`` on the loop."""

        def hand_over(value: T) -> None:
            loop = self.loop
            if loop is None:
                return
            with suppress(RuntimeError):  # loop closed during shutdown
                loop.call_soon_threadsafe(fn, value)

        return hand_over

    # --- inputs, on the loop ----------------------------------------------------------

    def on_read(self, read: Read) -> None:
        # A flood of bad reads is already thinned by the reader (drivers.health.ReadFilter).
        with self.feedback.reading(read.reader):
            drafts = self.gate.scan(read)
        self.record(drafts)

    def on_input(self, change: InputChange) -> None:
        self.record(self.gate.input_changed(change))

    def guard(self, action: GuardAction) -> list[Event]:
        return self.record(self.gate.guard(action))

    def revoke_pass(self, pass_id: str, *, by: str) -> list[Event]:
        """A pass that must open the gate no more, from now on and after a restart."""
        self.store.revoke_pass(pass_id, by)
        self.gate.revoked_passes.add(pass_id)
        return self.record(
            [self.gate.draft(EventType.SYSTEM, Reason.REVOKED, by=by, detail={"pass_id": pass_id})]
        )

    # --- events and timers --------------------------------------------------------------

    def record(self, drafts: list[Draft]) -> list[Event]:
        """Write events durably, then tell the listeners; never lose one to a failing disk.

        The lock has already moved when this runs. If the store refuses the write (disk
        full, I/O error), the drafts are held in memory, in order, and new ones queue
        behind them; a retry every ``STORE_RETRY_SECONDS`` writes them all at once, so a
        failing disk costs one attempt a second, not one per scan.
        """
        self._unsaved.extend(drafts)
        if not self._unsaved or self.clock.monotonic() < self._retry_at:
            self._schedule()
            return []
        held = self._unsaved
        try:
            events = self.store.record(held)
        except StoreError as err:
            self._store_failed(err)
            return []
        if self._retry_at > float("-inf"):
            log.warning("store writable again: %d held events written", len(held))
            self._retry_at = float("-inf")
        self._unsaved = []
        self._published(events)
        self._schedule()
        return events

    def _published(self, events: list[Event]) -> None:
        """Events are durable: log them, keep the mode, tell the listeners."""
        for event in events:
            log.info(
                "%s %s %s %s",
                event.type,
                event.decision or "",
                event.reason,
                list(event.children) if event.children else "",
            )
            if event.type is EventType.MODE and event.mode is not None:
                self.store.set_state("mode", event.mode)
        for listener in self.listeners:
            try:
                listener(events)
            except Exception:
                log.exception("event listener failed")

    def _store_failed(self, err: StoreError) -> None:
        if self._retry_at == float("-inf"):
            log.error("store write failed, holding events in memory: %s", err)
        dropped = len(self._unsaved) - MAX_UNSAVED
        if dropped > 0:
            log.error("store still failing: %d oldest held events dropped", dropped)
            del self._unsaved[:dropped]
        self._retry_at = self.clock.monotonic() + STORE_RETRY_SECONDS
        if self.loop is not None:
            self.loop.call_later(STORE_RETRY_SECONDS, self.record, [])
        self._schedule()

    def _schedule(self) -> None:
        if self.loop is None:
            return
        if self._timer:
            self._timer.cancel()
        wait = self.gate.next_wakeup()
        wait = MAX_IDLE_SECONDS if wait is None else min(wait, MAX_IDLE_SECONDS)
        self._timer = self.loop.call_later(wait, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.record(self.gate.tick())

    async def _poll_roster(self) -> None:
        while True:
            await asyncio.sleep(ROSTER_POLL_SECONDS)
            self.reload_roster()

    def reload_roster(self) -> None:
        if self.store.roster_version() <= self.gate.roster.version:
            return
        latest = self.store.roster_latest()
        if latest is None:
            return
        self.roster = roster_from_json(latest.data, version=latest.version)
        self.record(self.gate.set_roster(self.roster))

    def status(self) -> dict[str, Any]:
        last = self.store.last_event()
        return {
            **self.gate.status(),
            "readers": {
                name: {"ok": h.ok, "detail": h.detail}
                for name, h in sorted(self.reader_health.items())
            },
            "outbox": self.store.outbox_depth(),
            "unsaved": len(self._unsaved),
            "last_event": last.id if last else None,
            **{name: part() for name, part in self.status_parts.items()},
        }


def make_io(cfg: Config) -> GateIO:
    from drivers.gpio import GpioGate, SimulatedGate

    pins = cfg.gpio.pins()
    if cfg.gate.hardware == "simulated":
        if cfg.gate.simulated_pin_log is not None:
            from drivers.pinlog import recording_factory

            return SimulatedGate(pins, pin_factory=recording_factory(cfg.gate.simulated_pin_log))
        return SimulatedGate(pins)
    return GpioGate(pins)


def run_daemon(cfg: Config, *, site_key: bytes | None = None) -> int:
    daemon = Daemon(cfg, site_key=site_key)
    # A SIGTERM that arrives while the hardware is being opened must still end in a
    # clean shutdown, not the default kill: note it now; the loop's handlers take over.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda num, _frame: daemon.early_signals.append(num))
    daemon.open()
    asyncio.run(daemon.run())
    return 0
