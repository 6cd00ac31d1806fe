"""Signed passes: round trip, every way to be refused, and the printed pass reads back."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno
from hypothesis import given
from hypothesis import strategies as st

from drivers.qr import QrDecoder, payload_read
from edge import passes
from edge.events import Reason
from edge.passes import (
    Pass,
    PassKind,
    PassRejected,
    issue_pass,
    mask_phone,
    render_pass_pdf,
    render_pass_png,
    verify_pass,
)

KEY = bytes.fromhex("8f2a" * 16)
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2026, 11, 24)
EXPIRES = dt.datetime(2026, 11, 24, 18, 0, tzinfo=SHANGHAI)
AFTERNOON = dt.datetime(2026, 11, 24, 16, 2, 10, tzinfo=SHANGHAI)


def delegate(**changes: object) -> str:
    fields: dict[str, object] = dict(
        kind="delegate",
        pass_id="P-20261124-001",
        child="c0001",
        name="Wang Xiaoming",
        date=DAY,
        expires=EXPIRES,
        phone="+86 138 1234 5678",
    )
    fields.update(changes)
    return issue_pass(KEY, **fields)  # type: ignore[arg-type]


def reason_of(
    payload: str, *, key: bytes = KEY, today: dt.date = DAY, now: dt.datetime = AFTERNOON
) -> str:
    with pytest.raises(PassRejected) as caught:
        verify_pass(key, payload, today=today, now=now)
    return caught.value.reason


def test_a_delegate_pass_round_trips() -> None:
    assert verify_pass(KEY, delegate(), today=DAY, now=AFTERNOON) == Pass(
        id="P-20261124-001",
        kind=PassKind.DELEGATE,
        child="c0001",
        name="Wang Xiaoming",
        date=DAY,
        expires=dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC),
        phone="***5678",
    )


def test_a_visitor_pass_needs_no_child_nor_phone() -> None:
    payload = issue_pass(
        KEY,
        kind=PassKind.VISITOR,
        pass_id="V7",
        child=None,
        name="王小明",
        date=DAY,
        expires=EXPIRES,
    )
    the_pass = verify_pass(KEY, payload, today=DAY, now=AFTERNOON)
    assert (the_pass.kind, the_pass.child, the_pass.name, the_pass.phone) == (
        PassKind.VISITOR,
        None,
        "王小明",
        None,
    )


def test_the_payload_is_short_and_a_valid_qr_credential() -> None:
    payload = delegate()
    version, _body, mac = payload.split(".")
    assert version == "KG1"
    assert len(mac) == 22  # 16 bytes: 128 bits of MAC
    assert len(payload) == 129
    assert payload_read("cam", payload).credential == "qr:" + payload
    assert segno.make_qr(payload, error="m").version == 8  # 49×49 modules


def test_only_the_masked_phone_is_in_the_code() -> None:
    assert "5678" not in delegate()  # not even in clear text of the base64 body
    body = passes._b64decode(delegate().split(".")[1])
    assert body is not None
    assert b"1234" not in body
    assert b"***5678" in body


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13812345678", "***5678"), ("+86 138-1234-5678", "***5678"), ("12", "***"), ("", "***")],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


# --- refusals ---------------------------------------------------------------------------


def test_another_key_is_a_bad_signature() -> None:
    assert reason_of(delegate(), key=b"another site key, 32 bytes long!") == Reason.BAD_SIGNATURE


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "KG1",
        "KG1..",
        "card:0004567890",
        "qr:" + "KG1.e30.AAAAAAAAAAAAAAAAAAAAAA",
        "KG2." + "e30.AAAAAAAAAAAAAAAAAAAAAA",
        "KG1.e30.AAAAAAAAAAAAAAAAAAAAAA",
        "KG1.e30.AAAAAAAAAAAAAAAAAAAAAA.extra",
        "KG1.e3=.AAAAAAAAAAAAAAAAAAAAAA",
        "KG1." + "A" * 600 + ".AAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_malformed_payloads_are_bad_signatures(payload: str) -> None:
    assert reason_of(payload) == "bad_signature"


def test_a_truncated_pass_is_a_bad_signature() -> None:
    payload = delegate()
    assert reason_of(payload[:-1]) == "bad_signature"
    assert reason_of(payload[:-22] + payload[-21:]) == "bad_signature"


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.="


@given(data=st.data())
def test_any_single_character_changed_is_refused(data: st.DataObject) -> None:
    payload = delegate()
    where = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
    new = data.draw(st.sampled_from(ALPHABET).filter(lambda ch: ch != payload[where]))
    forged = payload[:where] + new + payload[where + 1 :]
    assert reason_of(forged) == Reason.BAD_SIGNATURE


def test_a_body_signed_with_the_site_key_directly_is_refused() -> None:
    """Passes use a key derived from the site key: a signed command is never a pass."""
    signed = "KG1." + delegate().split(".")[1]
    raw_mac = hmac.new(KEY, signed.encode(), hashlib.sha256).digest()[:16]
    assert reason_of(signed + "." + passes._b64encode(raw_mac)) == "bad_signature"


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"{}",
        b"not json",
        b'["x","P1","c1","Name",20261124,1795500000,null]',
        b'["d","P1","c1","Name","20261124",1795500000,null]',
        b'["d","P1","c1","Name",20261324,1795500000,null]',
        b'["d","P1","c1","Name",20261124,true,null]',
        b'["d","P1","c1","Name",20261124,1e400,null]',
        b'["d","P1","c1","Name",20261124,1795500000,null,"extra"]',
        b'["d",7,"c1","Name",20261124,1795500000,null]',
        b'["d","P1","c1","Name",20261124,99999999999999999999,null]',
        b"\xff\xfe",
    ],
)
def test_a_signed_but_malformed_body_is_refused(body: bytes) -> None:
    signed = "KG1." + passes._b64encode(body)
    payload = signed + "." + passes._b64encode(passes._mac(KEY, signed))
    assert reason_of(payload) == "bad_signature"


def test_the_mac_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(passes.hmac, "compare_digest", spy)
    verify_pass(KEY, delegate(), today=DAY, now=AFTERNOON)
    assert len(calls) == 1


def test_expired_at_the_expiry_instant() -> None:
    payload = delegate()
    assert verify_pass(KEY, payload, today=DAY, now=EXPIRES - dt.timedelta(seconds=1))
    assert reason_of(payload, now=EXPIRES) == Reason.EXPIRED
    assert reason_of(payload, now=EXPIRES + dt.timedelta(days=3)) == "expired"


def test_a_pass_for_another_day_is_the_wrong_date() -> None:
    payload = delegate(date=DAY + dt.timedelta(days=1), expires=EXPIRES + dt.timedelta(days=1))
    assert reason_of(payload) == Reason.WRONG_DATE
    yesterday = delegate(expires=EXPIRES + dt.timedelta(days=2))
    assert reason_of(yesterday, today=DAY + dt.timedelta(days=1)) == "wrong_date"


def test_expired_is_reported_before_the_wrong_date() -> None:
    assert reason_of(delegate(), today=DAY + dt.timedelta(days=1), now=EXPIRES) == "expired"


def test_rejection_is_a_value_error_with_a_message() -> None:
    with pytest.raises(ValueError, match=r"^expired: pass P-20261124-001 expired"):
        verify_pass(KEY, delegate(), today=DAY, now=EXPIRES)


def test_a_naive_clock_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        verify_pass(KEY, delegate(), today=DAY, now=AFTERNOON.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pass_id": ""}, "pass_id"),
        ({"pass_id": "P 1"}, "pass_id"),
        ({"pass_id": "P" * 33}, "pass_id"),
        ({"child": None}, "names the child"),
        ({"child": "c 1"}, "roster id"),
        ({"name": "  "}, "name"),
        ({"name": "N" * 65}, "name"),
        ({"name": "Bell\x07"}, "name"),
        ({"expires": EXPIRES.replace(tzinfo=None)}, "time zone"),
        ({"kind": "parent"}, "parent"),
    ],
)
def test_fields_that_cannot_go_in_a_pass(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        delegate(**changes)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        issue_pass(
            b"short", kind="visitor", pass_id="V1", child=None, name="A", date=DAY, expires=EXPIRES
        )


# --- printed passes -----------------------------------------------------------------------


def test_png_pass_reads_back_and_is_private(tmp_path: Path) -> None:
    payload = delegate()
    plain = render_pass_png(payload, tmp_path / "plain.png")
    titled = render_pass_png(
        payload,
        tmp_path / "pass.png",
        title_lines=["Delegate pass", "Wang Xiaoming 王小明 collects c0001 on 2026-11-24"],
    )
    image = cv2.imread(str(titled), cv2.IMREAD_GRAYSCALE)
    assert QrDecoder("zxing").decode(image) == [payload]
    assert QrDecoder("opencv").decode(image) == [payload]
    plain_image = cv2.imread(str(plain), cv2.IMREAD_GRAYSCALE)
    assert image.shape[0] > plain_image.shape[0]  # room for the title lines
    assert image.shape[1] > plain_image.shape[1]  # widened, not clipped, for a long line
    assert stat.S_IMODE(titled.stat().st_mode) == 0o600


def _pdf_rectangles(pdf: bytes) -> list[tuple[float, float, float, float]]:
    found = re.findall(rb"([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) re", pdf)
    return [(float(x), float(y), float(w), float(h)) for x, y, w, h in found]


def _raster(rects: list[tuple[float, float, float, float]], page: tuple[int, int]) -> np.ndarray:
    """The page's black rectangles drawn at 2 px a point, PDF's y axis flipped."""
    width, height = page
    image = np.full((height * 2, width * 2), 255, dtype=np.uint8)
    for x, y, w, h in rects:
        top = round((height - y - h) * 2)
        image[top : top + round(h * 2), round(x * 2) : round((x + w) * 2)] = 0
    return image


def test_pdf_pass_is_a_valid_document_that_reads_back(tmp_path: Path) -> None:
    payload = delegate()
    path = render_pass_pdf(
        payload, tmp_path / "pass.pdf", title_lines=["Delegate (c0001)", "Zoë €"]
    )
    pdf = path.read_bytes()
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    offsets = re.findall(rb"(\d{10}) 00000 n ", pdf[xref:])
    assert [pdf[int(o) :].split(b"\n")[0] for o in offsets] == [
        b"%d 0 obj" % n for n in range(1, 6)
    ]
    assert b"(Delegate \\(c0001\\)) Tj" in pdf
    assert "(Zoë €) Tj".encode("cp1252") in pdf
    assert QrDecoder("zxing").decode(_raster(_pdf_rectangles(pdf), (298, 420))) == [payload]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_pdf_of_the_longest_payload_fits_the_page(tmp_path: Path) -> None:
    payload = "A" * passes.MAX_PAYLOAD
    pdf = render_pass_pdf(payload, tmp_path / "long.pdf").read_bytes()
    rects = _pdf_rectangles(pdf)
    assert max(x + w for x, _, w, _ in rects) <= 298 - 24
    assert min(x for x, _, _, _ in rects) >= 24
    assert QrDecoder("zxing").decode(_raster(rects, (298, 420))) == [payload]
