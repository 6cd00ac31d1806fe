"""Faults on the way to the office: after each, no event is lost, duplicates are only
repeats of an id with the same content, and the gate went on deciding scans."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.events import EventType, Reason
from mqtt.signing import load_key, make_command
from tests.conftest import DEFAULT_BROKER_CONFIG, REPO, Broker, wait_for
from tests.mqtt_helpers import (
    Commander,
    GateHarness,
    Proxy,
    Subscriber,
    outbox_depth,
    write_config,
)

# Root keeps root, so the broker can save its store in the test's folder on a restart.
PERSISTENT_BROKER = DEFAULT_BROKER_CONFIG + (
    "" if "user root" in DEFAULT_BROKER_CONFIG else "user root\n"
)


def card(n: int) -> str:
    return f"card:{4_000_000_000 + n:010d}"  # distinct unknown cards: each one is decided


def stored_bodies(db_path: Path) -> dict[str, dict[str, Any]]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return {row[0]: json.loads(row[1]) for row in db.execute("SELECT id, body FROM events")}
    finally:
        db.close()


def assert_nothing_lost(db_path: Path, sub: Subscriber, timeout: float = 60) -> None:
    """Every stored event reached the subscriber; every copy it got is the stored event."""
    stored = stored_bodies(db_path)
    try:
        wait_for(lambda: set(stored) <= set(sub.event_ids()), timeout, "every event received")
    except AssertionError:
        missing = sorted(stored[i]["seq"] for i in set(stored) - set(sub.event_ids()))
        raise AssertionError(
            f"{len(missing)} events never arrived, seq {missing[:20]}...; "
            f"{outbox_depth(db_path)} still in the outbox"
        ) from None
    stored = stored_bodies(db_path)  # and any the gate wrote meanwhile
    for event in sub.events():
        assert event == stored.get(event["id"]), "a received event is not the stored one"


@pytest.fixture
def broker(broker_factory: Callable[[str], Broker]) -> Broker:
    return broker_factory(PERSISTENT_BROKER)


@pytest.fixture
def gate(tmp_path: Path, broker: Broker) -> Iterator[GateHarness]:
    harness = GateHarness(write_config(tmp_path, port=broker.port))
    yield harness
    harness.stop()


@pytest.fixture
def sub(broker: Broker, gate: GateHarness) -> Iterator[Subscriber]:
    subscriber = Subscriber(broker.port, f"{gate.base}/#")
    yield subscriber
    subscriber.close()


def test_broker_restarted_during_a_burst(
    broker: Broker, gate: GateHarness, sub: Subscriber
) -> None:
    for n in range(150):
        gate.scan(card(n))
    wait_for(lambda: len(sub.event_ids()) > 20, what="the burst reaching the office")
    broker.stop()
    before = len(gate.stored())
    for n in range(150, 300):
        gate.scan(card(n))
    wait_for(lambda: len(gate.stored()) >= before + 150, what="scans decided with no broker")
    broker.start()
    for n in range(300, 400):
        gate.scan(card(n))
    wait_for(lambda: len(gate.stored()) >= 400, what="all 400 scans decided")
    assert_nothing_lost(gate.db_path, sub)
    wait_for(lambda: outbox_depth(gate.db_path) == 0, what="outbox empty")


def test_broker_crash_loses_what_it_held_and_resend_fills_the_gap(
    tmp_path: Path, broker: Broker, gate: GateHarness
) -> None:
    """A broker crash loses what it acknowledged but had not saved yet (here: events
    queued for an office that was away). The gate still has every event, and the
    office's ``resend`` asks for the missing seqs again."""
    away = Subscriber(broker.port, f"{gate.base}/event/#")
    for n in range(50):
        gate.scan(card(n))
    wait_for(lambda: len(away.event_ids()) >= 50, what="the first scans at the office")
    away.close()  # its session, and what is queued for it, live on in the broker's memory
    for n in range(50, 200):
        gate.scan(card(n))
    wait_for(lambda: len(gate.stored()) >= 200, what="all 200 scans decided")
    wait_for(lambda: outbox_depth(gate.db_path) == 0, what="the broker acknowledged them all")
    assert broker.proc is not None
    broker.proc.kill()
    broker.proc.wait(10)
    broker.proc = None
    broker.start()
    back = Subscriber(broker.port, f"{gate.base}/event/#")
    office = Commander(broker.port, gate.base, load_key(tmp_path / "site.key"))
    try:
        wait_for(lambda: ping_ok(office), what="the gate answering")
        stored = stored_bodies(gate.db_path)
        got = set(away.event_ids()) | set(back.event_ids())
        gap = sorted(e["seq"] for i, e in stored.items() if i not in got)
        assert len(gap) >= 150  # lost with the broker
        reply = office.reply(
            office.send("resend", {"from_seq": gap[0], "to_seq": gap[-1]}, now=time.time())
        )
        assert reply["ok"] is True and reply["queued"] == gap[-1] - gap[0] + 1, reply
        wait_for(
            lambda: set(stored) <= set(away.event_ids()) | set(back.event_ids()),
            what="the gap filled",
        )
        for event in back.events():
            assert event == stored_bodies(gate.db_path)[event["id"]]
    finally:
        office.close()
        back.close()


