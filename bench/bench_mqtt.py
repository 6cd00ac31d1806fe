"""The gate's MQTT path: a burst of scans, and the outbox drain after an outage.

Measured in this run, against a Mosquitto started here, beside raw baselines:

1. burst: 200 scans/s for 30 s through the full path (the daemon's ``on_read``: decide,
   drive the lock, write the event and its outbox row durably, wake the publisher, which
   publishes it). Figure: p99 of decide+store per scan, against the p99 of a raw SQLite
   commit (WAL, synchronous=FULL) on the same disk; and events lost, counted on a
   subscriber (budget: 0 lost, p99 <= 5 ms).
2. drain: 100k events stored while the broker was away, drained by the publisher until
   the outbox is empty; events/s against one raw paho client publishing the same bodies
   at QoS 1 with the same in-flight window and waiting for every PUBACK (budget >= 50 %).

Usage: python bench/bench_mqtt.py [--quick]   (--quick: 5 s burst, 20k drain)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from drivers.base import Read  # noqa: E402
from edge.config import load_config  # noqa: E402
from edge.daemon import Daemon  # noqa: E402
from edge.events import Decision, Draft, EventType, Person, Reason  # noqa: E402
from edge.store import Store, connect  # noqa: E402
from mqtt.link import GateLink  # noqa: E402
from mqtt.signing import new_key_hex  # noqa: E402

BROKER_CONF = """listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 0
"""
STAFF = ["card:0721862278", "card:2623979480", "card:0503022616", "card:2120495274"]
WINDOW = 256
RAW_CHUNK = 5000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(0.002)


@contextmanager
def broker(workdir: Path) -> Iterator[int]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(BROKER_CONF.format(port=port))
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        until(up, 10, "mosquitto")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


class Counter:
    """A subscriber counting distinct event ids (the collector's view, dedup included)."""

    def __init__(self, port: int, topic: str) -> None:
        self.ids: set[bytes] = set()
        self.ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        until(self.ready.is_set, 10, "subscription")

    def _on_message(self, c: paho.Client, u: object, msg: paho.MQTTMessage) -> None:
        # events are dumps() of seal(): the id comes first, {"id":"<26 chars>",...
        if msg.payload.startswith(b'{"id":"'):
            self.ids.add(bytes(msg.payload[7:33]))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def write_config(folder: Path, port: int) -> Path:
    key = folder / "site.key"
    key.write_text(new_key_hex())
    path = folder / "gate.toml"
    path.write_text(
        f"""
[site]
id = "bench"
timezone = "Asia/Shanghai"
[gate]
id = "main"
[store]
path = "{folder / "gate.db"}"
[roster]
path = "{REPO / "config" / "roster"}"
[mqtt]
port = {port}
key_file = "{key}"
max_inflight = {WINDOW}
"""
    )
    return path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- 1: burst ---------------------------------------------------------------------------


def raw_commits(folder: Path, n: int = 2000) -> list[float]:
    """Raw SQLite commits (WAL, synchronous=FULL), one small row each, in ms."""
    db = connect(folder / "raw.db")
    db.execute("CREATE TABLE t (x TEXT)")
    out = []
    for _ in range(n):
        t = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?)", ("x" * 600,))
        db.execute("COMMIT")
        out.append((time.perf_counter() - t) * 1000)
    db.close()
    return out


def burst(folder: Path, port: int, seconds: float, rate: float) -> dict[str, float]:
    cfg = load_config(write_config(folder, port))
    daemon = Daemon(cfg)
    daemon.open()
    counter = Counter(port, "kindergate/bench/main/event/#")
    latencies: list[float] = []
    total = int(seconds * rate)

    async def drive() -> None:
        loop = asyncio.get_running_loop()
        daemon.loop = loop
        link = GateLink(daemon)
        link.start()
        start = loop.time() + 0.5
        done = asyncio.Event()

        def one(i: int) -> None:
            read = Read("entrance", STAFF[i % len(STAFF)])
            t = time.perf_counter()
            daemon.on_read(read)
            latencies.append((time.perf_counter() - t) * 1000)
            if i == total - 1:
                done.set()

        for i in range(total):
            loop.call_at(start + i / rate, one, i)
        await done.wait()
        ids.update(e.id.encode() for e in daemon.store.events())
        await asyncio.to_thread(arrived, counter, ids, 60)
        link.stop()
        daemon.store.close()

    ids: set[bytes] = set()
    asyncio.run(drive())
    counter.close()
    return {
        "scans": float(total),
        "p50": statistics.median(latencies),
        "p99": pct(latencies, 0.99),
        "lost": float(len(ids - counter.ids)),
    }


