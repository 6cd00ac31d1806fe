"""The office's side of commands: sign, publish, wait for the gate's reply; make keys."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.config import MqttConfig
from mqtt.connection import make_client
from mqtt.signing import make_command, new_key_hex


class CommandError(RuntimeError):
    """The command could not be delivered or no reply came in time."""


@dataclass
class _Exchange:
    """What the network thread learns, for the caller to wait on."""

    correlation: bytes
    connected: threading.Event = field(default_factory=threading.Event)
    subscribed: threading.Event = field(default_factory=threading.Event)
    published: threading.Event = field(default_factory=threading.Event)
    replied: threading.Event = field(default_factory=threading.Event)
    problem: str | None = None
    reply: dict[str, Any] | None = None


def send_command(
    mqtt: MqttConfig,
    key: bytes,
    *,
    site: str,
    gate: str,
    name: str,
    args: dict[str, Any],
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Publish a signed command and return the gate's reply (raise CommandError)."""
    base = f"{mqtt.topic_prefix}/{site}/{gate}"
    payload, sig = make_command(name, args, key, time.time())
    ex = _Exchange(correlation=uuid.uuid4().bytes)
    client = make_client(mqtt, f"kindergate-cmd-{uuid.uuid4().hex[:12]}")
    _wire(client, ex, f"{base}/cmd/{name}/reply")
    deadline = time.monotonic() + timeout
    client.connect_async(mqtt.host, mqtt.port, mqtt.keepalive)
    client.loop_start()
    try:
        _wait(ex, ex.connected, deadline, f"no connection to {mqtt.host}:{mqtt.port}")
        _wait(ex, ex.subscribed, deadline, "the broker did not confirm the reply subscription")
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("sig", sig)
        props.CorrelationData = ex.correlation
        props.ResponseTopic = f"{base}/cmd/{name}/reply"
        # a command the gate could only get later is useless: let the broker drop it
        props.MessageExpiryInterval = mqtt.command_window_seconds
        client.publish(f"{base}/cmd/{name}", payload, qos=1, properties=props)
        _wait(ex, ex.published, deadline, "the broker did not acknowledge the command")
        _wait(ex, ex.replied, deadline, f"no reply from gate {gate} within {timeout:g} s")
    finally:
        client.disconnect()
        client.loop_stop()
    assert ex.reply is not None
    return ex.reply


def _wire(client: paho.Client, ex: _Exchange, reply_topic: str) -> None:
    def on_connect(c: paho.Client, u: Any, f: Any, rc: ReasonCode, p: Any) -> None:
        if rc.is_failure:
            _fail(ex, f"the broker refused the connection: {rc}")
            return
        c.subscribe(reply_topic, options=SubscribeOptions(qos=1))
        ex.connected.set()

    def on_subscribe(c: paho.Client, u: Any, mid: int, codes: list[ReasonCode], p: Any) -> None:
        if any(code.is_failure for code in codes):
            _fail(ex, f"the broker refused the reply subscription: {codes[0]}")
            return
        ex.subscribed.set()

    def on_publish(c: paho.Client, u: Any, mid: int, rc: ReasonCode, p: Any) -> None:
        if rc.is_failure:
            _fail(ex, f"the broker refused the command: {rc}")
            return
        ex.published.set()

    def on_message(c: paho.Client, u: Any, msg: paho.MQTTMessage) -> None:
        if getattr(msg.properties, "CorrelationData", None) != ex.correlation:
            return  # someone else's reply
        try:
            reply = json.loads(msg.payload)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            _fail(ex, "the gate's reply is not a JSON object")
            return
        ex.reply = reply
        ex.replied.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_publish = on_publish
    client.on_message = on_message


def _fail(ex: _Exchange, problem: str) -> None:
    ex.problem = problem
    for event in (ex.connected, ex.subscribed, ex.published, ex.replied):
        event.set()  # wake the caller whatever it waits for


def _wait(ex: _Exchange, event: threading.Event, deadline: float, why: str) -> None:
    if not event.wait(max(0.0, deadline - time.monotonic())):
        raise CommandError(why)
    if ex.problem is not None:
        raise CommandError(ex.problem)


def parse_args(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict; ValueError naming the bad one."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--arg {pair!r}: expected KEY=VALUE")
        if key in out:
            raise ValueError(f"--arg {key}: given twice")
        out[key] = value
    return out


def write_key(path: Path, *, force: bool = False) -> None:
    """Write a new random key as hex, readable by its owner only.

    Without ``force`` an existing file is never touched (O_EXCL). With it, the new key is
    written beside the old one and renamed over it, so a crash leaves one or the other.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory")
    target = path.with_name(f".{path.name}.{os.getpid()}.tmp") if force else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, (new_key_hex() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if force:
        os.replace(target, path)
    os.chmod(path, 0o600)  # the umask may have narrowed it; never widened
