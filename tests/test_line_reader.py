"""Line readers: the decoder, and the reader on a real FIFO and a pty."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import Read
from drivers.health import ReaderHealth
from drivers.line import MAX_LINE, LineDecoder, LineReader
from tests.reader_support import Log

T = TypeVar("T")


def creds(reads: list[Read]) -> list[str | None]:
    return [r.credential for r in reads]


def test_lines_with_any_line_ending() -> None:
    decoder = LineDecoder("gate")
    reads = decoder.feed(b"4567890\ncard:0000000042\r\nqr:abc\r1\n")
    assert creds(reads) == ["card:0004567890", "card:0000000042", "qr:abc", "card:0000000001"]


def test_crlf_split_across_reads_is_one_line_end() -> None:
    decoder = LineDecoder("gate")
    reads = decoder.feed(b"12\r") + decoder.feed(b"\n34\r") + decoder.feed(b"\n")
    assert creds(reads) == ["card:0000000012", "card:0000000034"]


def test_partial_line_waits_for_its_end() -> None:
    decoder = LineDecoder("gate")
    assert decoder.feed(b"000456") == []
    assert creds(decoder.feed(b"7890\n")) == ["card:0004567890"]


def test_bad_lines() -> None:
    reads = LineDecoder("gate").feed(b"hello\n\n99999999999\n\xff\xfe\n")
    assert [r.error for r in reads] == [
        "not a credential",
        "empty line",
        "card number out of range",
        "not a credential",
    ]


def test_overlong_line_is_one_bad_read_and_memory_stays_bounded() -> None:
    decoder = LineDecoder("gate")
    reads: list[Read] = []
    for _ in range(1000):
        reads += decoder.feed(b"9" * 1000)
        assert decoder.buffered <= MAX_LINE
    reads += decoder.feed(b"\n1234\n")
    assert [(r.credential, r.error) for r in reads] == [
        (None, f"line over {MAX_LINE} bytes"),
        ("card:0000001234", None),
    ]
    assert reads[0].raw == "9" * 64


def test_line_of_exactly_the_limit_is_fine() -> None:
    line = b"qr:" + b"x" * (MAX_LINE - 3)
    assert [r.error for r in LineDecoder("gate").feed(line + b"\n")] == [None]
    assert [r.error for r in LineDecoder("gate").feed(line + b"x\n")] == [
        f"line over {MAX_LINE} bytes"
    ]


@given(st.lists(st.integers(0, 2**32 - 1), max_size=20), st.data())
def test_any_chunking_gives_the_same_reads(numbers: list[int], data: st.DataObject) -> None:
    stream = b"".join(f"{n}\r\n".encode() for n in numbers)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = LineDecoder("gate")
    reads: list[Read] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        reads += decoder.feed(stream[start:end])
    assert creds(reads) == [f"card:{n:010d}" for n in numbers]


@given(st.binary(max_size=600))
def test_random_bytes_never_crash(data: bytes) -> None:
    decoder = LineDecoder("gate")
    for read in decoder.feed(data):
        assert (read.credential is None) != (read.error is None)
    assert decoder.buffered <= MAX_LINE


# -- the reader on real files ---------------------------------------------------------


def count(n: int) -> Callable[[list[T]], bool]:
    return lambda items: len(items) >= n


@pytest.fixture
def started() -> Iterator[Callable[[Path], tuple[Log[Read], Log[ReaderHealth]]]]:
    readers: list[LineReader] = []

    def start(path: Path) -> tuple[Log[Read], Log[ReaderHealth]]:
        reads, health = Log[Read](), Log[ReaderHealth]()
        reader = LineReader(
            "gate",
            path,
            on_read=reads,
            on_health=health,
            check_interval=0.02,
            retry=(0.01, 0.05),
        )
        readers.append(reader)
        reader.start()
        return reads, health

    yield start
    for reader in readers:
        reader.close()
        reader.close()


def write_fifo(path: Path, data: bytes) -> None:
    """One writer: open, write, close (as ``echo 123 > fifo`` does)."""
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def test_fifo_survives_writers_coming_and_going(
    tmp_path: Path, started: Callable[[Path], tuple[Log[Read], Log[ReaderHealth]]]
) -> None:
    fifo = tmp_path / "entrance.fifo"
    os.mkfifo(fifo)
    reads, health = started(fifo)
    health.wait_for(count(1))
    write_fifo(fifo, b"4567890\n")
    reads.wait_for(count(1))
    write_fifo(fifo, b"card:0000000042\nnonsense\n")
    write_fifo(fifo, b"qr:pass")
    write_fifo(fifo, b"-1\n")
    reads.wait_for(count(4))
    assert [(r.credential, r.error) for r in reads.items] == [
        ("card:0004567890", None),
        ("card:0000000042", None),
        (None, "not a credential"),
        ("qr:pass-1", None),
    ]
    assert health.items == [ReaderHealth("gate", True, f"{fifo} open")]


def test_fifo_removed_and_recreated(
    tmp_path: Path, started: Callable[[Path], tuple[Log[Read], Log[ReaderHealth]]]
) -> None:
    fifo = tmp_path / "entrance.fifo"
    os.mkfifo(fifo)
    reads, health = started(fifo)
    health.wait_for(count(1))
    fifo.unlink()
    health.wait_for(count(2))
    os.mkfifo(fifo)
    health.wait_for(count(3))
    write_fifo(fifo, b"77\n")
    reads.wait_for(count(1))
    assert [h.ok for h in health.items] == [True, False, True]
    assert creds(reads.items) == ["card:0000000077"]


def test_missing_path_then_created(
    tmp_path: Path, started: Callable[[Path], tuple[Log[Read], Log[ReaderHealth]]]
) -> None:
    fifo = tmp_path / "later.fifo"
    reads, health = started(fifo)
    health.wait_for(count(1))
    os.mkfifo(fifo)
    health.wait_for(count(2))
    write_fifo(fifo, b"5\n")
    reads.wait_for(count(1))
    assert [h.ok for h in health.items] == [False, True]
    assert "cannot open" in health.items[0].detail


def test_regular_file_is_refused(
    tmp_path: Path, started: Callable[[Path], tuple[Log[Read], Log[ReaderHealth]]]
) -> None:
    path = tmp_path / "plain.txt"
    path.write_text("123\n")
    _, health = started(path)
    health.wait_for(count(1))
    assert health.items == [
        ReaderHealth("gate", False, f"{path} is not a FIFO or a character device")
    ]


def test_pty_serial_text_device_and_hangup(
    tmp_path: Path, started: Callable[[Path], tuple[Log[Read], Log[ReaderHealth]]]
) -> None:
    link = tmp_path / "ttyScanner"
    master, slave = os.openpty()
    link.symlink_to(os.ttyname(slave))
    reads, health = started(link)
    health.wait_for(count(1))
    os.write(master, b"4567890\r\n")
    reads.wait_for(count(1))
    os.set_blocking(master, False)
    with pytest.raises(BlockingIOError):  # raw mode: nothing echoed back to the device
        os.read(master, 100)
    link.unlink()
    os.close(master)
    os.close(slave)
    health.wait_for(count(2))
    master, slave = os.openpty()
    link.symlink_to(os.ttyname(slave))
    health.wait_for(count(3))
    os.write(master, b"card:0000000009\r")
    reads.wait_for(count(2))
    assert creds(reads.items) == ["card:0004567890", "card:0000000009"]
    assert [h.ok for h in health.items] == [True, False, True]
    os.close(master)
    os.close(slave)


def test_fifo_has_its_reader_when_start_returns(tmp_path: Path) -> None:
    fifo = tmp_path / "entrance.fifo"
    os.mkfifo(fifo)
    reads = Log[Read]()
    reader = LineReader("gate", fifo, on_read=reads)
    reader.start()
    try:
        write_fifo(fifo, b"31\n")  # no ENXIO: the reader end is already open
        reads.wait_for(count(1))
    finally:
        reader.close()
    assert creds(reads.items) == ["card:0000000031"]
