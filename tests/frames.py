"""Camera frames for the QR tests: a pass rendered with segno, then distorted.

Every helper returns a new 640×480 BGR ``uint8`` frame, the shape a USB camera
hands out, and is deterministic (noise takes a seed) so a failing test can be
reproduced exactly.
"""

from __future__ import annotations

import cv2
import numpy as np
import segno

WIDTH = 640
HEIGHT = 480
BACKGROUND = 170  # a grey wall behind the pass, not a white page: the real scene


def qr_image(payload: str, *, module_px: int = 4, border: int = 4) -> np.ndarray:
    """The QR code of ``payload`` as a grayscale image, ``module_px`` pixels a module."""
    code = segno.make_qr(payload, error="m")
    modules = np.array(code.matrix, dtype=np.uint8)
    image = np.where(modules > 0, 0, 255).astype(np.uint8)
    image = np.pad(image, border, constant_values=255)
    return np.kron(image, np.ones((module_px, module_px), dtype=np.uint8))


def blank_frame(level: int = BACKGROUND) -> np.ndarray:
    """A frame with no code in it: the gate's camera most of the day."""
    return np.full((HEIGHT, WIDTH, 3), level, dtype=np.uint8)


def paste(frame: np.ndarray, image: np.ndarray, left: int, top: int) -> np.ndarray:
    """``frame`` with the grayscale ``image`` pasted at (left, top)."""
    out = frame.copy()
    height, width = image.shape
    if top + height > HEIGHT or left + width > WIDTH:
        raise ValueError(f"a {width}x{height} code does not fit at ({left}, {top})")
    out[top : top + height, left : left + width] = image[..., None]
    return out


def qr_frame(
    payload: str, *, module_px: int = 4, center: tuple[int, int] | None = None
) -> np.ndarray:
    """A frame with one code, centred unless ``center`` says where."""
    image = qr_image(payload, module_px=module_px)
    cx, cy = center if center is not None else (WIDTH // 2, HEIGHT // 2)
    height, width = image.shape
    return paste(blank_frame(), image, cx - width // 2, cy - height // 2)


def two_codes_frame(first: str, second: str, *, module_px: int = 3) -> np.ndarray:
    """Two passes held up side by side."""
    frame = blank_frame()
    left = qr_image(first, module_px=module_px)
    right = qr_image(second, module_px=module_px)
    frame = paste(frame, left, 20, (HEIGHT - left.shape[0]) // 2)
    return paste(frame, right, WIDTH - 20 - right.shape[1], (HEIGHT - right.shape[0]) // 2)


def perspective(frame: np.ndarray, tilt: float) -> np.ndarray:
    """The frame seen at an angle: the top edge shrinks by ``tilt`` of the width.

    A pass held tilted back towards the camera looks like this; 0.2 is a phone held
    about 35 degrees off the lens axis.
    """
    inset = tilt * WIDTH / 2
    src = np.float32([[0, 0], [WIDTH, 0], [WIDTH, HEIGHT], [0, HEIGHT]])
    dst = np.float32([[inset, 0], [WIDTH - inset, 0], [WIDTH, HEIGHT], [0, HEIGHT]])
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(frame, matrix, (WIDTH, HEIGHT), borderValue=(BACKGROUND,) * 3)


def blur(frame: np.ndarray, sigma: float) -> np.ndarray:
    """Out of focus or moving: a Gaussian blur of ``sigma`` pixels."""
    return cv2.GaussianBlur(frame, (0, 0), sigmaX=sigma)


def noise(frame: np.ndarray, sigma: float, *, seed: int = 7) -> np.ndarray:
    """Sensor noise in a dim room: additive Gaussian noise of ``sigma`` grey levels."""
    rng = np.random.default_rng(seed)
    noisy = frame.astype(np.float32) + rng.normal(0.0, sigma, frame.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def dim(frame: np.ndarray, factor: float) -> np.ndarray:
    """Dusk at the gate: every pixel scaled by ``factor`` (0.2 = a fifth of the light)."""
    return np.clip(frame.astype(np.float32) * factor, 0, 255).astype(np.uint8)
