"""The smaller things a guard trips over: sign-in, focus, touch targets, words, the badge."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.console.i18n import Words
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
from tests.console_support import GUARD

playwright_api = pytest.importorskip("playwright.sync_api")
GOOD_ID = "11010519491231002X"


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


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_a_wrong_pin_keeps_the_name_and_validation_speaks_the_guards_language(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    page.goto("/login")
    assert page.get_attribute("html", "lang") == ("zh-CN" if lang == "zh" else "en")
    page.locator("form[action='/login'] button[type=submit]").click()  # nothing typed
    message = page.eval_on_selector("input[name=name]", "el => el.validationMessage")
    assert message == Words(lang)("field_required")
    page.fill("input[name=name]", GUARD[0])
    page.fill("input[name=secret]", "wrong-pin")
    page.locator("form[action='/login'] button[type=submit]").click()
    page.locator("#login-error").wait_for()
    assert page.input_value("input[name=name]") == GUARD[0]
    assert page.evaluate("document.activeElement.name") == "secret"


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_focus_starts_on_confirm_and_every_focus_is_plain_to_see(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    page.goto("/control")
    page.click("#do-lockdown")
    page.locator("#confirm").wait_for()
    assert page.evaluate("document.activeElement.id") == "confirm"
    page.goto("/control")
    rings = []
    for _ in range(30):  # through the page with the keyboard, as a keyboard user would
        page.keyboard.press("Tab")
        rings.append(
            page.evaluate(
                """() => {
                  const e = document.activeElement;
                  const s = getComputedStyle(e);
                  return [e.tagName + ' ' + e.textContent.trim(), s.outlineStyle,
                          parseFloat(s.outlineWidth)];
                }"""
            )
        )
    assert len({r[0] for r in rings}) >= 8  # header, navigation and the page's own controls
    rings = [r for r in rings if not r[0].startswith("BODY")]  # past the last control
    thin = [r for r in rings if r[1] == "none" or r[2] < 3]
    assert thin == [], thin


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_every_control_in_the_top_bar_and_navigation_is_a_44px_target(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    sizes = page.eval_on_selector_all(
        "header.top button, header.top a, header.top summary, nav.main a, nav.main summary, #sound",
        """els => els.filter(e => e.getClientRects().length).map(e => {
             const r = e.getBoundingClientRect();
             return [e.textContent.trim(), r.width, r.height];
           })""",
    )
    assert sizes
    assert [s for s in sizes if s[1] < 44 or s[2] < 44] == []


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_the_sound_control_is_a_switch_that_says_its_state(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    page = pages.new(device, lang)
    sign_in(page)
    switch = page.locator("[role=switch]#sound")
    switch.scroll_into_view_if_needed()
    assert switch.get_attribute("aria-checked") == "true"  # on unless a guard turned it off
    switch.click()
    assert switch.get_attribute("aria-checked") == "false"
    page.reload()
    assert page.locator("#sound").get_attribute("aria-checked") == "false"


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_the_device_check_says_when_the_gate_saw_a_device_and_names_failed_steps(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    t = Words(lang)
    staff = next(iter(gate.daemon.roster.staff.values()))
    gate.scan(staff.card)  # a staff grant drives the relay...
    gate.clock.set(gate.clock.now() + timedelta(minutes=12))  # ...twelve minutes ago
    page = pages.new(device, lang)
    sign_in(page)
    page.goto("/check")
    seen = page.locator("#step-relay .seen").inner_text()
    assert "刚才" not in seen and "just now" not in seen  # it was not just now
    assert "12" in seen  # minutes ago
    for step in ("relay", "exit_button", "reader-entrance", "fire_alarm"):
        page.click(f"#step-{step} .choice-pass")
    page.click("#step-camera .choice-not_present")
    page.click("#step-door .choice-fail")
    page.fill("#step-door input[name='note.door']", "reed switch loose")
    page.click("#save-check")
    last = page.locator("#last-check.bad")
    last.wait_for()
    text = last.inner_text()
    assert t("step_door") in text
    assert re.search(r"\bdoor\b", text) is None  # no raw step key
    page.locator("#last-check a.button").click()
    assert page.input_value("input[name=device]") == t("step_door")


@pytest.mark.parametrize(("device", "lang"), VIEWS, ids=VIEW_IDS)
def test_the_badge_code_carries_no_words_of_one_language(
    pages: Pages, gate: LiveGate, device: Device, lang: str
) -> None:
    import cv2
    import numpy as np

    page = pages.new(device, lang)
    sign_in(page)
    page.goto("/visitors/new")
    for field, value in (("name", "赵敏"), ("id_number", GOOD_ID), ("host", "吴园长")):
        page.fill(f"input[name={field}]", value)
    page.fill("input[name=purpose]", "家长会")
    page.click("#register")
    code = page.locator("#badge img.qr")
    code.wait_for()
    png = page.request.get(code.get_attribute("src") or "").body()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert _text_lines_under_the_code(image) == 1  # the visit's id only
    assert page.locator("#badge").inner_text().count(":") >= 1  # the times are on the page


def _text_lines_under_the_code(image: Any) -> int:
    """Bands of ink below the QR code's last dark row (the code is square and on top)."""
    top = next(i for i in range(image.shape[0]) if (image[i] < 128).any())
    finders = [j for j in range(image.shape[1]) if image[top, j] < 128]  # both top corners
    code_bottom = top + (finders[-1] - finders[0])
    lines, inked = 0, False
    for row in range(code_bottom + 2, image.shape[0]):
        ink = bool((image[row] < 128).any())
        if ink and not inked:
            lines += 1
        inked = ink
    return lines
