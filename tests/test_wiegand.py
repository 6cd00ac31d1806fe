"""Wiegand 26/34: the pure decoder in virtual time, and the GPIO reader on mock pins."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from gpiozero.pins.mock import MockFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import BadRead, Read
from drivers.health import ReaderHealth
from drivers.wiegand import (
    MAX_BITS,
    GpioWiegandReader,
    WiegandDecoder,
    decode_bits,
    encode_wiegand26,
    encode_wiegand34,
)
from tests.reader_support import Log

W26 = [
    ("00101101000000001010001000", 90, 324, "card:0005898564"),
    ("10000000100000010001011001", 1, 556, "card:0000066092"),
    ("00000000100010100101000011", 1, 5281, "card:0000070817"),
]
W34 = [
    ("1000000000000000100000000000000010", 1, 1, "card:0000065537"),
    ("1000001001101001011011101110101010", 1234, 56789, "card:0080928213"),
]
BIT_PERIOD = 0.002  # a bit every 2 ms, as real readers send them


def feed(decoder: WiegandDecoder, bits: str, start: float) -> float:
    """Send a frame's bits from ``start``; return the time of the last bit."""
    t = start
    for i, bit in enumerate(bits):
        t = start + i * BIT_PERIOD
        decoder.bit(int(bit), t)
    return t


@pytest.mark.parametrize(("bits", "facility", "number", "credential"), W26 + W34)
def test_vectors_decode(bits: str, facility: int, number: int, credential: str) -> None:
    assert decode_bits(bits) == credential


@pytest.mark.parametrize(("bits", "facility", "number", "credential"), W26)
def test_vectors_encode_26(bits: str, facility: int, number: int, credential: str) -> None:
    assert encode_wiegand26(facility, number) == bits


@pytest.mark.parametrize(("bits", "facility", "number", "credential"), W34)
def test_vectors_encode_34(bits: str, facility: int, number: int, credential: str) -> None:
    assert encode_wiegand34(facility, number) == bits


@pytest.mark.parametrize("bits", [v[0] for v in W26 + W34])
def test_any_flipped_bit_fails_parity(bits: str) -> None:
    for i in range(len(bits)):
        flipped = bits[:i] + ("1" if bits[i] == "0" else "0") + bits[i + 1 :]
        with pytest.raises(BadRead, match="parity"):
            decode_bits(flipped)


@pytest.mark.parametrize(
    ("bits", "why"),
    [("", "not a bit string"), ("0120", "not a bit string"), ("1" * 25, "wrong length: 25")],
)
def test_bad_frames(bits: str, why: str) -> None:
    with pytest.raises(BadRead, match=why):
        decode_bits(bits)


def test_encoders_refuse_out_of_range() -> None:
    with pytest.raises(ValueError):
        encode_wiegand26(256, 0)
    with pytest.raises(ValueError):
        encode_wiegand34(0, 65536)


def test_decoder_waits_for_the_gap() -> None:
    decoder = WiegandDecoder("gate", gap=0.025)
    last = feed(decoder, W26[0][0], 10.0)
    assert decoder.poll(last + 0.024) is None
    read = decoder.poll(last + 0.025)
    assert read == Read("gate", "card:0005898564", raw=W26[0][0], low24=True)
    assert decoder.poll(last + 1.0) is None


def test_wiegand34_is_not_low24() -> None:
    decoder = WiegandDecoder("gate")
    last = feed(decoder, W34[1][0], 0.0)
    read = decoder.poll(last + 1)
    assert read is not None
    assert (read.credential, read.low24) == ("card:0080928213", False)


def test_next_frame_closes_the_previous_one_without_a_poll() -> None:
    decoder = WiegandDecoder("gate")
    last = feed(decoder, W26[1][0], 0.0)
    last = feed(decoder, W26[2][0], last + 0.1)
    first, second = decoder.poll(last + 0.1), decoder.poll(last + 0.1)
    assert first is not None and second is not None
    assert [first.credential, second.credential] == ["card:0000066092", "card:0000070817"]


