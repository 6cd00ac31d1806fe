"""The shipped broker config and ACL, on a real Mosquitto: who may write and read what."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from tests.conftest import REPO, Broker, wait_for
from tests.mqtt_helpers import STAFF, Commander, GateHarness, Subscriber, outbox_depth, write_config

CONF = REPO / "config" / "mosquitto"
PASSWORDS = {
    "sunflower-main": "main-secret",
    "sunflower-collector": "office-secret",
}
ADDED = {  # added with the shipped add-gate.sh
    ("sunflower", "side"): "side-secret",
    ("maple", "main"): "maple-secret",
}
NOT_AUTHORIZED = 0x87


def shipped_conf(files: Path) -> str:
    """config/mosquitto/mosquitto.conf with this test's paths and port."""
    text = (CONF / "mosquitto.conf").read_text()
    for old, new in {
        "password_file /etc/mosquitto/kindergate.passwd": f"password_file {files}/passwd",
        "acl_file /etc/mosquitto/kindergate.acl": f"acl_file {files}/acl",
        "persistence_location /var/lib/mosquitto/": "persistence_location {dir}/",
        "listener 1883 0.0.0.0": "listener {port} 127.0.0.1",
        "log_dest syslog": "log_dest stderr",
    }.items():
        assert old in text, f"mosquitto.conf no longer has {old!r}"
        text = text.replace(old, new)
    # the tests run as root; keep root so the broker can read these files and save its store
    return text + "\nuser root\n"


def add_gate(files: Path, site: str, gate: str, password: str) -> None:
    subprocess.run(
        ["sh", str(CONF / "add-gate.sh"), site, gate, str(files / "acl"), str(files / "passwd")],
        input=password + "\n",
        text=True,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "broker-files"
    folder.mkdir()
    (folder / "acl").write_text((CONF / "kindergate.acl").read_text())
    for user, password in PASSWORDS.items():
        subprocess.run(
            [
                "mosquitto_passwd",
                "-b",
                *(["-c"] if user == "sunflower-main" else []),
                str(folder / "passwd"),
                user,
                password,
            ],
            check=True,
            capture_output=True,
        )
    for (site, gate), password in ADDED.items():
        add_gate(folder, site, gate, password)
    return folder


@pytest.fixture
def broker(files: Path, broker_factory: Callable[[str], Broker]) -> Broker:
    return broker_factory(shipped_conf(files))


@dataclass
class Client:
    """A test client that records every reason code the broker sends back."""

    client: paho.Client
    acks: dict[int, ReasonCode] = field(default_factory=dict)
    subacks: dict[int, list[ReasonCode]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    connack: ReasonCode | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, topic: str) -> int:
        info = self.client.publish(topic, b'{"id":"x"}', qos=1)
        wait_for(lambda: info.mid in self.acks, what=f"PUBACK for {topic}")
        return int(self.acks[info.mid].value)

    def subscribe(self, topic: str) -> int:
        _, mid = self.client.subscribe(topic, options=SubscribeOptions(qos=1))
        assert mid is not None
        wait_for(lambda: mid in self.subacks, what=f"SUBACK for {topic}")
        return int(self.subacks[mid][0].value)

    def got(self) -> list[str]:
        with self.lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def connect(broker: Broker) -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def make(user: str | None, password: str | None = None, *, wait: bool = True) -> Client:
        raw = paho.Client(
            CallbackAPIVersion.VERSION2, f"t-{uuid.uuid4().hex[:8]}", protocol=paho.MQTTv5
        )
        c = Client(raw)
        if user is not None:
            raw.username_pw_set(user, password)

        def on_message(cl: Any, u: Any, msg: paho.MQTTMessage) -> None:
            with c.lock:
                c.messages.append(msg.topic)

        raw.on_connect = lambda cl, u, f, rc, p: setattr(c, "connack", rc)
        raw.on_publish = lambda cl, u, mid, rc, p: c.acks.__setitem__(mid, rc)
        raw.on_subscribe = lambda cl, u, mid, rcs, p: c.subacks.__setitem__(mid, rcs)
        raw.on_message = on_message
        raw.connect("127.0.0.1", broker.port)
        raw.loop_start()
        made.append(c)
        wait_for(lambda: c.connack is not None, what="CONNACK")
        if wait:
            assert c.connack is not None and not c.connack.is_failure, c.connack
        return c

    yield make
    for c in made:
        c.close()


def gate_user(connect: Callable[..., Client]) -> Client:
    return connect("sunflower-main", PASSWORDS["sunflower-main"])


def collector(connect: Callable[..., Client]) -> Client:
    return connect("sunflower-collector", PASSWORDS["sunflower-collector"])


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("kindergate/sunflower/main/event/access", True),
        ("kindergate/sunflower/main/status", True),
        ("kindergate/sunflower/main/state", True),
        ("kindergate/sunflower/main/cmd/open/reply", True),
        ("kindergate/sunflower/main/cmd/open", False),  # a gate cannot command itself
        ("kindergate/sunflower/side/event/access", False),  # nor speak for another gate
        ("kindergate/sunflower/side/cmd/open", False),
        ("kindergate/maple/main/event/access", False),
        ("elsewhere/event", False),
    ],
)
def test_a_gate_writes_only_its_own_topics(
    connect: Callable[..., Client], topic: str, allowed: bool
) -> None:
    code = gate_user(connect).publish(topic)
    assert (code < 0x80) is allowed, hex(code)
    if not allowed:
        assert code == NOT_AUTHORIZED


