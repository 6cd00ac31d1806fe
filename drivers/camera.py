"""A camera read on its own thread, watched, and reopened when it fails.

``Camera`` opens a V4L2 device (index or ``/dev/video*``), a video file or an
``rtsp://`` stream with OpenCV and hands every frame to ``on_frame`` on its capture
thread: the gate decodes QR codes there (zxing-cpp and OpenCV release the GIL) and
passes only the reads to its event loop. The newest frame is kept for snapshots.

A camera that cannot be opened, stops delivering frames, or shows the same picture
for ``freeze_seconds`` is reported through ``on_health`` (on each change between ok
and not ok) and reopened, waiting ``backoff`` seconds between tries, doubling up to
a limit. A video file that ends is played again, for demos. A read that hangs
inside OpenCV is seen by ``check`` (call it from the gate's periodic tick); network
streams are opened with OpenCV's FFmpeg timeouts so such a read returns.

This is the only module that opens a camera; the gate imports it only when one is
configured, so a gate without a camera never loads OpenCV.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)

Source = int | str


class Capture(Protocol):
    """What the camera needs of ``cv2.VideoCapture``."""

    def isOpened(self) -> bool: ...  # OpenCV's spelling

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def release(self) -> None: ...


CaptureFactory = Callable[[Source], Capture]


@dataclass(frozen=True, slots=True)
class CameraHealth:
    camera: str
    ok: bool
    detail: str


def parse_source(source: Source) -> Source:
    """A V4L2 index given as text ("0") becomes the number OpenCV expects."""
    if isinstance(source, str) and source.isascii() and source.isdigit():
        return int(source)
    return source


def open_capture(source: Source, *, timeout: float = 10.0) -> Capture:
    """Open a source with the settings each kind needs (the default capture factory)."""
    source = parse_source(source)
    if isinstance(source, str) and "://" in source:
        # Without these FFmpeg waits ~30 s on a dead stream, longer to open one.
        ms = int(timeout * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        return cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)
    if isinstance(source, int) or source.startswith("/dev/"):
        capture = cv2.VideoCapture(source, cv2.CAP_V4L2)
        # One buffered frame: a pass shown now is decoded now, not a second later.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return capture
    return cv2.VideoCapture(source)


def _signature(frame: np.ndarray) -> int:
    # A sparse sample is enough: a live sensor's noise changes some of these pixels.
    return zlib.crc32(np.ascontiguousarray(frame[::8, ::8]).tobytes())


class Camera:
    """One camera, captured on its own thread from ``start()`` until ``close()``."""

    def __init__(
        self,
        name: str,
        source: Source,
        *,
        on_frame: Callable[[np.ndarray], None],
        on_health: Callable[[CameraHealth], None] | None = None,
        fps: float | None = 10.0,
        capture_factory: CaptureFactory | None = None,
        stall_seconds: float = 10.0,
        freeze_seconds: float = 60.0,
        backoff: tuple[float, float] = (0.5, 30.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if fps is not None and fps <= 0:
            raise ValueError("fps must be positive")
        if not 0 < backoff[0] <= backoff[1]:
            raise ValueError("backoff must be (first, longest) with 0 < first <= longest")
        self.name = name
        self.source = parse_source(source)
        self._on_frame = on_frame
        self._on_health = on_health
        self._interval = 0.0 if fps is None else 1.0 / fps
        self._factory = capture_factory or functools.partial(open_capture, timeout=stall_seconds)
        self._stall = stall_seconds
        self._freeze = freeze_seconds
        self._backoff = backoff
        self._clock = clock
        self._is_file = isinstance(self.source, str) and _is_video_file(self.source)
        self._lock = threading.Lock()
        self._report_lock = threading.Lock()
        self._latest: np.ndarray | None = None
        self._last_frame_at: float | None = None
        self._health: CameraHealth | None = None
        self._last_sig: int | None = None  # kept across reopens, see _pump
        self._changed_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"camera {self.name} already started")
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)
        self._thread.start()

    def latest(self) -> np.ndarray | None:
        """The newest frame (shared, do not modify it), or None before the first."""
        with self._lock:
            return self._latest

    @property
    def health(self) -> CameraHealth | None:
        with self._lock:
            return self._health

    def check(self, now: float | None = None) -> CameraHealth | None:
        """Report the camera unhealthy when no frame came for ``stall_seconds``.

        The capture thread notices everything except a read that never returns;
        the gate's periodic tick calls this to notice that too.
        """
        now = self._clock() if now is None else now
        with self._lock:
            last, health = self._last_frame_at, self._health
        if health is not None and health.ok and last is not None and now - last > self._stall:
            self._report(False, f"no frame for {now - last:.0f} s")
        return self.health

    def close(self, timeout: float = 5.0) -> None:
        """Stop capturing and wait for the thread; safe to call again."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("camera %s: capture thread still inside a read", self.name)

    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            problem, moved = self._session()
            if self._stop.is_set():
                break
            if problem is None:  # a video file ended: play it again
                continue
            if moved:
                delay = self._backoff[0]
            self._report(False, problem)
            log.warning("camera %s: %s; reopening in %.1f s", self.name, problem, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self._backoff[1])

    def _session(self) -> tuple[str | None, bool]:
        """Open the source and pump frames; (what went wrong, whether the picture moved)."""
        try:
            capture = self._factory(self.source)
        except Exception as exc:  # a broken driver must not end the capture thread
            return f"cannot open {self.source}: {exc}", False
        try:
            if not capture.isOpened():
                return f"cannot open {self.source}", False
            return self._pump(capture)
        except Exception as exc:
            return f"capture failed: {exc}", False
        finally:
            capture.release()

    def _pump(self, capture: Capture) -> tuple[str | None, bool]:
        """Frames until the stream fails; (what went wrong, whether the picture moved)."""
        moved, due = False, 0.0
        while not self._stop.is_set():
            ok, frame = capture.read()
            now = self._clock()
            if not ok or frame is None:
                if moved and self._is_file:
                    return None, True
                return "camera stopped delivering frames", moved
            # Healthy means fresh pictures: a reopened stream that still shows the
            # frozen picture stays unhealthy instead of flapping at every reopen.
            sig = _signature(frame)
            if sig != self._last_sig or self._changed_at is None:
                self._last_sig, self._changed_at, moved = sig, now, True
                self._report(True, "streaming")
            elif now - self._changed_at > self._freeze:
                return f"picture frozen for {now - self._changed_at:.0f} s", moved
            with self._lock:
                self._latest, self._last_frame_at = frame, now
            if now >= due:
                due = now + self._interval
                self._deliver(frame)
            if self._is_file:  # a file reads as fast as it decodes: play it at fps
                self._stop.wait(max(0.0, due - self._clock()))
        return None, moved

    def _deliver(self, frame: np.ndarray) -> None:
        try:
            self._on_frame(frame)
        except Exception:
            log.exception("camera %s: frame handler failed", self.name)

    def _report(self, ok: bool, detail: str) -> None:
        if self._health is not None and self._health.ok == ok:
            return  # the common case, every frame: no lock needed to see nothing changed
        # Serialised, so handlers see changes in the order they happened even when the
        # capture thread and check() report at once.
        with self._report_lock:
            with self._lock:
                if self._health is not None and self._health.ok == ok:
                    return
                self._health = health = CameraHealth(self.name, ok, detail)
            (log.info if ok else log.warning)("camera %s: %s", self.name, detail)
            if self._on_health is not None:
                try:
                    self._on_health(health)
                except Exception:
                    log.exception("camera %s: health handler failed", self.name)


def _is_video_file(source: str) -> bool:
    return "://" not in source and not source.startswith("/dev/") and os.path.isfile(source)
