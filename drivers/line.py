"""Line readers: a FIFO or a serial text device giving one credential per line.

Lines end with LF, CR or CR LF (scanners differ). Each line goes through
``base.parse_line``. A line longer than ``MAX_LINE`` bytes is one bad read and its
bytes are dropped as they come, so a stream with no newline cannot grow memory.
"""

from __future__ import annotations

import logging
import os
import re
import select
import stat
import threading
import time
import tty
from collections.abc import Callable

from drivers.base import RAW_LIMIT, BadRead, Read, ReadCallback, parse_line
from drivers.health import COUNT_EVERY_SECONDS, Backoff, HealthCallback, HealthState, ReadFilter

log = logging.getLogger(__name__)

MAX_LINE = 256
_EOL = re.compile(rb"\r\n|\r|\n")


def line_read(reader: str, text: str) -> Read:
    """One line as a ``Read``: its credential, or a failed read saying why."""
    try:
        return Read(reader, parse_line(text), raw=text[:RAW_LIMIT])
    except BadRead as err:
        return Read.failed(reader, err)


class LineDecoder:
    """Bytes in, one ``Read`` per line out."""

    def __init__(self, reader: str, *, max_len: int = MAX_LINE) -> None:
        self.reader = reader
        self.max_len = max_len
        self._buf = bytearray()
        self._overflow = False
        self._after_cr = False

    @property
    def buffered(self) -> int:
        """Bytes held for the line being received (never more than ``max_len``)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Read]:
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]  # the LF of a CR LF split across two reads
        if data:
            self._after_cr = data.endswith(b"\r")
        *lines, tail = _EOL.split(data)
        reads = [self._end_line(part) for part in lines]
        self._append(tail)
        return reads

    def _append(self, part: bytes) -> None:
        if self._overflow:
            return
        if len(self._buf) + len(part) > self.max_len:
            self._overflow = True
            # Keep only the start of the line, for the log.
            self._buf += part[: max(0, RAW_LIMIT - len(self._buf))]
            del self._buf[RAW_LIMIT:]
            return
        self._buf += part

    def _end_line(self, part: bytes) -> Read:
        self._append(part)
        text = self._buf.decode("utf-8", errors="replace")
        overflow = self._overflow
        self._buf.clear()
        self._overflow = False
        if overflow:
            return Read(self.reader, None, error=f"line over {self.max_len} bytes", raw=text)
        return line_read(self.reader, text)


class LineReader:
    """Reads lines from a FIFO or a serial text device (``/dev/ttyUSB0``, a pty).

    The path is opened read-write: for a FIFO we then hold a writer end ourselves, so
    a writer closing never gives us end-of-file and opening never blocks. A tty is put
    in raw mode, so nothing is echoed back to the device. The path is checked every
    ``check_interval`` seconds: when it disappears or is replaced (a new FIFO, a
    re-plugged USB adapter) the reader reopens it, with a backoff.
    """

    def __init__(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        on_read: ReadCallback,
        on_health: HealthCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
        check_interval: float = 1.0,
        retry: tuple[float, float] = (0.2, 5.0),
    ) -> None:
        self.name = name
        self.path = os.fspath(path)
        self._clock = clock
        self._check_interval = check_interval
        self._emit = ReadFilter(name, on_read, clock=clock, count_every=COUNT_EVERY_SECONDS)
        self._health = HealthState(name, on_health)
        self._backoff = Backoff(*retry)
        self._stop = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._wake_r, self._wake_w = os.pipe()
        # The first open happens here, so a FIFO has its reader once start() returns
        # (a writer opening it non-blocking would otherwise fail with ENXIO).
        self._thread = threading.Thread(
            target=self._run, args=(self._open(),), name=f"line-{self.name}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        if self._thread is None or self._stop.is_set():
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=2.0)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _run(self, fd: int | None) -> None:
        while not self._stop.is_set():
            if fd is None and (fd := self._open()) is None:
                self._stop.wait(self._backoff.next())
                continue
            try:
                self._pump(fd, LineDecoder(self.name))
            except OSError as exc:
                self._health.report(False, f"{self.path}: {exc}")
                self._stop.wait(self._backoff.next())
            finally:
                os.close(fd)
                fd = None

    def _open(self) -> int | None:
        flags = os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags)
        except OSError as exc:
            self._health.report(False, f"cannot open {self.path}: {exc.strerror}")
            return None
        try:
            mode = os.fstat(fd).st_mode
            if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
                raise OSError(f"{self.path} is not a FIFO or a character device")
            if os.isatty(fd):
                tty.setraw(fd)
        except OSError as exc:
            os.close(fd)
            self._health.report(False, str(exc))
            return None
        self._health.report(True, f"{self.path} open")
        return fd

    def _pump(self, fd: int, decoder: LineDecoder) -> None:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        checked = self._clock()
        while not self._stop.is_set():
            for ready, _ in poller.poll(self._check_interval * 1000):
                if ready == fd:
                    self._receive(fd, decoder)
            self._emit.flush()
            if self._clock() - checked >= self._check_interval:
                checked = self._clock()
                if self._replaced(fd):
                    return

    def _receive(self, fd: int, decoder: LineDecoder) -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        if not data:
            raise OSError("end of file (device hung up)")
        self._backoff.reset()
        for read in decoder.feed(data):
            self._emit(read)

    def _replaced(self, fd: int) -> bool:
        """Whether the path no longer names the file we have open."""
        try:
            now = os.stat(self.path)
        except OSError as exc:
            self._health.report(False, f"{self.path}: {exc.strerror}")
            return True
        mine = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino):
            self._health.report(False, f"{self.path} was replaced")
            return True
        return False
