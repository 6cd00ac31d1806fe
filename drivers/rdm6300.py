"""RDM6300 125 kHz (EM4100) readers on a serial port, 9600 8N1.

A frame is 14 bytes: STX 0x02, ten ASCII hex digits (a version byte, then the card's
32-bit number), two ASCII hex digits of checksum (XOR of the five data bytes), ETX
0x03. The reader repeats the frame for as long as the card is held in its field.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from functools import reduce
from operator import xor
from typing import Any

import serial

from drivers.base import BadRead, Read, ReadCallback, card_credential
from drivers.health import COUNT_EVERY_SECONDS, Backoff, HealthCallback, HealthState, ReadFilter

log = logging.getLogger(__name__)

STX = 0x02
ETX = 0x03
FRAME_LEN = 14
REPEAT_WINDOW = 1.0
READ_TIMEOUT = 0.5  # how often the reader thread looks up from a silent port
_HEX12 = re.compile(rb"[0-9A-Fa-f]{12}")


def decode_frame(frame: bytes) -> str:
    """The credential in one STX..ETX frame; raises ``BadRead``."""
    raw = frame.hex()
    if len(frame) != FRAME_LEN:
        raise BadRead(f"frame of {len(frame)} bytes, not {FRAME_LEN}", raw)
    if frame[0] != STX or frame[-1] != ETX:
        raise BadRead("frame without STX/ETX", raw)
    body = frame[1:-1]
    if _HEX12.fullmatch(body) is None:
        raise BadRead("frame is not hex", raw)
    values = bytes.fromhex(body.decode("ascii"))
    data, checksum = values[:5], values[5]
    if reduce(xor, data) != checksum:
        raise BadRead("checksum error", raw)
    return card_credential(int.from_bytes(data[1:], "big"))


def encode_frame(version: int, number: int) -> bytes:
    """The frame a reader sends for a card (for tests and simulation)."""
    data = bytes([version]) + number.to_bytes(4, "big")
    digits = (data.hex() + f"{reduce(xor, data):02x}").upper().encode("ascii")
    return bytes([STX]) + digits + bytes([ETX])


class Rdm6300Decoder:
    """Serial bytes in, reads out: frame sync, checksum, and the held-card repeat filter.

    Pure: the caller passes the time. The buffer never holds more than one frame, so
    noise cannot make it grow.
    """

    def __init__(self, reader: str, *, repeat_window: float = REPEAT_WINDOW) -> None:
        self.reader = reader
        self.repeat_window = repeat_window
        self._buf = bytearray()
        self._held: str | None = None
        self._held_seen = 0.0

    def feed(self, data: bytes, now: float) -> list[Read]:
        self._buf += data
        reads: list[Read] = []
        while (frame := self._next_frame()) is not None:
            read = self._decode(frame, now)
            if read is not None:
                reads.append(read)
        return reads

    def clear(self) -> None:
        """Forget a partial frame (the port was reopened: its tail will not come)."""
        self._buf.clear()

    def _next_frame(self) -> bytes | None:
        while True:
            start = self._buf.find(STX)
            if start < 0:
                self._buf.clear()
                return None
            del self._buf[:start]
            if len(self._buf) < FRAME_LEN:
                return None
            frame = bytes(self._buf[:FRAME_LEN])
            # A real frame has no STX in its body and ETX at its end; otherwise this
            # STX was noise: drop it and sync on the next one.
            if frame[-1] != ETX or STX in frame[1:-1]:
                del self._buf[0]
                continue
            del self._buf[:FRAME_LEN]
            return frame

    def _decode(self, frame: bytes, now: float) -> Read | None:
        try:
            credential = decode_frame(frame)
        except BadRead as err:
            return Read.failed(self.reader, err)
        held = credential == self._held and now - self._held_seen < self.repeat_window
        self._held, self._held_seen = credential, now
        if held:
            return None
        return Read(self.reader, credential, raw=frame.hex())


SerialFactory = Callable[..., Any]


class SerialRdm6300Reader:
    """An RDM6300 on a serial port: one thread doing blocking reads.

    When the port disappears (USB adapter unplugged, ``SerialException``/``OSError``)
    the thread closes it, reports the health change and reopens it with a backoff
    until it is back.
    """

    def __init__(
        self,
        name: str,
        port: str,
        *,
        on_read: ReadCallback,
        on_health: HealthCallback | None = None,
        baudrate: int = 9600,
        serial_factory: SerialFactory = serial.Serial,
        clock: Callable[[], float] = time.monotonic,
        retry: tuple[float, float] = (0.2, 5.0),
    ) -> None:
        self.name = name
        self.port = port
        self.baudrate = baudrate
        self._serial_factory = serial_factory
        self._clock = clock
        self._emit = ReadFilter(name, on_read, clock=clock, count_every=COUNT_EVERY_SECONDS)
        self._health = HealthState(name, on_health)
        self._decoder = Rdm6300Decoder(name)
        self._backoff = Backoff(*retry)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._serial: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            # First open here: once start() returns the port is open (or reported not).
            self._thread = threading.Thread(
                target=self._run, args=(self._open(),), name=f"rdm6300-{self.name}"
            )
            self._thread.daemon = True
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._serial is not None:
                self._serial.cancel_read()  # wakes the blocking read at once
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def _run(self, port: Any) -> None:
        while not self._stop.is_set():
            if port is None and (port := self._open()) is None:
                self._stop.wait(self._backoff.next())
                continue
            try:
                self._pump(port)
            except (serial.SerialException, OSError) as exc:
                self._health.report(False, f"{self.port}: {exc}")
                self._stop.wait(self._backoff.next())
            finally:
                self._release(port)
                port = None

    def _open(self) -> Any:
        try:
            port = self._serial_factory(self.port, baudrate=self.baudrate, timeout=READ_TIMEOUT)
        except (serial.SerialException, OSError, ValueError) as exc:
            self._health.report(False, f"cannot open {self.port}: {exc}")
            return None
        with self._lock:
            self._serial = port
        self._decoder.clear()
        self._health.report(True, f"{self.port} open")
        return port

    def _pump(self, port: Any) -> None:
        while not self._stop.is_set():
            data = port.read(1)
            if data:
                data += port.read(port.in_waiting)
                self._backoff.reset()  # the port works: a later loss retries quickly
                for read in self._decoder.feed(data, self._clock()):
                    self._emit(read)
            self._emit.flush()

    def _release(self, port: Any) -> None:
        with self._lock:
            self._serial = None
        try:
            port.close()
        except (serial.SerialException, OSError) as exc:
            log.debug("reader %s: closing %s: %s", self.name, self.port, exc)