def arrived(counter: Counter, ids: set[bytes], timeout: float) -> None:
    """Wait until every id reached the subscriber, or the deadline (then some are lost)."""
    deadline = time.monotonic() + timeout
    while not ids <= counter.ids and time.monotonic() < deadline:
        time.sleep(0.01)


# --- 2: drain ---------------------------------------------------------------------------


def fill_outbox(folder: Path, n: int) -> list[str]:
    """n events stored while no broker was there; returns their bodies."""
    store = Store(folder / "gate.db", site="bench", gate="main")
    for start in range(0, n, 1000):
        drafts = [
            Draft(
                type=EventType.ACCESS,
                reason=Reason.STAFF,
                decision=Decision.GRANTED,
                ts=datetime.now(UTC),
                credential=STAFF[i % len(STAFF)],
                person=Person("S001", "staff", "Zhang Fang"),
            )
            for i in range(start, min(n, start + 1000))
        ]
        store.record(drafts)
    bodies = [body for _, body in store.outbox_batch(n)]
    store.close()
    return bodies


def raw_paho(port: int, bodies: list[str]) -> float:
    """Raw QoS 1 publishing of the same bodies: messages/s, every PUBACK awaited.

    Published as fast as paho takes them, in chunks of RAW_CHUNK awaited in turn: paho
    rescans its whole queue on every PUBACK, so 100k queued at once would be quadratic
    and flatter the ratio.
    """
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(WINDOW)
    acked = [0]
    client.on_publish = lambda c, u, mid, rc, p: acked.__setitem__(0, acked[0] + 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    t = time.perf_counter()
    for start in range(0, len(bodies), RAW_CHUNK):
        chunk = bodies[start : start + RAW_CHUNK]
        for body in chunk:
            client.publish("kindergate/raw/main/event/access", body, qos=1)
        target = start + len(chunk)
        until(lambda: acked[0] >= target, 300, "raw PUBACKs")  # noqa: B023 (used at once)
    rate = len(bodies) / (time.perf_counter() - t)
    client.disconnect()
    client.loop_stop()
    return rate


def drain(folder: Path, port: int, n: int) -> tuple[float, float]:
    bodies = fill_outbox(folder, n)
    # one subscriber for both runs, so the broker does the same work in each
    counter = Counter(port, "kindergate/+/main/event/#")
    raw = raw_paho(port, bodies)
    until(lambda: len(counter.ids) >= n, 120, "every raw message at the subscriber")
    counter.ids.clear()
    cfg = load_config(write_config(folder, port))
    daemon = Daemon(cfg)
    daemon.open()
    link = GateLink(daemon)
    t = time.perf_counter()
    link.start()  # no loop needed: the publisher runs on its own threads
    probe = sqlite3.connect(f"file:{cfg.store.path}?mode=ro", uri=True)
    until(lambda: probe.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0, 600, "drain")
    rate = n / (time.perf_counter() - t)
    probe.close()
    link.stop()
    until(lambda: len(counter.ids) >= n, 120, "every drained event at the subscriber")
    counter.close()
    daemon.store.close()
    return rate, raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s burst, 20k drain")
    args = parser.parse_args()
    seconds, drain_n = (5.0, 20_000) if args.quick else (30.0, 100_000)
    with tempfile.TemporaryDirectory(prefix="kg-bench-mqtt-") as tmp:
        root = Path(tmp)
        for sub in ("raw", "burst", "drain", "broker"):
            (root / sub).mkdir()
        raw = raw_commits(root / "raw")
        with broker(root / "broker") as port:
            b = burst(root / "burst", port, seconds, 200.0)
            rate, raw_rate = drain(root / "drain", port, drain_n)
    print(f"{'figure':<44}{'value':>14}{'raw':>14}{'ratio':>9}  budget")
    print(
        f"{'burst 200/s, ' + str(int(seconds)) + ' s: decide+store p50 (ms)':<44}"
        f"{b['p50']:>14.3f}{statistics.median(raw):>14.3f}{b['p50'] / statistics.median(raw):>9.1f}"
    )
    print(
        f"{'burst: decide+store p99 (ms)':<44}{b['p99']:>14.3f}{pct(raw, 0.99):>14.3f}"
        f"{b['p99'] / pct(raw, 0.99):>9.1f}  <= 5 ms"
    )
    print(f"{'burst: events lost of ' + str(int(b['scans'])):<44}{b['lost']:>14.0f}{'':>23}  0")
    print(
        f"{'drain ' + format(drain_n, ',') + ' events (events/s)':<44}{rate:>14,.0f}"
        f"{raw_rate:>14,.0f}{rate / raw_rate:>8.0%}  >= 50 %"
    )
    print(f"(raw commit: SQLite WAL synchronous=FULL; raw publish: paho QoS 1, window {WINDOW})")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
