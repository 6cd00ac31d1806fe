"""`kindergate collector` SIGKILLed while it ingests loses nothing and stores nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from office.checks import gaps
from office.store import open_store
from tests.collector_support import Publisher, gate_events, write_config
from tests.conftest import REPO, Broker, wait_for
from tests.test_collector_mqtt import PERSISTENT_BROKER


def spawn(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "collector", "-c", str(cfg)],
            stdout=out,
            stderr=out,
            env=env,
            cwd=REPO,
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "office.db")
    return str(request.getfixturevalue("postgres_url"))


def test_sigkill_mid_batch_then_restart_stores_every_event_once(
    broker_factory: Any, database: str, tmp_path: Path
) -> None:
    broker: Broker = broker_factory(PERSISTENT_BROKER)
    cfg = write_config(tmp_path / "office", broker.port, database, batch_size=100)
    log = tmp_path / "collector.log"
    store = open_store(database)
    pub = Publisher(broker.port)
    proc = spawn(cfg, log)
    try:
        # The retained status shows when the collector is subscribed.
        pub.raw("kindergate/sunflower/main/status", "online", retain=True)
        wait_for(lambda: store.gate_rows(), 30, "the collector's first commit")
        events = gate_events(4000)
        sender = threading.Thread(target=pub.events, args=(events,))
        sender.start()
        for stop_at in (800, 2000):  # killed twice while events pour in
            wait_for(lambda n=stop_at: store.count_events() >= n, 60, f"{stop_at} events stored")  # type: ignore[misc]
            proc.kill()
            proc.wait(10)
            assert proc.returncode == -signal.SIGKILL
            assert store.count_events() < 4000, "killed too late to test anything"
            proc = spawn(cfg, log)
        sender.join()
        wait_for(lambda: store.count_events() == 4000, 60, "every event after the restarts")
        assert store.event_ids() == sorted(e["id"] for e in events)
        assert gaps(store, "sunflower", "main") == []
        proc.terminate()
        assert proc.wait(30) == 0, log.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        pub.close()
        store.close()
