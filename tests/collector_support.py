"""Shared by the collector tests and the bench: chained gate events, a QoS 1 publisher,
a collector config file."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import OfficeConfig, load_office_config
from edge.events import GENESIS, Decision, Draft, EventType, Person, Reason, dumps, seal

T0 = datetime.fromisoformat("2026-11-24T16:00:00+08:00")


def gate_events(
    n: int,
    *,
    site: str = "sunflower",
    gate: str = "main",
    first_seq: int = 1,
    prev_hash: str = GENESIS,
    start: datetime = T0,
) -> list[dict[str, Any]]:
    """``n`` access events of one gate, sealed and chained as the gate's store does."""
    out = []
    for i in range(n):
        seq = first_seq + i
        draft = Draft(
            type=EventType.ACCESS,
            reason=Reason.PICKUP,
            ts=start + timedelta(milliseconds=250 * i),
            decision=Decision.GRANTED,
            credential=f"card:{seq:010d}",
            person=Person(f"G{seq % 500:04d}", "guardian", "Wang Fang"),
            children=(f"C{seq % 300:04d}",),
            reader="entrance",
        )
        event = seal(draft, site=site, gate=gate, seq=seq, prev_hash=prev_hash)
        prev_hash = event["hash"]
        out.append(event)
    return out


def topic_of(event: dict[str, Any], prefix: str = "kindergate") -> str:
    return f"{prefix}/{event['site']}/{event['gate']}/event/{event['type']}"


class Publisher:
    """A plain paho QoS 1 publisher that waits for every PUBACK."""

    def __init__(self, port: int, client_id: str = "test-gate") -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.acked = 0
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_publish(self, *_args: Any) -> None:
        with self._lock:
            self.acked += 1

    def raw(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def events(self, events: list[dict[str, Any]], prefix: str = "kindergate") -> None:
        infos = [self.client.publish(topic_of(e, prefix), dumps(e), qos=1) for e in events]
        for info in infos:
            info.wait_for_publish(30)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def write_config(
    folder: Path, port: int, database: str, roster: Path | None = None, **collector: Any
) -> Path:
    """The office's own config file: no gate section (the office machine has no gate)."""
    folder.mkdir(parents=True, exist_ok=True)
    roster = roster or folder / "roster"
    roster.mkdir(parents=True, exist_ok=True)
    (folder / "site.key").write_text("00" * 32)
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in collector.items())
    path = folder / "office.toml"
    path.write_text(
        f"""[site]
id = "sunflower"
timezone = "Asia/Shanghai"
[roster]
path = "{roster}"
[mqtt]
host = "127.0.0.1"
port = {port}
key_file = "site.key"
[collector]
database = {json.dumps(database)}
{extra}"""
    )
    return path


def office_config(folder: Path, port: int, database: str, **collector: Any) -> OfficeConfig:
    return load_office_config(write_config(folder, port, database, **collector))