def test_a_gate_reads_only_its_own_commands(connect: Callable[..., Client]) -> None:
    gate = gate_user(connect)
    assert gate.subscribe("kindergate/sunflower/main/cmd/+") == 1
    gate.subscribe("kindergate/#")  # granted or not, it must not see others' traffic
    office = collector(connect)
    for target in ("main", "side"):
        assert office.publish(f"kindergate/sunflower/{target}/cmd/open") < 0x80
    office.publish("kindergate/sunflower/side/cmd/lockdown")
    wait_for(lambda: "kindergate/sunflower/main/cmd/open" in gate.got(), what="own command")
    # everything the side gate was sent has been routed by now (one broker, in order)
    assert all(t.startswith("kindergate/sunflower/main/cmd/") for t in gate.got())


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("kindergate/sunflower/main/cmd/open", True),
        ("kindergate/sunflower/side/cmd/roster", True),
        ("kindergate/sunflower/main/event/access", False),  # it cannot forge events
        ("kindergate/sunflower/main/status", False),
        ("kindergate/sunflower/main/state", False),
        ("kindergate/sunflower/main/cmd/open/reply", False),  # nor a gate's reply
        ("kindergate/maple/main/cmd/open", False),  # nor command another site
    ],
)
def test_the_collector_writes_commands_of_its_site_only(
    connect: Callable[..., Client], topic: str, allowed: bool
) -> None:
    assert (collector(connect).publish(topic) < 0x80) is allowed


@pytest.mark.parametrize(
    "pattern", ["kindergate/sunflower/+/event/#", "$share/office/kindergate/sunflower/+/event/#"]
)
def test_the_collector_reads_every_gate_of_its_site_and_no_other(
    connect: Callable[..., Client], pattern: str
) -> None:
    office = collector(connect)
    office.subscribe(pattern)
    office.subscribe("kindergate/maple/+/event/#")
    gates = {
        "main": gate_user(connect),
        "side": connect("sunflower-side", ADDED[("sunflower", "side")]),
        "maple": connect("maple-main", ADDED[("maple", "main")]),
    }
    gates["maple"].publish("kindergate/maple/main/event/access")
    gates["main"].publish("kindergate/sunflower/main/event/access")
    gates["side"].publish("kindergate/sunflower/side/event/door")
    wait_for(lambda: len(office.got()) >= 2, what="both sunflower gates' events")
    assert sorted(office.got()) == [
        "kindergate/sunflower/main/event/access",
        "kindergate/sunflower/side/event/door",
    ]


