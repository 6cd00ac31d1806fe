"""The collector against a real Mosquitto: acks after commit, redelivery, shared groups."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from office.checks import gaps
from office.collector import Collector
from office.store import open_store
from tests.collector_support import Publisher, gate_events, office_config
from tests.conftest import DEFAULT_BROKER_CONFIG, Broker, wait_for

# The default test broker already stays root, so its persistence survives a restart.
PERSISTENT_BROKER = DEFAULT_BROKER_CONFIG


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "office.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def broker(broker_factory: Any) -> Broker:
    return broker_factory(PERSISTENT_BROKER)


@pytest.fixture
def publisher(broker: Broker) -> Iterator[Publisher]:
    pub = Publisher(broker.port)
    yield pub
    pub.close()


def start(cfg: Any) -> Collector:
    collector = Collector(cfg)
    collector.start()
    wait_for(collector.subscribed.is_set, 10, "the collector's subscriptions")
    return collector


def test_the_same_events_twice_are_stored_once(
    broker: Broker, publisher: Publisher, database: str, tmp_path: Path
) -> None:
    collector = start(office_config(tmp_path, broker.port, database, check_seconds=0.2))
    try:
        events = gate_events(300)
        publisher.events(events)
        publisher.events(events[100:])
        wait_for(lambda: collector.committed >= 500, 20, "both deliveries committed")
        assert collector.store.count_events() == 300
        assert collector.store.event_ids() == sorted(e["id"] for e in events)
        wait_for(lambda: collector.store.gate_rows()[0].checked_seq == 300, 10, "a check")
        assert collector.store.findings() == []
    finally:
        collector.stop()
        collector.stop()  # twice is fine


def test_messages_not_acked_come_back_and_change_nothing(
    broker: Broker, publisher: Publisher, database: str, tmp_path: Path
) -> None:
    """Commit without ack (a crash between the two): the next run gets them all again."""
    cfg = office_config(tmp_path, broker.port, database, client_id="office-1")
    first = start(cfg)
    first._ack = lambda batch: setattr(first, "committed", first.committed + len(batch))  # type: ignore[method-assign]
    events = gate_events(200)
    publisher.events(events)
    wait_for(lambda: first.committed >= 200, 20, "the first run's commits")
    first.stop()
    second = start(cfg)
    try:
        wait_for(lambda: second.committed >= 200, 20, "the broker's redelivery")
        assert second.store.count_events() == 200
        assert second.store.event_ids() == sorted(e["id"] for e in events)
    finally:
        second.stop()


def test_events_published_while_the_collector_is_away_arrive_later(
    broker: Broker, publisher: Publisher, tmp_path: Path
) -> None:
    cfg = office_config(tmp_path, broker.port, str(tmp_path / "office.db"))
    start(cfg).stop()  # the persistent session now holds the subscriptions
    events = gate_events(150)
    publisher.events(events)
    broker.restart()  # and the broker keeps them across its own restart
    collector = start(cfg)
    try:
        wait_for(lambda: collector.store.count_events() == 150, 20, "the queued events")
    finally:
        collector.stop()


def test_bad_payloads_and_gate_state_arrive_alongside_events(
    broker: Broker, publisher: Publisher, tmp_path: Path
) -> None:
    publisher.raw("kindergate/sunflower/main/status", "online", retain=True)
    publisher.raw("kindergate/sunflower/main/state", '{"mode": "normal", "outbox": 3}', retain=True)
    collector = start(office_config(tmp_path, broker.port, str(tmp_path / "office.db")))
    try:
        publisher.raw("kindergate/sunflower/main/event/access", b"\x00garbage")
        publisher.events(gate_events(5))
        wait_for(lambda: collector.store.count_events() == 5, 10, "the events after the bad one")
        wait_for(lambda: collector.store.gate_rows(), 10, "the retained status")
        (gate,) = collector.store.gate_rows()
        assert (gate.status, gate.state["outbox"], gate.last_seq) == ("online", 3, 5)
        (bad,) = collector.store.findings("malformed")
        assert bad["detail"]["topic"] == "kindergate/sunflower/main/event/access"
    finally:
        collector.stop()


def test_only_the_configured_sites_are_collected(
    broker: Broker, publisher: Publisher, tmp_path: Path
) -> None:
    cfg = office_config(tmp_path, broker.port, str(tmp_path / "office.db"), sites=["sunflower"])
    collector = start(cfg)
    try:
        publisher.events(gate_events(3, site="elsewhere"))
        publisher.events(gate_events(4))
        wait_for(lambda: collector.committed >= 4, 10, "the site's events")
        assert {e.site for e in collector.store.read_events().events} == {"sunflower"}
    finally:
        collector.stop()


def test_two_collectors_share_the_load_on_one_postgresql(
    broker: Broker, postgres_url: str, tmp_path: Path
) -> None:
    collectors = [
        start(
            office_config(
                tmp_path / name,
                broker.port,
                postgres_url,
                client_id=f"office-{name}",
                shared_group="office",
                batch_size=50,
                check_seconds=0.2,
            )
        )
        for name in ("a", "b")
    ]
    gates = {g: gate_events(400, gate=g) for g in ("main", "side", "kitchen")}
    publishers = [Publisher(broker.port, f"gate-{g}") for g in gates]
    try:
        threads = [
            threading.Thread(target=p.events, args=(events,))
            for p, events in zip(publishers, gates.values(), strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        store = open_store(postgres_url)
        try:
            wait_for(lambda: store.count_events() == 1200, 30, "every event once")
            assert all(c.committed > 0 for c in collectors), "the group did not split the load"
            assert sum(c.committed for c in collectors) == 1200  # each event went to one of them
            assert store.event_ids() == sorted(e["id"] for evs in gates.values() for e in evs)
            for gate in gates:
                assert gaps(store, "sunflower", gate) == []

            def verified() -> bool:
                return all(r.checked_seq == 400 for r in store.gate_rows())

            wait_for(verified, 10, "every gate's chain checked to the end")
            assert store.findings() == []
        finally:
            store.close()
    finally:
        for p in publishers:
            p.close()
        for c in collectors:
            c.stop()


def test_a_writer_that_fails_stops_the_collector_and_loses_nothing(
    broker: Broker, publisher: Publisher, tmp_path: Path
) -> None:
    cfg = office_config(tmp_path, broker.port, str(tmp_path / "office.db"))
    stopped = threading.Event()
    broken = Collector(cfg, on_failure=stopped.set)

    def boom(batch: Any) -> bool:
        raise RuntimeError("disk on fire")

    broken._commit = boom  # type: ignore[method-assign]
    broken.start()
    wait_for(broken.subscribed.is_set, 10, "subscriptions")
    events = gate_events(3)
    publisher.events(events)
    wait_for(stopped.is_set, 10, "the failure reported")
    assert broken.failed.is_set()
    broken.stop()
    again = start(cfg)
    try:
        wait_for(lambda: again.store.count_events() == 3, 10, "the events, redelivered")
    finally:
        again.stop()
