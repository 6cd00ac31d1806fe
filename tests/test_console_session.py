"""A sign-in lasts while the guard works (sliding, capped), and nothing typed is lost to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
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
from tests.console_support import GUARD, TZ

playwright_api = pytest.importorskip("playwright.sync_api")
MORNING = datetime(2026, 11, 24, 7, 30, tzinfo=TZ)  # a guard's shift starts


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch(playwright_api)


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[LiveGate]:
    live = start_gate(tmp_path, console_keys="", start=MORNING)  # the shipped defaults
    yield live
    live.thread.stop()


@pytest.fixture
def pages(browser: Any, gate: LiveGate) -> Iterator[Pages]:
    opened = Pages(browser, gate)
    yield opened
    opened.close()


def later(gate: LiveGate, minutes: float) -> None:
    gate.clock.set(gate.clock.now() + timedelta(minutes=minutes))


def signed_in_on(page: Any, path: str) -> bool:
    page.goto(path)
    return "/login" not in page.url


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_a_guard_at_work_stays_signed_in_through_pickup_until_the_cap(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    # from 07:30, a page opened every 50 minutes: through the afternoon pickup, to 19:10
    for _ in range(14):
        later(gate, 50)
        assert signed_in_on(page, "/visitors"), gate.clock.now()
    later(gate, 50)  # 20:00: more than 12 hours after sign-in, however busy
    assert not signed_in_on(page, "/")


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_an_unused_session_ends_after_an_hour(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    page.goto("about:blank")  # the phone is put away: no page open
    later(gate, 61)
    assert not signed_in_on(page, "/visitors")
    assert page.url.endswith("/login?next=/visitors")


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_a_half_filled_form_survives_signing_in_again(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    page.goto("/visitors/new")
    typed = {
        "name": "赵敏",
        "phone": "13912345678",
        "host": "吴园长",
        "purpose": "家长会",
        "minutes": "90",
    }
    for field, value in typed.items():
        page.fill(f"input[name={field}]", value)
    page.fill("input[name=id_number]", "11010519491231002X")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    # The guard is called away; the phone loses the network for a while (so the page's
    # stream cannot notice the end of the session first), and the session ends meanwhile.
    page.route("**/live/stream*", lambda route: route.abort())
    component = dict(gate.daemon.components)["console"]
    gate.call(lambda: component.console.live.close())
    page.wait_for_selector("body[data-stream=closed]")
    later(gate, 61)
    page.click("#register")
    page.wait_for_url("**/login?next=**")
    page.fill("input[name=name]", GUARD[0])
    page.fill("input[name=secret]", GUARD[1])
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url("**/visitors/new")  # back where the guard was
    for field, value in typed.items():
        assert page.input_value(f"input[name={field}]") == value
    assert page.input_value("input[name=id_number]") == ""  # never kept in the browser
    stored = page.evaluate("JSON.stringify(Object.assign({}, window.sessionStorage))")
    assert "11010519491231002X" not in stored and "002X" not in stored
    assert gate.events("visitor") == []
    page.fill("input[name=id_number]", "11010519491231002X")
    page.click("#register")
    page.locator("#badge").wait_for()
    page.wait_for_load_state("load")
    (visit,) = gate.events("visitor", "visitor_in")
    assert visit.person is not None and visit.person.name == "赵敏"
    stored = page.evaluate("JSON.stringify(Object.assign({}, window.sessionStorage))")
    assert "赵敏" not in stored  # registered: the draft is forgotten
