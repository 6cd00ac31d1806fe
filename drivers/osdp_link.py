"""The two pieces between libosdp and the driver: the serial line and the ControlPanel.

``SerialChannel`` is the RS-485 adapter as libosdp's channel; ``Panel`` is libosdp's
ControlPanel handing each event on, stamped with the secure channel's state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import osdp
import serial

log = logging.getLogger(__name__)


class SerialChannel(osdp.Channel):
    """An RS-485 adapter as libosdp's channel: reads never block and nothing raises.

    libosdp calls these from its own thread inside a C function: an exception there
    would poison its next call and end its thread. So every failure of the port
    (pyserial's, the OS's, termios') is caught and noted in ``failure`` for the watch
    to act on; ``last_rx`` says when the reader last sent anything.
    """

    def __init__(
        self, port: str, baudrate: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.port = port
        # exclusive: a second program on the same bus (hw-test beside the daemon) would
        # garble both; it is refused instead
        self._serial = serial.Serial(
            port, baudrate=baudrate, timeout=0, write_timeout=1.0, exclusive=True
        )
        self._clock = clock
        self.last_rx: float | None = None
        self.failure: str | None = None

    def read(self, max_bytes: int) -> bytes:
        if self.failure is not None:
            return b""
        try:
            data = bytes(self._serial.read(max_bytes))
        except Exception as exc:  # see the class's docstring
            self.failure = str(exc) or type(exc).__name__
            return b""
        if data:
            self.last_rx = self._clock()
        return data

    def write(self, buf: bytes) -> int:
        if self.failure is not None:
            return 0
        try:
            return self._serial.write(buf) or 0
        except Exception as exc:  # see the class's docstring
            self.failure = str(exc) or type(exc).__name__
            return 0

    def flush(self) -> None:
        if self.failure is None:
            try:
                self._serial.reset_input_buffer()
            except Exception as exc:  # see the class's docstring
                self.failure = str(exc) or type(exc).__name__

    def close(self) -> None:
        try:
            self._serial.close()
        except Exception as exc:  # closing a port that is gone
            log.debug("closing %s: %s", self.port, exc)


class Panel(osdp.ControlPanel):
    """libosdp's ControlPanel, handing each event on with the secure channel's state.

    The state is read when the event arrives, on libosdp's thread: by the time the
    watch sees the event, the channel may have come up, and a read sent in the clear
    must never count as a secure one. The parent's own queue (for ``get_event``) is
    left empty: nothing reads it, and it would grow for as long as the gate runs.
    """

    deliver: Callable[[dict[str, Any], bool], None]

    def _internal_event_handler(self, pd: int, event: dict[str, Any]) -> int:
        try:
            secure = bool(self.ctx.sc_status() & (1 << pd))
        except Exception:  # called from C: never raise; an unknown state is not secure
            log.exception("libosdp: secure channel state unknown")
            secure = False
        self.deliver(event, secure)
        return 0
