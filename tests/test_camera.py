"""The camera thread against a scripted fake capture and a real video file.

Nothing here sleeps: the tests wait on a condition with a deadline, and the fake
capture moves a fake clock forward by one step per frame, so "frozen for 5 s" and
"no frame for 11 s" happen in virtual time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.camera import Camera, CameraHealth, Source, open_capture, parse_source
from drivers.qr import QrScanner
from tests import frames

DEADLINE = 10.0  # seconds of real time for anything to happen; only reached on failure
FAST_BACKOFF = (0.001, 0.01)


def numbered(n: int) -> np.ndarray:
    """A small frame whose content is its number: consecutive frames always differ."""
    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    frame[:, :, 0], frame[:, :, 1] = n % 256, n // 256
    return frame


def number_of(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0]) + 256 * int(frame[0, 0, 1])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Feed:
    """The far end of the cable; every capture opened on it sees its current state.

    ``live`` serves numbered frames (up to ``limit``), ``gone`` fails opens and reads,
    ``frozen`` repeats one picture, ``hung`` blocks inside read() until ``unblock``.
    """

    def __init__(self, clock: FakeClock, step: float = 0.1) -> None:
        self.clock, self.step = clock, step
        self.state = "live"
        self.limit: int | None = None
        self.served = 0
        self.opens: list[Source] = []
        self.releases = 0
        self.fail_opens = 0
        self.read_blocked = threading.Event()
        self.unblock = threading.Event()
        self.on_open: Callable[[], None] = lambda: None

    def factory(self, source: Source) -> FakeCapture:
        self.opens.append(source)
        self.on_open()
        if self.fail_opens:
            self.fail_opens -= 1
            raise OSError("device busy")
        return FakeCapture(self, opened=self.state != "gone")

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.state == "hung":
            self.read_blocked.set()
            self.unblock.wait(DEADLINE)
            return False, None
        if self.state == "gone" or (self.limit is not None and self.served >= self.limit):
            return False, None
        self.clock.now += self.step
        if self.state == "frozen":
            return True, numbered(0)
        self.served += 1
        return True, numbered(self.served)


class FakeCapture:
    def __init__(self, feed: Feed, opened: bool) -> None:
        self.feed, self.opened = feed, opened

    def isOpened(self) -> bool:  # the name cv2.VideoCapture has
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        return self.feed.read() if self.opened else (False, None)

    def release(self) -> None:
        self.feed.releases += 1


class Recorder:
    """Collects what the camera hands out, and waits for it with a deadline."""

    def __init__(self) -> None:
        self.frames: list[int] = []
        self.health: list[CameraHealth] = []
        self._cond = threading.Condition()

    def on_frame(self, frame: np.ndarray) -> None:
        with self._cond:
            self.frames.append(number_of(frame))
            self._cond.notify_all()

    def on_health(self, health: CameraHealth) -> None:
        with self._cond:
            self.health.append(health)
            self._cond.notify_all()

    def poke(self) -> None:
        """Something a waiter may be waiting for changed outside the callbacks."""
        with self._cond:
            self._cond.notify_all()

    def wait(self, predicate: Callable[[], bool], what: str) -> None:
        with self._cond:
            assert self._cond.wait_for(predicate, DEADLINE), f"timed out waiting for {what}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def feed(clock: FakeClock) -> Iterator[Feed]:
    feed = Feed(clock)
    yield feed
    feed.unblock.set()  # never leave a capture thread inside a read


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def make_camera(feed: Feed, rec: Recorder, clock: FakeClock) -> Iterator[Callable[..., Camera]]:
    cameras: list[Camera] = []
    feed.on_open = rec.poke

    def make(**options: object) -> Camera:
        settings: dict[str, object] = dict(
            on_frame=rec.on_frame,
            on_health=rec.on_health,
            fps=None,
            capture_factory=feed.factory,
            stall_seconds=10.0,
            freeze_seconds=5.0,
            backoff=FAST_BACKOFF,
            clock=clock,
        )
        settings.update(options)
        camera = Camera("gate", "0", **settings)  # type: ignore[arg-type]
        cameras.append(camera)
        return camera

    yield make
    for camera in cameras:
        camera.close()


OK = CameraHealth("gate", True, "streaming")


def test_a_camera_that_disappears_mid_stream_is_reported_and_reopened(
    make_camera: Callable[..., Camera], feed: Feed, rec: Recorder
) -> None:
    camera = make_camera()
    assert camera.latest() is None and camera.health is None
    camera.start()
    rec.wait(lambda: len(rec.frames) >= 5, "frames")
    feed.state = "gone"
    rec.wait(lambda: len(rec.health) == 2, "the outage")
    assert rec.health == [OK, CameraHealth("gate", False, "camera stopped delivering frames")]
    opens_when_gone = len(feed.opens)
    rec.wait(lambda: len(feed.opens) >= opens_when_gone + 3, "three more tries to open")
    seen = len(rec.frames)
    feed.state = "live"
    rec.wait(lambda: len(rec.health) == 3 and len(rec.frames) > seen + 5, "recovery")
    camera.close()
    assert rec.health == [OK, rec.health[1], OK]
    assert camera.health == OK
    assert feed.opens[0] == 0  # "0" is V4L2 device index 0
    assert feed.releases == len(feed.opens) - feed.fail_opens
    latest = camera.latest()
    assert latest is not None and number_of(latest) == feed.served


def test_a_frozen_picture_is_reported_and_does_not_flap(
    make_camera: Callable[..., Camera], feed: Feed, rec: Recorder
) -> None:
    feed.state = "frozen"
    camera = make_camera()
    camera.start()
    rec.wait(lambda: len(rec.health) == 2, "the freeze")
    assert rec.health == [OK, CameraHealth("gate", False, "picture frozen for 5 s")]
    opens = len(feed.opens)
    rec.wait(lambda: len(feed.opens) >= opens + 3, "reopens of the frozen stream")
    assert len(rec.health) == 2  # still frozen after reopening: no ok in between
    feed.state = "live"
    rec.wait(lambda: len(rec.health) == 3, "recovery")
    assert rec.health[2] == OK


def test_a_read_that_hangs_is_caught_by_check(
    make_camera: Callable[..., Camera], feed: Feed, rec: Recorder, clock: FakeClock
) -> None:
    camera = make_camera()
    camera.start()
    rec.wait(lambda: len(rec.frames) >= 3, "frames")
    assert camera.check(clock.now) == OK
    feed.state = "hung"
    assert feed.read_blocked.wait(DEADLINE)
    stuck_since = clock.now
    assert camera.check(stuck_since + 9) == OK  # not yet: stall_seconds is 10
    hung = CameraHealth("gate", False, "no frame for 11 s")
    assert camera.check(stuck_since + 11) == hung
    assert camera.check(stuck_since + 12) == hung  # reported once
    feed.state = "live"
    feed.unblock.set()
    rec.wait(lambda: len(rec.health) == 3, "recovery")
    assert rec.health == [OK, hung, OK]


def test_a_camera_that_cannot_be_opened_is_retried(
    make_camera: Callable[..., Camera], feed: Feed, rec: Recorder
) -> None:
    feed.fail_opens = 3
    camera = make_camera()
    camera.start()
    rec.wait(lambda: len(rec.health) == 2, "open failure, then frames")
    assert rec.health == [CameraHealth("gate", False, "cannot open 0: device busy"), OK]
    assert feed.opens == [0, 0, 0, 0]


def test_a_failing_frame_handler_does_not_stop_capture(
    make_camera: Callable[..., Camera], rec: Recorder
) -> None:
    def broken(frame: np.ndarray) -> None:
        rec.on_frame(frame)
        raise RuntimeError("handler bug")

    make_camera(on_frame=broken).start()
    rec.wait(lambda: len(rec.frames) >= 10, "frames despite the failing handler")
    assert rec.frames[:10] == list(range(1, 11))


def test_fps_limits_frames_handed_out_not_frames_read(
    make_camera: Callable[..., Camera], feed: Feed, rec: Recorder
) -> None:
    feed.step, feed.limit = 1.0, 20  # whole seconds: exact in floating point
    camera = make_camera(fps=0.5)
    camera.start()
    rec.wait(lambda: len(rec.health) == 2, "the end of the scripted stream")
    assert rec.frames == [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]
    latest = camera.latest()
    assert latest is not None and number_of(latest) == 20


def test_close_is_safe_twice_and_stops_the_thread(
    make_camera: Callable[..., Camera], feed: Feed, rec: Recorder
) -> None:
    make_camera().close()  # never started
    camera = make_camera()
    camera.start()
    with pytest.raises(RuntimeError):
        camera.start()
    rec.wait(lambda: len(rec.frames) >= 3, "frames")
    thread = next(t for t in threading.enumerate() if t.name == "camera-gate")
    camera.close()
    camera.close()
    assert not thread.is_alive()
    assert feed.releases == len(feed.opens)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"fps": 0}, "fps"), ({"backoff": (0, 1)}, "backoff"), ({"backoff": (2, 1)}, "backoff")],
)
def test_bad_options_are_refused(
    make_camera: Callable[..., Camera], options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_camera(**options)


# --- real OpenCV captures ---------------------------------------------------------------


def write_video(path: Path, images: list[np.ndarray]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (640, 480))
    assert writer.isOpened()
    for image in images:
        writer.write(image)
    writer.release()
    return path


def test_a_video_file_plays_and_replays_without_health_alarms(
    tmp_path: Path, rec: Recorder
) -> None:
    shades = [frames.blank_frame(level) for level in range(20, 240, 20)]  # 11 distinct frames
    video = write_video(tmp_path / "gate.avi", shades)
    shapes: list[tuple[int, ...]] = []

    def on_frame(frame: np.ndarray) -> None:
        shapes.append(frame.shape)
        rec.on_frame(frame)

    camera = Camera("file", str(video), on_frame=on_frame, on_health=rec.on_health, fps=1000.0)
    camera.start()
    try:
        rec.wait(lambda: len(rec.frames) >= 3 * len(shades), "three plays of the file")
    finally:
        camera.close()
    assert rec.health == [CameraHealth("file", True, "streaming")]
    assert set(shapes) == {(480, 640, 3)}


def test_a_video_of_a_pass_gives_one_read(tmp_path: Path) -> None:
    payload = "KG1.eyJwYXNzIjoxfQ.AbCdEfGhIjKlMnOpQrStUv"
    video = write_video(tmp_path / "pass.avi", [frames.qr_frame(payload, module_px=5)] * 5)
    scanner = QrScanner("gate-cam", clock=lambda: 0.0)  # all frames within one window
    reads, done = [], threading.Event()

    def on_frame(frame: np.ndarray) -> None:
        reads.extend(scanner.scan(frame))
        done.set()

    camera = Camera("file", str(video), on_frame=on_frame, fps=1000.0)
    camera.start()
    try:
        assert done.wait(DEADLINE)
    finally:
        camera.close()
    assert [read.credential for read in reads] == ["qr:" + payload]


def test_a_missing_file_is_reported(tmp_path: Path, rec: Recorder) -> None:
    missing = str(tmp_path / "none.avi")
    camera = Camera("file", missing, on_frame=rec.on_frame, on_health=rec.on_health)
    camera.start()
    try:
        rec.wait(lambda: len(rec.health) == 1, "the open failure")
    finally:
        camera.close()
    assert rec.health == [CameraHealth("file", False, f"cannot open {missing}")]


def test_sources() -> None:
    assert parse_source("0") == 0
    assert parse_source(2) == 2
    assert parse_source("/dev/video0") == "/dev/video0"
    assert parse_source("rtsp://cam/stream") == "rtsp://cam/stream"
    assert parse_source("٣") == "٣"  # a digit, but not an index OpenCV knows
    assert not open_capture("/dev/video-missing").isOpened()
