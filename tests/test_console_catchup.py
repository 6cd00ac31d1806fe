"""A scan made while a page loads, or while its stream is away, still reaches the page.

The scans are made at the worst moment, deterministically: after the page's HTML was
served and before its live stream reaches the daemon (a route handler holds the stream's
request, records the scans on the daemon's loop, then lets the request through).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import (
    VIEW_IDS,
    VIEWS,
    Device,
    LiveGate,
    Pages,
    launch,
    sign_in,
    start_gate,
)
from tests.console_support import school_guardian

playwright_api = pytest.importorskip("playwright.sync_api")
STREAM = "**/live/stream*"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch(playwright_api)


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[LiveGate]:
    live = start_gate(tmp_path)
    yield live
    live.thread.stop()


@pytest.fixture
def pages(browser: Any, gate: LiveGate) -> Iterator[Pages]:
    opened = Pages(browser, gate)
    yield opened
    opened.close()


def blocked_card(gate: LiveGate) -> tuple[str, str]:
    person = next(b for b in gate.daemon.roster.blocked if b.card)
    assert person.card
    return person.card, person.name


def hold_stream(page: Any, on_request: Any) -> list[int]:
    """Route the page's stream requests through ``on_request(n)`` (n = 1, 2, ...) first."""
    seen: list[int] = []

    def handler(route: Any) -> None:
        seen.append(len(seen) + 1)
        on_request(len(seen))
        route.continue_()

    page.route(STREAM, handler)
    return seen


def drop_streams(gate: LiveGate) -> None:
    """The daemon ends every open stream, as a network blip would."""
    component = dict(gate.daemon.components)["console"]
    gate.call(lambda: component.console.live.close())


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_scans_made_while_the_live_page_loads_appear_once(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    roster = gate.daemon.roster
    staff = list(roster.staff.values())[:2]
    guardian = school_guardian(roster)
    card, blocked_name = blocked_card(gate)

    def scan_while_loading(n: int) -> None:
        if n == 1:  # the page is served; its stream has not reached the daemon yet
            for credential in (staff[0].card, card, guardian.card, staff[1].card):
                gate.scan(credential)

    hold_stream(page, scan_while_loading)
    page.goto("/")
    for member in staff:
        page.locator("#events li.event", has_text=member.name).wait_for()
    page.locator("#alarms .alarm", has_text=blocked_name).wait_for()
    page.locator(f"#pending .pending-card[data-credential='{guardian.card}']").wait_for()
    page.locator("#events li.tone-needs_approval", has_text=guardian.name).wait_for()
    ids = page.eval_on_selector_all("#events li.event", "els => els.map(e => e.dataset.id)")
    assert len(ids) == len(set(ids)) == 4  # no duplicates, no gaps
    # newest first: the order the gate recorded them in, reversed
    names = page.eval_on_selector_all(
        "#events li.event .who strong", "els => els.map(e => e.textContent)"
    )
    assert names[0] == staff[1].name and names[-1] == staff[0].name


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_an_alarm_raised_while_the_stream_is_away_reaches_a_form_page(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    guardian = school_guardian(gate.daemon.roster)
    card, blocked_name = blocked_card(gate)

    def scan_while_away(n: int) -> None:
        if n == 2:  # the stream dropped; the browser is reconnecting
            gate.scan(card)
            gate.scan(guardian.card)

    requests = hold_stream(page, scan_while_away)
    page.goto("/visitors/new")
    page.wait_for_selector("body[data-stream=open]")
    page.fill("input[name=name]", "typing, not to be lost")
    drop_streams(gate)
    page.locator("#alarms .alarm", has_text=blocked_name).wait_for()
    page.locator("#pending-banner:not([hidden])").wait_for()
    assert requests == [1, 2]
    assert page.input_value("input[name=name]") == "typing, not to be lost"


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_the_live_list_resumes_after_a_dropped_stream_without_duplicates(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    staff = list(gate.daemon.roster.staff.values())[:3]
    gate.scan(staff[0].card)
    page.locator("#events li.event", has_text=staff[0].name).wait_for()

    def scan_while_away(n: int) -> None:
        if n == 1:
            gate.scan(staff[1].card)
            gate.scan(staff[2].card)

    requests = hold_stream(page, scan_while_away)
    drop_streams(gate)
    for member in staff[1:]:
        page.locator("#events li.event", has_text=member.name).wait_for()
    ids = page.eval_on_selector_all("#events li.event", "els => els.map(e => e.dataset.id)")
    assert len(ids) == len(set(ids)) == 3
    assert requests == [1]
