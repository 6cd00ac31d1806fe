"""QR decoding on generated frames, both backends, and the debounce in virtual time."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import qr
from drivers.base import Read
from drivers.qr import MAX_PAYLOAD, QrDebouncer, QrDecoder, QrScanner, payload_read
from tests import frames

# The shape of a real pass payload (edge/passes.py), 129 characters: a version 8 code.
PASS = (
    "KG1.WyJkIiwiUC0yMDI2MTEyNC0wMDEiLCJjMDAwMSIsIldhbmcgWGlhb21pbmciLDIwMjYxMTI0LDE3"
    "OTU1MDAwMDAsIioqKjU2NzgiXQ.AbCdEfGhIjKlMnOpQrStUv"
)
OTHER = PASS.replace("AbCd", "XyZw")
BACKENDS = ["zxing", "opencv"]


@pytest.fixture(params=BACKENDS)
def decoder(request: pytest.FixtureRequest) -> QrDecoder:
    return QrDecoder(request.param)


def test_both_backends_are_installed() -> None:
    assert qr.available_backends() == ["zxing", "opencv"]
    assert QrDecoder().backend == "zxing"


def test_decodes_a_clean_frame(decoder: QrDecoder) -> None:
    assert decoder.decode(frames.qr_frame(PASS)) == [PASS]


def test_accepts_gray_and_bgra_frames(decoder: QrDecoder) -> None:
    bgr = frames.qr_frame(PASS)
    gray = np.ascontiguousarray(bgr[:, :, 0])
    bgra = np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)])
    assert decoder.decode(gray) == [PASS]
    assert decoder.decode(bgra) == [PASS]


def test_frame_without_code_gives_nothing(decoder: QrDecoder) -> None:
    assert decoder.decode(frames.blank_frame()) == []
    assert decoder.decode(frames.noise(frames.blank_frame(), 30)) == []


def test_two_codes_in_one_frame(decoder: QrDecoder) -> None:
    assert sorted(decoder.decode(frames.two_codes_frame(PASS, OTHER))) == sorted([PASS, OTHER])


def test_the_same_code_twice_in_a_frame_is_one_payload(decoder: QrDecoder) -> None:
    assert decoder.decode(frames.two_codes_frame(PASS, PASS)) == [PASS]


def test_not_an_image_is_a_value_error(decoder: QrDecoder) -> None:
    with pytest.raises(ValueError, match="uint8"):
        decoder.decode(np.zeros((480, 640), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        decoder.decode(np.zeros((480, 640, 2), dtype=np.uint8))


# What a gate camera sees on an ordinary day: both backends must read these.
REALISTIC = {
    "tilted 35 degrees": frames.perspective(frames.qr_frame(PASS), 0.2),
    "slightly out of focus": frames.blur(frames.qr_frame(PASS, module_px=5), 1.5),
    "noisy sensor": frames.noise(frames.qr_frame(PASS), 40),
    "dim porch light": frames.dim(frames.qr_frame(PASS), 0.2),
    "dim and noisy": frames.noise(frames.dim(frames.qr_frame(PASS), 0.2), 8),
}


@pytest.mark.parametrize("case", sorted(REALISTIC))
def test_realistic_distortions_decode_on_both_backends(decoder: QrDecoder, case: str) -> None:
    assert decoder.decode(REALISTIC[case]) == [PASS]


# Harder frames: zxing-cpp still reads them; OpenCV's detector finds nothing, which is
# why it is only the fallback. It must say nothing rather than something wrong.
HARD = {
    "steep tilt": frames.perspective(frames.qr_frame(PASS), 0.3),
    "blurred": frames.blur(frames.qr_frame(PASS, module_px=5), 2.5),
    "at dusk": frames.dim(frames.qr_frame(PASS), 0.05),
    "dusk and noise": frames.noise(frames.dim(frames.qr_frame(PASS), 0.1), 3),
}


@pytest.mark.parametrize("case", sorted(HARD))
def test_hard_distortions_zxing_reads_opencv_finds_nothing(case: str) -> None:
    assert QrDecoder("zxing").decode(HARD[case]) == [PASS]
    assert QrDecoder("opencv").decode(HARD[case]) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_beyond_reading_gives_no_payload(backend: str) -> None:
    hopeless = frames.blur(frames.qr_frame(PASS, module_px=3), 3.0)
    assert QrDecoder(backend).decode(hopeless) == []


def test_without_zxing_the_opencv_detector_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qr, "zxingcpp", None)
    assert qr.available_backends() == ["opencv"]
    decoder = QrDecoder()
    assert decoder.backend == "opencv"
    assert decoder.decode(frames.qr_frame(PASS)) == [PASS]
    with pytest.raises(ValueError, match="zxing-cpp"):
        QrDecoder("zxing")


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        QrDecoder("zbar")  # type: ignore[arg-type]


# --- payloads as reads -----------------------------------------------------------------


def test_payload_becomes_a_qr_credential() -> None:
    assert payload_read("gate-cam", PASS) == Read(reader="gate-cam", credential="qr:" + PASS)
    longest = "A" * MAX_PAYLOAD
    assert payload_read("cam", longest).credential == "qr:" + longest


@pytest.mark.parametrize(
    ("payload", "error", "raw"),
    [
        ("", "empty QR payload", ""),
        ("A" * (MAX_PAYLOAD + 1), f"QR payload longer than {MAX_PAYLOAD}", "A" * 64),
        ("bell\x07", "QR payload is not printable ASCII", "bell\\x07"),
        ("two words", "QR payload is not printable ASCII", "two words"),
        ("café", "QR payload is not printable ASCII", "caf\\xe9"),
        ("line\nbreak", "QR payload is not printable ASCII", "line\\nbreak"),
    ],
)
def test_bad_payloads_are_failed_reads(payload: str, error: str, raw: str) -> None:
    read = payload_read("cam", payload)
    assert read == Read(reader="cam", credential=None, error=error, raw=raw)


# --- debounce in virtual time ------------------------------------------------------------


def test_a_code_held_in_view_is_one_read() -> None:
    debouncer = QrDebouncer(window=3.0)
    seen = [debouncer.feed([PASS], now=t / 10) for t in range(600)]  # a minute at 10 fps
    assert seen[0] == [PASS]
    assert all(s == [] for s in seen[1:])


def test_a_code_shown_again_after_the_window_is_a_new_read() -> None:
    debouncer = QrDebouncer(window=3.0)
    assert debouncer.feed([PASS], now=0.0) == [PASS]
    assert debouncer.feed([PASS], now=1.0) == []
    assert debouncer.feed([], now=2.0) == []
    assert debouncer.feed([PASS], now=4.0) == []  # away 3.0 s: not more than the window
    assert debouncer.feed([PASS], now=7.5) == [PASS]  # away 3.5 s


def test_debounce_keeps_codes_apart() -> None:
    debouncer = QrDebouncer(window=3.0)
    assert debouncer.feed([PASS], now=0.0) == [PASS]
    assert debouncer.feed([PASS, OTHER], now=0.5) == [OTHER]
    assert debouncer.feed([OTHER, OTHER], now=1.0) == []


def test_debounce_forgets_codes_that_left() -> None:
    debouncer = QrDebouncer(window=1.0)
    for i in range(100):
        debouncer.feed([f"code-{i}"], now=float(i))
    assert len(debouncer._last_seen) == 2  # the last second's codes only


def test_debounce_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        QrDebouncer(window=0)


@given(gaps=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=50))
def test_reads_equal_appearances(gaps: list[int]) -> None:
    """One read for the first sight and one for each absence longer than the window."""
    debouncer = QrDebouncer(window=3000)  # milliseconds: whole numbers keep the edge exact
    now, reads = 0, 0
    for gap in gaps:
        now += gap
        reads += len(debouncer.feed([PASS], now=now))
    assert reads == 1 + sum(1 for gap in gaps[1:] if gap > 3000)


# --- the scanner: frames in, reads out ---------------------------------------------------


def test_scanner_reads_a_pass_once_per_appearance() -> None:
    scanner = QrScanner("gate-cam")
    with_pass, empty = frames.qr_frame(PASS), frames.blank_frame()
    timeline = [(0.0, with_pass), (0.1, with_pass), (2.0, with_pass), (2.5, empty)]
    timeline += [(6.0, empty), (6.1, with_pass)]
    reads = [read for now, frame in timeline for read in scanner.scan(frame, now=now)]
    assert reads == [Read("gate-cam", "qr:" + PASS), Read("gate-cam", "qr:" + PASS)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_scanner_reports_a_foreign_code_as_a_bad_read_once(backend: str) -> None:
    scanner = QrScanner("gate-cam", decoder=QrDecoder(backend), clock=iter([0.0, 0.2]).__next__)
    frame = frames.qr_frame("WIFI:S:guest;T:WPA;P:secret pass;;")
    first, second = scanner.scan(frame), scanner.scan(frame)
    assert len(first) == 1 and first[0].credential is None
    assert first[0].error == "QR payload is not printable ASCII"
    assert second == []


def test_scanner_reports_control_characters_from_the_code_itself() -> None:
    scanner = QrScanner("gate-cam", clock=lambda: 0.0)
    reads = scanner.scan(frames.qr_frame("KG1.abc\x1bdef"))
    assert reads == [Read("gate-cam", None, "QR payload is not printable ASCII", "KG1.abc\\x1bdef")]
