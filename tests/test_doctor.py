"""doctor: one line per check, OK/WARN/FAIL with the fix; exit 1 on any FAIL."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from edge.cli import main
from edge.events import Draft, EventType, Reason
from edge.ops import doctor
from edge.ops.doctor import Level, Probes, run_checks, worst
from edge.ops.timesync import ClockStatus, Sync
from mqtt.signing import load_key
from tests.ops_support import NOW, access, make_store, publish_all, write_config

SYNCED = ClockStatus(Sync.SYNCED, "kernel: synchronised", "rtc0")
KEY = "ab" * 32


def reachable(host: str, port: int, timeout: float) -> None:
    return None


def refused(host: str, port: int, timeout: float) -> None:
    raise ConnectionRefusedError(111, "Connection refused")


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    """A healthy installation in tmp_path; returns the config."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    key = secrets / "site.key"
    key.write_text(KEY)
    key.chmod(0o600)
    chip = tmp_path / "gpiochip0"
    chip.touch()
    os.mkfifo(tmp_path / "state-fifo")
    cfg = write_config(
        tmp_path,
        f"""
[mqtt]
host = "127.0.0.1"
port = 1883
key_file = "{key}"
[[reader]]
name = "entrance"
type = "line"
path = "{tmp_path / "state-fifo"}"
[[reader]]
name = "side"
type = "wiegand"
d0 = 5
d1 = 6
""",
    )
    store = make_store(tmp_path / "state" / "gate.db")
    store.record([access(NOW)])
    publish_all(store)
    store.close()
    return cfg


def probes(tmp_path: Path, **changes: object) -> Probes:
    p = Probes(clock=lambda: SYNCED, connect=reachable, load_key=load_key)
    p.gpiochip = tmp_path / "gpiochip0"
    for key, value in changes.items():
        setattr(p, key, value)
    return p


def by_name(checks: list[doctor.Check], name: str) -> list[doctor.Check]:
    return [c for c in checks if c.name == name]


def test_a_healthy_gate_is_all_ok(gate: Path, tmp_path: Path) -> None:
    checks = run_checks(gate, probes(tmp_path), NOW)
    assert [c.line() for c in checks if c.level is not Level.OK] == []
    assert [c.name for c in checks] == [
        "config", "store", "key", "clock", "broker", "reader", "reader", "disk", "outbox",
    ]  # fmt: skip
    assert "256 bits" in by_name(checks, "key")[0].message
    assert worst(checks) is Level.OK


