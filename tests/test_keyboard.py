"""Keyboard-wedge readers: key decoding, and the reader on a fake key source."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

import pytest

from drivers import keyboard
from drivers.base import Read
from drivers.health import ReaderHealth
from drivers.keyboard import (
    KEY_ENTER,
    KEY_KPENTER,
    KeyboardReader,
    KeyLineDecoder,
    KeySource,
    MissingDependency,
)
from tests.reader_support import Log

CODES = {ch: code for code, ch in keyboard._DIGITS.items()}
KEYPAD = {ch: code for code, ch in keyboard._KEYPAD.items()} | {"0": 82}
SHIFT, KEY_A = 42, 30


def typed(text: str, keys: dict[str, int] = CODES) -> list[int]:
    return [keys[ch] for ch in text] + [KEY_ENTER]


def decode(codes: list[int], step: float = 0.01) -> list[Read]:
    decoder = KeyLineDecoder("desk")
    reads = [decoder.key(code, i * step) for i, code in enumerate(codes)]
    return [r for r in reads if r is not None]


def test_digits_and_enter() -> None:
    assert decode(typed("0004567890")) == [Read("desk", "card:0004567890", raw="0004567890")]


def test_keypad_and_keypad_enter() -> None:
    codes = [*typed("4567890", KEYPAD)[:-1], KEY_KPENTER]
    assert [r.credential for r in decode(codes)] == ["card:0004567890"]


def test_shift_is_ignored() -> None:
    codes = [SHIFT, CODES["4"], SHIFT, CODES["2"], KEY_ENTER]
    assert [r.credential for r in decode(codes)] == ["card:0000000042"]


def test_other_keys_make_a_bad_read() -> None:
    (read,) = decode([CODES["1"], KEY_A, CODES["2"], KEY_ENTER])
    assert (read.credential, read.error, read.raw) == (None, "not a credential", "1?2")


def test_empty_enter_is_a_bad_read() -> None:
    assert [r.error for r in decode([KEY_ENTER])] == ["empty line"]


def test_stray_keys_are_dropped_after_a_pause() -> None:
    decoder = KeyLineDecoder("desk", gap=0.5)
    assert decoder.key(CODES["9"], 0.0) is None  # someone leaned on the keypad
    reads = [decoder.key(code, 10.0 + i * 0.01) for i, code in enumerate(typed("42"))]
    assert [r.credential for r in reads if r] == ["card:0000000042"]


def test_stuck_key_is_bounded() -> None:
    decoder = KeyLineDecoder("desk", max_len=256)
    for i in range(100_000):
        decoder.key(CODES["7"], i * 0.001)
    read = decoder.key(KEY_ENTER, 100.0)
    assert read is not None
    assert (read.error, read.raw) == ("line over 256 keys", "7" * 64)
    assert len(decoder._chars) == 0


# -- the reader ------------------------------------------------------------------


class FakeSource:
    """A key source fed by the test; ``unplug`` makes it fail like a removed device."""

    def __init__(self) -> None:
        self._queue: queue.Queue[int | BaseException | None] = queue.Queue()
        self.closed = threading.Event()

    def type(self, codes: list[int]) -> None:
        for code in codes:
            self._queue.put(code)

    def unplug(self) -> None:
        self._queue.put(OSError(19, "No such device"))

    def codes(self) -> Iterator[int]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.closed.set()
        self._queue.put(None)


class Devices:
    """The "USB port": hands out a new FakeSource per open, or fails while unplugged."""

    def __init__(self) -> None:
        self.present = True
        self.opened: list[FakeSource] = []
        self._cond = threading.Condition()

    def __call__(self, path: str) -> KeySource:
        assert path == "/dev/input/by-id/usb-reader-kbd"
        with self._cond:
            if not self.present:
                raise FileNotFoundError(2, "No such file or directory", path)
            self.opened.append(FakeSource())
            self._cond.notify_all()
            return self.opened[-1]

    def wait_opened(self, n: int) -> FakeSource:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.opened) >= n, 5.0)
            return self.opened[n - 1]


@pytest.fixture
def reader() -> Iterator[
    Callable[[], tuple[KeyboardReader, Devices, Log[Read], Log[ReaderHealth]]]
]:
    made: list[KeyboardReader] = []

    def make() -> tuple[KeyboardReader, Devices, Log[Read], Log[ReaderHealth]]:
        devices, reads, health = Devices(), Log[Read](), Log[ReaderHealth]()
        kbd = KeyboardReader(
            "desk",
            "/dev/input/by-id/usb-reader-kbd",
            on_read=reads,
            on_health=health,
            source_factory=devices,
            retry=(0.01, 0.05),
        )
        made.append(kbd)
        kbd.start()
        return kbd, devices, reads, health

    yield make
    for kbd in made:
        kbd.close()


def test_reader_reads_cards(
    reader: Callable[[], tuple[KeyboardReader, Devices, Log[Read], Log[ReaderHealth]]],
) -> None:
    kbd, devices, reads, health = reader()
    source = devices.wait_opened(1)
    source.type(typed("4567890") + typed("12"))
    reads.wait_for(2)
    assert [r.credential for r in reads.items] == ["card:0004567890", "card:0000000012"]
    kbd.close()
    assert source.closed.is_set()
    assert health.items == [ReaderHealth("desk", True, "/dev/input/by-id/usb-reader-kbd open")]


def test_reader_survives_unplug_and_replug(
    reader: Callable[[], tuple[KeyboardReader, Devices, Log[Read], Log[ReaderHealth]]],
) -> None:
    _, devices, reads, health = reader()
    first = devices.wait_opened(1)
    devices.present = False
    first.unplug()
    health.wait_for(2)
    devices.present = True
    second = devices.wait_opened(2)
    second.type(typed("77"))
    reads.wait_for(1)
    assert [r.credential for r in reads.items] == ["card:0000000077"]
    assert [h.ok for h in health.items[:3]] == [True, False, True]
    assert "No such device" in health.items[1].detail
    assert first.closed.is_set()


def test_missing_evdev_is_a_clear_error_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_evdev(name: str) -> object:
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(keyboard.importlib, "import_module", no_evdev)
    kbd = KeyboardReader("desk", "/dev/input/event0", on_read=Log[Read]())
    with pytest.raises(MissingDependency, match="need the 'evdev' package"):
        kbd.start()
    kbd.close()


def test_evdev_source_grabs_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class Device:
        fd = -1

        def __init__(self, path: str) -> None:
            calls.append(f"open {path}")

        def grab(self) -> None:
            calls.append("grab")

        def ungrab(self) -> None:
            calls.append("ungrab")

        def close(self) -> None:
            calls.append("close")

    class FakeEvdev:
        InputDevice = Device

    monkeypatch.setattr(keyboard.importlib, "import_module", lambda name: FakeEvdev)
    source = keyboard.EvdevKeySource("/dev/input/event3")
    source.close()
    source.close()
    assert calls == ["open /dev/input/event3", "grab", "ungrab", "close"]
