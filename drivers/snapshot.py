"""A JPEG of the camera's view at each decision, kept for a retention period.

Files are named ``<event id>.jpg`` in one directory that only the service can read
(0700, files 0600): a snapshot shows children's faces. The event id is checked
against a strict pattern before it becomes a file name, so no id can name a path
outside the directory. Writes are atomic (temp file, fsync, rename): a crash leaves
the old snapshot or the new one, never half a JPEG.

Retention goes by the file's modification time, set when the snapshot is written.
Event ids are not parsed for a time: their format belongs to the gate's core.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import stat
import tempfile
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

SUFFIX = ".jpg"
TEMP_SUFFIX = ".tmp"
EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
JPEG_QUALITY = 85  # a face stays recognisable at ~40 kB for 640×480


class SnapshotStore:
    """Snapshots of decisions, one JPEG per event id."""

    def __init__(self, directory: str | os.PathLike[str], *, quality: int = JPEG_QUALITY) -> None:
        if not 1 <= quality <= 100:
            raise ValueError("JPEG quality must be 1-100")
        self.directory = Path(directory)
        self.quality = quality
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir honours the umask and leaves an existing directory as it was.
        os.chmod(self.directory, 0o700)

    def path_for(self, event_id: str) -> Path:
        """Where the snapshot of ``event_id`` is (or would be); ``ValueError`` for a bad id."""
        if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
            raise ValueError(f"not a valid event id for a snapshot: {event_id!r}")
        return self.directory / (event_id + SUFFIX)

    def save(self, event_id: str, frame: np.ndarray) -> Path:
        """Write the frame as the snapshot of ``event_id``, replacing any earlier one."""
        target = self.path_for(event_id)
        try:
            ok, jpeg = cv2.imencode(SUFFIX, frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        except cv2.error:  # OpenCV asserts on an empty or odd-shaped array
            ok = False
        if not ok:
            raise ValueError(f"could not encode a frame of shape {frame.shape} as JPEG")
        # mkstemp creates the file 0600 and in the same directory, so the rename is atomic.
        fd, temp = tempfile.mkstemp(prefix="." + event_id, suffix=TEMP_SUFFIX, dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(jpeg.tobytes())
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        self._sync_directory()
        return target

    def list(self) -> list[str]:
        """The event ids that have a snapshot, sorted."""
        return sorted(
            path.name[: -len(SUFFIX)]
            for path in self.directory.iterdir()
            if path.name.endswith(SUFFIX) and EVENT_ID.match(path.name[: -len(SUFFIX)])
        )

    def purge(self, older_than: dt.datetime) -> int:
        """Delete snapshots (and leftover temp files) last written before ``older_than``.

        ``older_than`` must carry a time zone. Returns how many snapshots went; files
        that are neither snapshots nor our temp files are never touched.
        """
        if older_than.tzinfo is None:
            raise ValueError("older_than must carry a time zone")
        cutoff = older_than.timestamp()
        removed = 0
        for path in self.directory.iterdir():
            snapshot = path.name.endswith(SUFFIX) and EVENT_ID.match(path.name[: -len(SUFFIX)])
            leftover = path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)
            info = path.lstat()  # a link is not a snapshot: never follow one out
            if not (snapshot or leftover) or not stat.S_ISREG(info.st_mode):
                continue
            if info.st_mtime < cutoff:
                with contextlib.suppress(FileNotFoundError):  # purged twice at once
                    path.unlink()
                    removed += bool(snapshot)
        if removed:
            log.info("purged %s snapshots older than %s", removed, older_than.isoformat())
        return removed

    def _sync_directory(self) -> None:
        # The rename is durable only once the directory entry is on disk.
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
