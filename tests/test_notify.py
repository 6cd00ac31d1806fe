"""sd_notify and the watchdog: READY, pings only while the gate works, STOPPING.

The daemon is run for real under a NOTIFY_SOCKET the test owns; nothing sleeps, every
wait is on a message or a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.health import ReaderHealth
from edge.ops.sdnotify import Notifier, send, watchdog_interval
from edge.ops.watchdog import ReaderWatch, Watchdog, summary
from tests.conftest import async_wait_for
from tests.ops_support import ROSTER


class Listener:
    """The service manager's end: a datagram socket collecting notifications."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[str] = []

    def receive(self, timeout: float) -> str | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            message = self.sock.recv(4096).decode()
        except TimeoutError:
            return None
        self.messages.append(message)
        return message

    def wait_for(self, wanted: Callable[[str], bool], timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self.receive(left)
            if message is not None and wanted(message):
                return message
        raise AssertionError(f"no such notification in {timeout}s; got {self.messages[-5:]}")

    def wait_for_silence(self, gap: float, timeout: float) -> None:
        """Until no WATCHDOG=1 came for ``gap`` seconds (fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < deadline:
            message = self.receive(min(gap, deadline - time.monotonic()))
            if message is not None and "WATCHDOG=1" in message:
                last = time.monotonic()
            elif time.monotonic() - last >= gap:
                return
        raise AssertionError(f"watchdog pings never stopped for {gap}s within {timeout}s")

    def drain(self) -> None:
        """Take every waiting message without blocking."""
        while True:
            try:
                self.messages.append(self.sock.recv(4096, socket.MSG_DONTWAIT).decode())
            except BlockingIOError:
                return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    path = tmp_path / "notify.sock"
    if len(str(path)) > 100:  # sun_path is 108 bytes
        pytest.skip(f"temporary path too long for a unix socket: {path}")
    lis = Listener(path)
    yield lis
    lis.close()


# --- the protocol ---------------------------------------------------------------------------


def test_send_reaches_the_socket(listener: Listener) -> None:
    env = {"NOTIFY_SOCKET": str(listener.path)}
    assert send("READY=1\nSTATUS=up", environ=env)
    assert listener.receive(5) == "READY=1\nSTATUS=up"


def test_abstract_socket() -> None:
    name = f"kindergate-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        assert send("WATCHDOG=1", environ={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(100) == b"WATCHDOG=1"


def test_outside_systemd_nothing_is_sent_and_nothing_fails(tmp_path: Path) -> None:
    assert not send("READY=1", environ={})
    assert not send("READY=1", environ={"NOTIFY_SOCKET": "relative/path"})
    assert not send("READY=1", environ={"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert not Notifier({}).ready("x")


def test_a_manager_that_does_not_read_never_blocks_the_sender(listener: Listener) -> None:
    """A full socket queue drops the message: the loop driving the lock must not wait."""
    env = {"NOTIFY_SOCKET": str(listener.path)}
    assert send("WATCHDOG=1", environ=env)
    refused = next((i for i in range(100_000) if not send("WATCHDOG=1", environ=env)), None)
    assert refused is not None, "the queue never filled: the sender would have blocked"


def test_notifier_messages(listener: Listener) -> None:
    n = Notifier({"NOTIFY_SOCKET": str(listener.path)})
    n.ready("mode normal,\n lock locked")
    n.watchdog()
    n.status("x" * 500)
    n.stopping()
    got = [listener.receive(5) for _ in range(4)]
    assert got[0] == "READY=1\nSTATUS=mode normal, lock locked"
    assert got[1] == "WATCHDOG=1"
    assert got[2] == "STATUS=" + "x" * 200
    assert got[3] == "STOPPING=1"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(env) == expected


# --- the component, on a loop of its own -------------------------------------------------------


def test_reader_watch_waits_out_the_grace() -> None:
    watch = ReaderWatch(grace=10)
    down = {"entrance": ReaderHealth("entrance", False, "unplugged")}
    assert watch.failing(down, 100) == []
    assert watch.failing(down, 109) == []
    assert watch.failing(down, 110) == ["entrance (unplugged)"]
    assert watch.failing({"entrance": ReaderHealth("entrance", True)}, 111) == []
    assert watch.failing(down, 112) == []  # a new outage starts a new grace


class FakeDaemon:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.reader_health: dict[str, ReaderHealth] = {}

    def status(self) -> dict[str, Any]:
        readers = {n: {"ok": h.ok} for n, h in self.reader_health.items()}
        return {
            "mode": "normal",
            "lock": "locked",
            "door": "closed",
            "outbox": 0,
            "readers": readers,
        }


async def until(
    condition: Callable[[], bool], drain: Listener | None = None, timeout: float = 10
) -> None:
    def met() -> bool:
        if drain is not None:
            drain.drain()
        return condition()

    await async_wait_for(met, timeout, "the condition")


def test_pings_stop_while_a_reader_is_down_past_its_grace(listener: Listener) -> None:
    ticks = [0]

    def clock() -> float:  # one second per beat: the watch reads the clock once a beat
        ticks[0] += 1
        return float(ticks[0])

    async def scenario() -> tuple[int, int, int]:
        daemon = FakeDaemon(asyncio.get_running_loop())
        dog = Watchdog(
            daemon,  # type: ignore[arg-type]
            notifier=Notifier({"NOTIFY_SOCKET": str(listener.path)}),
            interval=0.001,
            reader_grace=3,
            clock=clock,
        )
        dog.start()
        await until(lambda: dog.pings >= 3, listener)
        daemon.reader_health["entrance"] = ReaderHealth("entrance", False, "unplugged")
        before = dog.pings
        await until(lambda: dog.withholding, listener)
        held, since = dog.pings, ticks[0]
        await until(lambda: ticks[0] > since + 20, listener)  # twenty more beats
        withheld = dog.pings - held
        daemon.reader_health["entrance"] = ReaderHealth("entrance", True, "back")
        await until(lambda: dog.pings > held, listener)
        dog.stop()
        return held - before, withheld, held

    in_grace, withheld, _ = asyncio.run(scenario())
    assert in_grace == 3  # beats at 0, 1 and 2 seconds into the outage still ping
    assert withheld == 0
    listener.drain()
    messages = listener.messages
    assert messages[0].startswith("READY=1\nSTATUS=mode normal")
    assert "STATUS=reader down, restart expected: entrance (unplugged)" in messages
    assert messages[-1].startswith("STOPPING=1")
    down = messages.index("STATUS=reader down, restart expected: entrance (unplugged)")
    assert "WATCHDOG=1" in messages[:down] and "WATCHDOG=1" in messages[down:]


def test_without_watchdog_usec_only_ready_and_stopping(listener: Listener) -> None:
    async def scenario() -> None:
        daemon = FakeDaemon(asyncio.get_running_loop())
        notifier = Notifier({"NOTIFY_SOCKET": str(listener.path)})
        dog = Watchdog(daemon, notifier=notifier)  # type: ignore[arg-type]
        dog.interval = None  # as without WATCHDOG_USEC
        dog.start()
        dog.stop()

    asyncio.run(scenario())
    assert listener.receive(5).startswith("READY=1")  # type: ignore[union-attr]
    assert listener.receive(5).startswith("STOPPING=1")  # type: ignore[union-attr]


def test_summary_names_readers_down() -> None:
    status = {"mode": "lockdown", "lock": "locked", "door": "closed", "outbox": 3,
              "readers": {"a": {"ok": True}, "b": {"ok": False}}}  # fmt: skip
    assert summary(status) == "mode lockdown, lock locked, door closed, outbox 3, readers down: b"


# --- the real daemon ---------------------------------------------------------------------------

CONFIG = """
[site]
id = "sunflower"
timezone = "Asia/Shanghai"
[gate]
id = "main"
hardware = "simulated"
[store]
path = "{state}/gate.db"
[roster]
path = "{roster}"
[[reader]]
name = "entrance"
type = "line"
path = "{state}/entrance.fifo"
"""


def scan(fifo: Path, line: str) -> None:
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # the daemon holds the FIFO open
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def test_daemon_ready_pings_stall_and_stopping(tmp_path: Path, listener: Listener) -> None:
    state = tmp_path / "state"
    cfg = tmp_path / "gate.toml"
    cfg.write_text(CONFIG.format(state=state, roster=ROSTER))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
    env.update(NOTIFY_SOCKET=str(listener.path), WATCHDOG_USEC="200000")
    log = (tmp_path / "daemon.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "-c", str(cfg)], env=env, stdout=log, stderr=log
    )
    try:
        listener.wait_for(lambda m: m.startswith("READY=1"))
        for _ in range(3):
            listener.wait_for(lambda m: m == "WATCHDOG=1")
        # Stall the loop: hold the store's write lock, then make the daemon write an event.
        holder = sqlite3.connect(str(state / "gate.db"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            scan(state / "entrance.fifo", "card:0000000042")
            listener.wait_for_silence(gap=1.0, timeout=4.0)  # the busy timeout is 5 s
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        listener.wait_for(lambda m: m == "WATCHDOG=1")  # the loop turns again
        stored = sqlite3.connect(str(state / "gate.db"))
        credentials = [
            r[0] for r in stored.execute("SELECT json_extract(body, '$.credential') FROM events")
        ]
        stored.close()
        assert "card:0000000042" in credentials  # the stall was that write, and it completed
        proc.send_signal(signal.SIGTERM)
        listener.wait_for(lambda m: m.startswith("STOPPING=1"))
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.seek(0)
        print(log.read()[-3000:])
