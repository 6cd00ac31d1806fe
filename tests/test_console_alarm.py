"""The blocked-person alarm cannot be missed: pinned on screen, sounded, acknowledged by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
from tests.conftest import wait_for
from tests.console_support import GUARD

playwright_api = pytest.importorskip("playwright.sync_api")

# Counts the tones a page starts, whatever code starts them.
COUNT_TONES = """
(() => {
  window.__tones = 0;
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  const make = Ctx.prototype.createOscillator;
  Ctx.prototype.createOscillator = function () {
    const osc = make.call(this);
    const start = osc.start.bind(osc);
    osc.start = (...args) => { if (this.state === "running") window.__tones += 1; return start(...args); };
    return osc;
  };
})();
"""


# Chromium without a screen plays sound freely; this is the rule a real browser applies:
# a page's audio stays suspended until the page itself has been tapped.
AUTOPLAY_RULE = """
(() => {
  const Ctx = window.AudioContext;
  if (!Ctx) return;
  let tapped = false;  // by a person: input the browser itself marks as trusted
  for (const kind of ["pointerdown", "touchend", "keydown", "click"]) {
    window.addEventListener(kind, (e) => { if (e.isTrusted) tapped = true; }, true);
  }
  class Strict extends Ctx {
    constructor(...args) {
      super(...args);
      this.blocked = !tapped;
      if (this.blocked) super.suspend();
    }
    get state() { return this.blocked ? "suspended" : super.state; }
    resume() {
      if (!tapped) return Promise.reject(new DOMException("autoplay", "NotAllowedError"));
      this.blocked = false;
      return super.resume();
    }
  }
  window.AudioContext = Strict;
  window.webkitAudioContext = Strict;
})();
"""


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


def blocked(gate: LiveGate) -> tuple[str, str]:
    person = next(b for b in gate.daemon.roster.blocked if b.card)
    assert person.card
    return person.card, person.name


def fill_the_list(page: Any, gate: LiveGate, rows: int = 30) -> None:
    staff = list(gate.daemon.roster.staff.values())
    for i in range(rows):
        gate.scan(staff[i % len(staff)].card)
    wait_for(lambda: page.locator("#events li.event").count() >= rows, 15, "the list to fill")


def scroll_to_bottom(page: Any) -> None:
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    wait_for(lambda: page.evaluate("window.scrollY") > 0, 15, "the page to scroll")


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_the_alarm_is_pinned_on_screen_until_a_guard_acknowledges_it(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    fill_the_list(page, gate)
    scroll_to_bottom(page)
    card, name = blocked(gate)
    gate.scan(card)
    alarm = page.locator("#alarms .alarm", has_text=name)
    alarm.wait_for()
    assert in_viewport(page, "#alarms .alarm")
    assert in_viewport(page, "#alarms .alarm button")
    if device is PHONE and lang == "zh":
        shot(page, "phone_alarm", full_page=False)
    page.goto("/check")  # a long page, scrolled: the alarm is still in view
    scroll_to_bottom(page)
    assert in_viewport(page, "#alarms .alarm")
    (raised,) = gate.events("alarm", "blocked_person")
    page.locator("#alarms .alarm button").click()
    page.wait_for_selector("#alarms .alarm", state="detached")
    (ack,) = gate.events("alarm", "alarm_acknowledged")
    assert ack.by == GUARD[0]
    assert ack.detail["alarm"] == raised.id
    assert page.url.endswith("/check")  # acknowledging does not take the guard elsewhere
    page.goto("/")
    assert page.locator("#alarms .alarm").count() == 0
    page.locator("#events li.event", has_text=GUARD[0]).first.wait_for()  # attributed


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_an_acknowledgement_clears_the_alarm_on_every_console(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    mine, other = pages.new(device, lang), pages.new(device, lang)
    sign_in(mine)
    sign_in(other)
    other.goto("/visitors/new")
    other.wait_for_selector("body[data-stream=open]")
    card, _ = blocked(gate)
    gate.scan(card)
    mine.locator("#alarms .alarm").wait_for()
    other.locator("#alarms .alarm").wait_for()
    mine.locator("#alarms .alarm button").click()
    other.wait_for_selector("#alarms .alarm", state="detached")


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_the_alarm_sounds_by_default(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    page.context.add_init_script(COUNT_TONES)
    sign_in(page)
    card, _ = blocked(gate)
    gate.scan(card)
    page.locator("#alarms .alarm").wait_for()
    wait_for(lambda: page.evaluate("window.__tones") > 0, 15, "the alarm to sound")


def test_sound_the_browser_blocks_is_allowed_by_one_tap(pages: Pages, gate: LiveGate) -> None:
    """Under the browser's autoplay rule, a page nobody touched yet may not sound: the alarm
    says so, and one tap anywhere lets it sound."""
    page = pages.new(VIEWS[0][0], "zh")
    page.context.add_init_script(COUNT_TONES)
    page.context.add_init_script(AUTOPLAY_RULE)
    sign_in(page)
    page.goto("/visitors")  # opened later, not touched yet
    page.wait_for_selector("body[data-stream=open]")
    card, _ = blocked(gate)
    gate.scan(card)
    page.locator("#alarms .alarm").wait_for()
    page.locator("#sound-blocked:not([hidden])").wait_for()
    assert page.evaluate("window.__tones") == 0
    page.locator("#sound-blocked").tap()
    wait_for(lambda: page.evaluate("window.__tones") > 0, 15, "the alarm to sound")
    page.wait_for_selector("#sound-blocked", state="hidden")
