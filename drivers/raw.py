"""Raw reader input, as a scenario or a test gives it, through the real decoders.

``decode_raw`` never raises: whatever arrives (a wrong length, bad parity, a bad
checksum, non-hex text, an unknown format, even a value that is not a string)
becomes a failed ``Read`` with a short reason, which the gate logs as ``bad_read``.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.base import RAW_LIMIT, BadRead, Read
from drivers.line import line_read
from drivers.rdm6300 import decode_frame
from drivers.wiegand import wiegand_read

FORMATS = ("wiegand26", "wiegand34", "rdm6300", "line")


def _wiegand(length: int) -> Callable[[str, str], Read]:
    def decode(reader: str, bits: str) -> Read:
        if len(bits) != length:
            raise BadRead(f"wrong length: {len(bits)} bits, not {length}", bits)
        return wiegand_read(reader, bits)

    return decode


def _rdm6300(reader: str, hex_frame: str) -> Read:
    try:
        frame = bytes.fromhex(hex_frame)
    except ValueError:
        raise BadRead("frame is not hex", hex_frame) from None
    return Read(reader, decode_frame(frame), raw=hex_frame[:RAW_LIMIT])


_DECODERS: dict[str, Callable[[str, str], Read]] = {
    "wiegand26": _wiegand(26),
    "wiegand34": _wiegand(34),
    "rdm6300": _rdm6300,
    "line": line_read,
}


def decode_raw(reader: str, fmt: str, data: str) -> Read:
    """Decode ``data`` in format ``fmt`` (see ``FORMATS``) as reader ``reader`` would."""
    if not isinstance(data, str):
        return Read(reader, None, error="raw data is not text", raw=repr(data)[:RAW_LIMIT])
    decode = _DECODERS.get(fmt) if isinstance(fmt, str) else None
    if decode is None:
        return Read(reader, None, error=f"unknown raw format {fmt!r}"[:80], raw=data[:RAW_LIMIT])
    try:
        return decode(reader, data)
    except BadRead as err:
        return Read.failed(reader, err)