def test_short_frame_is_a_bad_read() -> None:
    decoder = WiegandDecoder("gate")
    last = feed(decoder, W26[0][0][:20], 0.0)
    read = decoder.poll(last + 0.05)
    assert read is not None
    assert (read.credential, read.error) == (None, "wrong length: 20 bits")


def test_noise_burst_is_bounded() -> None:
    decoder = WiegandDecoder("gate")
    last = feed(decoder, "1" * 10_000, 0.0)
    read = decoder.poll(last + 0.05)
    assert read is not None
    assert read.error == "wrong length: 10000 bits"
    assert len(read.raw) <= MAX_BITS


def test_formats_narrow_the_accepted_lengths() -> None:
    frame = encode_wiegand34(1235, 56789)
    assert decode_bits(frame) == "card:0080993749"
    cut_short = frame[:26]  # a frame cut after 26 bits...
    assert decode_bits(cut_short) == "card:0000316381"  # ...may have good parity
    decoder = WiegandDecoder("gate", formats=(34,))
    last = feed(decoder, cut_short, 0.0)
    last = feed(decoder, frame, last + 1.0)
    reads = [decoder.poll(last + 1.0), decoder.poll(last + 1.0)]
    assert [(r.credential, r.error) for r in reads if r] == [
        (None, "wrong length: 26 bits"),
        ("card:0080993749", None),
    ]


@given(st.text(alphabet="01", max_size=80), st.floats(min_value=0.0, max_value=1e6))
def test_random_bits_never_crash(bits: str, start: float) -> None:
    decoder = WiegandDecoder("gate")
    last = feed(decoder, bits, start)
    read = decoder.poll(last + 1.0)
    if not bits:
        assert read is None
        return
    assert read is not None
    assert (read.credential is None) == (read.error is not None)


@given(st.integers(0, 255), st.integers(0, 65535))
def test_wiegand26_round_trip(facility: int, number: int) -> None:
    decoder = WiegandDecoder("gate")
    last = feed(decoder, encode_wiegand26(facility, number), 5.0)
    read = decoder.poll(last + 0.03)
    assert read is not None
    assert read.credential == f"card:{facility * 65536 + number:010d}"
    assert read.low24


@given(st.integers(0, 65535), st.integers(0, 65535))
def test_wiegand34_round_trip(facility: int, number: int) -> None:
    assert decode_bits(encode_wiegand34(facility, number)) == (
        f"card:{facility * 65536 + number:010d}"
    )


# -- the GPIO reader on mock pins ------------------------------------------------


class FakeClock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Reads:
    """Collects reads from a reader thread; ``wait`` blocks until there are ``n``."""

    def __init__(self) -> None:
        self.items: list[Read] = []
        self._cond = threading.Condition()

    def __call__(self, read: Read) -> None:
        with self._cond:
            self.items.append(read)
            self._cond.notify_all()

    def wait(self, n: int, timeout: float = 5.0) -> list[Read]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.items) >= n, timeout), self.items
            return list(self.items)


D0, D1 = 20, 21


@pytest.fixture
def factory() -> MockFactory:
    return MockFactory()


@pytest.fixture
def reader_with(
    factory: MockFactory,
) -> Iterator[Callable[..., tuple[GpioWiegandReader, Reads]]]:
    made: list[GpioWiegandReader] = []

    def make(**kwargs: object) -> tuple[GpioWiegandReader, Reads]:
        reads = Reads()
        reader = GpioWiegandReader(
            "gate",
            D0,
            D1,
            on_read=reads,
            pin_factory=factory,
            **kwargs,  # type: ignore[arg-type]
        )
        made.append(reader)
        reader.start()
        return reader, reads

    yield make
    for reader in made:
        reader.close()


def pulse(factory: MockFactory, bits: str, clock: FakeClock | None = None) -> None:
    """Pull D0 or D1 low for each bit, as a reader does (lines idle high)."""
    for bit in bits:
        if clock is not None:
            clock.t += BIT_PERIOD
        pin = factory.pin(D1 if bit == "1" else D0)
        pin.drive_low()
        pin.drive_high()


