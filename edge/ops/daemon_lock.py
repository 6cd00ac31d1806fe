"""One daemon per store: an exclusive lock on a file beside the store, held while it runs.

Two daemons on one store would both drive the lock relay and both append to the hash
chain. The lock is a POSIX record lock (``lockf``): the kernel drops it when the process
ends, however it ends, so a crashed daemon never leaves a stale lock behind. It belongs to
the process, so a second daemon object in the same process (a restart within one test)
is not refused; a second process is. The file keeps the holder's pid only to name it.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path


class StoreInUse(RuntimeError):
    """Another process holds the store."""


class DaemonLock:
    def __init__(self, store_path: str | os.PathLike[str]) -> None:
        self.store = Path(store_path).resolve()
        self.path = self.store.with_name(self.store.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> DaemonLock:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EACCES, errno.EAGAIN):
                os.close(fd)
                raise
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreInUse(
                f"the store {self.store} is in use by another kindergate daemon (pid {holder}); "
                "one daemon per store"
            ) from None
        os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Safe to call twice; the file stays (removing it could race a starting daemon)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def lock_store(store_path: str | os.PathLike[str]) -> DaemonLock | None:
    """The store's lock, held; None for a store that lives in memory only."""
    if str(store_path) == ":memory:":
        return None
    return DaemonLock(store_path).acquire()
