"""The gate camera as a daemon component: QR passes in, a snapshot of every decision out.

Frames are decoded on the camera's own thread (zxing-cpp releases the GIL), so the
loop never spends milliseconds on a frame; only the resulting reads reach it. A
snapshot is written after its event is durable, in an executor: the lock has long moved.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from edge.events import DOOR_ALARMS, Event, EventType, Reason
from edge.host import GateHost
from edge.ops.retention import snapshot_directory

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
SNAPSHOT_TYPES = frozenset({EventType.ACCESS, EventType.ALARM, EventType.OVERRIDE})


def wants_snapshot(event: Event) -> bool:
    return event.type in SNAPSHOT_TYPES or (
        event.type is EventType.DOOR and event.reason in DOOR_ALARMS
    )


class CameraLink:
    def __init__(self, host: GateHost) -> None:
        from drivers.camera import Camera
        from drivers.qr import QrScanner
        from drivers.snapshot import SnapshotStore

        cfg = host.cfg
        assert cfg.camera is not None
        self.host = host
        self._hand_read = host.from_thread(host.on_read)
        self.scanner = QrScanner("camera")
        self.camera = Camera(
            "camera",
            cfg.camera.source,
            on_frame=self._on_frame,
            on_health=host.from_thread(self._on_health),
            fps=cfg.camera.fps,
        )
        self.snapshots = SnapshotStore(snapshot_directory(cfg)) if cfg.camera.snapshots else None
        self._checker: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.snapshots is not None:
            self.host.listeners.append(self._on_events)
        self.camera.start()
        if self.host.loop is not None:
            self._checker = self.host.loop.create_task(self._check())

    def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
        if self._on_events in self.host.listeners:
            self.host.listeners.remove(self._on_events)
        self.camera.close()

    def _on_frame(self, frame: Any) -> None:
        """On the camera thread: decode here, hand only reads to the loop."""
        for read in self.scanner.scan(frame):
            self._hand_read(read)

    def _on_health(self, health: Any) -> None:
        reason = Reason.READER_UP if health.ok else Reason.READER_DOWN
        self.host.record(
            [
                self.host.gate.draft(
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
        loop = self.host.loop
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
