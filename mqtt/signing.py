"""Command signing: HMAC-SHA256 over the exact payload bytes with the site key.

A command is the JSON payload ``{"ts": <unix seconds>, "nonce": "<new>", "cmd": NAME,
...arguments}``; its signature travels beside it as the MQTT v5 user property ``sig``,
the lower-case hex HMAC-SHA256 of the payload bytes as sent. Signing the bytes rather
than a re-serialised object means the gate never has to agree with the sender on JSON
formatting. The key is never logged, printed or put in an exception message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import secrets
import string
from pathlib import Path
from typing import Any

MIN_KEY_BYTES = 16  # 128 bits: below this an HMAC key is guessable in principle
MAX_KEY_FILE_BYTES = 4096
RESERVED = ("ts", "nonce", "cmd")
_HEX = frozenset(string.hexdigits)


class KeyFileError(ValueError):
    """A key file that cannot be used; the message names the file, never its content."""


def sign(key: bytes, payload: bytes) -> str:
    """The hex HMAC-SHA256 of ``payload`` under ``key``."""
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def verify(key: bytes, payload: bytes, sig: object) -> bool:
    """Whether ``sig`` is the signature of ``payload``; constant time in the signature."""
    if not isinstance(sig, str) or len(sig) != 64:
        return False
    expected = sign(key, payload)
    # compare_digest on ASCII str is constant time; upper-case hex is accepted too.
    return hmac.compare_digest(expected, sig.lower() if sig.isascii() else "")


def parse_key(data: bytes, source: str = "key") -> bytes:
    """A key from a file's bytes: hex text (64 hex digits, say) or raw bytes.

    Text made only of hex digits (surrounding white space ignored) is read as hex; anything
    else is used byte for byte. A raw key that happens to be all hex digits is read as hex.
    """
    text = data.strip()
    if not text:
        raise KeyFileError(f"{source}: the key is empty")
    if len(text) % 2 == 0 and all(chr(b) in _HEX for b in text):
        key = bytes.fromhex(text.decode("ascii"))
    else:
        key = data
    if len(key) < MIN_KEY_BYTES:
        raise KeyFileError(
            f"{source}: the key is too short ({len(key)} bytes; at least {MIN_KEY_BYTES})"
        )
    return key


def load_key(path: str | os.PathLike[str]) -> bytes:
    """Read the site key from ``path``; raise KeyFileError with a clear message."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such key file (create one: kindergate keygen)") from None
    except IsADirectoryError:
        raise KeyFileError(f"{path}: is a directory, not a key file") from None
    except OSError as err:
        raise KeyFileError(f"{path}: cannot read the key file: {err.strerror}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path}: too large for a key file (over {MAX_KEY_FILE_BYTES} bytes)")
    return parse_key(data, str(path))


def new_key_hex() -> str:
    """A fresh random 256-bit key as hex text, the form ``keygen`` writes."""
    return secrets.token_hex(32)


def make_command(name: str, args: dict[str, Any], key: bytes, now: float) -> tuple[bytes, str]:
    """A signed command: (payload bytes, hex signature). ``now`` is Unix seconds."""
    if not name or "/" in name or "+" in name or "#" in name:
        raise ValueError(f"not a command name: {name!r}")
    clash = sorted(set(args) & set(RESERVED))
    if clash:
        raise ValueError(f"argument name(s) reserved for the envelope: {', '.join(clash)}")
    if not math.isfinite(now):
        raise ValueError("now must be a finite number of seconds")
    body = {"ts": int(now), "nonce": secrets.token_hex(16), "cmd": name, **args}
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return payload, sign(key, payload)
