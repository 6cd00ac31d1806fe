"""Where a page's stream resumes: after the page's last event, today only, each event once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from drivers.base import Read
from edge.console.stream import CATCH_UP_LIMIT, missed, resume_point
from edge.events import EventType, Reason
from tests.console_support import ConsoleGate, console_gate


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[ConsoleGate]:
    g = console_gate(tmp_path)
    yield g
    g.close()


def scan(gate: ConsoleGate, credential: str) -> list[str]:
    gate.daemon.on_read(Read("entrance", credential))
    last = gate.daemon.store.last_event()
    assert last is not None
    return [last.id]


def test_the_browsers_last_event_id_wins_over_the_pages() -> None:
    assert resume_point("01HEADER", "01QUERY") == "01HEADER"
    assert resume_point(None, "01QUERY") == "01QUERY"
    assert resume_point("", "01QUERY") == "01QUERY"
    assert resume_point(None, None) == ""
    assert resume_point("x" * 41, None) == "?"  # longer than any id
    assert resume_point("01A\nevent: x", None) == "?"  # nothing but an id gets through


def test_a_stream_sends_what_came_after_the_pages_last_event(gate: ConsoleGate) -> None:
    staff = list(gate.daemon.roster.staff.values())
    (first,) = scan(gate, staff[0].card)
    (second,) = scan(gate, staff[1].card)
    (third,) = scan(gate, "card:0000000042")
    after_first = missed(gate.console, first)
    assert after_first is not None
    assert [e.id for e in after_first] == [second, third]
    assert missed(gate.console, third) == []
    everything = missed(gate.console, "")
    assert everything is not None and [e.id for e in everything][-3:] == [first, second, third]


def test_an_unknown_id_starts_the_page_afresh(gate: ConsoleGate) -> None:
    assert missed(gate.console, "01NOTANEVENTIDATALL0000000") is None
    assert missed(gate.console, "?") is None


def test_the_catch_up_is_today_only(gate: ConsoleGate) -> None:
    staff = next(iter(gate.daemon.roster.staff.values()))
    (yesterday,) = scan(gate, staff.card)
    gate.clock.set(gate.clock.now() + timedelta(days=1))
    (today,) = scan(gate, staff.card)
    caught = missed(gate.console, "")
    assert caught is not None and [e.id for e in caught] == [today]
    from_yesterday = missed(gate.console, yesterday)
    assert from_yesterday is not None and [e.id for e in from_yesterday] == [today]


def test_a_catch_up_too_long_to_send_starts_the_page_afresh(gate: ConsoleGate) -> None:
    staff = next(iter(gate.daemon.roster.staff.values()))
    (start,) = scan(gate, staff.card)
    noise = gate.daemon.gate.draft(EventType.SYSTEM, Reason.BAD_READ, reader="entrance")
    gate.daemon.record([noise] * (CATCH_UP_LIMIT + 1))
    assert missed(gate.console, start) is None
