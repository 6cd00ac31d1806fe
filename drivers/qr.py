"""QR passes seen by the camera, turned into reads.

``QrDecoder`` finds every QR code in a frame (zxing-cpp when it is installed, OpenCV's
detector otherwise), ``QrDebouncer`` turns "the same code in 40 frames" into one read,
and ``QrScanner`` joins them and hands out ``Read`` values like any other reader:
``qr:`` + the payload, or a failed read when the payload is not a credential.

This module imports OpenCV; the gate imports it only when a camera is configured.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

import cv2
import numpy as np

from drivers.base import BadRead, Read

try:
    import zxingcpp
except ImportError:  # the OpenCV detector still works, only slower and less tolerant
    zxingcpp = None

log = logging.getLogger(__name__)

MAX_PAYLOAD = 512  # characters; a pass is ~130, anything much longer is not ours
QR_PREFIX = "qr:"

Backend = Literal["auto", "zxing", "opencv"]


def available_backends() -> list[str]:
    """The decoders this machine can run, preferred first."""
    return (["zxing"] if zxingcpp is not None else []) + ["opencv"]


def to_gray(frame: np.ndarray) -> np.ndarray:
    """A contiguous 8-bit grayscale view of a camera frame (BGR, BGRA or gray)."""
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, not {frame.dtype}")
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"not an image: shape {frame.shape}")


class QrDecoder:
    """Every QR payload in a frame, each once, in the order the decoder found them."""

    def __init__(self, backend: Backend = "auto") -> None:
        if backend == "auto":
            backend = "zxing" if zxingcpp is not None else "opencv"
        if backend == "zxing" and zxingcpp is None:
            raise ValueError("the zxing backend needs the zxing-cpp package")
        if backend not in ("zxing", "opencv"):
            raise ValueError(f"unknown QR backend {backend!r}")
        self.backend: str = backend
        self._detector: Any = cv2.QRCodeDetector() if backend == "opencv" else None

    def decode(self, frame: np.ndarray) -> list[str]:
        gray = to_gray(frame)
        found = self._zxing(gray) if self.backend == "zxing" else self._opencv(gray)
        return list(dict.fromkeys(found))

    @staticmethod
    def _zxing(gray: np.ndarray) -> list[str]:
        assert zxingcpp is not None
        results = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
        # The raw bytes, not .text: the text mode would escape control characters
        # into something printable, and those must be reported as a bad read.
        return [bytes(r.bytes).decode("utf-8", errors="replace") for r in results]

    def _opencv(self, gray: np.ndarray) -> list[str]:
        try:
            ok, texts, _points, _straight = self._detector.detectAndDecodeMulti(gray)
        except cv2.error as exc:
            # OpenCV 4.12 asserts inside its detector on very dark frames: no code there.
            log.debug("OpenCV QR detector failed on a frame: %s", exc)
            return []
        # A code that was located but not decoded comes back as an empty string.
        return [text for text in texts if text] if ok else []


class QrDebouncer:
    """One read per appearance of a code, however many frames it stays in view.

    A payload is new when it has not been seen for more than ``window`` seconds; a
    pass held in front of the camera for a minute is one read, the same pass shown
    again after it was taken away for longer than the window is a second one (which
    the gate then refuses as already used). Time is given, never read.
    """

    def __init__(self, window: float = 3.0) -> None:
        if window <= 0:
            raise ValueError("window must be positive")
        self.window = window
        self._last_seen: dict[str, float] = {}

    def feed(self, payloads: Iterable[str], now: float) -> list[str]:
        """The payloads of one frame taken at ``now``; returns the new appearances."""
        new = []
        for payload in dict.fromkeys(payloads):
            last = self._last_seen.get(payload)
            if last is None or now - last > self.window:
                new.append(payload)
            self._last_seen[payload] = now if last is None else max(last, now)
        self._forget(now)
        return new

    def _forget(self, now: float) -> None:
        # Keeps the table to the codes of the last few seconds, whatever is shown.
        gone = [p for p, seen in self._last_seen.items() if now - seen > self.window]
        for payload in gone:
            del self._last_seen[payload]


def _printable(payload: str) -> bool:
    # Visible ASCII only, no space: a credential is one token on a reader's line.
    return all("!" <= ch <= "~" for ch in payload)


def payload_read(reader: str, payload: str) -> Read:
    """The read of one decoded payload: ``qr:`` + payload, or why it is no credential."""
    shown = ascii(payload)[1:-1]  # control characters must not reach the log as-is
    if not payload:
        return Read.failed(reader, BadRead("empty QR payload"))
    if len(payload) > MAX_PAYLOAD:
        return Read.failed(reader, BadRead(f"QR payload longer than {MAX_PAYLOAD}", shown))
    if not _printable(payload):
        return Read.failed(reader, BadRead("QR payload is not printable ASCII", shown))
    return Read(reader=reader, credential=QR_PREFIX + payload)


class QrScanner:
    """A camera as a reader: frames in, ``Read`` values out, each pass once."""

    def __init__(
        self,
        reader: str,
        *,
        decoder: QrDecoder | None = None,
        debouncer: QrDebouncer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self.decoder = decoder if decoder is not None else QrDecoder()
        self.debouncer = debouncer if debouncer is not None else QrDebouncer()
        self._clock = clock

    def scan(self, frame: np.ndarray, now: float | None = None) -> list[Read]:
        """The new reads in one frame taken at ``now`` (default: the scanner's clock)."""
        when = self._clock() if now is None else now
        payloads = self.decoder.decode(frame)
        return [payload_read(self.reader, p) for p in self.debouncer.feed(payloads, when)]
