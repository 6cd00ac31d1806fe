"""A pass shown to the gate camera opens the gate once, and the decision has a snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2

from edge.clock import VirtualClock
from edge.config import config_from_dict
from edge.daemon import Daemon
from edge.events import Decision, Event, EventType, Reason
from edge.ops.retention import snapshot_directory as snapshot_dir
from edge.passes import issue_pass
from tests.conftest import wait_for
from tests.frames import qr_frame
from tests.rosters import write_small_roster

TZ = ZoneInfo("Asia/Shanghai")
KEY = bytes(range(32))


def write_video(path: Path, payload: str, frames: int = 20) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (640, 480))
    assert writer.isOpened()
    for _ in range(frames):
        writer.write(qr_frame(payload))
    writer.release()
    return path


async def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Wait on a worker thread, so the daemon's loop keeps running meanwhile."""
    return await asyncio.to_thread(wait_for, condition, timeout, what)


def test_pass_on_camera_opens_once_and_is_photographed(tmp_path: Path) -> None:
    payload = issue_pass(
        KEY,
        kind="delegate",
        pass_id="gm1",
        child="C1",
        name="Grandma Li",
        date=date(2026, 11, 24),
        expires=datetime(2026, 11, 24, 19, 0, tzinfo=TZ),
    )
    video = write_video(tmp_path / "gate.avi", payload)
    write_small_roster(tmp_path / "roster")
    cfg = config_from_dict(
        {
            "site": {"id": "s", "timezone": "Asia/Shanghai"},
            "gate": {"id": "main"},
            "store": {"path": str(tmp_path / "state" / "gate.db")},
            "roster": {"path": str(tmp_path / "roster")},
            "camera": {"source": str(video), "fps": 30},
        },
        tmp_path / "gate.toml",
    )
    daemon = Daemon(cfg, clock=VirtualClock(datetime(2026, 11, 24, 16, 5, tzinfo=TZ)), site_key=KEY)
    daemon.open()

    def access() -> list[Event]:
        return [e for e in daemon.store.events() if e.type is EventType.ACCESS]

    async def scenario() -> list[Event]:
        task = asyncio.create_task(daemon.run())
        try:
            granted = await wait_until(access, 20, "the pass to be read")
            event = granted[0]
            await wait_until(
                lambda: (snapshot_dir(cfg) / f"{event.id}.jpg").exists(), 20, "the snapshot"
            )
            return granted
        finally:
            daemon.stopping.set()
            await task

    events = asyncio.run(scenario())
    assert [(e.decision, e.reason, e.children, e.person and e.person.kind) for e in events] == [
        (Decision.GRANTED, Reason.DELEGATE, ("C1",), "delegate")
    ]
    assert events[0].detail["pass_id"] == "gm1"
    snapshot = snapshot_dir(cfg) / f"{events[0].id}.jpg"
    assert (
        snapshot.read_bytes()[:2] == b"\xff\xd8" and oct(snapshot.stat().st_mode & 0o777) == "0o600"
    )
    assert "gm1" in events[0].dumps()
