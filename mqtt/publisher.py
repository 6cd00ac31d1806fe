"""The publisher: the durable outbox drained to the broker, in order, with QoS 1.

Threads. paho runs its own network thread (``loop_start``): it connects, reconnects with
backoff and calls our callbacks. A second thread, the drain, reads the outbox, calls
``publish`` and deletes acknowledged rows. The drain needs a thread of its own because
it does blocking SQLite work that must neither run on the gate's asyncio loop (decisions
never wait on the network or on the publisher's disk work) nor inside paho's callbacks
(paho holds its message lock while it calls ``on_publish``; a callback that published or
waited on SQLite there would stall the network thread or deadlock against ``publish``).
So the callbacks only append to deques and set an event; the drain does the rest.

Who writes the store. The daemon's loop is the one writer of events and their outbox
rows. The drain deletes acknowledged outbox rows through its *own* SQLite connection
(``Store.drain_connection``):
SQLite serialises the writers (WAL, ``BEGIN IMMEDIATE``, a busy timeout of seconds
against commits of microseconds), and a DELETE never touches the ``events`` table or the
hash chain, so it cannot interleave with the loop's writes in a harmful way. Handing
acks to the loop instead would put ack bookkeeping for a 100k-event drain on the thread
that decides scans. The publisher's connection runs with ``synchronous=NORMAL``: losing
the last few deletes in a power cut only means those events are published again, and
duplicates are removed at the collector by event id. Deletes are batched: all acks that
arrived while the previous batch committed go in one transaction, one statement per run
of consecutive seqs (``Store.outbox_done``).

Order and acknowledgement. Rows go out in ``seq`` order on one connection, at most
``window`` unacknowledged at a time (a bounded in-flight window; the rest stay on disk).
A row is deleted only after its PUBACK *with a success reason code*: a refused publish
(not authorised, quota exceeded, ...) is not a success, and the drain backs off and
sends again from the first refused row. paho keeps unacknowledged QoS 1 messages across
a reconnect and sends them again itself, so a dropped connection loses nothing and the
drain simply keeps its place.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import MqttConfig
from edge.store import Store
from mqtt.connection import make_client, topic_base

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0
BATCH = 500
DELETE_BATCH = 128
RETRY_MIN, RETRY_MAX = 0.5, 60.0
_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_QUEUED = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)


@dataclass
class PublisherStats:
    published: int = 0
    acked: int = 0
    refused: int = 0
    connects: int = 0
    max_inflight: int = 0
    delete_failures: int = 0


def event_topic(base: str, body: str) -> str:
    """``{base}/event/{type}``; a body that cannot be read goes to ``event/unknown``."""
    try:
        kind = json.loads(body).get("type")
    except (ValueError, AttributeError):
        kind = None
    return f"{base}/event/{kind if isinstance(kind, str) and _TYPE.match(kind) else 'unknown'}"


class Publisher:
    def __init__(
        self,
        mqtt: MqttConfig,
        outbox: Store,
        *,
        site: str,
        gate: str,
        window: int | None = None,
        reconnect: tuple[int, int] | None = None,
    ) -> None:
        self.mqtt = mqtt
        self.outbox = outbox
        self.base = topic_base(mqtt, site, gate)
        self.window = window or mqtt.max_inflight
        self.stats = PublisherStats()
        self.on_connected: list[Callable[[paho.Client], None]] = []
        self.client = make_client(mqtt, f"kindergate-{site}-{gate}")
        self.client.max_inflight_messages_set(self.window)
        self.client.reconnect_delay_set(*(reconnect or (1, mqtt.reconnect_max_seconds)))
        self.client.will_set(f"{self.base}/status", "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.connected = False
        self._limit = self.window
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._acks: deque[tuple[int, bool, str]] = deque()
        self._sends: deque[tuple[str, bytes, bool, Properties | None]] = deque()
        self._inflight: dict[int, int] = {}  # mid -> seq; the drain thread's alone
        self._undeleted: list[int] = []
        self._delete_streak = 0
        self._cursor = 0
        self._backlog = False  # the last fill stopped at a full window, not an empty outbox
        self._refused: list[int] = []
        self._rewind = False
        self._retry_at = 0.0
        self._retry_delay = RETRY_MIN
        self._state: bytes | None = None
        self._state_sent: bytes | None = None
        self._thread: threading.Thread | None = None

    # --- life -------------------------------------------------------------------------

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        self.client.connect_async(
            self.mqtt.host, self.mqtt.port, self.mqtt.keepalive, clean_start=True, properties=props
        )
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="mqtt-drain", daemon=True)
        self._thread.start()

    def stop(self, flush_seconds: float = 1.0) -> None:
        """Give the outbox a moment to empty, say ``offline``, disconnect."""
        deadline = time.monotonic() + flush_seconds
        while self.connected and self.busy() and time.monotonic() < deadline:
            self._wake.set()
            self._stop.wait(0.02)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            if not self._thread.is_alive():  # the drain is over: its bookkeeping is ours
                self._take_acks()
                self._delete_acked()
        if self.connected:
            # A clean DISCONNECT suppresses the will, so say it ourselves.
            info = self.client.publish(f"{self.base}/status", "offline", qos=1, retain=True)
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                info.wait_for_publish(timeout=1.0)
        self.connected = False
        self.client.disconnect()
        self.client.loop_stop()

    def busy(self) -> bool:
        """Whether anything is in flight or waiting in the outbox."""
        return bool(self._inflight) or bool(self.outbox_depth())

    def outbox_depth(self) -> int:
        try:
            return self.outbox.outbox_depth()
        except Exception:
            return 0

    # --- from other threads -----------------------------------------------------------

    def wake(self) -> None:
        """New rows in the outbox (called from the loop; never blocks)."""
        self._wake.set()

    def set_state(self, state: dict[str, Any]) -> None:
        self._state = json.dumps(state, sort_keys=True, ensure_ascii=False).encode()
        self._wake.set()

    def send(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> None:
        """Publish something that is not an event (a command reply) from the drain thread."""
        self._sends.append((topic, payload, retain, properties))
        self._wake.set()

    def rewind(self) -> None:
        """Send the whole outbox again from its first row (rows were put back in it)."""
        self._rewind = True
        self._wake.set()

    # --- paho's network thread ----------------------------------------------------------

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: Any,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.warning(
                "broker %s:%s refused the connection: %s", self.mqtt.host, self.mqtt.port, reason
            )
            return
        receive_max = getattr(props, "ReceiveMaximum", None) if props else None
        # The broker's Receive Maximum bounds our window (paho cannot change its own
        # limit on a live connection, but it only ever holds what the drain gave it).
        self._limit = min(self.window, receive_max or self.window)
        self.stats.connects += 1
        log.info("connected to %s:%s", self.mqtt.host, self.mqtt.port)
        client.publish(f"{self.base}/status", "online", qos=1, retain=True)
        self._state_sent = None  # the retained state is published again on every connect
        self.connected = True
        for hook in self.on_connected:
            try:
                hook(client)
            except Exception:
                log.exception("on-connect hook failed")
        self._wake.set()

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if self.connected:
            log.warning("disconnected from %s:%s: %s", self.mqtt.host, self.mqtt.port, reason)
        self.connected = False

    def _on_publish(
        self, client: paho.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        self._acks.append((mid, not reason.is_failure, str(reason)))
        self._wake.set()

    # --- the drain thread ---------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(IDLE_SECONDS)
            self._wake.clear()
            try:
                self._step()
            except Exception:
                # the store or paho failed (disk full, ...): the rows stay, try again later
                log.exception("outbox drain failed; retrying")
                self._stop.wait(self._backoff())

    def _step(self) -> None:
        self._take_acks()
        # One DELETE transaction per PUBACK would cost a commit per event: batch them,
        # and flush whatever is left whenever nothing is in flight.
        if len(self._undeleted) >= min(DELETE_BATCH, self._limit // 2) or not self._inflight:
            self._delete_acked()
        if not self.connected:
            return
        self._send_others()
        if self._refused or self._rewind:
            if self._inflight or time.monotonic() < self._retry_at:
                return
            self._cursor = min(self._refused) - 1 if self._refused and not self._rewind else 0
            self._refused.clear()
            self._rewind = False
        self._fill()

    def _take_acks(self) -> None:
        while self._acks:
            mid, ok, why = self._acks.popleft()
            seq = self._inflight.pop(mid, None)
            if seq is None:
                continue  # status, state or a reply
            if ok:
                self._undeleted.append(seq)
                self.stats.acked += 1
                self._retry_delay = RETRY_MIN
            else:
                if not self._refused:  # one warning and one step of backoff per round
                    log.warning("broker refused event seq %s: %s; will send it again", seq, why)
                    self._retry_at = time.monotonic() + self._backoff()
                self._refused.append(seq)
                self.stats.refused += 1

    def _delete_acked(self) -> None:
        if not self._undeleted:
            return
        try:
            self.outbox.outbox_done(self._undeleted)
        except Exception as err:
            # A full disk, a long lock: keep the seqs for the next round and go on sending.
            # The rows stay in the outbox, so a restart now only publishes them twice.
            if not self._delete_streak:
                log.error("cannot delete acknowledged outbox rows: %s; retrying", err)
            self._delete_streak += 1
            self.stats.delete_failures += 1
            return
        if self._delete_streak:
            log.info("outbox deletes work again")
            self._delete_streak = 0
        self._undeleted = []

    def _send_others(self) -> None:
        while self._sends:
            topic, payload, retain, props = self._sends.popleft()
            self.client.publish(topic, payload, qos=1, retain=retain, properties=props)
        state = self._state
        if state is not None and state != self._state_sent:
            self.client.publish(f"{self.base}/state", state, qos=1, retain=True)
            self._state_sent = state

    def _fill(self) -> None:
        # While draining a backlog, refill in chunks, not one row per PUBACK: a query per
        # event would halve the rate. New events trickling in go out at once.
        room = self._limit - len(self._inflight)
        if self._backlog and room < max(1, self._limit // 4):
            return
        while not self._stop.is_set():
            room = self._limit - len(self._inflight)
            if room <= 0:
                self._backlog = True
                return
            rows = self.outbox.outbox_batch(min(room, BATCH), after=self._cursor)
            if not rows:
                self._backlog = False
                return
            for seq, body in rows:
                if not self._publish_row(seq, body):
                    return

    def _publish_row(self, seq: int, body: str) -> bool:
        info = self.client.publish(event_topic(self.base, body), body, qos=1)
        if info.rc not in _QUEUED:
            log.warning("publish of event seq %s failed: %s", seq, paho.error_string(info.rc))
            if not self._refused:
                self._retry_at = time.monotonic() + self._backoff()
            self._refused.append(seq)
            return False
        self._inflight[info.mid] = seq
        self._cursor = seq
        self.stats.published += 1
        self.stats.max_inflight = max(self.stats.max_inflight, len(self._inflight))
        return True

    def _backoff(self) -> float:
        delay = self._retry_delay
        self._retry_delay = min(RETRY_MAX, self._retry_delay * 2)
        return delay
