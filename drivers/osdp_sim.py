"""The simulated twin of an OSDP reader: libosdp's own PeripheralDevice on a pty.

``PtyLine`` is the RS-485 line: the gate opens ``path`` (a symlink to the pty's
slave side, like a udev by-id link to a USB adapter) with the real driver; the
reader sits on the master side. The line can be cut (the reader hears and says
nothing), mended, fed noise, or unplugged (the adapter vanishes).

``SimulatedOsdpReader`` is the reader: libosdp's PD, which presents cards, reports
its tamper switch and records every command the gate sends it (LED, buzzer, key).
Tests and benchmarks use both; nothing here is used on a real gate.
"""

from __future__ import annotations

import os
import threading
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any

import osdp
from osdp import Capability, LibFlag, LogLevel, PDCapabilities, PDInfo

from drivers.osdp_proto import card_event, tamper_event

CommandCallback = Callable[[dict[str, Any]], None]


class PtyLine(osdp.Channel):
    """A pty pair as an RS-485 line; this object is the reader's end of it."""

    def __init__(self, link: Path) -> None:
        super().__init__()
        self.path = link
        self.master, self._slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        link.symlink_to(os.ttyname(self._slave))
        self._lock = threading.Lock()
        self._cut = False
        self._closed = False

    # the reader's channel, called from libosdp's PD thread
    def read(self, max_bytes: int) -> bytes:
        with self._lock:
            if self._closed:
                return b""
            try:
                data = os.read(self.master, max_bytes)
            except (BlockingIOError, OSError):
                return b""
            return b"" if self._cut else data

    def write(self, buf: bytes) -> int:
        with self._lock:
            if self._closed or self._cut:
                return len(buf)  # said into a cut cable: gone
            try:
                return os.write(self.master, buf)
            except OSError:
                return 0

    def flush(self) -> None:
        pass

    # what a test does to the line
    def cut(self) -> None:
        with self._lock:
            self._cut = True

    def mend(self) -> None:
        with self._lock:
            self._cut = False

    def inject(self, data: bytes) -> None:
        """Bytes on the line towards the gate, as from a noisy cable or a broken reader."""
        with self._lock:
            os.write(self.master, data)

    def unplug(self) -> None:
        """The USB adapter is pulled: the device and its link are gone."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.path.unlink(missing_ok=True)
            os.close(self.master)
            os.close(self._slave)


class SimulatedOsdpReader:
    """An OSDP reader with an LED and a buzzer, at ``address``, holding ``scbk``.

    ``scbk=None`` is a new reader, in install mode: it accepts one key, offered under
    the standard's default key. ``enforce_secure=False`` makes a reader that also
    talks in the clear to a gate that lets it (to prove the gate does not).
    """

    def __init__(
        self,
        line: osdp.Channel,
        *,
        address: int,
        scbk: bytes | None,
        on_command: CommandCallback | None = None,
        enforce_secure: bool = True,
    ) -> None:
        flags = []
        if scbk is None:
            flags.append(LibFlag.InstallMode)
        elif enforce_secure:
            flags.append(LibFlag.EnforceSecure)
        capabilities = PDCapabilities(
            [
                (Capability.LEDControl, 1, 1),
                (Capability.AudibleControl, 1, 1),
                (Capability.CardDataFormat, 1, 1),
            ]
        )
        self._on_command = on_command
        self._pd = osdp.PeripheralDevice(
            PDInfo(address, line, scbk=scbk, flags=flags),
            capabilities,
            log_level=LogLevel.Critical,
            command_handler=self._command,
        )
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._pd.start()
            self._started = True

    def close(self) -> None:
        if self._started:
            self._started = False
            self._pd.teardown()

    def present(self, bits: str, *, wiegand: bool = True) -> None:
        """A card held to the reader: its bits as the reader is set up to send them."""
        self._pd.submit_event(card_event(bits, wiegand=wiegand))

    def tamper(self, active: bool) -> None:
        self._pd.submit_event(tamper_event(active))

    @property
    def secure(self) -> bool:
        return bool(self._pd.is_sc_active())

    def _command(self, command: dict[str, Any]) -> tuple[int, Any]:
        if self._on_command is not None:
            self._on_command(command)
        return 0, None
