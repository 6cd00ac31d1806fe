"""OSDP card readers on RS-485, through libosdp's ControlPanel, with the secure channel required.

One reader per RS-485 adapter. libosdp polls the reader on its own thread; this
driver's thread watches it and hands the gate plain values: card reads (only those
that came over the secure channel), tamper changes, and the reader's health. It
also sends the gate's feedback to the reader's LED and buzzer.

Supervision. A reader answers every poll (about 20 a second), so silence is a fault:
no byte for ``no_answer`` seconds makes the reader down, long before libosdp's own
8 s. When libosdp gives a reader up it waits five minutes before it tries again;
this driver builds a fresh ControlPanel instead, after a backoff, so a reader that
answers again is back within seconds. A port that fails (the USB adapter pulled) is
reopened the same way.

The key. A reader is up only with the secure channel established under our key.
Without ``install_mode`` libosdp is told to enforce that (no fallback to the
standard's default key). With it, libosdp falls back to the default key for a
reader that has none and hands it ours (see ``drivers/osdp_key.py``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import serial
from osdp import Capability, Command, Event, EventNotification, LibFlag, LogLevel, PDInfo

from drivers.base import Feedback, Input, InputChange, Read, ReadCallback
from drivers.health import COUNT_EVERY_SECONDS, Backoff, HealthCallback, HealthState, ReadFilter
from drivers.osdp_key import ScbkError, create_scbk, load_scbk
from drivers.osdp_link import Panel, SerialChannel
from drivers.osdp_proto import (
    card_read,
    endless_tone,
    feedback_commands,
    silence_command,
    tamper_of,
)

log = logging.getLogger(__name__)

NO_ANSWER = 2.5  # seconds without a byte from a polled reader: it is down
LINGER = 3.0  # seconds close() waits at most for LED and buzzer commands on their way
TICK = 0.1  # how often the watch looks at libosdp when nothing arrives
LIBOSDP_LOG = LogLevel.Critical  # we report health ourselves; its log would repeat it
InputCallback = Callable[[InputChange], None]


class OsdpReader:
    """One OSDP reader (a PD) at ``address`` on the RS-485 adapter at ``port``."""

    def __init__(
        self,
        name: str,
        port: str,
        *,
        address: int,
        scbk_file: str | Path,
        on_read: ReadCallback,
        on_health: HealthCallback | None = None,
        on_input: InputCallback | None = None,
        baudrate: int = 9600,
        install_mode: bool = False,
        clock: Callable[[], float] = time.monotonic,
        no_answer: float = NO_ANSWER,
        retry: tuple[float, float] = (0.5, 5.0),
    ) -> None:
        self.name = name
        self.port = port
        self.address = address
        self.scbk_file = Path(scbk_file)
        self.baudrate = baudrate
        self.install_mode = install_mode
        self.no_answer = no_answer
        self._clock = clock
        self._emit = ReadFilter(name, on_read, clock=clock, count_every=COUNT_EVERY_SECONDS)
        self._on_input = on_input
        self._health = HealthState(name, on_health)
        self._backoff = Backoff(*retry)
        self._inbox: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scbk: bytes | None = None
        self._panel: Panel | None = None
        self._channel: SerialChannel | None = None
        self._generation = 0
        self._restarts = 0
        self._retry_at = 0.0  # when to reopen a port that failed
        self._offline_at: float | None = None  # when libosdp last gave the reader up
        self._offline_delay = 0.0  # how long after that to start afresh
        self._unwell_since = 0.0  # when the reader was last up, or the driver started
        self._last_rx: float | None = None
        self._default_key = False  # the secure channel runs under the standard's default key
        self._handing_key = False
        self._up = False
        self._lights = (False, False)  # (LED, buzzer) the reader said it has
        self._tamper: bool | None = None
        self._sent = 0  # LED and buzzer commands handed to this panel...
        self._tone_endless = False  # the last feedback's tone runs until the next one
        self._done = 0  # ...and those libosdp has answered for

    # --- the gate's side ----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        if self.install_mode:
            log.warning(
                "reader %s: install_mode is on: the reader is offered its key under the "
                "standard's default key; set install_mode = false once it has it",
                self.name,
            )
        self._unwell_since = self._clock()
        self._open(self._unwell_since)
        self._thread = threading.Thread(target=self._run, name=f"osdp-{self.name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._inbox.put(("stop",))
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        else:
            self._drop_panel()

    def show(self, feedback: Feedback) -> None:
        """Show the gate's feedback on the reader's LED and buzzer (never blocks)."""
        if not self._stop.is_set():
            self._inbox.put(("show", feedback))

    @property
    def up(self) -> bool:
        return self._up

    @property
    def restarts(self) -> int:
        """How often a fresh ControlPanel took over from one that had given the reader up."""
        return self._restarts

    # --- the watch, on its own thread -----------------------------------------------------

    def _run(self) -> None:
        closing_until: float | None = None
        try:
            while True:
                try:
                    item: tuple[Any, ...] | None = self._inbox.get(timeout=TICK)
                except queue.Empty:
                    item = None
                now = self._clock()
                if item is not None and item[0] == "event":
                    self._on_event(item[1], item[2], item[3], now)
                elif item is not None and item[0] == "show":
                    self._show(item[1])
                elif item is not None and item[0] == "stop":
                    closing_until = now + LINGER
                    self._silence()
                if closing_until is not None:
                    # the last feedback (hw-test's answer to the last card) still goes out
                    if self._sent <= self._done or not self._up or now >= closing_until:
                        break
                    continue
                self._supervise(now)
                self._emit.flush()
        except Exception:  # a bug here must not leave libosdp's thread polling forever
            log.exception("reader %s: watch failed", self.name)
            self._health.report(False, "driver error (see the log)")
        finally:
            self._drop_panel()

    def _open(self, now: float) -> None:
        try:
            key = self._key()
            channel = SerialChannel(self.port, self.baudrate, clock=self._clock)
        except ScbkError as err:
            self._failed(now, f"key: {err}")
            return
        except (serial.SerialException, OSError, ValueError) as exc:
            self._failed(now, f"cannot open {self.port}: {exc}")
            return
        flags = [LibFlag.EnableNotification]
        if not self.install_mode:
            flags.append(LibFlag.EnforceSecure)  # never fall back to the default key
        info = PDInfo(self.address, channel, scbk=key, name=self.name, flags=flags)
        try:
            panel = Panel([info], log_level=LIBOSDP_LOG)
        except Exception as exc:  # libosdp's own refusal: a finding, never a crashed gate
            channel.close()
            self._failed(now, f"libosdp refused the set-up: {exc}")
            return
        self._generation += 1
        generation = self._generation
        panel.deliver = lambda event, secure: self._inbox.put(("event", generation, event, secure))
        self._channel, self._panel = channel, panel
        self._offline_at = None
        self._default_key = False
        self._sent = self._done = 0
        panel.start()

    def _key(self) -> bytes:
        if self._scbk is None:
            if self.install_mode and not self.scbk_file.exists():
                self._scbk = create_scbk(self.scbk_file)
                log.warning("reader %s: new key written to %s", self.name, self.scbk_file)
            else:
                self._scbk = load_scbk(self.scbk_file)
        return self._scbk

    def _failed(self, now: float, why: str) -> None:
        self._drop_panel()
        self._up = False
        self._health.report(False, why)
        self._retry_at = now + self._backoff.next()

    def _drop_panel(self) -> None:
        panel, channel = self._panel, self._channel
        self._panel, self._channel = None, None
        if panel is not None:
            try:
                panel.teardown()
            except RuntimeError as exc:  # never started
                log.debug("reader %s: %s", self.name, exc)
        if channel is not None:
            channel.close()

    def _supervise(self, now: float) -> None:
        panel, channel = self._panel, self._channel
        if panel is None or channel is None:
            if now >= self._retry_at and not self._stop.is_set():
                self._open(now)
            return
        if channel.failure is not None:
            self._failed(now, f"{self.port}: {channel.failure}")
            return
        if panel.thread is None or not panel.thread.is_alive():
            self._failed(now, "libosdp stopped polling (see the log)")
            return
        if channel.last_rx is not None:
            self._last_rx = channel.last_rx  # kept across panels: it says why a reader is down
        online = panel.is_online(self.address)
        secure = panel.is_sc_active(self.address) and not self._default_key
        heard = self._last_rx is not None and now - self._last_rx < self.no_answer
        if online and secure and heard:
            if not self._up:
                self._came_up(panel)
            return
        if self._up:
            self._up = False
            # Silence has already lasted no_answer; anything else gets that long to mend.
            self._unwell_since = now if heard else now - self.no_answer
        if self._offline_at is not None and now - self._offline_at >= self._offline_delay:
            self._drop_panel()  # libosdp waits minutes before it retries: start afresh
            self._restarts += 1
            self._open(now)
            return
        if now - self._unwell_since >= self.no_answer:
            self._health.report(False, self._why_down(online, secure, heard))

    def _why_down(self, online: bool, secure: bool, heard: bool) -> str:
        where = f"address {self.address} on {self.port}"
        if online and not secure:
            return f"{where} answers without the secure channel: its reads are refused"
        if not heard:
            return f"no answer from {where}"
        return (
            f"no secure channel with {where}: the reader answers but the handshake fails "
            "(a wrong key, a reader never given its key, or noise on the line)"
        )

    def _came_up(self, panel: Panel) -> None:
        self._up = True
        self._backoff.reset()
        self._lights = (
            self._has(panel, Capability.LEDControl),
            self._has(panel, Capability.AudibleControl),
        )
        self._health.report(True, f"secure channel with address {self.address} on {self.port}")

    def _has(self, panel: Panel, capability: int) -> bool:
        try:
            level, _ = panel.check_capability(self.address, capability)
        except (RuntimeError, ValueError, TypeError):
            return False
        return bool(level)

    # --- what the reader says -------------------------------------------------------------

    def _on_event(self, generation: int, event: dict[str, Any], secure: bool, now: float) -> None:
        if generation != self._generation:
            return  # from a panel already torn down
        kind = event.get("event")
        if kind == Event.Notification:
            self._notified(event, now)
            return
        if not secure or self._default_key:
            log.warning("reader %s: a message without the secure channel: ignored", self.name)
            if kind == Event.CardRead:
                self._emit(Read(self.name, None, error="read without the secure channel: refused"))
            return
        if kind == Event.CardRead:
            self._emit(card_read(self.name, event))
            return
        tamper = tamper_of(event)
        if tamper is not None and tamper != self._tamper:
            self._tamper = tamper
            if self._on_input is not None:
                self._on_input(InputChange(Input.TAMPER, tamper, source=self.name))

    def _notified(self, event: dict[str, Any], now: float) -> None:
        kind, arg0, arg1 = event.get("type"), event.get("arg0"), event.get("arg1")
        if kind == EventNotification.Command and arg0 in (Command.LED, Command.Buzzer):
            self._done += 1  # answered (or failed): either way no longer on its way
        elif kind == EventNotification.PeripheralDeviceStatus:
            if arg0:  # online
                self._offline_at = None
            elif self._offline_at is None:
                self._offline_at = now
                self._offline_delay = self._backoff.next()
        elif kind == EventNotification.SecureChannelStatus:
            active = bool(arg0)
            self._default_key = active and bool(arg1)  # arg1: under the default key
            if self._default_key:
                self._handing_key = True
                log.warning(
                    "reader %s: secure channel under the default key: handing over ours", self.name
                )
            elif active and self._handing_key:
                self._handing_key = False
                log.warning(
                    "reader %s: the reader has its key now; set install_mode = false", self.name
                )

    # --- what the reader is told ----------------------------------------------------------

    def _show(self, feedback: Feedback) -> None:
        panel = self._panel
        if panel is None or not self._up:
            return
        led, buzzer = self._lights
        # A newer feedback replaces what is still queued.
        self._sent -= int(panel.flush_commands(self.address) or 0)
        for command in feedback_commands(feedback, led=led, buzzer=buzzer):
            if not panel.submit_command(self.address, command):
                log.debug("reader %s: command refused by libosdp", self.name)
                return
            self._sent += 1
        self._tone_endless = buzzer and endless_tone(feedback)

    def _silence(self) -> None:
        """An alarm's tone must not outlive the gate's service: stop it when closing."""
        panel = self._panel
        if panel is not None and self._up and self._tone_endless:
            if panel.submit_command(self.address, silence_command()):
                self._sent += 1
            self._tone_endless = False
