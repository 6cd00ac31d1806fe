"""RDM6300: frame decoding, resync and repeat filter, and the serial reader on a pty."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import BadRead, Read
from drivers.health import Backoff, HealthState, ReaderHealth, SilenceWatch
from drivers.rdm6300 import (
    Rdm6300Decoder,
    SerialRdm6300Reader,
    decode_frame,
    encode_frame,
)
from tests.reader_support import Log

CARD_A = bytes.fromhex("0236373030334235314336434203")  # card:0003887558
CARD_B = bytes.fromhex("0230313030303733344530443203")  # card:0000472288
BAD_SUM = bytes.fromhex("0236383030334235314336434203")


def test_vectors() -> None:
    assert decode_frame(CARD_A) == "card:0003887558"
    assert decode_frame(CARD_B) == "card:0000472288"
    with pytest.raises(BadRead, match="checksum"):
        decode_frame(BAD_SUM)


def test_encode_matches_vectors() -> None:
    assert encode_frame(0x67, 0x003B51C6) == CARD_A
    assert encode_frame(0x01, 0x000734E0) == CARD_B


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (CARD_A[:-1], "frame of 13 bytes"),
        (b"\x01" + CARD_A[1:], "without STX/ETX"),
        (CARD_A[:-1] + b"\x04", "without STX/ETX"),
        (b"\x02" + b"67003B51C6G?" + b"\x03", "not hex"),
        (b"\x02" + b" 7003B51C6CB" + b"\x03", "not hex"),
    ],
)
def test_bad_frames(frame: bytes, why: str) -> None:
    with pytest.raises(BadRead, match=why):
        decode_frame(frame)


def test_lowercase_hex_is_accepted() -> None:
    assert decode_frame(CARD_A.lower()) == "card:0003887558"


@given(st.integers(0, 255), st.integers(0, 2**32 - 1))
def test_frame_round_trip(version: int, number: int) -> None:
    assert decode_frame(encode_frame(version, number)) == f"card:{number:010d}"


# -- the stream decoder ------------------------------------------------------------


def creds(reads: list[Read]) -> list[str | None]:
    return [r.credential for r in reads]


def test_one_frame_in_pieces() -> None:
    decoder = Rdm6300Decoder("gate")
    assert decoder.feed(CARD_A[:5], 0.0) == []
    assert decoder.feed(CARD_A[5:], 0.01) == [Read("gate", "card:0003887558", raw=CARD_A.hex())]


def test_noise_between_frames_is_skipped() -> None:
    decoder = Rdm6300Decoder("gate")
    noise = b"\x00\xff\x02garbage\x03\x02\x02zz"
    reads = decoder.feed(noise + CARD_A + b"\x13\x37" + noise + CARD_B + noise, 0.0)
    assert creds(reads) == ["card:0003887558", "card:0000472288"]


def test_truncated_frame_then_a_good_one() -> None:
    decoder = Rdm6300Decoder("gate")
    assert creds(decoder.feed(CARD_B[:9] + CARD_A, 0.0)) == ["card:0003887558"]


def test_bad_checksum_is_a_failed_read() -> None:
    reads = Rdm6300Decoder("gate").feed(BAD_SUM, 0.0)
    assert reads == [Read("gate", None, error="checksum error", raw=BAD_SUM.hex())]


def test_held_card_is_reported_once() -> None:
    decoder = Rdm6300Decoder("gate", repeat_window=1.0)
    t, seen = 0.0, []
    for _ in range(40):  # the card held for ~2.6 s: a frame every 65 ms
        seen += decoder.feed(CARD_A, t)
        t += 0.065
    assert creds(seen) == ["card:0003887558"]


def test_same_card_again_after_the_window() -> None:
    decoder = Rdm6300Decoder("gate", repeat_window=1.0)
    first = decoder.feed(CARD_A, 0.0)
    assert decoder.feed(CARD_A, 0.999) == []
    again = decoder.feed(CARD_A, 0.999 + 1.0)
    assert creds(first + again) == ["card:0003887558"] * 2


def test_other_card_is_reported_at_once() -> None:
    decoder = Rdm6300Decoder("gate")
    reads = decoder.feed(CARD_A, 0.0) + decoder.feed(CARD_B, 0.1) + decoder.feed(CARD_A, 0.2)
    assert creds(reads) == ["card:0003887558", "card:0000472288", "card:0003887558"]


@given(st.binary(max_size=300))
def test_random_bytes_never_crash_and_stay_bounded(data: bytes) -> None:
    decoder = Rdm6300Decoder("gate")
    for read in decoder.feed(data, 0.0):
        assert (read.credential is None) == (read.error is not None)
    assert creds(decoder.feed(CARD_A, 10.0))[-1:] == ["card:0003887558"]


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_frame_is_found_after_noise_without_stx(before: bytes, after: bytes) -> None:
    clean = before.replace(b"\x02", b"")
    reads = Rdm6300Decoder("gate").feed(clean + CARD_B + after, 0.0)
    assert creds(reads)[0] == "card:0000472288"


# -- the serial reader on a pseudo-terminal ------------------------------------------


class Pty:
    """A pty pair behind a stable symlink, like a udev by-id link to a USB adapter."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master, self._slave = os.openpty()
        link.symlink_to(os.ttyname(self._slave))

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def unplug(self) -> None:
        self.link.unlink()
        os.close(self.master)
        os.close(self._slave)


def healthy(items: list[ReaderHealth]) -> bool:
    return bool(items) and items[-1].ok


