"""The office collector: every gate's events from the broker into the office database.

paho's network thread only queues what arrives. One writer thread takes batches off the
queue (up to ``batch_size`` messages, or what came before a short deadline), commits them
in one transaction and only then acknowledges each message (manual acks, in the order
they arrived). A collector killed at any moment therefore loses nothing: whatever it had
not acknowledged the broker sends again to the persistent session, and the insert skips
an id it already has.

With ``shared_group`` the event subscriptions are ``$share/{group}/...``: the broker hands
each event to one collector of the group, and they all write to one PostgreSQL.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.config import CollectorConfig, MqttConfig, OfficeConfig
from office.ingest import Ingestor, Message, malformed
from office.store import CollectorStore, open_store

log = logging.getLogger(__name__)

RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


def wall_clock() -> datetime:
    return datetime.now(UTC)


def subscriptions(prefix: str, ccfg: CollectorConfig) -> list[str]:
    """Topic filters: events (shared when a group is set), and status/state (never shared:
    a shared subscription gets no retained messages, and every collector wants them)."""
    out: list[str] = []
    for site in ccfg.sites or ["+"]:
        events = f"{prefix}/{site}/+/event/#"
        out.append(f"$share/{ccfg.shared_group}/{events}" if ccfg.shared_group else events)
        out += [f"{prefix}/{site}/+/status", f"{prefix}/{site}/+/state"]
    return out


def make_client(mcfg: MqttConfig, client_id: str) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    if mcfg.username:
        password = None
        if mcfg.password_file:
            password = mcfg.password_file.read_text(encoding="utf-8").strip()
        client.username_pw_set(mcfg.username, password)
    if mcfg.tls:
        client.tls_set(
            ca_certs=str(mcfg.tls.ca_file),
            certfile=str(mcfg.tls.cert_file) if mcfg.tls.cert_file else None,
            keyfile=str(mcfg.tls.key_file) if mcfg.tls.key_file else None,
        )
    client.reconnect_delay_set(1, 30)
    return client


def is_transient(err: BaseException) -> bool:
    """A database error worth retrying the same batch for (locked, gone, deadlock)."""
    if isinstance(err, sqlite3.OperationalError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(err, psycopg.OperationalError | psycopg.errors.DeadlockDetected)


class Collector:
    """Subscribe, batch, commit, then ack. ``start()``/``stop()``; safe to stop twice."""

    def __init__(
        self,
        cfg: OfficeConfig,
        *,
        store: CollectorStore | None = None,
        clock: Callable[[], datetime] = wall_clock,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        if cfg.collector is None or cfg.mqtt is None:
            raise ValueError("the collector needs [collector] and [mqtt] in its config")
        self.ccfg = cfg.collector
        self.mcfg = cfg.mqtt
        self.clock = clock
        self._own_store = store is None
        self.store = store or open_store(self.ccfg.database)
        self.ingestor = Ingestor(
            self.store,
            self.mcfg.topic_prefix,
            offline_after=timedelta(seconds=self.ccfg.offline_after_seconds),
            clock=clock,
        )
        self.client = make_client(self.mcfg, self.ccfg.client_id)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.queue: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self.subscribed = threading.Event()
        self.stopping = threading.Event()
        self.failed = threading.Event()
        self.on_failure = on_failure
        self.committed = 0  # messages committed and acknowledged, for tests and the bench
        self._session = 0
        self._writer: threading.Thread | None = None
        self._started = False

    # --- broker side (paho's thread) --------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the collector: %s", rc)
            return
        self._session += 1
        log.info(
            "connected to %s:%s (session present: %s)",
            self.mcfg.host,
            self.mcfg.port,
            flags.session_present,
        )
        topics = subscriptions(self.mcfg.topic_prefix, self.ccfg)
        client.subscribe([(t, SubscribeOptions(qos=1)) for t in topics])

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        bad = [str(c) for c in codes if c.is_failure]
        if bad:
            log.error("subscription refused: %s", ", ".join(bad))
            return
        self.subscribed.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self.subscribed.clear()
        if not self.stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", rc)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = repr(msg._topic)
        self.queue.put(Message(topic, msg.payload, msg.mid, msg.qos, self._session))

    # --- writer thread ------------------------------------------------------------------

    def _next_batch(self) -> list[Message] | None:
        """Block for a first message, then take more until full, idle or the deadline.

        The idle cut matters: a broker allows only so many unacknowledged messages in
        flight, and when that window is full nothing more comes until we ack.
        """
        try:
            first = self.queue.get(timeout=self.ccfg.check_seconds)
        except queue.Empty:
            return []
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self.ccfg.batch_seconds
        while len(batch) < self.ccfg.batch_size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                item = self.queue.get(timeout=min(left, self.ccfg.idle_seconds))
            except queue.Empty:
                break
            if item is None:
                self.queue.put(None)  # seen again after this batch is committed
                break
            batch.append(item)
        return batch

    def _write_loop(self) -> None:
        try:
            self._write_batches()
        except Exception:
            # Unacknowledged messages come back only on a new connection: stop the whole
            # collector (the service manager restarts it) rather than stall on a live one.
            log.critical("the writer failed; stopping the collector", exc_info=True)
            self.failed.set()
            if self.on_failure is not None:
                self.on_failure()

    def _write_batches(self) -> None:
        next_check = time.monotonic() + self.ccfg.check_seconds
        while True:
            batch = self._next_batch()
            if batch is None:
                break
            if batch and not self._commit(batch):
                break  # stopping while the database is unreachable: the broker keeps them
            self._ack(batch)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + self.ccfg.check_seconds
                self._run_checks()

    def _run_checks(self) -> None:
        try:
            self.ingestor.check()
        except Exception as err:
            if not is_transient(err):
                log.exception("check failed")
            else:
                log.warning("check skipped: %s", err)

    def _commit(self, batch: list[Message]) -> bool:
        attempt = 0
        while True:
            try:
                self.ingestor.write(batch)
                return True
            except Exception as err:
                if not is_transient(err):
                    log.exception("batch of %s failed; writing one by one", len(batch))
                    self._commit_each(batch)
                    return True
                delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                log.warning("database error (%s); retrying in %ss", err, delay)
                attempt += 1
                if self.stopping.wait(delay):
                    return False
                self._reconnect_db()

    def _commit_each(self, batch: list[Message]) -> None:
        """Isolate a message the batch path cannot handle; keep it as a finding."""
        for message in batch:
            try:
                self.ingestor.write([message])
            except Exception as err:
                log.exception("message on %s cannot be stored", message.topic)
                with self.store.transaction():
                    self.store.add_findings(
                        [malformed(message, f"unprocessable: {err}")], self.clock()
                    )

    def _reconnect_db(self) -> None:
        try:
            self.store.db.reconnect()
        except Exception as err:
            log.warning("database reconnect failed: %s", err)

    def _ack(self, batch: list[Message]) -> None:
        # A message delivered on an earlier connection is not ours to ack any more: the
        # broker sends it again on this one (and the insert skips it then).
        session = self._session
        for message in batch:
            if message.qos and message.session == session:
                self.client.ack(message.mid, message.qos)
        self.committed += len(batch)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.ccfg.session_expiry_seconds
        self._writer = threading.Thread(target=self._write_loop, name="collector-writer")
        self._writer.start()
        self.client.connect_async(
            self.mcfg.host,
            self.mcfg.port,
            keepalive=self.mcfg.keepalive,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        """Commit and ack what has arrived, then leave (the session stays on the broker)."""
        if not self._started or self.stopping.is_set():
            return
        # Set first: a writer retrying an unreachable database gives up instead of waiting.
        self.stopping.set()
        self.queue.put(None)
        if self._writer is not None:
            self._writer.join()
        self.client.disconnect()
        self.client.loop_stop()
        if self._own_store:
            self.store.close()
        log.info("collector stopped after %s messages", self.committed)
