"""Signed commands against a real Mosquitto: accepted, refused, replied to, logged."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.events import Event, EventType, Reason
from mqtt.command_table import Refusal
from mqtt.commands import Incoming, decode
from mqtt.signing import load_key, make_command, sign
from tests.conftest import REPO, Broker, wait_for
from tests.mqtt_helpers import STAFF, Commander, GateHarness, write_config

NEW_STAFF = "card:0000777001"


@pytest.fixture
def config(tmp_path: Path, mosquitto: Broker) -> Path:
    return write_config(tmp_path, port=mosquitto.port)


@pytest.fixture
def gate(config: Path) -> Iterator[GateHarness]:
    harness = GateHarness(config)
    assert harness.link is not None and harness.link.publisher is not None
    publisher = harness.link.publisher
    wait_for(lambda: publisher.connected, what="gate connected")
    yield harness
    harness.stop()


@pytest.fixture
def office(mosquitto: Broker, gate: GateHarness, config: Path) -> Iterator[Commander]:
    commander = Commander(mosquitto.port, gate.base, load_key(config.parent / "site.key"))
    # the gate subscribes on connect; a command before that would go nowhere
    wait_for(lambda: ping_ok(commander), what="the gate answering")
    yield commander
    commander.close()


def ping_ok(office: Commander) -> bool:
    corr = office.send("ping", now=time.time())
    try:
        return bool(office.reply(corr, timeout=1)["ok"])
    except AssertionError:
        return False


def system_events(gate: GateHarness, reason: str) -> list[Event]:
    events = gate.call(lambda: list(gate.daemon.store.events()))
    return [e for e in events if e.type is EventType.SYSTEM and e.reason == reason]


def mode(gate: GateHarness) -> str:
    return str(gate.call(lambda: gate.daemon.gate.mode))


# --- accepted -------------------------------------------------------------------------


def test_ping_replies_with_the_state_and_the_correlation_data(
    gate: GateHarness, office: Commander
) -> None:
    corr = office.send("ping", now=time.time(), correlation=b"my-request-1")
    reply = office.reply(corr)
    assert reply["ok"] is True
    assert reply["reason"] == "pong"
    assert reply["status"]["mode"] == "normal"
    assert reply["cmd"] == "ping"


def test_open_with_a_reason_opens_and_logs_an_override_by_the_office(
    gate: GateHarness, office: Commander
) -> None:
    reply = office.reply(office.send("open", {"reason": "ambulance"}, now=time.time()))
    assert reply["ok"] is True, reply
    assert reply["reason"] == "guard_override"
    events = gate.call(lambda: list(gate.daemon.store.events()))
    override = [e for e in events if e.id in reply["events"]]
    assert override[0].type is EventType.OVERRIDE
    assert override[0].by == "office"
    assert override[0].detail["why"] == "ambulance"
    assert gate.call(gate.daemon.status)["lock"] == "released"


def test_open_without_a_reason_is_refused_as_malformed(
    gate: GateHarness, office: Commander
) -> None:
    reply = office.reply(office.send("open", {}, now=time.time()))
    assert reply == {**reply, "ok": False, "reason": "malformed"}
    assert system_events(gate, "malformed")
    assert gate.call(gate.daemon.status)["lock"] == "locked"


@pytest.mark.parametrize("name", ["lockdown", "evacuate"])
def test_mode_commands_change_the_mode_and_normal_ends_it(
    gate: GateHarness, office: Commander, name: str
) -> None:
    reply = office.reply(office.send(name, {"reason": "drill"}, now=time.time()))
    assert reply["ok"] is True, reply
    assert mode(gate) == name
    again = office.reply(office.send(name, now=time.time()))
    assert again["ok"] is True and again["reason"] == "unchanged"
    back = office.reply(office.send("normal", now=time.time()))
    assert back["ok"] is True
    assert mode(gate) == "normal"


def test_normal_is_refused_while_the_fire_alarm_is_on(gate: GateHarness, office: Commander) -> None:
    gate.call(lambda: gate.daemon.record(gate.daemon.gate.fire_alarm(True)))
    reply = office.reply(office.send("normal", now=time.time()))
    assert reply["ok"] is False
    assert reply["reason"] == "fire_alarm_active"
    assert mode(gate) == "evacuate"


# --- refused --------------------------------------------------------------------------


def refused(office: Commander, corr: bytes, reason: str) -> dict[str, Any]:
    reply = office.reply(corr)
    assert reply["ok"] is False, reply
    assert reply["reason"] == reason, reply
    return reply


def test_a_command_signed_with_another_key_is_refused(gate: GateHarness, office: Commander) -> None:
    payload, sig = make_command("lockdown", {}, b"w" * 32, time.time())
    refused(office, office.send_raw("lockdown", payload, sig=sig), "bad_signature")
    assert system_events(gate, "bad_signature")
    assert mode(gate) == "normal"


@pytest.mark.parametrize("sig", [None, "", "not hex", "00" * 32])
def test_a_command_without_a_good_sig_property_is_refused(
    gate: GateHarness, office: Commander, sig: str | None
) -> None:
    payload, _ = make_command("lockdown", {}, office.key, time.time())
    refused(office, office.send_raw("lockdown", payload, sig=sig), "bad_signature")
    assert mode(gate) == "normal"


def test_a_truncated_command_is_refused(gate: GateHarness, office: Commander) -> None:
    payload, sig = make_command("evacuate", {}, office.key, time.time())
    refused(office, office.send_raw("evacuate", payload[:-5], sig=sig), "bad_signature")
    assert mode(gate) == "normal"


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe not utf-8",
        b"{not json",
        b"[1, 2, 3]",
        b'{"nonce": "abcdefgh1234"}',
        b'{"ts": "yesterday", "nonce": "abcdefgh1234"}',
        b'{"ts": true, "nonce": "abcdefgh1234"}',
    ],
)
def test_a_signed_but_corrupt_command_is_malformed(
    gate: GateHarness, office: Commander, payload: bytes
) -> None:
    refused(office, office.send_raw("ping", payload, sig=sign(office.key, payload)), "malformed")
    assert system_events(gate, "malformed")


def test_a_command_without_a_nonce_is_malformed(gate: GateHarness, office: Commander) -> None:
    payload = json.dumps({"ts": int(time.time())}).encode()
    refused(office, office.send_raw("ping", payload, sig=sign(office.key, payload)), "malformed")


def test_a_signed_payload_moved_to_another_command_topic_is_refused(
    gate: GateHarness, office: Commander
) -> None:
    payload, sig = make_command("normal", {}, office.key, time.time())
    refused(office, office.send_raw("evacuate", payload, sig=sig), "malformed")
    assert mode(gate) == "normal"


def send_at(office: Commander, name: str, ts: float) -> bytes:
    """A command whose ts is exactly ``ts`` (make_command rounds down to whole seconds)."""
    payload = json.dumps({"ts": ts, "nonce": uuid.uuid4().hex, "cmd": name}).encode()
    return office.send_raw(name, payload, sig=sign(office.key, payload))


def test_a_command_31_seconds_old_is_stale(gate: GateHarness, office: Commander) -> None:
    refused(office, send_at(office, "lockdown", time.time() - 31), "stale")
    assert system_events(gate, "stale")
    assert mode(gate) == "normal"


def test_a_command_from_31_seconds_in_the_future_is_stale(
    gate: GateHarness, office: Commander
) -> None:
    refused(office, send_at(office, "lockdown", time.time() + 31), "stale")
    assert mode(gate) == "normal"


def test_a_command_25_seconds_old_is_still_accepted(gate: GateHarness, office: Commander) -> None:
    assert office.reply(office.send("lockdown", now=time.time() - 25))["ok"] is True


def test_a_replayed_command_is_refused(gate: GateHarness, office: Commander) -> None:
    payload, sig = make_command("lockdown", {}, office.key, time.time())
    assert office.reply(office.send_raw("lockdown", payload, sig=sig))["ok"] is True
    office.reply(office.send("normal", now=time.time()))
    refused(office, office.send_raw("lockdown", payload, sig=sig), "replayed")
    assert system_events(gate, "replayed")
    assert mode(gate) == "normal"


def test_a_replay_after_a_gate_restart_is_still_refused(
    config: Path, mosquitto: Broker, gate: GateHarness, office: Commander
) -> None:
    payload, sig = make_command("lockdown", {}, office.key, time.time())
    assert office.reply(office.send_raw("lockdown", payload, sig=sig))["ok"] is True
    office.reply(office.send("normal", now=time.time()))
    gate.stop()
    again = GateHarness(config)
    try:
        wait_for(lambda: ping_ok(office), what="the restarted gate answering")
        refused(office, office.send_raw("lockdown", payload, sig=sig), "replayed")
        assert mode(again) == "normal"
    finally:
        again.stop()


def test_an_unknown_command_is_refused(gate: GateHarness, office: Commander) -> None:
    refused(office, office.send("reboot", now=time.time()), "unknown_command")
    assert system_events(gate, "unknown_command")


def test_unknown_arguments_are_refused(gate: GateHarness, office: Commander) -> None:
    refused(office, office.send("lockdown", {"reasn": "typo"}, now=time.time()), "malformed")
    assert mode(gate) == "normal"


def test_a_retained_command_is_never_acted_on_even_after_a_restart(
    config: Path, gate: GateHarness, office: Commander
) -> None:
    corr = office.send("evacuate", now=time.time(), retain=True)
    refused(office, corr, "refused")
    assert mode(gate) == "normal"
    gate.stop()
    before = len(office.sub.all())
    again = GateHarness(config)
    try:
        # the broker hands the retained command to the new subscription: refused again
        wait_for(lambda: len(office.sub.all()) > before, what="the restarted gate's refusal")
        assert json.loads(office.sub.all()[-1][1])["reason"] == "refused"
        assert mode(again) == "normal"
        assert system_events(again, "refused")
    finally:
        office.client.publish(f"{office.base}/cmd/evacuate", b"", qos=1, retain=True)
        again.stop()


def test_a_flood_of_bad_commands_is_answered_but_logged_with_a_bound(
    gate: GateHarness, office: Commander
) -> None:
    corrs = [office.send_raw("ping", b"{}", sig="00" * 32) for _ in range(40)]
    for corr in corrs:
        refused(office, corr, "bad_signature")
    logged = system_events(gate, "bad_signature")
    assert 1 <= len(logged) <= 30


# --- message expiry (the check itself; waiting for a broker to expire is not a test) ---


def test_an_expired_message_is_stale_even_with_a_fresh_ts() -> None:
    key = b"k" * 32
    payload, sig = make_command("ping", {}, key, 1000.0)
    late = Incoming("ping", payload, sig, False, None, expiry=2, arrived=time.monotonic() - 3)
    with pytest.raises(Refusal) as err:
        decode(late, key, 1000.0, 30)
    assert err.value.reason is Reason.STALE
    fresh = Incoming("ping", payload, sig, False, None, expiry=60)
    assert decode(fresh, key, 1000.0, 30)["cmd"] == "ping"


# --- roster ---------------------------------------------------------------------------


def roster_files(**changes: str) -> dict[str, str]:
    folder = REPO / "config" / "roster"
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.csv"))}
    for name, extra in changes.items():
        files[f"{name}.csv"] += extra
    return files


def test_a_roster_bundle_is_validated_and_swapped_in(gate: GateHarness, office: Commander) -> None:
    before = gate.call(lambda: gate.daemon.gate.roster.version)
    files = roster_files(staff=f"S999,New Guard,guard,{NEW_STAFF.split(':')[1]}\n")
    reply = office.reply(office.send("roster", {"files": files}, now=time.time()))
    assert reply["ok"] is True, reply
    assert reply["version"] == before + 1
    assert gate.call(lambda: gate.daemon.gate.roster.version) == before + 1
    assert gate.scan_and_wait(NEW_STAFF)[0].decision == "granted"


def test_a_bad_roster_bundle_changes_nothing_and_lists_the_errors(
    gate: GateHarness, office: Commander
) -> None:
    before = gate.call(lambda: gate.daemon.gate.roster.version)
    files = roster_files(
        staff=f"S999,New Guard,guard,{NEW_STAFF.split(':')[1]}\n",
        children="C0999,Nobody,NO_SUCH_CLASS\n",
    )
    reply = office.reply(office.send("roster", {"files": files}, now=time.time()))
    assert reply["ok"] is False
    assert reply["reason"] == "roster_rejected"
    assert any(e.startswith("children.csv:") and "NO_SUCH_CLASS" in e for e in reply["errors"])
    assert gate.call(lambda: gate.daemon.gate.roster.version) == before
    assert gate.scan_and_wait(NEW_STAFF)[0].decision == "denied"
    assert system_events(gate, "roster_rejected")


@pytest.mark.parametrize(
    "files", [{"../../etc/passwd": "x"}, {"classes.csv": 5}, [], {}, "classes.csv"]
)
def test_a_roster_bundle_of_the_wrong_shape_is_malformed(
    gate: GateHarness, office: Commander, files: object
) -> None:
    refused(office, office.send("roster", {"files": files}, now=time.time()), "malformed")


def test_resend_puts_stored_events_back_in_the_outbox(
    mosquitto: Broker, gate: GateHarness, office: Commander
) -> None:
    from tests.mqtt_helpers import Subscriber

    events = Subscriber(mosquitto.port, f"{gate.base}/event/#")
    try:
        gate.scan_and_wait(STAFF)
        stored = gate.stored()
        wait_for(lambda: set(stored) <= set(events.event_ids()), what="first delivery")
        reply = office.reply(office.send("resend", {"from_seq": 1}, now=time.time()))
        assert reply["ok"] is True and reply["queued"] >= len(stored)
        wait_for(
            lambda: all(events.event_ids().count(i) >= 2 for i in stored), what="second delivery"
        )
    finally:
        events.close()


# --- the office's command line --------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from edge.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_cmd_prints_the_reply_and_exits_0_when_accepted(
    config: Path, gate: GateHarness, office: Commander, capsys: pytest.CaptureFixture[str]
) -> None:
    gate_id = gate.cfg.gate.id
    code, out, _ = run_cli(
        capsys, "cmd", "lockdown", "--gate", gate_id, "--arg", "reason=drill", "-c", str(config)
    )
    assert code == 0
    assert json.loads(out)["ok"] is True
    assert mode(gate) == "lockdown"


def test_cli_cmd_from_the_offices_own_config(
    mosquitto: Broker,
    tmp_path: Path,
    gate: GateHarness,
    office: Commander,
    capsys: pytest.CaptureFixture[str],
) -> None:
    own = tmp_path / "office" / "office.toml"  # no gate section: the office has no gate
    own.parent.mkdir()
    own.write_text(
        f'[site]\nid = "sunflower"\n[mqtt]\nport = {mosquitto.port}\n'
        f'key_file = "{tmp_path / "site.key"}"\n[collector]\ndatabase = "office.db"\n'
    )
    code, out, err = run_cli(capsys, "cmd", "evacuate", "--gate", gate.cfg.gate.id, "-c", str(own))
    assert code == 0, err
    assert json.loads(out)["ok"] is True
    assert mode(gate) == "evacuate"


def test_cli_cmd_exits_1_when_the_gate_refuses(
    config: Path, gate: GateHarness, office: Commander, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "cmd", "open", "--gate", gate.cfg.gate.id, "-c", str(config))
    assert code == 1
    assert json.loads(out)["reason"] == "malformed"


def test_cli_cmd_exits_1_when_no_reply_comes(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capsys, "cmd", "ping", "--gate", "nobody", "--timeout", "1", "-c", str(config)
    )
    assert code == 1
    assert out == ""
    assert "no reply from gate nobody" in err


def test_cli_cmd_sends_a_roster_folder(
    config: Path, gate: GateHarness, office: Commander, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = REPO / "config" / "roster"
    code, out, _ = run_cli(
        capsys,
        "cmd",
        "roster",
        "--gate",
        gate.cfg.gate.id,
        "--roster-dir",
        str(folder),
        "-c",
        str(config),
    )
    assert code == 0, out
    assert json.loads(out)["reason"] == "roster_loaded"


def test_cli_cmd_checks_a_roster_folder_before_sending_it(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "roster"
    bad.mkdir()
    (bad / "classes.csv").write_text("class_id,name\nK1,Sprouts\n")
    code, _, err = run_cli(
        capsys, "cmd", "roster", "--gate", "main", "--roster-dir", str(bad), "-c", str(config)
    )
    assert code == 2
    assert "classes.csv:1: missing column" in err


def test_cli_cmd_refuses_an_argument_without_a_value(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(
        capsys, "cmd", "open", "--gate", "main", "--arg", "reason", "-c", str(config)
    )
    assert code == 2
    assert "KEY=VALUE" in err


def test_revoke_stops_a_pass_and_is_kept_in_the_store(gate: GateHarness, office: Commander) -> None:
    reply = office.reply(office.send("revoke", {"pass_id": "gm1"}, now=time.time()))
    assert reply["ok"] is True and reply["reason"] == "revoked", reply
    assert gate.call(lambda: "gm1" in gate.daemon.gate.revoked_passes)
    assert system_events(gate, "revoked")[0].detail["pass_id"] == "gm1"
    assert gate.call(lambda: gate.daemon.store.revoked_passes()) == {"gm1"}
    bad = office.reply(office.send("revoke", {"pass_id": ""}, now=time.time()))
    assert bad["ok"] is False and bad["reason"] == "malformed"
