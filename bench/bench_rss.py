"""Resident memory of the running gate daemon, camera off and camera on.

Starts `kindergate run` on simulated hardware (a FIFO reader; then also a camera
reading a video file with a QR pass), waits until it has started and decided a scan,
and reads VmRSS from /proc. The raw baseline, measured in the same run, is a bare
Python interpreter that has imported nothing. Budget (DESIGN.md): <= 60 MB camera off,
<= 120 MB camera on.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge.sim.sample import write_roster  # noqa: E402

CONFIG = """
[site]
id = "bench"
timezone = "Asia/Shanghai"
[gate]
id = "main"
hardware = "simulated"
[store]
path = "{state}/gate.db"
[roster]
path = "roster"
[[reader]]
name = "entrance"
type = "line"
path = "{state}/entrance.fifo"
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def started(db: Path) -> bool:
    if not db.exists():
        return False
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return bool(
                con.execute("SELECT count(*) FROM events WHERE reason = 'started'").fetchone()[0]
            )
        finally:
            con.close()
    except sqlite3.Error:
        return False


def measure(folder: Path, config: str, state: str) -> float:
    cfg = folder / f"{state}.toml"
    cfg.write_text(config.replace("{state}", state))
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "-c", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 60
        while not started(folder / state / "gate.db"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the daemon did not start")
            time.sleep(0.1)
        fd = os.open(folder / state / "entrance.fifo", os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"card:0000000001\n")
        os.close(fd)
        time.sleep(3)  # let it settle: a bench, not a test
        return rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def camera_video(folder: Path) -> Path:
    import cv2
    import numpy as np
    import segno

    from edge.passes import issue_pass

    payload = issue_pass(
        bytes(32),
        kind="visitor",
        pass_id="b1",
        child=None,
        name="Bench",
        date=date.today(),
        expires=datetime.now(UTC) + timedelta(hours=1),
    )
    qr = segno.make(payload, error="m")
    path = folder / "qr.png"
    qr.save(str(path), scale=4, border=4)
    image = cv2.imread(str(path))
    frame = np.full((480, 640, 3), 200, np.uint8)
    frame[40 : 40 + image.shape[0], 40 : 40 + image.shape[1]] = image
    video = folder / "gate.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (640, 480))
    for _ in range(30):
        writer.write(frame)
    writer.release()
    return video


def main() -> None:
    bare = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    time.sleep(0.5)
    baseline = rss_mb(bare.pid)
    bare.communicate(b"")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_roster(folder / "roster", seed=1)
        off = measure(folder, CONFIG, "off")
        video = camera_video(folder)
        on = measure(folder, CONFIG + f'[camera]\nsource = "{video}"\nfps = 10\n', "on")
    print(f"{'figure':<34} {'RSS MB':>8} {'x bare python':>14} {'budget':>8}")
    print(f"{'bare python interpreter':<34} {baseline:>8.1f} {'1.0':>14} {'':>8}")
    print(f"{'daemon, camera off':<34} {off:>8.1f} {off / baseline:>14.1f} {'60 MB':>8}")
    print(f"{'daemon, camera on':<34} {on:>8.1f} {on / baseline:>14.1f} {'120 MB':>8}")


if __name__ == "__main__":
    main()
