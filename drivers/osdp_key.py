"""The OSDP secure channel base key (SCBK): one 16-byte AES-128 key per reader.

The key lives in a file of its own, 32 hex digits, readable by the service alone
(mode 0600). It is never logged, printed or put in an exception message: every
message here names the file, never what is in it.

A new reader has no key. In install mode the gate writes a fresh random key to the
file (which must not exist yet) and hands it to the reader once, under the
well-known default key of the standard (SCBK-D); from then on the reader talks to
nobody without it. That is why install mode is refused once the file exists.
"""

from __future__ import annotations

import os
import secrets
import stat
import string
from pathlib import Path

KEY_BYTES = 16
MAX_FILE_BYTES = 256  # a key file is 33 bytes; anything much larger is not one
_HEX = frozenset(string.hexdigits)


class ScbkError(ValueError):
    """A key file that cannot be used; the message names the file, never its content."""


def _open_private(path: Path) -> bytes:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ScbkError(f"{path}: no such key file") from None
    except OSError as err:
        raise ScbkError(f"{path}: cannot read the key file: {err.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ScbkError(f"{path}: not a regular file")
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        raise ScbkError(f"{path}: open to others (mode {mode:04o}); chmod 600 {path}")
    try:
        with path.open("rb") as fh:
            return fh.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ScbkError(f"{path}: cannot read the key file: {err.strerror}") from None


def load_scbk(path: str | os.PathLike[str]) -> bytes:
    """The key in ``path``: exactly 32 hex digits (white space around them ignored)."""
    path = Path(path)
    data = _open_private(path)
    if len(data) > MAX_FILE_BYTES:
        raise ScbkError(f"{path}: too large for a key file")
    text = data.strip()
    if len(text) != 2 * KEY_BYTES or not all(chr(b) in _HEX for b in text):
        raise ScbkError(f"{path}: not a key: it must hold {2 * KEY_BYTES} hex digits (16 bytes)")
    return bytes.fromhex(text.decode("ascii"))


def create_scbk(path: str | os.PathLike[str]) -> bytes:
    """Write a new random key to ``path`` (0600) and return it; never overwrites a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(KEY_BYTES)
    # O_EXCL: never write into a file someone else prepared, nor through a link they planted.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise ScbkError(f"{path}: already exists; install mode only writes a new key") from None
    except OSError as err:
        raise ScbkError(f"{path}: cannot create the key file: {err.strerror}") from None
    try:
        os.write(fd, (key.hex() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)  # the umask may have narrowed it; never widened
    return key


def key_problems(path: Path, install_mode: bool) -> list[tuple[str, str]]:
    """What is wrong with a reader's key file, as (key, message) pairs for the config.

    The file must hold a usable key, except in install mode before the key is made:
    then only its folder has to be usable.
    """
    if install_mode and not (path.exists() or path.is_symlink()):
        ancestor = path.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            return [("scbk_file", f"parent is not a directory: {ancestor}")]
        return []
    try:
        load_scbk(path)
    except ScbkError as err:
        hint = " (a new reader gets its key with install_mode = true)"
        return [("scbk_file", f"{err}{hint if not path.exists() else ''}")]
    return []


def install_mode_refusal(path: Path) -> str | None:
    """Why install mode must be switched off, once the key file exists (else None)."""
    if not (path.exists() or path.is_symlink()):
        return None
    return (
        f"refused: the key file {path} exists, so this reader has been given its key; "
        "set install_mode = false (to give a new reader a new key, remove the file first)"
    )
