"""A consistent copy of the gate's store while the daemon keeps running.

SQLite's online backup API copies the database page by page under a read transaction,
so the copy is one moment of the store even while events are being written. The copy is
created 0600 before a byte is written (it holds everything the store holds), switched
to a single file (journal mode DELETE, no -wal/-shm beside it), checked with
``integrity_check`` and the hash chain, and only then renamed to its final name: a
failed backup leaves no file that looks like a good one.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.ops.verify import Report, verify_store
from edge.store import ReadOnlyStore

PAGES_PER_STEP = 256  # the source is locked only while a step copies; the daemon waits less


class BackupError(RuntimeError):
    """The copy could not be made, or is not sound."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size: int
    report: Report


def target_path(source: Path, to: Path, now: datetime | None = None) -> Path:
    """``to`` itself, or a dated file in it when ``to`` is a directory."""
    if to.is_dir():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        return to / f"{source.stem}-{stamp}.db"
    return to


def _create_private(path: Path) -> None:
    # O_EXCL: never write into a file someone else prepared (or a link they planted).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    os.close(fd)


def _copy(source: Path, temp: Path) -> None:
    with ReadOnlyStore(source) as src:
        src.copy_to(temp, pages=PAGES_PER_STEP)


def check_copy(path: Path) -> Report:
    with ReadOnlyStore(path) as copy:
        result = copy.integrity()
        if result != "ok":
            raise BackupError(f"{path}: integrity check failed: {result}")
        return verify_store(copy)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup(source: Path, to: Path) -> BackupResult:
    """Copy the store at ``source`` to ``to`` (a new file, or a directory to put one in)."""
    if not source.is_file():
        raise BackupError(f"no store at {source}")
    final = target_path(source, to)
    if final.exists():
        raise BackupError(f"{final} exists; a backup never overwrites a file")
    if not final.parent.is_dir():
        raise BackupError(f"no such directory: {final.parent}")
    temp = final.with_name(f".{final.name}.partial")
    _create_private(temp)
    try:
        _copy(source, temp)
        report = check_copy(temp)
        _fsync(temp)
        os.link(temp, final)  # unlike rename, fails rather than replace a file made meanwhile
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    _fsync(final.parent)
    return BackupResult(final, final.stat().st_size, report)
