"""Collector ingest with dedup, MQTT in -> committed, against raw paho QoS 1 publishing.

Both figures are measured in this run on this machine, against a Mosquitto started here:

- raw: one paho client publishes N gate events at QoS 1 and waits for every PUBACK;
- ingest: the same N events wait in the collector's persistent session on the broker; the
  collector is started and timed until every one is committed (and acknowledged). Half of
  them are then sent again, and the collector must skip them all (dedup).

Budget (docs/collector.md): ingest >= 50 % of raw with SQLite, >= 30 % with PostgreSQL.
Usage: python bench/bench_collector.py [N]   (KINDERGATE_BENCH_PG: the PostgreSQL URL)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from edge.events import dumps  # noqa: E402
from office.collector import Collector  # noqa: E402
from tests.collector_support import Publisher, gate_events, office_config  # noqa: E402

PG_URL = os.environ.get("KINDERGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
BROKER_CONF = """listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 0
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out")
        time.sleep(0.002)


@contextmanager
def mosquitto(workdir: Path) -> Iterator[int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(BROKER_CONF.format(port=port))
    proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:

        def accepting() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return True
            except OSError:
                return False

        until(accepting, 10)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def raw_rate(port: int, n: int) -> float:
    """paho at its fastest: default in-flight window, counting PUBACKs in on_publish."""
    payloads = [dumps(e) for e in gate_events(n, gate="raw")]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=mqtt.MQTTv5)
    client.max_queued_messages_set(0)
    acked = 0
    done = threading.Event()

    def on_publish(*_args: object) -> None:
        nonlocal acked
        acked += 1
        if acked == n:
            done.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.perf_counter()
    for payload in payloads:
        client.publish("rawbench/sunflower/raw/event/access", payload, qos=1)
    if not done.wait(600):
        raise SystemExit("bench: raw publishing timed out")
    took = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return n / took


def ingest_rate(port: int, n: int, database: str, workdir: Path, gate: str) -> tuple[float, int]:
    cfg = office_config(workdir, port, database, client_id=f"bench-{gate}", batch_size=1000)
    collector = Collector(cfg)
    collector.start()  # once, to create the persistent session and its subscription
    until(collector.subscribed.is_set, 10)
    collector.stop()
    events = gate_events(n, gate=gate)
    pub = Publisher(port, f"bench-gate-{gate}")
    pub.events(events)
    collector = Collector(cfg)
    start = time.perf_counter()
    collector.start()
    until(lambda: collector.committed >= n, 600)
    took = time.perf_counter() - start
    pub.events(events[: n // 2])  # redelivered duplicates must all be skipped
    until(lambda: collector.committed >= n + n // 2, 600)
    stored = collector.store.count_events()
    collector.stop()
    pub.close()
    return n / took, stored


def postgres_database() -> tuple[str, Callable[[], None]] | None:
    try:
        import psycopg

        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except Exception as err:
        print(f"PostgreSQL: skipped ({err})")
        return None
    schema = f"kg_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    workdir = Path(tempfile.mkdtemp(prefix="kg-bench-"))
    ok = True
    try:
        with mosquitto(workdir) as port:
            raw_rate(port, min(n, 2000))  # warm up
            raw = raw_rate(port, n)
            print(f"raw paho QoS 1 publish: {raw:,.0f} msg/s ({n} messages)")
            targets: list[tuple[str, str, float, Callable[[], None] | None]] = [
                ("SQLite", str(workdir / "office.db"), 0.50, None)
            ]
            pg = postgres_database()
            if pg:
                targets.append(("PostgreSQL", pg[0], 0.30, pg[1]))
            for name, database, budget, cleanup in targets:
                try:
                    rate, stored = ingest_rate(port, n, database, workdir / name, name.lower())
                finally:
                    if cleanup:
                        cleanup()
                ratio = rate / raw
                verdict = "ok" if ratio >= budget and stored == n else "OVER BUDGET"
                ok = ok and verdict == "ok"
                print(
                    f"collector ingest, {name}: {rate:,.0f} msg/s = {ratio:.0%} of raw"
                    f" (budget >= {budget:.0%}); {stored} stored after {n + n // 2}"
                    f" delivered: {verdict}"
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
