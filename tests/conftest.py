"""Shared fixtures: a real Mosquitto per test session, a real PostgreSQL database."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    condition: Callable[[], object], timeout: float = 10.0, what: str = "condition"
) -> object:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        # yield the CPU without sleeping a fixed time: wait on nothing for a moment
        _pause()


POLL_SECONDS = 0.005


async def async_wait_for(
    condition: Callable[[], object], timeout: float = 10.0, what: str = "condition"
) -> object:
    """``wait_for`` inside a running loop: poll ``condition``, letting the loop run between polls."""
    import asyncio

    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(POLL_SECONDS)
    return value


def _pause() -> None:
    import select

    select.select([], [], [], 0.01)


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if not found:
        pytest.fail(
            "mosquitto is not installed: apt-get install mosquitto (make test installs it as root)"
        )
    return found


@dataclass
class Broker:
    """A Mosquitto started by the tests, on its own port with its own config."""

    host: str
    port: int
    workdir: Path
    config: str
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config.format(port=self.port, dir=self.workdir))
        log = (self.workdir / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=log, stderr=log)
        wait_for(self._accepting, 10, f"mosquitto on port {self.port}")

    def _accepting(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"mosquitto exited: {(self.workdir / 'mosquitto.log').read_text()[-2000:]}"
            )
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


# `user root`: started as root, Mosquitto would switch to the `mosquitto` user, which
# cannot write its persistence file into the test's private directory.
DEFAULT_BROKER_CONFIG = """\
user root
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {dir}/
max_queued_messages 1000000
max_inflight_messages 0
"""


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One broker for the session (anonymous, persistent) for tests that need a plain broker."""
    broker = Broker(
        "127.0.0.1", free_port(), tmp_path_factory.mktemp("mosquitto"), DEFAULT_BROKER_CONFIG
    )
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def broker_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Broker]]:
    """Start a private broker with a given config template ({port} and {dir} are filled in)."""
    started: list[Broker] = []

    def make(config: str = DEFAULT_BROKER_CONFIG) -> Broker:
        broker = Broker("127.0.0.1", free_port(), tmp_path_factory.mktemp("broker"), config)
        broker.start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()


PG_ADMIN_URL = os.environ.get("KINDERGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the machine's PostgreSQL; skipped where no server answers."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as err:
        pytest.skip(f"no PostgreSQL at {PG_ADMIN_URL}: {err}")
    schema = f"kg_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()