@pytest.fixture
def pty_link(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "ttyRDM"


def test_serial_reader_reads_held_card_once(pty_link: Path) -> None:
    pty = Pty(pty_link)
    reads, health = Log[Read](), Log[ReaderHealth]()
    reader = SerialRdm6300Reader("gate", str(pty_link), on_read=reads, on_health=health)
    reader.start()
    try:
        health.wait_for(healthy)
        pty.write(b"\xff\x00noise" + CARD_A + CARD_A + CARD_A + b"\x02\x02" + CARD_B)
        reads.wait_for(lambda items: len(items) >= 2)
        assert [r.credential for r in reads.items] == [
            "card:0003887558",
            "card:0000472288",
        ]
    finally:
        reader.close()
        pty.unplug()
    assert health.items == [ReaderHealth("gate", True, f"{pty_link} open")]


def test_serial_reader_survives_unplug_and_replug(pty_link: Path) -> None:
    pty = Pty(pty_link)
    reads, health = Log[Read](), Log[ReaderHealth]()
    reader = SerialRdm6300Reader(
        "gate", str(pty_link), on_read=reads, on_health=health, retry=(0.01, 0.05)
    )
    reader.start()
    try:
        health.wait_for(healthy)
        pty.write(CARD_A)
        reads.wait_for(lambda items: len(items) == 1)
        pty.unplug()
        health.wait_for(lambda items: len(items) == 2)
        pty = Pty(pty_link)
        health.wait_for(lambda items: len(items) == 3)
        pty.write(CARD_B)
        reads.wait_for(lambda items: len(items) == 2)
    finally:
        reader.close()
        pty.unplug()
    assert [h.ok for h in health.items] == [True, False, True]
    assert [r.credential for r in reads.items] == [
        "card:0003887558",
        "card:0000472288",
    ]


def test_serial_reader_waits_for_a_missing_port(pty_link: Path) -> None:
    health = Log[ReaderHealth]()
    reader = SerialRdm6300Reader(
        "gate", str(pty_link), on_read=Log[Read](), on_health=health, retry=(0.01, 0.02)
    )
    reader.start()
    try:
        health.wait_for(lambda items: len(items) == 1)
        pty = Pty(pty_link)
        health.wait_for(lambda items: len(items) == 2)
    finally:
        reader.close()
        reader.close()
    pty.unplug()
    first, second = health.items
    assert (first.ok, second.ok) == (False, True)
    assert "cannot open" in first.detail


def test_serial_reader_limits_a_flood_of_bad_frames(pty_link: Path) -> None:
    pty = Pty(pty_link)
    reads, health = Log[Read](), Log[ReaderHealth]()
    reader = SerialRdm6300Reader("gate", str(pty_link), on_read=reads, on_health=health)
    reader.start()
    try:
        health.wait_for(healthy)
        pty.write(BAD_SUM * 50 + CARD_A)
        reads.wait_for(lambda items: any(r.credential for r in items))
        # the 45 held back are counted, within a second or so (the gate logs the count)
        reads.wait_for(lambda items: sum(r.suppressed for r in items) >= 45)
    finally:
        reader.close()
        pty.unplug()
    errors = [r.error for r in reads.items if not r.suppressed]
    assert errors == ["checksum error"] * 5 + [None]
    counts = [r for r in reads.items if r.suppressed]
    assert sum(r.suppressed for r in counts) == 45
    assert all(r.credential is None and "bad reads suppressed" in (r.error or "") for r in counts)


# -- silence watch (serial port errors) -------------------------------------------


def test_silence_watch_reports_a_lasting_port_error_once() -> None:
    watch = SilenceWatch("gate", 30.0)
    watch.error(100.0, "port gone")
    assert watch.check(129.0) is None
    assert watch.check(130.0) == ReaderHealth("gate", False, "port gone for 30 s")
    watch.error(131.0, "still gone")
    assert watch.check(200.0) is None
    assert watch.heard(201.0) == ReaderHealth("gate", True, "recovered")
    assert watch.heard(202.0) is None


def test_silence_watch_short_glitch_is_not_reported() -> None:
    watch = SilenceWatch("gate", 30.0)
    watch.error(0.0, "port gone")
    assert watch.heard(5.0) is None
    assert watch.check(100.0) is None


def test_silence_watch_silence_counts_only_when_traffic_is_expected() -> None:
    quiet = SilenceWatch("gate", 10.0)
    chatty = SilenceWatch("gate", 10.0, expect_traffic=True)
    for watch in (quiet, chatty):
        watch.heard(0.0)
    assert quiet.check(60.0) is None
    assert chatty.check(60.0) == ReaderHealth("gate", False, "silent for 60 s")


def test_backoff_doubles_up_to_its_limit_and_resets() -> None:
    backoff = Backoff(0.2, 1.0)
    assert [backoff.next() for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next() == 0.2
    with pytest.raises(ValueError):
        Backoff(0.0, 1.0)


def test_health_is_reported_only_when_it_changes() -> None:
    seen: list[ReaderHealth] = []
    state = HealthState("gate", seen.append)
    for ok, detail in [(False, "gone"), (False, "still gone"), (True, "open"), (True, "open")]:
        state.report(ok, detail)
    assert seen == [ReaderHealth("gate", False, "gone"), ReaderHealth("gate", True, "open")]


def test_port_is_open_when_start_returns(pty_link: Path) -> None:
    pty = Pty(pty_link)
    health = Log[ReaderHealth]()
    reader = SerialRdm6300Reader("gate", str(pty_link), on_read=Log[Read](), on_health=health)
    reader.start()
    try:
        assert health.items == [ReaderHealth("gate", True, f"{pty_link} open")]
    finally:
        reader.close()
        pty.unplug()
