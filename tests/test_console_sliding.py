"""Sessions slide while used and end unused or at the cap; a form posted too late is not lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.console_support import ConsoleGate, console_gate, sign_in


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[ConsoleGate]:
    g = console_gate(tmp_path)  # session_minutes = 60 (the cap), idle_minutes defaults to 60
    g.console.sessions.idle = 20 * 60  # unused for 20 minutes ends it
    yield g
    g.close()


def later(gate: ConsoleGate, minutes: float) -> None:
    gate.clock.set(gate.clock.now() + timedelta(minutes=minutes))


def test_use_moves_the_end_and_the_cap_ends_it_anyway(gate: ConsoleGate) -> None:
    sign_in(gate.client)
    for _ in range(3):  # 45 minutes, a request every 15
        later(gate, 15)
        assert gate.client.get("/visitors").status_code == 200
    later(gate, 15)  # 60 minutes after sign-in: the cap, however busy
    assert gate.client.get("/visitors").status_code == 303


def test_unused_it_ends(gate: ConsoleGate) -> None:
    sign_in(gate.client)
    later(gate, 21)
    answer = gate.client.get("/visitors?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/visitors%3Fx%3D1"


def test_a_form_posted_after_the_end_goes_to_sign_in_and_back(gate: ConsoleGate) -> None:
    csrf = sign_in(gate.client)
    later(gate, 21)
    page = "http://testserver/visitors/new"
    answer = gate.client.post(
        "/visitors",
        data={"csrf": csrf, "name": "Zhao Min"},
        headers={"origin": "http://testserver", "referer": page},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/visitors/new"
    # from elsewhere, or without a browser's origin: refused as before, nothing done
    foreign = gate.client.post(
        "/visitors", data={"csrf": csrf}, headers={"origin": "http://evil.example"}
    )
    assert foreign.status_code == 403
    assert gate.client.post("/visitors", data={"csrf": csrf}).status_code == 403