def test_store_open_to_others_fails_with_the_fix(gate: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.chmod(0o755)
    (state / "gate.db").chmod(0o644)
    found = by_name(run_checks(gate, probes(tmp_path), NOW), "store")
    assert [c.level for c in found] == [Level.FAIL, Level.FAIL]
    assert found[0].fix == f"chmod 700 {state}"
    assert found[1].fix == f"chmod 600 {state / 'gate.db'}"


def test_a_store_file_of_another_owner_fails(gate: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    os.chown(tmp_path / "state" / "gate.db", 12345, -1)
    found = by_name(run_checks(gate, probes(tmp_path), NOW), "store")
    assert found[0].level is Level.FAIL and "uid 12345" in found[0].message


@pytest.mark.parametrize(
    ("content", "mode", "why"),
    [
        (KEY, 0o644, "open to others"),
        ("abcd", 0o600, "too short"),
        (None, 0o600, "missing"),
    ],
)
def test_key_problems_fail(
    gate: Path, tmp_path: Path, content: str | None, mode: int, why: str
) -> None:
    key = tmp_path / "secrets" / "site.key"
    if content is None:
        key.unlink()
    else:
        key.write_text(content)
        key.chmod(mode)
    (found,) = by_name(run_checks(gate, probes(tmp_path), NOW), "key")
    assert found.level is Level.FAIL and why in found.message


@pytest.mark.parametrize(
    ("status", "level"),
    [
        (ClockStatus(Sync.UNSYNCED, "kernel: not synchronised"), Level.FAIL),
        (ClockStatus(Sync.UNKNOWN, "no probe"), Level.WARN),
    ],
)
def test_an_untrusted_clock(gate: Path, tmp_path: Path, status: ClockStatus, level: Level) -> None:
    (found,) = by_name(run_checks(gate, probes(tmp_path, clock=lambda: status), NOW), "clock")
    assert found.level is level and "timedatectl set-ntp true" in found.fix


def test_an_unreachable_broker_fails(gate: Path, tmp_path: Path) -> None:
    (found,) = by_name(run_checks(gate, probes(tmp_path, connect=refused), NOW), "broker")
    assert found.level is Level.FAIL
    assert found.message.startswith("127.0.0.1:1883 unreachable (Connection refused)")


def test_the_real_connect_reaches_a_listening_port() -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        doctor.tcp_connect("127.0.0.1", server.getsockname()[1], 3)
        port = server.getsockname()[1]
    with pytest.raises(OSError):
        doctor.tcp_connect("127.0.0.1", port, 3)


def test_missing_reader_devices_fail(gate: Path, tmp_path: Path) -> None:
    (tmp_path / "gpiochip0").unlink()
    readers = by_name(run_checks(gate, probes(tmp_path), NOW), "reader")
    assert [c.level for c in readers] == [Level.OK, Level.FAIL]
    assert "reader side" in readers[1].message and "does not exist" in readers[1].message


def test_a_reader_device_that_will_not_open_fails(gate: Path, tmp_path: Path) -> None:
    chip = tmp_path / "gpiochip0"
    chip.unlink()
    chip.mkdir()  # not openable read-write, even by root
    readers = by_name(run_checks(gate, probes(tmp_path), NOW), "reader")
    assert readers[1].level is Level.FAIL and "cannot open" in readers[1].message
    assert "dialout, input, gpio" in readers[1].fix


def test_the_log_reports_old_unpublished_events_and_readers_down(
    gate: Path, tmp_path: Path
) -> None:
    store = make_store(tmp_path / "state" / "gate.db")
    down = Draft(
        EventType.SYSTEM,
        Reason.READER_DOWN,
        ts=NOW - timedelta(days=2),
        reader="entrance",
        detail={"detail": "unplugged"},
    )
    store.record([down])
    store.close()
    checks = run_checks(gate, probes(tmp_path), NOW)
    (outbox,) = by_name(checks, "outbox")
    assert outbox.level is Level.WARN and outbox.message.startswith("1 events not yet published")
    assert by_name(checks, "reader")[-1].message.startswith("reader entrance reported down")
    store = make_store(tmp_path / "state" / "gate.db")
    store.record([Draft(EventType.SYSTEM, Reason.READER_UP, ts=NOW, reader="entrance")])
    store.close()
    assert not [c for c in run_checks(gate, probes(tmp_path), NOW) if "reported down" in c.message]


def test_a_bad_config_fails_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\nid = "x"\nbogus = 1\n')
    checks = run_checks(bad, probes(tmp_path), NOW)
    assert {c.name for c in checks} == {"config"} and len(checks) >= 3
    assert all(c.level is Level.FAIL for c in checks)
    assert any("site.bogus: unknown key" in c.message for c in checks)


def test_cli_prints_lines_and_exits_1_on_fail(
    gate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("edge.ops.timesync.check", lambda: SYNCED)
    monkeypatch.setattr(doctor, "tcp_connect", reachable)
    monkeypatch.setattr(doctor, "GPIOCHIP", tmp_path / "gpiochip0")
    assert main(["doctor", "-c", str(gate)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 9 and all(line.startswith("OK") for line in lines)
    monkeypatch.setattr(doctor, "tcp_connect", refused)
    assert main(["doctor", "-c", str(gate)]) == 1
    assert any(line.startswith("FAIL  broker") for line in capsys.readouterr().out.splitlines())


def test_as_root_the_commands_become_the_store_owner() -> None:
    """What root's `backup` makes belongs to the service, and root's checks see what it sees."""
    import pwd
    import shutil
    import subprocess
    import sys
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("needs root")
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="kg-owner-"))  # pytest's own tmp is root's alone
    try:
        base.chmod(0o755)
        cfg = write_config(base)
        cfg.chmod(0o644)
        store = make_store(base / "state" / "gate.db")
        store.record([access(NOW)])
        store.close()
        (base / "state" / "backups").mkdir()
        for path in [base / "state", *(base / "state").iterdir()]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "edge.cli",
                "backup",
                "-c",
                str(cfg),
                "--to",
                str(base / "state" / "backups"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        (copy,) = (base / "state" / "backups").iterdir()
        assert copy.stat().st_uid == nobody.pw_uid
    finally:
        shutil.rmtree(base)
