"""`kindergate simulate`: scenario files in, one JSON event per line out, deterministic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def simulate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "simulate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def events(path: Path) -> list[dict[str, Any]]:
    out = simulate(path)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def brief(e: dict[str, Any]) -> tuple[str, str, str, str]:
    return (e["ts"][11:19], e["type"], e.get("decision", ""), e["reason"])


def test_pickup_day() -> None:
    got = events(SCENARIOS / "pickup_day.toml")
    assert [brief(e) for e in got] == [
        ("07:50:00", "access", "granted", "dropoff"),
        ("07:50:03", "door", "", "opened"),
        ("07:50:06", "door", "", "closed"),
        ("07:55:00", "access", "granted", "dropoff"),
        ("14:00:00", "access", "needs_approval", "early_pickup"),
        ("14:03:00", "access", "granted", "pickup"),
        ("14:03:02", "door", "", "opened"),
        ("14:03:05", "door", "", "closed"),
        ("16:05:00", "access", "denied", "already_collected"),
    ]
    assert got[5]["approved_by"] == "S1" and got[5]["children"] == ["C1", "C2"]
    assert got[0]["person"] == {"id": "G1", "kind": "guardian", "name": "Anna"}
    for e in got:
        assert {"id", "ts", "site", "gate", "type"} <= e.keys()
        assert e["ts"].endswith("+08:00")
    assert [e["seq"] for e in got] == list(range(1, len(got) + 1))
    assert sorted(e["id"] for e in got) == [e["id"] for e in got]  # sortable ids


def test_hardware_day_raw_reads_and_alarms() -> None:
    got = events(SCENARIOS / "hardware_day.toml")
    assert [brief(e) for e in got] == [
        ("09:00:00", "access", "granted", "staff"),
        ("09:00:10", "system", "", "bad_read"),
        ("09:01:00", "access", "granted", "staff"),
        ("16:01:00", "access", "granted", "pickup"),
        ("16:01:10", "system", "", "bad_read"),
        ("16:02:00", "access", "granted", "staff"),
        ("16:02:05", "system", "", "bad_read"),
        ("16:10:00", "door", "", "opened"),
        ("16:10:00", "door", "", "forced_open"),
        ("16:10:30", "door", "", "held_open"),
        ("16:11:00", "door", "", "closed"),
        ("16:20:00", "access", "granted", "exit_request"),
        ("16:20:02", "door", "", "opened"),
        ("16:20:32", "door", "", "held_open"),
        ("16:30:00", "alarm", "", "fire_alarm"),
        ("16:30:00", "mode", "", "evacuate"),
        ("16:31:00", "access", "granted", "evacuation"),
        ("16:40:00", "alarm", "", "fire_alarm_cleared"),
        ("16:41:00", "mode", "", "normal"),
        ("16:41:30", "door", "", "closed"),  # at exactly 30 s: not open longer than that
    ]
    assert got[0]["person"]["id"] == "S2" and got[0]["credential"] == "card:0003887558"
    assert got[2]["person"]["id"] == "S3" and got[2]["credential"] == "card:0080928213"
    # the 26-bit read carries only the low 24 bits of G7's card 0056230212
    assert got[3]["person"]["id"] == "G7" and got[3]["credential"] == "card:0005898564"
    assert got[1]["detail"]["error"] and got[4]["detail"]["error"]


def test_same_scenario_same_output() -> None:
    first = simulate(SCENARIOS / "hardware_day.toml")
    second = simulate(SCENARIOS / "hardware_day.toml")
    assert first.returncode == 0 and first.stdout == second.stdout and first.stdout


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(
        f'roster = "{SCENARIOS / "roster"}"\ndate = "2026-11-24"\ntimezone = "Asia/Shanghai"\n{body}'
    )
    return path


def test_late_pickups_come_at_the_end_of_grace(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[step]]\nat = "08:00"\nscan = "card:0000000102"\n[[step]]\nat = "16:25"\nscan = "card:0000000102"\n',
    )
    got = events(path)
    # C1 (K1) collected at 16:25 with C2? K2 opens 16:20: both collected -> no late pickups
    assert [brief(e) for e in got] == [
        ("08:00:00", "access", "granted", "dropoff"),
        ("16:25:00", "access", "granted", "pickup"),
    ]
    path = write(
        tmp_path,
        '[[step]]\nat = "08:00"\nscan = "card:0000000102"\n[[step]]\nat = "16:10"\nscan = "card:0000000102"\n',
    )
    got = events(path)
    assert [brief(e) for e in got][-1] == ("17:05:00", "late_pickup", "", "late_pickup")
    assert got[-1]["children"] == ["C2"] and got[-1]["detail"]["class_id"] == "K2"


def test_config_overrides_and_channel(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[config]\nchannel = "side"\n[[step]]\nat = "16:15"\nscan = "card:0000000103"\n'
    )
    assert [e["reason"] for e in events(path)] == ["pickup"]
    path = write(
        tmp_path,
        '[config.gate]\nchannel = "main"\n[[step]]\nat = "16:15"\nscan = "card:0000000103"\n',
    )
    assert [e["reason"] for e in events(path)] == ["wrong_channel"]


def test_guard_visitor_steps(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[step]]\nat = "10:00"\nguard = { action = "visitor_in", name = "Li Ping", id_number = "110101199003077777", host = "Ms Wang", purpose = "repair" }\n'
        '[[step]]\nat = "11:00"\nguard = { action = "visitor_out", name = "Li Ping" }\n',
    )
    got = events(path)
    assert [e["reason"] for e in got] == ["visitor_in", "visitor_out"]
    assert got[0]["detail"]["id_number"] == "**************7777"
    assert "110101199003077777" not in json.dumps(got)


@pytest.mark.parametrize(
    ("body", "key", "message"),
    [
        ('[[step]]\nat = "25:00"\nscan = "card:1"\n', "step.0.at", "not a time"),
        ('[[step]]\nat = "10:00"\n', "step.0", "exactly one of"),
        ('[[step]]\nat = "10:00"\nscan = "card:1"\ndoor = "open"\n', "step.0", "exactly one of"),
        ('[[step]]\nat = "10:00"\ndoor = "ajar"\n', "step.0.door", "'open' or 'closed'"),
        (
            '[[step]]\nat = "10:00"\nguard = { action = "dance" }\n',
            "step.0",
            "unknown guard action",
        ),
        (
            '[[step]]\nat = "10:00"\nraw = { format = "morse", data = "..." }\n',
            "step.0.raw.format",
            "wiegand26",
        ),
        (
            '[[step]]\nat = "10:00"\nscan = "card:1"\n[[step]]\nat = "09:00"\nscan = "card:1"\n',
            "(top level)",
            "before the step before",
        ),
        ('colour = "red"\n', "colour", "Extra inputs"),
        ('[config]\nunlock_seconds = "soon"\n', "config.gate.unlock_seconds", "valid number"),
    ],
)
def test_bad_scenarios_exit_2_with_file_key_message(
    tmp_path: Path, body: str, key: str, message: str
) -> None:
    path = write(tmp_path, body)
    out = simulate(path)
    assert out.returncode == 2, out.stdout
    assert out.stdout == ""
    first = out.stderr.strip().splitlines()[0]
    assert first.startswith(f"{path}: {key}: "), first
    assert message in first


def test_bad_roster_in_scenario(tmp_path: Path) -> None:
    roster = tmp_path / "r"
    roster.mkdir()
    path = tmp_path / "s.toml"
    path.write_text('roster = "r"\ndate = "2026-11-24"\n')
    out = simulate(path)
    assert out.returncode == 2 and f"{path}: roster: classes.csv: missing file" in out.stderr
