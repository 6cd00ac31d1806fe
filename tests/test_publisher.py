"""The publisher against a real Mosquitto: outbox in order, QoS 1, status and state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.config import load_config
from edge.guard import GuardAction
from mqtt.publisher import event_topic
from tests.conftest import Broker, wait_for
from tests.mqtt_helpers import (
    STAFF,
    UNKNOWN,
    GateHarness,
    Proxy,
    Subscriber,
    base_topic,
    outbox_depth,
    write_config,
)


@pytest.fixture
def gate(tmp_path: Path, mosquitto: Broker) -> Iterator[GateHarness]:
    harness = GateHarness(write_config(tmp_path, port=mosquitto.port))
    yield harness
    harness.stop()


@pytest.fixture
def sub(mosquitto: Broker, gate: GateHarness) -> Iterator[Subscriber]:
    subscriber = Subscriber(mosquitto.port, f"{gate.base}/#")
    yield subscriber
    subscriber.close()


def test_events_arrive_in_order_on_their_type_topic_and_leave_the_outbox(
    gate: GateHarness, sub: Subscriber
) -> None:
    for credential in [STAFF, UNKNOWN] * 20:
        gate.scan(credential)
    wait_for(lambda: len(gate.stored()) >= 40, what="40 scans decided")
    stored = gate.stored()
    wait_for(lambda: set(stored) <= set(sub.event_ids()), what="every event received")
    first_copies = list(dict.fromkeys(i for i in sub.event_ids() if i in set(stored)))
    assert first_copies == stored  # in order, no gaps
    wait_for(lambda: outbox_depth(gate.db_path) == 0, what="outbox emptied after PUBACKs")
    topics = {t for t, p, _, _ in sub.all() if "/event/" in t}
    for topic, payload, _, _ in sub.all():
        if "/event/" in topic:
            assert topic == f"{gate.base}/event/{json.loads(payload)['type']}"
    assert f"{gate.base}/event/access" in topics


def test_online_status_and_state_are_retained(mosquitto: Broker, gate: GateHarness) -> None:
    gate.scan_and_wait(STAFF)
    # once the event is acknowledged, status and state (sent before it) are at the broker
    wait_for(lambda: outbox_depth(gate.db_path) == 0, what="the scan acknowledged")
    # a subscriber that comes later still finds both, retained
    late = Subscriber(mosquitto.port, f"{gate.base}/#")
    try:
        wait_for(lambda: late.on("/status") and late.on("/state"), what="retained status, state")
        status = [(p, r) for t, p, r, _ in late.all() if t.endswith("/status")]
        assert status[0] == (b"online", True)
        state = json.loads(late.on("/state")[-1])
        assert {"door", "lock", "mode", "roster_version", "readers", "outbox", "last_event"} <= set(
            state
        )
        assert state["mode"] == "normal"
    finally:
        late.close()


def test_state_follows_a_mode_change(gate: GateHarness, sub: Subscriber) -> None:
    gate.call(gate.daemon.guard, GuardAction(action="lockdown", by="test"))

    def mode() -> str | None:
        states = sub.on("/state")
        return json.loads(states[-1])["mode"] if states else None

    wait_for(lambda: mode() == "lockdown", what="state with mode lockdown")
    last = gate.stored()[-1]
    wait_for(
        lambda: json.loads(sub.on("/state")[-1]).get("last_event") == last,
        what="state naming the last event",
    )


def test_a_clean_stop_says_offline(tmp_path: Path, mosquitto: Broker) -> None:
    harness = GateHarness(write_config(tmp_path, port=mosquitto.port))
    sub = Subscriber(mosquitto.port, f"{harness.base}/status")
    try:
        wait_for(lambda: sub.on("/status") == [b"online"], what="online")
        harness.stop()
        wait_for(lambda: sub.on("/status")[-1:] == [b"offline"], what="offline on stop")
    finally:
        sub.close()


def test_a_lost_connection_leaves_the_last_will_and_reconnects(
    tmp_path: Path, mosquitto: Broker
) -> None:
    proxy = Proxy(mosquitto.port)
    harness = GateHarness(write_config(tmp_path, port=proxy.port, mqtt={"keepalive": 5}))
    sub = Subscriber(mosquitto.port, f"{harness.base}/#")
    try:
        wait_for(lambda: sub.on("/status") == [b"online"], what="online")
        states_before = len(sub.on("/state"))
        proxy.cut()
        wait_for(lambda: sub.on("/status")[-1:] == [b"offline"], 30, "the will")
        harness.scan_and_wait(STAFF)  # decided while offline
        proxy.heal()
        wait_for(lambda: sub.on("/status")[-1:] == [b"online"], 30, "online again")
        wait_for(lambda: len(sub.on("/state")) > states_before, what="state again on reconnect")
        wait_for(lambda: set(harness.stored()) <= set(sub.event_ids()), what="every event")
    finally:
        harness.stop()
        sub.close()
        proxy.close()


def test_a_stalled_broker_fills_the_window_and_no_more(tmp_path: Path, mosquitto: Broker) -> None:
    proxy = Proxy(mosquitto.port)
    harness = GateHarness(write_config(tmp_path, port=proxy.port, mqtt={"max_inflight": 8}))
    sub = Subscriber(mosquitto.port, f"{harness.base}/#")
    try:
        assert harness.link is not None and harness.link.publisher is not None
        publisher = harness.link.publisher
        wait_for(lambda: publisher.connected, what="connected")
        wait_for(lambda: outbox_depth(harness.db_path) == 0, what="started event sent")
        proxy.stall()
        for _ in range(100):
            harness.scan(UNKNOWN)
        wait_for(lambda: len(harness.stored()) >= 100, what="100 scans decided while stalled")
        wait_for(lambda: publisher.stats.max_inflight == 8, what="window full")
        assert outbox_depth(harness.db_path) >= 100 - 8
        proxy.resume()
        wait_for(lambda: set(harness.stored()) <= set(sub.event_ids()), 30, "every event")
        assert publisher.stats.max_inflight == 8
        wait_for(lambda: outbox_depth(harness.db_path) == 0, what="outbox empty")
    finally:
        harness.stop()
        sub.close()
        proxy.close()


def test_unreadable_event_bodies_go_to_an_unknown_topic() -> None:
    assert event_topic("kg/s/g", '{"type":"door"}') == "kg/s/g/event/door"
    assert event_topic("kg/s/g", "not json") == "kg/s/g/event/unknown"
    assert event_topic("kg/s/g", '{"type":"a/#"}') == "kg/s/g/event/unknown"
    assert event_topic("kg/s/g", "[1]") == "kg/s/g/event/unknown"


def test_the_link_is_started_by_the_daemon_when_mqtt_is_configured(tmp_path: Path) -> None:
    from edge.components.wiring import start_extras
    from edge.daemon import Daemon

    cfg = load_config(write_config(tmp_path, port=1))
    daemon = Daemon(cfg)
    names = [name for name, _ in start_extras(daemon)]
    assert "mqtt" in names
    assert base_topic(cfg).startswith("kindergate/sunflower/")


def test_acknowledged_seqs_are_deleted_as_runs() -> None:
    from edge.store.log import runs

    assert runs([]) == []
    assert runs([3, 1, 2, 7, 9, 8, 12]) == [(1, 3), (7, 9), (12, 12)]


def test_only_acknowledged_rows_leave_the_outbox(tmp_path: Path) -> None:
    from edge.events import EventType, Reason
    from edge.store import Store

    store = Store(tmp_path / "gate.db", site="s", gate="g")
    from datetime import UTC, datetime

    from edge.events import Draft

    store.record([Draft(EventType.SYSTEM, Reason.STARTED, datetime.now(UTC)) for _ in range(10)])
    store.outbox_done([1, 2, 3, 5, 9])
    assert [seq for seq, _ in store.outbox_batch(100)] == [4, 6, 7, 8, 10]


# --- the link never stops the gate ------------------------------------------------------


def test_without_a_usable_key_events_still_flow_and_commands_are_not_taken(
    tmp_path: Path, mosquitto: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path, port=mosquitto.port)
    (tmp_path / "site.key").write_text("abcd\n")  # two bytes: refused
    # listening before the gate starts: the refusal is its first event
    sub = Subscriber(mosquitto.port, f"{base_topic(load_config(config))}/#")
    harness = GateHarness(config)
    try:
        assert harness.link is not None
        assert harness.link.commands is None
        harness.scan_and_wait(STAFF)
        wait_for(lambda: set(harness.stored()) <= set(sub.event_ids()), what="events published")
        refusals = [e for e in sub.events() if e["reason"] == "refused"]
        assert "too short" in refusals[0]["detail"]["why"]
        assert "abcd" not in caplog.text
    finally:
        harness.stop()
        sub.close()


def test_an_unreadable_password_file_is_logged_and_the_gate_goes_on(
    tmp_path: Path, mosquitto: Broker
) -> None:
    config = write_config(
        tmp_path,
        port=mosquitto.port,
        mqtt={"username": "gate", "password_file": str(tmp_path / "missing.pw")},
    )
    harness = GateHarness(config)
    try:
        assert harness.link is not None and harness.link.publisher is None
        assert harness.scan_and_wait(STAFF)[0].decision == "granted"
        events = harness.call(lambda: list(harness.daemon.store.events()))
        assert any("missing.pw" in e.detail.get("why", "") for e in events)
    finally:
        harness.stop()


def test_the_key_never_reaches_the_log(
    tmp_path: Path, mosquitto: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import time

    from mqtt.signing import load_key
    from tests.mqtt_helpers import Commander

    caplog.set_level(logging.DEBUG)
    config = write_config(tmp_path, port=mosquitto.port)
    key_text = (tmp_path / "site.key").read_text().strip()
    harness = GateHarness(config)
    office = Commander(mosquitto.port, harness.base, load_key(tmp_path / "site.key"))
    try:
        assert harness.link is not None and harness.link.publisher is not None
        publisher = harness.link.publisher
        wait_for(lambda: publisher.connected, what="connected")

        def answered() -> bool:
            try:
                return bool(office.reply(office.send("ping", now=time.time()), timeout=1))
            except AssertionError:
                return False

        wait_for(answered, what="a ping answered")
        office.send_raw("ping", b"{}", sig="00" * 32)
    finally:
        office.close()
        harness.stop()
    assert key_text not in caplog.text
    assert key_text.upper() not in caplog.text
