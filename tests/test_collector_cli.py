"""`kindergate collector`, `report` and `events --collector` as the office runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.cli import main
from edge.events import dumps
from office.ingest import Ingestor, Message
from office.store import open_store
from tests.collector_support import Publisher, gate_events, topic_of, write_config
from tests.conftest import REPO, free_port, wait_for


@pytest.fixture
def office(tmp_path: Path) -> Path:
    cfg = write_config(tmp_path, 1883, str(tmp_path / "office.db"))
    store = open_store(str(tmp_path / "office.db"))
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    events = gate_events(5) + gate_events(
        3, gate="side", start=datetime.fromisoformat("2026-11-24T15:59:59+08:00")
    )
    Ingestor(store, "kindergate", offline_after=timedelta(minutes=2), clock=lambda: now).write(
        [Message(topic_of(e), dumps(e).encode()) for e in events]
    )
    store.close()
    return cfg


def test_events_from_the_collector_oldest_first(office: Path, capsys: Any) -> None:
    assert main(["events", "-c", str(office), "--collector"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(e["gate"], e["seq"]) for e in lines][:4] == [
        ("side", 1),
        ("side", 2),
        ("side", 3),
        ("main", 1),
    ]
    assert len(lines) == 8
    assert (
        main(["events", "-c", str(office), "--collector", "--since", "2026-11-24T16:00:00.500"])
        == 0
    )
    assert [e["seq"] for e in map(json.loads, capsys.readouterr().out.splitlines())] == [3, 4, 5]


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_report_in_every_format(office: Path, capsys: Any, fmt: str) -> None:
    code = main(["report", "pickups", "--date", "2026-11-24", "-c", str(office), "--format", fmt])
    out = capsys.readouterr().out
    assert code == 0
    if fmt == "json":
        # gate_events: seq n collects child C{n}; both gates number from 1: five children
        assert json.loads(out)["summary"]["collected"] == 5
    elif fmt == "csv":
        assert out.splitlines()[0].startswith("child,name,class,")
        assert len(out.splitlines()) == 6
    else:
        assert out.startswith("Drop-offs and pickups, 2026-11-24")


def test_report_problems_are_exit_2(office: Path, tmp_path: Path, capsys: Any) -> None:
    assert main(["report", "day", "--date", "24/11/2026", "-c", str(office)]) == 2
    assert "--date" in capsys.readouterr().err
    bare = tmp_path / "gate.toml"  # a gate's config with no [collector]
    bare.write_text(
        office.read_text().split("[collector]")[0]
        + '[gate]\nid = "main"\n[store]\npath = "gate.db"\n'
    )
    assert main(["report", "day", "-c", str(bare)]) == 2
    assert "no [collector] section" in capsys.readouterr().err
    assert main(["collector", "-c", str(bare)]) == 2
    assert "no [collector] section" in capsys.readouterr().err


def test_the_collector_command_serves_the_office_page(broker_factory: Any, tmp_path: Path) -> None:
    broker = broker_factory()
    web = free_port()
    cfg = write_config(tmp_path / "o", broker.port, str(tmp_path / "office.db"), web_port=web)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "collector", "-c", str(cfg)],
        env=env,
        stderr=subprocess.PIPE,
    )
    pub = Publisher(broker.port)
    try:

        def health() -> Any:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web}/healthz", timeout=2) as r:
                    return json.loads(r.read())
            except OSError:
                return None

        wait_for(health, 30, "the office page")
        pub.raw("kindergate/sunflower/main/status", "online", retain=True)
        pub.events(gate_events(3))
        wait_for(lambda: (health() or {}).get("events") == 3, 30, "the events on the page")
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=5) as r:
            assert "main" in r.read().decode()
        proc.terminate()
        assert proc.wait(30) == 0
    finally:
        pub.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_a_stored_row_that_is_not_an_event_never_fails_a_command(
    office: Path, tmp_path: Path, capsys: Any
) -> None:
    good = gate_events(1)[0]
    forged = dict(good, id="BAD1", children=[{"id": "C0001"}])
    store = open_store(str(tmp_path / "office.db"))
    with store.transaction():
        store.insert_events(
            [
                (
                    "BAD1",
                    "sunflower",
                    "main",
                    None,
                    good["ts"],
                    int(datetime.fromisoformat(good["ts"]).timestamp() * 1000),
                    "access",
                    "pickup",
                    None,
                    None,
                    dumps(forged),
                    good["ts"],
                )
            ]
        )
    store.close()
    for kind in ("pickups", "late", "day"):
        assert main(["report", kind, "--date", "2026-11-24", "-c", str(office)]) == 0
        out = capsys.readouterr().out
        assert "note: stored event BAD1 (sunflower/main" in out
        assert "children: not a list of ids" in out
    csv = ["report", "pickups", "--date", "2026-11-24", "--format", "csv", "-c", str(office)]
    assert main(csv) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 6  # the header and five children, as before
    assert "note: stored event BAD1" in captured.err
    assert main(["events", "-c", str(office), "--collector"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 8
    assert "BAD1" not in captured.out and "note: stored event BAD1" in captured.err
