"""The console held in one hand at the gate: a phone, 390×844, touch (and the tablet beside it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.console.visitors import parse_visitor
from edge.guard import GuardAction
from tests.browser_support import (
    PHONE,
    VIEW_IDS,
    VIEWS,
    Device,
    LiveGate,
    Pages,
    in_viewport,
    launch,
    shot,
    sign_in,
    start_gate,
)
from tests.console_support import school_guardian

playwright_api = pytest.importorskip("playwright.sync_api")
PHONES = [v for v in VIEWS if v[0] is PHONE]
PHONE_IDS = [i for i, v in zip(VIEW_IDS, VIEWS, strict=True) if v[0] is PHONE]
PAGES = ("/", "/control", "/visitors", "/visitors/new", "/rollcall", "/check", "/repairs")


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


def register_visitor(gate: LiveGate, name: str) -> None:
    form = parse_visitor(
        {
            "name": name,
            "id_number": "11010519491231002X",
            "host": "Director Wu",
            "purpose": "parents' evening",
            "phone": "13912345678",
            "minutes": "60",
        }
    )
    component = dict(gate.daemon.components)["console"]
    gate.call(lambda: component.console.visitors.register(form, by="guard1"))


def top_chrome(page: Any) -> float:
    """How far down the page's own content starts: everything above it is header."""
    return float(page.evaluate("document.querySelector('main').getBoundingClientRect().top"))


@pytest.mark.parametrize(("device", "lang"), PHONES, ids=PHONE_IDS)
def test_the_header_and_navigation_leave_the_phone_screen_to_the_gate(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    assert top_chrome(page) <= 120
    nav = page.locator("nav.main")
    box = nav.bounding_box()
    assert box is not None
    # one row, within thumb reach: at the bottom of the screen (or folded away at the top)
    assert box["height"] <= 80
    for link in nav.locator("a, summary").all():
        if link.is_visible():
            assert in_viewport(page, f"nav.main [data-nav='{link.get_attribute('data-nav')}']")
    page.locator("nav.main summary[data-nav=more]").click()  # the rest, one tap further
    page.locator("nav.main .more-body a[href='/check']").click()
    page.wait_for_url("**/check")
    page.locator("header.top details.menu summary").click()  # language and sign-out
    page.locator("header.top .menu-body form[action='/logout'] button").click()
    page.wait_for_url("**/login")


@pytest.mark.parametrize(("device", "lang"), PHONES, ids=PHONE_IDS)
def test_a_waiting_early_pickup_leaves_the_newest_scan_in_view(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    staff = next(iter(gate.daemon.roster.staff.values()))
    guardian = school_guardian(gate.daemon.roster)
    gate.scan(staff.card)
    gate.scan(guardian.card)  # an early pickup, waiting
    page.locator(f"#pending .pending-card[data-credential='{guardian.card}']").wait_for()
    page.locator("#events li.event", has_text=guardian.name).wait_for()
    assert in_viewport(page, "#events li.event >> nth=0")
    assert in_viewport(page, "#pending .pending-card button.ok")
    if lang == "zh":
        shot(page, "phone_live")


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_names_stay_on_one_line(pages: Pages, gate: LiveGate, device: Device, lang: str) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    roster = gate.daemon.roster
    people = [*roster.staff.values()][:2] + [*roster.guardians.values()][:4]
    for person in people:
        gate.scan(person.card)
    page.locator("#events li.event").nth(len(people) - 1).wait_for()
    lines = page.eval_on_selector_all(
        "#events li.event .who strong",
        "els => els.map(e => [e.textContent, e.getClientRects().length])",
    )
    assert len(lines) == len(people)
    assert [name for name, boxes in lines if boxes != 1] == []


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_visitors_fit_the_screen_with_their_buttons(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    register_visitor(gate, "Ouyang Xiaoming")
    page = pages.new(device, lang)
    sign_in(page)
    page.goto("/visitors")
    row = page.locator("#on-site [id^=visitor-]", has_text="Ouyang Xiaoming")
    row.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= device.width
    for button in (row.locator("a[href$='/badge']"), row.locator("form[action$='/out'] button")):
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= device.width
        assert box["height"] >= 44
    if device is PHONE and lang == "zh":
        shot(page, "phone_visitors")


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_no_page_scrolls_sideways(pages: Pages, gate: LiveGate, device: Device, lang: str) -> None:
    gate.call(lambda: gate.daemon.guard(GuardAction("lockdown", by="guard1")))
    register_visitor(gate, "Ouyang Xiaoming")
    page = pages.new(device, lang)
    sign_in(page)
    wide = {}
    for path in PAGES:
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > device.width:
            wide[path] = width
    assert wide == {}
