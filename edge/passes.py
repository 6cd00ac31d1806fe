"""Signed one-time QR passes for delegates and visitors.

A pass is the text of a QR code::

    KG1.<body>.<mac>

``body`` is the base64url (unpadded) of a compact JSON array
``[kind, id, child, name, yyyymmdd, expires_unix, masked_phone]`` and ``mac`` the
base64url of HMAC-SHA256 over ``KG1.<body>``, truncated to 128 bits. The MAC key is
derived from the site key, so a pass can never be confused with a signed command.
A typical pass is ~130 characters: a version 8 QR code (49×49 modules) at level M.

The body is signed, not encrypted: anyone holding the pass can read the name on it,
so only a masked phone number goes in, and the child is named by roster id only.

Single use is not decided here: ``verify_pass`` is pure and says only whether a pass
is genuine and valid today. The gate's store records the id of every pass that
opened the gate and refuses a pass whose id it has already recorded.

``issue_pass`` and ``verify_pass`` do no I/O; the two ``render_*`` functions at the
end write printable passes and import their imaging libraries when called.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import hmac
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.events import Reason

VERSION = "KG1"
MAC_BYTES = 16  # 128 bits: forging one means guessing 2**128 codes, each scanned at a gate
MIN_KEY_BYTES = 16
MAX_PAYLOAD = 512  # the camera driver refuses longer codes
MAX_NAME = 64
_PASS_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_CHILD_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,32}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_KEY_LABEL = b"kindergate qr pass v1"


class PassKind(enum.StrEnum):
    DELEGATE = "delegate"  # collects a named child on the family's behalf
    VISITOR = "visitor"  # a registered visitor; a child is optional (the host)


_KIND_CODES = {PassKind.DELEGATE: "d", PassKind.VISITOR: "v"}
_CODE_KINDS = {code: kind for kind, code in _KIND_CODES.items()}


class PassRejected(ValueError):
    """A pass that must not open the gate, refused before the release rules see it.

    ``reason``: ``bad_signature`` (forged, tampered, truncated or not a pass at all),
    ``expired`` (past its time) or ``wrong_date`` (for another day).
    """

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Pass:
    id: str
    kind: PassKind
    child: str | None
    name: str
    date: dt.date
    expires: dt.datetime  # aware, UTC
    phone: str | None  # masked: "***5678"


def mask_phone(phone: str) -> str:
    """Only the last four digits, enough for a guard to ask "ending in 5678?"."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "***" + digits[-4:] if len(digits) >= 4 else "***"


def issue_pass(
    key: bytes,
    *,
    kind: PassKind | str,
    pass_id: str,
    child: str | None,
    name: str,
    date: dt.date,
    expires: dt.datetime,
    phone: str | None = None,
) -> str:
    """The QR payload of a new pass; ``ValueError`` for a field that cannot go in one."""
    kind = PassKind(kind)
    _check_fields(kind, pass_id, child, name, expires)
    body = [
        _KIND_CODES[kind],
        pass_id,
        child,
        name.strip(),
        int(date.strftime("%Y%m%d")),
        int(expires.timestamp()),
        mask_phone(phone) if phone else None,
    ]
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    signed = f"{VERSION}.{_b64encode(text.encode())}"
    payload = f"{signed}.{_b64encode(_mac(key, signed))}"
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"pass would be {len(payload)} characters, over {MAX_PAYLOAD}")
    return payload


def _check_fields(
    kind: PassKind, pass_id: str, child: str | None, name: str, expires: dt.datetime
) -> None:
    if not _PASS_ID.match(pass_id):
        raise ValueError("pass_id must be 1-32 letters, digits, '-' or '_'")
    if kind is PassKind.DELEGATE and child is None:
        raise ValueError("a delegate pass names the child to collect")
    if child is not None and not _CHILD_ID.match(child):
        raise ValueError("child must be a roster id: 1-32 letters, digits or -_.:")
    if not name.strip() or len(name) > MAX_NAME or not name.isprintable():
        raise ValueError(f"name must be 1-{MAX_NAME} printable characters")
    if expires.tzinfo is None:
        raise ValueError("expires must carry a time zone")


def verify_pass(key: bytes, payload: str, *, today: dt.date, now: dt.datetime) -> Pass:
    """The pass in ``payload`` when it is genuine and valid at ``now``.

    Raises ``PassRejected`` with reason ``bad_signature`` (forged, tampered or
    malformed), ``expired`` (``now`` at or past its expiry, checked first), or
    ``wrong_date`` (issued for another day than ``today``). Whether the pass was
    already used is the caller's question: see the module docstring.
    """
    if now.tzinfo is None:
        raise TypeError("now must carry a time zone")
    the_pass = _parse_body(_authenticated_body(key, payload))
    if now >= the_pass.expires:
        raise PassRejected(Reason.EXPIRED, f"pass {the_pass.id} expired {the_pass.expires}")
    if the_pass.date != today:
        raise PassRejected(Reason.WRONG_DATE, f"pass {the_pass.id} is for {the_pass.date}")
    return the_pass


def _authenticated_body(key: bytes, payload: str) -> bytes:
    parts = payload.split(".") if len(payload) <= MAX_PAYLOAD else []
    if len(parts) != 3 or parts[0] != VERSION:
        raise _forged("not a KG1 pass")
    body, mac = _b64decode(parts[1]), _b64decode(parts[2])
    expected = _mac(key, f"{parts[0]}.{parts[1]}")
    if body is None or mac is None or not hmac.compare_digest(mac, expected):
        raise _forged("signature does not match")
    return body