def test_broker_down_for_a_whole_day(broker: Broker, gate: GateHarness, sub: Subscriber) -> None:
    broker.stop()
    # A busy day at one gate: a few hundred scans, and thousands of door events besides.
    for n in range(300):
        gate.scan(card(n))
    daemon = gate.daemon

    def doors() -> None:
        for _ in range(60):
            daemon.record(
                [
                    daemon.gate.draft(EventType.DOOR, Reason.OPENED if i % 2 else Reason.CLOSED)
                    for i in range(100)
                ]
            )

    gate.call(doors)
    wait_for(lambda: len(gate.stored()) >= 6300, what="the day's events stored")
    assert outbox_depth(gate.db_path) == len(gate.stored())
    broker.start()
    assert_nothing_lost(gate.db_path, sub, timeout=120)
    wait_for(lambda: outbox_depth(gate.db_path) == 0, 60, "outbox empty")


def test_a_slow_broker_delays_the_office_never_the_gate(tmp_path: Path, broker: Broker) -> None:
    proxy = Proxy(broker.port)
    harness = GateHarness(write_config(tmp_path, port=proxy.port, mqtt={"max_inflight": 16}))
    sub = Subscriber(broker.port, f"{harness.base}/#")
    try:
        assert harness.link is not None and harness.link.publisher is not None
        stats = harness.link.publisher.stats
        wait_for(lambda: stats.connects == 1, what="connected")
        proxy.rate = 400  # bytes a second from the broker: about a hundred PUBACKs
        for n in range(400):
            harness.scan(card(n))
        wait_for(lambda: len(harness.stored()) >= 400, what="every scan decided")
        assert stats.max_inflight <= 16  # the window held
        proxy.resume()
        assert_nothing_lost(harness.db_path, sub)
        assert stats.max_inflight <= 16
    finally:
        harness.stop()
        sub.close()
        proxy.close()


def test_a_full_disk_fails_writes_without_stopping_the_gate(
    gate: GateHarness, sub: Subscriber
) -> None:
    """A real SQLITE_FULL: the store's connection is capped at its current size."""
    for n in range(20):
        gate.scan(card(n))
    wait_for(lambda: len(gate.stored()) >= 20, what="scans before the disk fills")
    db = gate.daemon.store.db
    pages = gate.call(lambda: db.execute("PRAGMA page_count").fetchone()[0])
    gate.call(lambda: db.execute(f"PRAGMA max_page_count={pages}"))
    full = len(gate.stored())
    for n in range(20, 400):
        gate.scan(card(n))  # some of these fit in free pages; the rest fail to be written
    # the loop is alive and still deciding: a call through it returns
    assert gate.call(lambda: gate.daemon.gate.mode) is not None
    gate.call(lambda: db.execute("PRAGMA max_page_count=1073741823"))  # space freed
    before = len(gate.stored())
    assert before < full + 380  # the fault was real: some scans could not be logged
    for n in range(400, 420):
        gate.scan(card(n))
    wait_for(lambda: len(gate.stored()) >= before + 20, what="scans logged again")
    assert_nothing_lost(gate.db_path, sub)


