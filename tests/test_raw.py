"""decode_raw: every vector, unseen vectors, and "never raises"; bad-read flood limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import RAW_LIMIT, Read
from drivers.health import BadReadLimiter, ReadFilter
from drivers.raw import FORMATS, decode_raw
from drivers.rdm6300 import encode_frame
from drivers.wiegand import encode_wiegand26, encode_wiegand34

VECTORS = [
    ("rdm6300", "0236373030334235314336434203", "card:0003887558"),
    ("rdm6300", "0230313030303733344530443203", "card:0000472288"),
    ("wiegand26", "00101101000000001010001000", "card:0005898564"),
    ("wiegand26", "10000000100000010001011001", "card:0000066092"),
    ("wiegand26", "00000000100010100101000011", "card:0000070817"),
    ("wiegand34", "1000000000000000100000000000000010", "card:0000065537"),
    ("wiegand34", "1000001001101001011011101110101010", "card:0080928213"),
    ("line", "card:0004567890", "card:0004567890"),
    ("line", "4567890", "card:0004567890"),
    ("line", "  4567890 \t", "card:0004567890"),
    ("line", "4294967295", "card:4294967295"),
    ("line", "qr:pass-7f3a", "qr:pass-7f3a"),
    # Constructed here (not in TEST_VECTORS.md): encoded by hand and checked below.
    ("rdm6300", "0246463030303030303030464603", "card:0000000000"),
    ("rdm6300", "0230304646464646464646303003", "card:4294967295"),
    ("wiegand26", "01111111111111111111111111", "card:0016777215"),
    ("wiegand34", "0000000000000000000000000000000001", "card:0000000000"),
]

BAD = [
    ("rdm6300", "0236383030334235314336434203", "checksum error"),
    ("rdm6300", "02363730303342353143364342", "frame of 13 bytes, not 14"),
    ("rdm6300", "zz36373030334235314336434203", "frame is not hex"),
    ("rdm6300", "023", "frame is not hex"),
    ("rdm6300", "", "frame of 0 bytes, not 14"),
    ("wiegand26", "00101101000000001010001001", "odd parity error"),
    ("wiegand26", "10101101000000001010001000", "even parity error"),
    ("wiegand26", "1000000000000000100000000000000010", "wrong length: 34 bits, not 26"),
    ("wiegand34", "00101101000000001010001000", "wrong length: 26 bits, not 34"),
    ("wiegand26", "0010110100000000101000100x", "not a bit string"),
    ("wiegand34", "", "wrong length: 0 bits, not 34"),
    ("line", "", "empty line"),
    ("line", "   ", "empty line"),
    ("line", "hello", "not a credential"),
    ("line", "4294967296", "card number out of range"),
    ("line", "card:12ab", "card number is not decimal"),
    ("morse", "-.-.", "unknown raw format 'morse'"),
]


@pytest.mark.parametrize(("fmt", "data", "credential"), VECTORS)
def test_vectors(fmt: str, data: str, credential: str) -> None:
    read = decode_raw("entrance", fmt, data)
    assert (read.reader, read.credential, read.error) == ("entrance", credential, None)
    assert read.low24 == (fmt == "wiegand26")


def test_constructed_vectors_agree_with_the_encoders() -> None:
    assert encode_frame(0xFF, 0).hex() == VECTORS[12][1]
    assert encode_frame(0x00, 2**32 - 1).hex() == VECTORS[13][1]
    assert encode_wiegand26(255, 65535) == VECTORS[14][1]
    assert encode_wiegand34(0, 0) == VECTORS[15][1]


@pytest.mark.parametrize(("fmt", "data", "error"), BAD)
def test_bad_input_is_a_failed_read(fmt: str, data: str, error: str) -> None:
    read = decode_raw("entrance", fmt, data)
    assert read == Read("entrance", None, error=error, raw=data[:RAW_LIMIT])


def test_raw_is_truncated() -> None:
    read = decode_raw("entrance", "line", "x" * 10_000)
    assert read.error == "not a credential"
    assert read.raw == "x" * RAW_LIMIT


@pytest.mark.parametrize("data", [None, 12345, b"\x02", ["1"]])
def test_data_that_is_not_text(data: object) -> None:
    read = decode_raw("entrance", "line", data)  # type: ignore[arg-type]
    assert (read.credential, read.error) == (None, "raw data is not text")


@given(st.sampled_from([*FORMATS, "", "WIEGAND26", "x" * 500]), st.text(max_size=200))
def test_never_raises(fmt: str, data: str) -> None:
    read = decode_raw("entrance", fmt, data)
    assert (read.credential is None) != (read.error is None)
    assert len(read.raw) <= RAW_LIMIT
    if read.error:
        assert len(read.error) <= 80


@given(st.integers(0, 255), st.integers(0, 2**32 - 1))
def test_rdm6300_round_trip(version: int, number: int) -> None:
    read = decode_raw("e", "rdm6300", encode_frame(version, number).hex())
    assert read.credential == f"card:{number:010d}"


@given(st.integers(0, 255), st.integers(0, 65535))
def test_wiegand26_round_trip(facility: int, number: int) -> None:
    read = decode_raw("e", "wiegand26", encode_wiegand26(facility, number))
    assert (read.credential, read.low24) == (f"card:{(facility << 16) | number:010d}", True)


@given(st.integers(0, 2**32 - 1))
def test_wiegand34_and_line_agree(number: int) -> None:
    bits = encode_wiegand34(number >> 16, number & 0xFFFF)
    assert (
        decode_raw("e", "wiegand34", bits).credential
        == decode_raw("e", "line", str(number)).credential
    )


# -- a flood of bad reads ----------------------------------------------------------


def test_limiter_passes_the_first_few_per_window() -> None:
    limiter = BadReadLimiter(limit=5, window=60.0)
    passed = [limiter.allow(t * 0.01) for t in range(1000)]
    assert passed == [True] * 5 + [False] * 995
    assert limiter.suppressed == 995
    assert limiter.take_summary(59.0) == 0
    assert limiter.take_summary(60.05) == 995
    assert limiter.take_summary(200.0) == 0
    assert limiter.allow(61.0)  # a new window


def test_limiter_window_slides() -> None:
    limiter = BadReadLimiter(limit=2, window=10.0)
    assert [limiter.allow(t) for t in (0.0, 5.0, 9.0, 10.0, 14.9, 15.0)] == [
        True,
        True,
        False,
        True,
        False,
        True,
    ]


def test_limiter_take_suppressed() -> None:
    limiter = BadReadLimiter(limit=1, window=60.0)
    assert [limiter.allow(0.0), limiter.allow(1.0), limiter.allow(2.0)] == [True, False, False]
    assert limiter.take_suppressed() == 2
    assert limiter.take_suppressed() == 0


def test_limiter_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        BadReadLimiter(limit=0)
    with pytest.raises(ValueError):
        BadReadLimiter(window=0.0)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_million_bad_reads_are_a_few_events_and_summaries() -> None:
    out: list[Read] = []
    clock = Clock()
    flood = ReadFilter("gate", out.append, limiter=BadReadLimiter(5, 60.0), clock=clock)
    bad = Read("gate", None, error="checksum error")
    # 70 s of flood; the step does not divide 60 s, so no read sits on a window edge.
    for i in range(1, 1_000_001):
        clock.t = i * 0.00007
        flood(bad)
    clock.t += 60
    flood.flush()
    flood(Read("gate", "card:0000000001"))
    assert [r.error for r in out] == [
        *["checksum error"] * 10,
        "857138 more bad reads suppressed",
        "142852 more bad reads suppressed",
        None,
    ]


def test_a_reader_counts_what_it_held_back_as_often_as_asked() -> None:
    out: list[Read] = []
    clock = Clock()
    flood = ReadFilter(
        "gate", out.append, limiter=BadReadLimiter(5, 60.0), clock=clock, count_every=1.0
    )
    for i in range(1, 10_001):  # ten seconds of bad frames, one a millisecond
        clock.t = i * 0.001
        flood(Read("gate", None, error="checksum error"))
    flood.flush()  # not a second since the last count: held
    held = sum(r.suppressed for r in out)
    clock.t += 1.0
    flood.flush()
    counts = [r.suppressed for r in out if r.suppressed]
    assert [r.error for r in out if not r.suppressed] == ["checksum error"] * 5
    assert sum(counts) == 9995 and held < 9995
    # one count at the first flood read after the limit, then one a second: 10 s, 11 counts
    assert len(counts) == 11 and all(n > 0 for n in counts)


def test_good_reads_are_never_held_back() -> None:
    out: list[Read] = []
    flood = ReadFilter("gate", out.append, limiter=BadReadLimiter(1, 60.0), clock=Clock())
    for _ in range(3):
        flood(Read("gate", None, error="x"))
        flood(Read("gate", "card:0000000001"))
    assert [r.credential for r in out] == [None, *["card:0000000001"] * 3]
