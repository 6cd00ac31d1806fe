"""USB keyboard-wedge card readers, read through Linux evdev.

Such a reader "types" the card number and presses Enter. We read its key events
from ``/dev/input/...`` and grab the device, so the digits never reach a console or
a login prompt. Key sources sit behind the small ``KeySource`` protocol so tests (and
simulations) feed key codes without evdev, which is imported only when a real
device is opened.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import select
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, Protocol

from drivers.base import RAW_LIMIT, Read, ReadCallback
from drivers.health import COUNT_EVERY_SECONDS, Backoff, HealthCallback, HealthState, ReadFilter
from drivers.line import MAX_LINE, line_read

log = logging.getLogger(__name__)

# Linux key codes (linux/input-event-codes.h), so tests need no evdev.
KEY_ENTER = 28
KEY_KPENTER = 96
_DIGITS = {2: "1", 3: "2", 4: "3", 5: "4", 6: "5", 7: "6", 8: "7", 9: "8", 10: "9", 11: "0"}
_KEYPAD = {79: "1", 80: "2", 81: "3", 75: "4", 76: "5", 77: "6", 71: "7", 72: "8", 73: "9"}
KEY_CHARS: dict[int, str] = {**_DIGITS, **_KEYPAD, 82: "0"}
# Shift, Ctrl and Alt: some readers press Shift around digits; it changes nothing.
MODIFIERS = frozenset({29, 42, 54, 56, 97, 100})
EV_KEY = 1
KEY_DOWN = 1
KEY_GAP = 0.5  # a reader types a whole card in well under this; older keys are stray


class MissingDependency(ImportError):
    """A driver needs a Python package that is not installed."""


def evdev_available() -> bool:
    return importlib.util.find_spec("evdev") is not None


def _import_evdev() -> ModuleType:
    try:
        return importlib.import_module("evdev")
    except ImportError as exc:
        raise MissingDependency(
            "keyboard readers need the 'evdev' package (pip install evdev); it is not installed"
        ) from exc


class KeySource(Protocol):
    """Key codes of key presses from one device; closing ends ``codes()`` soon."""

    def codes(self) -> Iterator[int]: ...

    def close(self) -> None: ...


KeySourceFactory = Callable[[str], KeySource]


class KeyLineDecoder:
    """Key presses in, one ``Read`` per Enter out.

    Keys other than digits, Enter and modifiers become ``?`` so the line is a bad
    read. A line not finished within ``gap`` seconds of its last key is dropped:
    a stray key press must not spoil the next card.
    """

    def __init__(self, reader: str, *, gap: float = KEY_GAP, max_len: int = MAX_LINE) -> None:
        self.reader = reader
        self.gap = gap
        self.max_len = max_len
        self._chars: list[str] = []
        self._last = 0.0

    def key(self, code: int, now: float) -> Read | None:
        if self._chars and now - self._last > self.gap:
            log.debug("reader %s: dropped stray keys %r", self.reader, "".join(self._chars))
            self._chars.clear()
        self._last = now
        if code in (KEY_ENTER, KEY_KPENTER):
            return self._end_line()
        # One past the limit is enough to know the line is too long: a stuck key
        # must not grow memory.
        if code not in MODIFIERS and len(self._chars) <= self.max_len:
            self._chars.append(KEY_CHARS.get(code, "?"))
        return None

    def _end_line(self) -> Read:
        text = "".join(self._chars)
        self._chars.clear()
        if len(text) > self.max_len:
            error = f"line over {self.max_len} keys"
            return Read(self.reader, None, error=error, raw=text[:RAW_LIMIT])
        return line_read(self.reader, text)


class EvdevKeySource:
    """Key presses from an evdev device, which is grabbed while open."""

    def __init__(self, path: str) -> None:
        evdev = _import_evdev()
        self._device: Any = evdev.InputDevice(path)
        try:
            self._device.grab()  # keystrokes must not reach a console
        except OSError:
            self._device.close()
            raise
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._reading = False

    def codes(self) -> Iterator[int]:
        with self._lock:
            self._reading = True
        try:
            while not self._closing.is_set():
                ready, _, _ = select.select([self._device.fd], [], [], 0.5)
                if not ready:
                    continue
                for event in self._device.read():  # OSError when unplugged
                    if event.type == EV_KEY and event.value == KEY_DOWN:
                        yield event.code
        finally:
            self._release()

    def close(self) -> None:
        # The fd may be in select() in the reading thread: only that thread closes it.
        self._closing.set()
        with self._lock:
            reading = self._reading
        if not reading:
            self._release()

    def _release(self) -> None:
        with self._lock:
            device, self._device = self._device, None
            self._reading = False
        if device is None:
            return
        with contextlib.suppress(OSError):  # an unplugged device is no longer grabbed
            device.ungrab()
        device.close()


class KeyboardReader:
    """A keyboard-wedge reader: one thread reading its ``KeySource``.

    When the device goes away (unplugged: ``OSError``) the reader reports the health
    change and reopens it with a backoff.
    """

    def __init__(
        self,
        name: str,
        device: str,
        *,
        on_read: ReadCallback,
        on_health: HealthCallback | None = None,
        source_factory: KeySourceFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        retry: tuple[float, float] = (0.2, 5.0),
    ) -> None:
        self.name = name
        self.device = device
        self._factory = source_factory
        self._clock = clock
        self._emit = ReadFilter(name, on_read, clock=clock, count_every=COUNT_EVERY_SECONDS)
        self._health = HealthState(name, on_health)
        self._decoder = KeyLineDecoder(name)
        self._backoff = Backoff(*retry)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._source: KeySource | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start reading; raises ``MissingDependency`` when evdev is needed but absent."""
        if self._thread is not None:
            return
        if self._factory is None:
            _import_evdev()
            self._factory = EvdevKeySource
        # First open here: once start() returns the device is grabbed (or reported not).
        self._thread = threading.Thread(
            target=self._run, args=(self._open(),), name=f"keyboard-{self.name}"
        )
        self._thread.daemon = True
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._source is not None:
                self._source.close()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def _run(self, source: KeySource | None) -> None:
        while not self._stop.is_set():
            if source is None and (source := self._open()) is None:
                self._stop.wait(self._backoff.next())
                continue
            try:
                self._pump(source)
                if not self._stop.is_set():
                    self._health.report(False, f"{self.device}: device closed")
            except OSError as exc:
                self._health.report(False, f"{self.device}: {exc}")
            finally:
                self._release(source)
                source = None
            self._stop.wait(self._backoff.next())

    def _open(self) -> KeySource | None:
        assert self._factory is not None
        try:
            source = self._factory(self.device)
        except OSError as exc:
            self._health.report(False, f"cannot open {self.device}: {exc}")
            return None
        with self._lock:
            self._source = source
            if self._stop.is_set():  # close() ran while we were opening
                source.close()
        self._health.report(True, f"{self.device} open")
        return source

    def _pump(self, source: KeySource) -> None:
        for code in source.codes():
            self._backoff.reset()
            read = self._decoder.key(code, self._clock())
            if read is not None:
                self._emit(read)

    def _release(self, source: KeySource) -> None:
        with self._lock:
            self._source = None
        source.close()