def test_acks_that_cannot_be_deleted_are_retried_and_nothing_is_lost(
    gate: GateHarness, sub: Subscriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publisher's deletes fail (a fault-injecting wrapper: a real full disk does not
    fail a DELETE, which frees pages) and then work again."""
    assert gate.link is not None and gate.link.publisher is not None
    publisher = gate.link.publisher
    assert publisher.outbox is not gate.daemon.store  # its own connection, deletes only
    real = publisher.outbox.transaction
    failures = {"left": 5}

    def flaky() -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return real()

    monkeypatch.setattr(publisher.outbox, "transaction", flaky)
    for n in range(100):
        gate.scan(card(n))
    wait_for(lambda: len(gate.stored()) >= 100, what="scans decided")
    assert_nothing_lost(gate.db_path, sub)
    wait_for(lambda: outbox_depth(gate.db_path) == 0, what="the deletes done at last")
    assert publisher.stats.delete_failures == 5


@pytest.mark.parametrize(
    "attack", ["truncated", "corrupt", "replayed", "wrong_key", "stale_31s", "retained"]
)
def test_bad_commands_during_a_burst_change_nothing_and_lose_nothing(
    tmp_path: Path, broker: Broker, gate: GateHarness, sub: Subscriber, attack: str
) -> None:
    key = load_key(tmp_path / "site.key")
    office = Commander(broker.port, gate.base, key)
    try:
        wait_for(lambda: ping_ok(office), what="the gate answering")
        for n in range(100):
            gate.scan(card(n))
        reason = send_attack(office, attack)
        for n in range(100, 200):
            gate.scan(card(n))
        wait_for(lambda: len(gate.stored()) >= 200, what="scans decided meanwhile")
        assert gate.call(lambda: str(gate.daemon.gate.mode)) == "normal"
        wait_for(
            lambda: any(e["reason"] == reason for e in sub.events() if e["type"] == "system"),
            what=f"the {reason} event at the office",
        )
        assert_nothing_lost(gate.db_path, sub)
    finally:
        if attack == "retained":
            office.client.publish(f"{gate.base}/cmd/evacuate", b"", qos=1, retain=True)
        office.close()


def ping_ok(office: Commander) -> bool:
    try:
        return bool(office.reply(office.send("ping", now=time.time()), timeout=1)["ok"])
    except AssertionError:
        return False


def send_attack(office: Commander, attack: str) -> str:
    """Send one bad ``evacuate``; return the refusal reason the gate must log."""
    now = time.time()
    payload, sig = make_command("evacuate", {}, office.key, now)
    if attack == "replayed":
        assert office.reply(office.send_raw("evacuate", payload, sig=sig))["ok"] is True
        assert office.reply(office.send("normal", now=now))["ok"] is True
        corr, reason = office.send_raw("evacuate", payload, sig=sig), "replayed"
    elif attack == "truncated":
        corr, reason = (
            office.send_raw("evacuate", payload[: len(payload) // 2], sig=sig),
            "bad_signature",
        )
    elif attack == "corrupt":
        bad = b"\x00\xff" + payload[2:]
        corr, reason = office.send_raw("evacuate", bad, sig=sig), "bad_signature"
    elif attack == "wrong_key":
        other, other_sig = make_command("evacuate", {}, b"x" * 32, now)
        corr, reason = office.send_raw("evacuate", other, sig=other_sig), "bad_signature"
    elif attack == "stale_31s":
        corr, reason = office.send("evacuate", now=now - 31), "stale"
    else:
        corr, reason = office.send_raw("evacuate", payload, sig=sig, retain=True), "refused"
    reply = office.reply(corr)
    assert reply["ok"] is False and reply["reason"] == reason, reply
    return reason


# --- the daemon killed mid-drain (the real `kindergate run`, a line reader on a FIFO) --


def run_gate(config: Path) -> subprocess.Popen[bytes]:
    log = (config.parent / "daemon.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "-c", str(config)],
        cwd=REPO,
        stdout=log,
        stderr=log,
    )


def open_fifo(path: Path) -> int:
    """The FIFO's write end, once the daemon's reader holds it open."""

    def try_open() -> int | None:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # not made yet, or no reader yet
            return None

    fd = wait_for(try_open, 30, f"the daemon reading {path}")
    assert isinstance(fd, int)
    return fd


def feed(fd: int, first: int, count: int) -> None:
    lines = "".join(f"{4_000_000_000 + n:010d}\n" for n in range(first, first + count))
    data = lines.encode()
    while data:
        try:
            data = data[os.write(fd, data) :]
        except BlockingIOError:
            select_pause()


def select_pause() -> None:
    import select

    select.select([], [], [], 0.01)


def test_the_daemon_killed_mid_drain_loses_nothing(tmp_path: Path, broker: Broker) -> None:
    proxy = Proxy(broker.port)
    fifo = tmp_path / "entrance.fifo"
    config = write_config(
        tmp_path,
        port=proxy.port,
        gate="main",
        mqtt={"reconnect_max_seconds": 1},
        extra=f'[[reader]]\nname = "entrance"\ntype = "line"\npath = "{fifo}"\n',
    )
    db_path = tmp_path / "gate.db"
    sub = Subscriber(broker.port, "kindergate/sunflower/main/#")
    proc = run_gate(config)
    try:
        wait_for(lambda: sub.on("/status")[-1:] == [b"online"], 30, "the daemon online")
        fd = open_fifo(fifo)
        feed(fd, 0, 50)
        wait_for(lambda: len(sub.event_ids()) >= 50, 30, "the first scans at the office")
        proxy.stall()  # acks held back: the outbox cannot drain
        feed(fd, 50, 150)
        wait_for(lambda: count_access(db_path) >= 200, 30, "200 scans decided")
        assert outbox_depth(db_path) > 0
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        os.close(fd)
        proxy.resume()
        proc = run_gate(config)
        fd = open_fifo(fifo)
        feed(fd, 200, 50)
        wait_for(lambda: count_access(db_path) >= 250, 30, "scans decided after the restart")
        os.close(fd)
        assert_nothing_lost(db_path, sub)
        wait_for(lambda: outbox_depth(db_path) == 0, 30, "outbox empty")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        sub.close()
        proxy.close()


def count_access(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM events WHERE type='access'").fetchone()[0])
    finally:
        db.close()