def test_lines_idle_high_with_pull_ups(
    factory: MockFactory, reader_with: Callable[..., tuple[GpioWiegandReader, Reads]]
) -> None:
    reader_with()
    for pin in (D0, D1):
        assert factory.pin(pin).pull == "up"
        assert factory.pin(pin).state is True


def test_gpio_reader_in_controlled_time(
    factory: MockFactory, reader_with: Callable[..., tuple[GpioWiegandReader, Reads]]
) -> None:
    clock = FakeClock()
    reader, reads = reader_with(clock=clock)
    pulse(factory, W26[0][0], clock)
    clock.t += 0.024
    reader.poll()  # the frame has not ended yet: no read
    assert reads.items == []
    clock.t += 0.002
    assert reads.wait(1) == [Read("gate", "card:0005898564", raw=W26[0][0], low24=True)]


def test_gpio_reader_two_cards_and_a_parity_error(
    factory: MockFactory, reader_with: Callable[..., tuple[GpioWiegandReader, Reads]]
) -> None:
    clock = FakeClock()
    _, reads = reader_with(clock=clock)
    pulse(factory, W34[1][0], clock)
    clock.t += 0.5
    bad_even_parity = "0" + W26[1][0][1:]  # the vector starts with a 1
    pulse(factory, bad_even_parity, clock)
    clock.t += 0.5
    got = reads.wait(2)
    assert [r.credential for r in got] == ["card:0080928213", None]
    assert got[1].error == "even parity error"


def test_gpio_reader_in_real_time(
    factory: MockFactory, reader_with: Callable[..., tuple[GpioWiegandReader, Reads]]
) -> None:
    health: list[ReaderHealth] = []
    _, reads = reader_with(on_health=health.append)
    pulse(factory, W26[2][0])
    assert [r.credential for r in reads.wait(1)] == ["card:0000070817"]
    assert health == [ReaderHealth("gate", True, f"listening on GPIO {D0}/{D1}")]


def test_a_data_line_held_low_is_a_fault_until_released(
    factory: MockFactory, reader_with: Callable[..., tuple[GpioWiegandReader, Reads]]
) -> None:
    health: Log[ReaderHealth] = Log()
    _, reads = reader_with(on_health=health)
    health.wait_for(1)
    factory.pin(D1).drive_low()  # a shorted cable, or a reader without power
    health.wait_for(2, timeout=15)
    assert health.items[1] == ReaderHealth("gate", False, "D1 held low (cable or reader power)")
    factory.pin(D1).drive_high()
    health.wait_for(3, timeout=15)
    assert health.items == [
        ReaderHealth("gate", True, f"listening on GPIO {D0}/{D1}"),
        ReaderHealth("gate", False, "D1 held low (cable or reader power)"),
        ReaderHealth("gate", True, f"listening on GPIO {D0}/{D1}"),
    ]
    # the one edge was one bit: a bad read, not a card
    assert [(r.credential, r.error) for r in reads.wait(1)] == [(None, "wrong length: 1 bits")]


def test_gpio_reader_close_releases_pins(factory: MockFactory) -> None:
    reader = GpioWiegandReader("gate", D0, D1, on_read=Reads(), pin_factory=factory)
    reader.start()
    reader.close()
    reader.close()
    again = GpioWiegandReader("gate", D0, D1, on_read=Reads(), pin_factory=factory)
    again.start()  # would raise GPIOPinInUse if the first one kept its pins
    again.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 65535)), min_size=1, max_size=4))
def test_gpio_reader_round_trips_random_cards(cards: list[tuple[int, int]]) -> None:
    factory, clock, reads = MockFactory(), FakeClock(), Reads()
    reader = GpioWiegandReader("gate", D0, D1, on_read=reads, pin_factory=factory, clock=clock)
    reader.start()
    try:
        for facility, number in cards:
            pulse(factory, encode_wiegand26(facility, number), clock)
            clock.t += 0.03
        got = reads.wait(len(cards))
    finally:
        reader.close()
    assert [r.credential for r in got] == [f"card:{f * 65536 + n:010d}" for f, n in cards]
