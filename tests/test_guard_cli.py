"""`kindergate guard ...` against a running daemon, through its 0600 unix socket."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.cli import main
from edge.console.server import socket_path
from edge.events import EventType
from edge.store import Store
from tests.conftest import free_port
from tests.console_support import (
    TZ,
    DaemonThread,
    SettableClock,
    events_of,
    make_config,
    open_daemon,
    roster_of,
    school_guardian,
)

GOOD_ID = "11010519491231002X"  # a resident ID with a valid check digit


class Gate:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.cfg = make_config(folder, port=self.port, enabled=True)
        self.config_file = str(folder / "gate.toml")
        self.clock = SettableClock(datetime(2026, 11, 24, 10, 0, tzinfo=TZ))
        self.daemon = open_daemon(self.cfg, self.clock)
        self.thread = DaemonThread(self.daemon)

    def guard(self, *args: str) -> int:
        return main(["guard", *args, "-c", self.config_file])


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    g = Gate(tmp_path)
    g.thread.start()
    yield g
    g.thread.stop()


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_the_socket_is_private_and_beside_the_store(gate: Gate) -> None:
    path = socket_path(gate.cfg.store.path)
    assert path.parent == gate.cfg.store.path.parent
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_local_api_is_not_served_over_tcp(gate: Gate) -> None:
    base = f"http://127.0.0.1:{gate.port}"
    assert httpx.get(f"{base}/local/status").status_code == 404
    answer = httpx.post(f"{base}/local/guard", json={"action": "evacuate"})
    assert answer.status_code == 404
    assert gate.thread.call(lambda: str(gate.daemon.gate.mode)) == "normal"


def test_lockdown_and_normal_are_recorded_with_who_did_it(
    gate: Gate, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gate.guard("lockdown", "--by", "Li Wei") == 0
    printed = _lines(capsys.readouterr().out)
    assert [(e["type"], e["mode"], e["by"]) for e in printed] == [("mode", "lockdown", "Li Wei")]
    assert gate.thread.call(lambda: str(gate.daemon.gate.mode)) == "lockdown"
    assert gate.guard("normal") == 0
    by = _lines(capsys.readouterr().out)[0]["by"]
    assert by.startswith("cli:")


def test_open_needs_a_reason(gate: Gate, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        gate.guard("open")
    assert exited.value.code == 2
    assert gate.guard("open", "--reason", "delivery of milk") == 0
    event = _lines(capsys.readouterr().out)[-1]
    assert (event["type"], event["reason"]) == ("override", "guard_override")
    assert event["detail"]["why"] == "delivery of milk"


def test_approve_refused_when_nothing_waits_then_accepted(
    gate: Gate, capsys: pytest.CaptureFixture[str]
) -> None:
    guardian = school_guardian(roster_of(gate.cfg))
    assert gate.guard("approve", "--credential", guardian.card) == 1
    assert "refused: no early pickup waiting" in capsys.readouterr().err
    gate.thread.scan(guardian.card)  # 10:00: an early pickup, waiting for a guard
    assert gate.guard("approve", "--credential", guardian.card, "--by", "Zhao") == 0
    granted = _lines(capsys.readouterr().out)[-1]
    assert (granted["decision"], granted["reason"], granted["approved_by"]) == (
        "granted",
        "pickup",
        "Zhao",
    )


def test_visitors_in_and_out_and_bad_input_changes_nothing(
    gate: Gate, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--name", "Zhao Min", "--host", "Director Wu", "--purpose", "meeting"]
    assert gate.guard("visitor-in", *common, "--id-number", "110105194912310021") == 2
    assert "id_number: not a valid ID number" in capsys.readouterr().err
    assert gate.thread.call(lambda: events_of(gate.daemon, EventType.VISITOR)) == []
    assert gate.guard("visitor-in", *common, "--id-number", GOOD_ID, "--phone", "13912345678") == 0
    event = _lines(capsys.readouterr().out)[-1]
    assert event["reason"] == "visitor_in"
    assert event["detail"]["id_number"] == "**************002X"
    assert GOOD_ID not in json.dumps(event)
    assert gate.guard("visitor-out", "--name", "zhao min") == 0
    assert _lines(capsys.readouterr().out)[-1]["reason"] == "visitor_out"
    assert gate.guard("visitor-out", "--name", "Zhao Min") == 1


def test_status_shows_whether_todays_check_is_done(
    gate: Gate, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gate.guard("status") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["mode"] == "normal"
    assert status["device_check"]["done_today"] is False


def test_no_daemon_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_config(tmp_path)
    assert main(["guard", "lockdown", "-c", str(tmp_path / "gate.toml")]) == 1
    assert "cannot reach the gate daemon" in capsys.readouterr().err


def test_add_user_sets_a_hashed_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = make_config(tmp_path)
    config_file = str(tmp_path / "gate.toml")
    monkeypatch.setattr("sys.stdin", io.StringIO("123\n"))
    assert main(["guard", "add-user", "wang", "--role", "guard", "-c", config_file]) == 2
    assert "nothing was changed" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("864209\n"))
    argv = ["guard", "add-user", "wang", "--role", "admin", "--password-stdin", "-c", config_file]
    assert main(argv) == 0
    store = Store(cfg.store.path, site="s", gate="g")
    try:
        with store.transaction() as db:
            rows = db.execute("SELECT name, role, hash FROM console_users").fetchall()
    finally:
        store.close()
    assert [(r[0], r[1]) for r in rows] == [("wang", "admin")]
    assert rows[0][2].startswith("$argon2id$") and "864209" not in rows[0][2]
    assert stat.S_IMODE(os.stat(cfg.store.path).st_mode) == 0o600
