"""Helpers for the MQTT tests: a gate daemon on a loop thread, a subscriber, a commander,
and a TCP proxy that can stall, slow down or cut the link to the broker."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import select
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from drivers.base import Read
from edge.config import Config, load_config
from edge.daemon import Daemon
from edge.events import Event
from mqtt.link import GateLink
from mqtt.signing import make_command, new_key_hex
from tests.conftest import REPO, wait_for

STAFF = "card:0721862278"  # granted any day, any time: the lock is driven
UNKNOWN = "card:0000000042"


def write_config(
    tmp_path: Path,
    *,
    port: int,
    gate: str | None = None,
    mqtt: dict[str, Any] | None = None,
    extra: str = "",
) -> Path:
    """A gate config on simulated hardware talking to the broker on ``port``."""
    gate = gate or f"g{uuid.uuid4().hex[:8]}"
    key = tmp_path / "site.key"
    if not key.exists():
        key.write_text(new_key_hex() + "\n")
        key.chmod(0o600)
    lines = ['host = "127.0.0.1"', f"port = {port}", f'key_file = "{key}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in (mqtt or {}).items()]
    mqtt_section = "\n".join(lines)
    path = tmp_path / "gate.toml"
    path.write_text(
        f"""
[site]
id = "sunflower"
timezone = "Asia/Shanghai"
[gate]
id = "{gate}"
[store]
path = "{tmp_path / "gate.db"}"
[roster]
path = "{REPO / "config" / "roster"}"
[mqtt]
{mqtt_section}
{extra}
"""
    )
    return path


def base_topic(cfg: Config) -> str:
    assert cfg.mqtt is not None
    return f"{cfg.mqtt.topic_prefix}/{cfg.site.id}/{cfg.gate.id}"


def stored_ids(db_path: Path) -> list[str]:
    """Event ids in the gate's store, read through a separate read-only connection."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return [row[0] for row in db.execute("SELECT id FROM events ORDER BY seq")]
    finally:
        db.close()


def outbox_depth(db_path: Path) -> int:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
    finally:
        db.close()


class GateHarness:
    """The real daemon and its MQTT link on an asyncio loop in a thread of the test."""

    def __init__(self, config_path: Path, *, start_link: bool = True) -> None:
        self.cfg = load_config(config_path)
        self.base = base_topic(self.cfg)
        self.daemon = Daemon(self.cfg)
        self.daemon.open()
        self.loop = asyncio.new_event_loop()
        self.link: GateLink | None = None
        self._start_link = start_link
        self._thread = threading.Thread(target=self._run, name="test-gate-loop", daemon=True)
        self._thread.start()
        self.call(self._boot)

    @property
    def db_path(self) -> Path:
        return self.cfg.store.path

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.daemon.loop = self.loop
        self.loop.run_forever()

    def _boot(self) -> None:
        if self._start_link:
            self.link = GateLink(self.daemon, reconnect=(1, 1))
            self.link.start()
            self.daemon.components.append(("mqtt", self.link))

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 30) -> Any:
        """Run ``fn`` on the gate's loop and return its result."""
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as err:
                done.set_exception(err)

        self.loop.call_soon_threadsafe(run)
        return done.result(timeout)

    def scan(self, credential: str = STAFF) -> None:
        """Hand a read to the loop as a reader thread does (does not wait for it)."""
        self.loop.call_soon_threadsafe(self.daemon.on_read, Read("entrance", credential))

    def scan_and_wait(self, credential: str = STAFF) -> list[Event]:
        return list(
            self.call(self.daemon.record, self.daemon.gate.scan(Read("entrance", credential)))
        )

    def stored(self) -> list[str]:
        return stored_ids(self.db_path)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.call(self.daemon.shutdown)
            # as asyncio.run does at its end: pending tasks (a command) are cancelled
            self.call(lambda: [t.cancel() for t in asyncio.all_tasks(self.loop)])
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.loop.close()