def _parse_body(body: bytes) -> Pass:
    # The MAC matched, so only a key holder wrote this; stay strict all the same.
    try:
        kind, pass_id, child, name, day, expires, phone = json.loads(body)
        return Pass(
            id=_typed(pass_id, str),
            kind=_CODE_KINDS[kind],
            child=None if child is None else _typed(child, str),
            name=_typed(name, str),
            date=dt.datetime.strptime(str(_typed(day, int)), "%Y%m%d").date(),
            expires=dt.datetime.fromtimestamp(_typed(expires, int), dt.UTC),
            phone=None if phone is None else _typed(phone, str),
        )
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise _forged(f"malformed body: {exc}") from None


def _typed(value: Any, kind: type) -> Any:
    if type(value) is not kind:
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _forged(detail: str) -> PassRejected:
    return PassRejected(Reason.BAD_SIGNATURE, detail)


def _mac(key: bytes, signed: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the pass key must be at least {MIN_KEY_BYTES} bytes")
    pass_key = hmac.new(key, _KEY_LABEL, hashlib.sha256).digest()
    return hmac.new(pass_key, signed.encode(), hashlib.sha256).digest()[:MAC_BYTES]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes | None:
    """Strict unpadded base64url: exactly one spelling decodes to given bytes."""
    if not _B64URL.match(text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return data if _b64encode(data) == text else None


# --- printable passes -------------------------------------------------------------------

PDF_FONT_PT = 12
PDF_MODULE_PT = 4.0  # a typical (version 8) code is then 228 pt (80 mm) with its quiet zone
QUIET_MODULES = 4


def render_pass_png(
    payload: str, path: str | os.PathLike[str], *, title_lines: Sequence[str] = ()
) -> Path:
    """A PNG of the pass: the code with ``title_lines`` printed underneath.

    The lines are drawn with OpenCV's built-in font, which has Latin letters only;
    other characters print as ``?`` (the guard reads the name from the scan anyway).
    """
    import cv2
    import numpy as np

    module_px, line_px, font, scale = 8, 36, cv2.FONT_HERSHEY_SIMPLEX, 0.8
    modules = np.array(_qr_matrix(payload), dtype=np.uint8)
    code = np.pad(
        np.where(modules > 0, 0, 255).astype(np.uint8), QUIET_MODULES, constant_values=255
    )
    code = np.kron(code, np.ones((module_px, module_px), dtype=np.uint8))
    lines = [_latin(line, "ascii") for line in title_lines]
    margin = QUIET_MODULES * module_px
    widest = max((cv2.getTextSize(line, font, scale, 2)[0][0] for line in lines), default=0)
    width = max(code.shape[1], widest + 2 * margin)  # long lines widen the card, never clip
    card = np.full((code.shape[0] + line_px * len(lines) + 12, width), 255, dtype=np.uint8)
    left = (width - code.shape[1]) // 2
    card[: code.shape[0], left : left + code.shape[1]] = code
    for i, line in enumerate(lines):
        origin = (margin, code.shape[0] + line_px * (i + 1) - 12)
        cv2.putText(card, line, origin, font, scale, 0, 2, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", card)
    if not ok:
        raise ValueError("could not encode the pass as PNG")
    return _write_private(Path(path), png.tobytes())


def render_pass_pdf(
    payload: str, path: str | os.PathLike[str], *, title_lines: Sequence[str] = ()
) -> Path:
    """A one-page A6 PDF of the pass: ``title_lines`` above the code, all vector.

    Text is set in Helvetica; characters outside Windows-1252 print as ``?``.
    """
    page_w, page_h, margin = 298, 420, 24
    matrix = _qr_matrix(payload)
    span = len(matrix) + 2 * QUIET_MODULES
    unit = min(PDF_MODULE_PT, (page_w - 2 * margin) / span)  # long payloads still fit
    left = (page_w - span * unit) / 2 + QUIET_MODULES * unit
    ops = ["BT", f"/F1 {PDF_FONT_PT} Tf", f"{margin} {page_h - margin - PDF_FONT_PT} Td"]
    for line in title_lines:
        ops += [f"({_pdf_text(line)}) Tj", f"0 {-PDF_FONT_PT * 1.4:.1f} Td"]
    ops += ["ET", "0 g", *_pdf_rects(matrix, left, margin + QUIET_MODULES * unit, unit), "f"]
    content = "\n".join(ops).encode("cp1252", errors="replace")
    return _write_private(Path(path), _pdf_document(content, page_w, page_h))


def _qr_matrix(payload: str) -> list[bytearray]:
    import segno

    return list(segno.make_qr(payload, error="m").matrix)


def _pdf_rects(matrix: list[bytearray], left: float, bottom: float, unit: float) -> list[str]:
    """One rectangle per horizontal run of dark modules, rows from the top down."""
    rects, rows = [], len(matrix)
    for r, row in enumerate(matrix):
        y = bottom + (rows - 1 - r) * unit
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            rects.append(
                f"{left + start * unit:.2f} {y:.2f} {(c - start) * unit:.2f} {unit:.2f} re"
            )
    return rects


def _pdf_document(content: bytes, width: int, height: int) -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content) + 1, content),
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _latin(text: str, codec: str) -> str:
    return text.encode(codec, errors="replace").decode(codec)


def _pdf_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _write_private(path: Path, data: bytes) -> Path:
    # A pass opens the gate once: readable by its owner only until it is printed.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path
