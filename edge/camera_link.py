"""The gate camera as a daemon component: QR passes in, a snapshot of every decision out.

Frames are decoded on the camera's own thread (zxing-cpp releases the GIL), so the
loop never spends milliseconds on a frame; only the resulting reads reach it. A
snapshot is written after its event is durable, in an executor: the lock has long moved.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from edge.events import DOOR_ALARMS, Event, EventType, Reason
from edge.ops.retention import snapshot_directory

if TYPE_CHECKING:
    from edge.daemon import Daemon

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
SNAPSHOT_TYPES = frozenset({EventType.ACCESS, EventType.ALARM, EventType.OVERRIDE})


def wants_snapshot(event: Event) -> bool:
    return event.type in SNAPSHOT_TYPES or (
        event.type is EventType.DOOR and event.reason in DOOR_ALARMS
    )


class CameraLink:
    def __init__(self, daemon: Daemon) -> None:
        from drivers.camera import Camera
        from drivers.qr import QrScanner
        from drivers.snapshot import SnapshotStore

        cfg = daemon.cfg
        assert cfg.camera is not None
        self.daemon = daemon
        self.scanner = QrScanner("camera")
        self.camera = Camera(
            "camera",
            cfg.camera.source,
            on_frame=self._on_frame,
            on_health=daemon._from_thread(self._on_health),
            fps=cfg.camera.fps,
        )
        self.snapshots = SnapshotStore(snapshot_directory(cfg)) if cfg.camera.snapshots else None
        self._checker: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.snapshots is not None:
            self.daemon.listeners.append(self._on_events)
        self.camera.start()
        if self.daemon.loop is not None:
            self._checker = self.daemon.loop.create_task(self._check())

    def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
        self.camera.close()

    def _on_frame(self, frame: Any) -> None:
        """On the camera thread: decode here, hand only reads to the loop."""
        for read in self.scanner.scan(frame):
            self.daemon._from_thread(self.daemon.on_read)(read)

    def _on_health(self, health: Any) -> None:
        reason = Reason.READER_UP if health.ok else Reason.READER_DOWN
        self.daemon.record(
            [
                self.daemon.gate.draft(
                    EventType.SYSTEM, reason, reader="camera", detail={"detail": health.detail}
                )
            ]
        )

    async def _check(self) -> None:
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            self.camera.check()

    def _on_events(self, events: list[Event]) -> None:
        store = self.snapshots
        loop = self.daemon.loop
        if store is None or loop is None:
            return
        frame = self.camera.latest()
        if frame is None:
            return
        for event in events:
            if wants_snapshot(event):
                loop.run_in_executor(None, _save, store, event.id, frame)


def _save(store: Any, event_id: str, frame: Any) -> None:
    try:
        store.save(event_id, frame)
    except Exception:
        log.exception("snapshot for event %s failed", event_id)