class Subscriber:
    """Everything published under ``topic``, kept in arrival order; a persistent session."""

    def __init__(
        self,
        port: int,
        topic: str,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
    ) -> None:
        self.messages: list[tuple[str, bytes, bool, Any]] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.topic = topic
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-sub-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv5,
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.reconnect_delay_set(1, 1)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600  # messages for us are kept while the broker restarts
        # Mosquitto 2.0 does not restore, after a restart, a session begun with clean start
        # (whatever its expiry); the collector connects this way too.
        self.client.connect("127.0.0.1", port, 30, clean_start=False, properties=props)
        self.client.loop_start()
        wait_for(self.subscribed.is_set, 10, f"subscription to {topic}")

    def _on_connect(self, client: paho.Client, u: Any, flags: Any, rc: Any, p: Any) -> None:
        if not flags.session_present:
            client.subscribe(self.topic, options=SubscribeOptions(qos=1))

    def _on_message(self, client: paho.Client, u: Any, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain), msg.properties))

    def all(self) -> list[tuple[str, bytes, bool, Any]]:
        with self._lock:
            return list(self.messages)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p, _, _ in self.all() if "/event/" in t]

    def event_ids(self) -> list[str]:
        return [e["id"] for e in self.events()]

    def on(self, suffix: str) -> list[bytes]:
        return [p for t, p, _, _ in self.all() if t.endswith(suffix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Commander:
    """The office side: signs commands, publishes them, collects the replies."""

    def __init__(
        self,
        port: int,
        base: str,
        key: bytes,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.base = base
        self.key = key
        self.sub = Subscriber(port, f"{base}/cmd/+/reply", username=username, password=password)
        self.client = self.sub.client

    def send_raw(
        self,
        name: str,
        payload: bytes,
        *,
        sig: str | None,
        retain: bool = False,
        expiry: int | None = None,
        correlation: bytes | None = None,
    ) -> bytes:
        correlation = correlation or uuid.uuid4().bytes
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = correlation
        if sig is not None:
            props.UserProperty = ("sig", sig)
        if expiry is not None:
            props.MessageExpiryInterval = expiry
        info = self.client.publish(
            f"{self.base}/cmd/{name}", payload, qos=1, retain=retain, properties=props
        )
        info.wait_for_publish(10)
        return correlation

    def send(
        self, name: str, args: dict[str, Any] | None = None, *, now: float, **kw: Any
    ) -> bytes:
        payload, sig = make_command(name, args or {}, self.key, now)
        return self.send_raw(name, payload, sig=sig, **kw)

    def reply(self, correlation: bytes, timeout: float = 10) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for _, payload, _, props in self.sub.all():
                if getattr(props, "CorrelationData", None) == correlation:
                    return dict(json.loads(payload))
            return None

        reply = wait_for(found, timeout, "a reply")
        assert isinstance(reply, dict)
        return reply

    def replies_count(self) -> int:
        return len(self.sub.all())

    def close(self) -> None:
        self.sub.close()


class Proxy:
    """A TCP proxy to the broker. ``stall()`` holds the broker's bytes back (no PUBACKs
    reach the gate), ``rate`` limits them to some bytes a second (a slow broker), ``cut()``
    drops every connection and refuses new ones (a network outage)."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stalled = False
        self.down = False
        self.rate: float | None = None  # broker -> client bytes per second
        self._pairs: list[tuple[socket.socket, socket.socket, bytearray]] = []
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="test-proxy", daemon=True)
        self._thread.start()

    def stall(self) -> None:
        self.stalled = True
        self._poke()

    def resume(self) -> None:
        self.stalled = False
        self.rate = None
        self._poke()

    def cut(self) -> None:
        self.down = True
        self._poke()

    def heal(self) -> None:
        self.down = False
        self._poke()

    def close(self) -> None:
        self._stop = True
        self._poke()
        self._thread.join(5)
        self.listener.close()

    def _poke(self) -> None:
        self._wake_w.send(b"x")

    def _run(self) -> None:
        import time

        budget, last = 0.0, time.monotonic()
        while not self._stop:
            if self.down:
                self._drop_all()
            socks: list[Any] = [self.listener, self._wake_r]
            for client, broker, _ in self._pairs:
                socks += [client, broker]
            ready, _, _ = select.select(socks, [], [], 0.005)
            now = time.monotonic()
            if self.rate is not None:
                budget = min(self.rate, budget + (now - last) * self.rate)
            last = now
            for s in ready:
                self._readable(s)
            budget = self._flush(budget)

    def _readable(self, s: socket.socket) -> None:
        if s is self._wake_r:
            s.recv(1024)
            return
        if s is self.listener:
            client, _ = s.accept()
            if self.down:
                client.close()
                return
            broker = socket.create_connection(self.target)
            self._pairs.append((client, broker, bytearray()))
            return
        for pair in list(self._pairs):
            client, broker, held = pair
            try:
                if s is client:
                    data = client.recv(65536)
                    if not data:
                        raise OSError("closed")
                    broker.sendall(data)
                elif s is broker:
                    data = broker.recv(65536)
                    if not data:
                        raise OSError("closed")
                    held += data
            except OSError:
                self._close(pair)

    def _flush(self, budget: float) -> float:
        if self.stalled:
            return budget
        for pair in list(self._pairs):
            client, _, held = pair
            if not held:
                continue
            n = len(held) if self.rate is None else min(len(held), int(budget))
            if n <= 0:
                continue
            try:
                client.sendall(bytes(held[:n]))
            except OSError:
                self._close(pair)
                continue
            del held[:n]
            budget -= n
        return budget

    def _close(self, pair: tuple[socket.socket, socket.socket, bytearray]) -> None:
        for s in pair[:2]:
            s.close()
        if pair in self._pairs:
            self._pairs.remove(pair)

    def _drop_all(self) -> None:
        for pair in list(self._pairs):
            self._close(pair)