@pytest.mark.parametrize(
    ("user", "password"),
    [("sunflower-main", "wrong"), (None, None), ("nobody", "main-secret")],
)
def test_a_wrong_password_or_no_user_is_refused(
    connect: Callable[..., Client], user: str | None, password: str | None
) -> None:
    c = connect(user, password, wait=False)
    assert c.connack is not None and c.connack.is_failure


def test_add_gate_refuses_a_user_that_is_already_there(files: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as err:
        add_gate(files, "sunflower", "side", "again")
    assert "already" in err.value.stderr


def test_add_gate_refuses_a_name_that_would_become_topic_levels(files: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        add_gate(files, "sunflower", "a/b", "x")
    with pytest.raises(subprocess.CalledProcessError):
        add_gate(files, "#", "main", "x")


# --- the gate itself behind the ACL ------------------------------------------------------


def acl_gate_config(tmp_path: Path, broker: Broker) -> Path:
    pw = tmp_path / "mqtt.password"
    pw.write_text(PASSWORDS["sunflower-main"] + "\n")
    return write_config(
        tmp_path,
        port=broker.port,
        gate="main",
        mqtt={"username": "sunflower-main", "password_file": str(pw)},
    )


def test_a_gate_and_its_office_work_through_the_acl(tmp_path: Path, broker: Broker) -> None:
    config = acl_gate_config(tmp_path, broker)
    gate = GateHarness(config)
    events = Subscriber(
        broker.port,
        "kindergate/sunflower/+/event/#",
        username="sunflower-collector",
        password=PASSWORDS["sunflower-collector"],
    )
    try:
        gate.scan_and_wait(STAFF)
        wait_for(lambda: set(gate.stored()) <= set(events.event_ids()), what="events at the office")
        office = _office(broker, tmp_path)
        try:
            assert office.reply(office.send("ping", now=time.time()))["ok"] is True
        finally:
            office.close()
    finally:
        events.close()
        gate.stop()


def _office(broker: Broker, tmp_path: Path) -> Commander:
    from mqtt.signing import load_key

    return Commander(
        broker.port,
        "kindergate/sunflower/main",
        load_key(tmp_path / "site.key"),
        username="sunflower-collector",
        password=PASSWORDS["sunflower-collector"],
    )


def test_a_publish_the_broker_refuses_stays_in_the_outbox_until_it_is_allowed(
    tmp_path: Path, files: Path, broker: Broker
) -> None:
    acl = files / "acl"
    good = acl.read_text()
    acl.write_text(good.replace("topic write kindergate/sunflower/main/event/#\n", ""))
    assert broker.proc is not None
    broker.proc.send_signal(signal.SIGHUP)  # reload the ACL
    gate = GateHarness(acl_gate_config(tmp_path, broker))
    events = Subscriber(
        broker.port,
        "kindergate/sunflower/+/event/#",
        username="sunflower-collector",
        password=PASSWORDS["sunflower-collector"],
    )
    try:
        assert gate.link is not None and gate.link.publisher is not None
        stats = gate.link.publisher.stats
        for _ in range(5):
            gate.scan_and_wait(STAFF)
        wait_for(lambda: stats.refused >= 6, what="refused PUBACKs")
        assert outbox_depth(gate.db_path) == len(gate.stored())  # nothing deleted
        assert events.event_ids() == []
        acl.write_text(good)
        broker.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: set(gate.stored()) <= set(events.event_ids()), 90, "events once allowed")
        wait_for(lambda: outbox_depth(gate.db_path) == 0, what="outbox emptied")
    finally:
        events.close()
        gate.stop()
