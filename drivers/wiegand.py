"""Wiegand 26 and 34 readers on two GPIO lines.

Both lines (D0, D1) idle high; the reader pulls D0 low for a 0 bit and D1 low for a
1 bit (pulses of ~50 µs, bits ~2 ms apart). A frame has no end marker: it ends when
no bit has come for ``gap`` seconds. Formats (TEST_VECTORS.md): the first half of
the bits has even parity, the second half odd parity; the credential is the bits
between the two parity bits (for 26 bits, facility × 65536 + number, which is only
the low 24 bits of the card's number).

A Wiegand reader says nothing while no card is shown, so silence is no sign of trouble.
A data line held low is: no pulse lasts longer than microseconds, so a line low for
``HELD_SECONDS`` is a shorted cable or a reader pulling its outputs down (no power).
The reader reports it as unhealthy until the line is released.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from typing import Any

from gpiozero import DigitalInputDevice

from drivers.base import RAW_LIMIT, BadRead, Read, ReadCallback, card_credential
from drivers.health import COUNT_EVERY_SECONDS, HealthCallback, HealthState, ReadFilter

log = logging.getLogger(__name__)

GAP = 0.025
FORMATS = (26, 34)
MAX_BITS = 64  # a longer burst is line noise: count it, but stop storing bits
IDLE_WAKE = 1.0
HELD_SECONDS = 0.5  # a data line low this long (seen when idle) is a fault, not a pulse


def decode_bits(bits: str, formats: Collection[int] = FORMATS) -> str:
    """The credential of a Wiegand frame (26 or 34 bits, or only ``formats``)."""
    if not bits or bits.strip("01"):
        raise BadRead("not a bit string", bits)
    if len(bits) not in formats or len(bits) not in FORMATS:
        raise BadRead(f"wrong length: {len(bits)} bits", bits)
    half = len(bits) // 2
    if bits[:half].count("1") % 2 != 0:
        raise BadRead("even parity error", bits)
    if bits[half:].count("1") % 2 != 1:
        raise BadRead("odd parity error", bits)
    return card_credential(int(bits[1:-1], 2))


def wiegand_read(reader: str, bits: str, formats: Collection[int] = FORMATS) -> Read:
    """A frame as a ``Read``: a credential, or a failed read saying why."""
    try:
        credential = decode_bits(bits, formats)
    except BadRead as err:
        return Read.failed(reader, err)
    return Read(reader, credential, raw=bits, low24=len(bits) == 26)


def _with_parity(data: str) -> str:
    half = len(data) // 2
    even = data[:half].count("1") % 2
    odd = 1 - data[half:].count("1") % 2
    return f"{even}{data}{odd}"


def encode_wiegand26(facility: int, number: int) -> str:
    """The 26 bits a reader sends for a facility code (8 bits) and number (16 bits)."""
    if not (0 <= facility < 2**8 and 0 <= number < 2**16):
        raise ValueError("wiegand26 needs facility < 256 and number < 65536")
    return _with_parity(f"{facility:08b}{number:016b}")


def encode_wiegand34(facility: int, number: int) -> str:
    """The 34 bits a reader sends for a facility code (16 bits) and number (16 bits)."""
    if not (0 <= facility < 2**16 and 0 <= number < 2**16):
        raise ValueError("wiegand34 needs facility < 65536 and number < 65536")
    return _with_parity(f"{facility:016b}{number:016b}")


class WiegandDecoder:
    """Bits with their arrival times in, one ``Read`` per frame out. Pure: no clock.

    ``formats`` narrows the accepted lengths to what the installed reader sends: then
    a 34-bit frame cut short after 26 bits (a stalled callback thread) is a bad
    read, never a 26-bit read of the wrong card (whose parity holds one time in 4).
    """

    def __init__(self, reader: str, *, gap: float = GAP, formats: Collection[int] = FORMATS):
        self.reader = reader
        self.gap = gap
        self.formats = tuple(formats)
        self._bits: list[str] = []
        self._count = 0
        self._last: float | None = None
        # Frames closed by the first bit of the next one, waiting for poll().
        self._done: deque[Read] = deque(maxlen=16)

    def bit(self, value: int, t: float) -> None:
        if self._last is not None and t - self._last >= self.gap:
            self._finish()
        self._count += 1
        if self._count <= MAX_BITS:
            self._bits.append("1" if value else "0")
        self._last = t

    def poll(self, t: float) -> Read | None:
        """The next finished frame, if any; a frame finishes ``gap`` after its last bit."""
        if self._last is not None and t - self._last >= self.gap:
            self._finish()
        return self._done.popleft() if self._done else None

    def deadline(self) -> float | None:
        """When the frame being received ends if no other bit comes, or None."""
        if self._done:
            return float("-inf")
        return None if self._last is None else self._last + self.gap

    def _finish(self) -> None:
        bits = "".join(self._bits)
        if self._count > MAX_BITS:
            read = Read(
                self.reader, None, error=f"wrong length: {self._count} bits", raw=bits[:RAW_LIMIT]
            )
        else:
            read = wiegand_read(self.reader, bits, self.formats)
        self._done.append(read)
        self._bits.clear()
        self._count = 0
        self._last = None


class GpioWiegandReader:
    """A Wiegand reader on two GPIO inputs, through gpiozero.

    gpiozero calls us on each falling edge (from its own thread); the bit is stamped
    with ``clock()`` and fed to a ``WiegandDecoder``. The frame end has to be found by
    a timer, because it is the *absence* of edges: without one, a card would only be
    noticed when the first bit of the next card arrives. One small thread per reader
    sleeps until the current frame's deadline and then polls the decoder; that beats
    a ``threading.Timer`` per bit (26-34 threads per card, each to be cancelled).

    Bits are stamped when gpiozero delivers them, on the same clock as the timer. If
    Python threads stall for longer than ``gap`` in mid-frame, the frame is cut in
    two; parity and length make both halves bad reads, and ``formats`` closes the
    one gap left (see ``WiegandDecoder``).
    """

    def __init__(
        self,
        name: str,
        d0: int,
        d1: int,
        *,
        on_read: ReadCallback,
        on_health: HealthCallback | None = None,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
        gap: float = GAP,
        formats: Collection[int] = FORMATS,
    ) -> None:
        self.name = name
        self.d0 = d0
        self.d1 = d1
        self._pin_factory = pin_factory
        self._clock = clock
        self._emit = ReadFilter(name, on_read, clock=clock, count_every=COUNT_EVERY_SECONDS)
        self._health = HealthState(name, on_health)
        self._decoder = WiegandDecoder(name, gap=gap, formats=formats)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lines: list[Any] = []
        self._held_since: float | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        try:
            # No bounce_time: the pulses are ~50 µs long and 2 ms apart; debouncing
            # would eat bits.
            for pin, value in ((self.d0, 0), (self.d1, 1)):
                line = DigitalInputDevice(pin, pull_up=True, pin_factory=self._pin_factory)
                line.when_activated = self._on_edge(value)
                self._lines.append(line)
        except Exception as exc:
            self._close_lines()
            self._health.report(False, f"cannot claim GPIO {self.d0}/{self.d1}: {exc}")
            raise
        self._thread = threading.Thread(target=self._run, name=f"wiegand-{self.name}", daemon=True)
        self._thread.start()
        self._health.report(True, f"listening on GPIO {self.d0}/{self.d1}")

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._close_lines()

    def poll(self) -> None:
        """Deliver every frame that has ended by now (the timer thread calls this)."""
        while True:
            with self._lock:
                read = self._decoder.poll(self._clock())
            if read is None:
                break
            self._emit(read)
        self._emit.flush()

    def _on_edge(self, value: int) -> Callable[[], None]:
        def edge() -> None:
            with self._lock:
                self._decoder.bit(value, self._clock())
            self._wake.set()

        return edge

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._lock:
                deadline = self._decoder.deadline()
            if deadline is None:
                # Idle: wake now and then so a bad-read count still goes out, and look
                # at the lines, which must be high between frames.
                if self._wake.wait(IDLE_WAKE):
                    self._held_since = None  # a bit came: a frame, not a line held low
                else:
                    self._check_lines()
            else:
                self._wake.wait(max(0.0, deadline - self._clock()))
            self.poll()

    def _check_lines(self) -> None:
        held = [
            name for name, line in zip(("D0", "D1"), self._lines, strict=True) if line.is_active
        ]
        now = self._clock()
        if not held:
            self._held_since = None
            self._health.report(True, f"listening on GPIO {self.d0}/{self.d1}")
            return
        if self._held_since is None:
            self._held_since = now
        elif now - self._held_since >= HELD_SECONDS:
            self._health.report(False, f"{' and '.join(held)} held low (cable or reader power)")

    def _close_lines(self) -> None:
        for line in self._lines:
            line.close()
        self._lines.clear()
