"""The console in a real browser (Debian's Chromium driven by Playwright) against a real daemon.

The daemon runs on simulated hardware in a thread, its console served by uvicorn on its
own loop; scans are fed to it as a reader would. Nothing here sleeps: every wait is on a
selector or a condition, with a deadline. With KINDERGATE_SCREENSHOTS=DIR set, the tests
also save screenshots of the main pages there (docs/screenshots/ is made that way).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from drivers.base import Input, InputChange
from edge.console.auth import Users
from edge.daemon import Daemon
from edge.events import Event, EventType, Reason
from tests.conftest import free_port, wait_for
from tests.console_support import (
    ADMIN,
    GUARD,
    SCHOOL_DAY,
    DaemonThread,
    SettableClock,
    events_of,
    make_config,
    open_daemon,
    school_guardian,
)

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]
WAIT_MS = 15_000
GOOD_ID = "11010519491231002X"


@dataclass
class LiveGate:
    daemon: Daemon
    thread: DaemonThread
    clock: SettableClock
    url: str

    def scan(self, credential: str) -> None:
        self.thread.scan(credential)

    def events(self, type_: EventType, reason: Reason | None = None) -> list[Event]:
        return self.thread.call(lambda: events_of(self.daemon, type_, reason))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test installs it)")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[LiveGate]:
    port = free_port()
    cfg = make_config(tmp_path, port=port, enabled=True, language="zh")
    clock = SettableClock(SCHOOL_DAY)
    daemon = open_daemon(cfg, clock)
    users = Users(daemon.store, clock.now)
    users.add(GUARD[0], "guard", GUARD[1])
    users.add(ADMIN[0], "admin", ADMIN[1])
    thread = DaemonThread(daemon)
    thread.start()
    yield LiveGate(daemon, thread, clock, f"http://127.0.0.1:{port}")
    thread.stop()


@pytest.fixture
def page(browser: Any, gate: LiveGate) -> Iterator[Any]:
    # held as the gate's tablet is: 1024×768, touch (the phone has tests of its own)
    context = browser.new_context(
        base_url=gate.url, viewport={"width": 1024, "height": 768}, has_touch=True
    )
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    yield tab
    context.close()


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("KINDERGATE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(Path(folder) / f"{name}.png"), full_page=True, animations="disabled"
        )


def sign_in(page: Any, user: tuple[str, str] = GUARD) -> None:
    page.goto("/")
    page.wait_for_url("**/login?next=/")
    page.fill("input[name=name]", user[0])
    page.fill("input[name=secret]", user[1])
    page.click("button[type=submit] >> nth=0")
    page.wait_for_selector("#live-state.live")  # the live stream is connected


def test_sign_in_and_see_scans_arrive_live(page: Any, gate: LiveGate) -> None:
    page.goto("/")
    shot(page, "login")
    page.fill("input[name=name]", GUARD[0])
    page.fill("input[name=secret]", "wrong-pin")
    page.click("button[type=submit] >> nth=0")
    page.locator("#login-error").wait_for()
    sign_in(page)
    staff = next(iter(gate.daemon.roster.staff.values()))
    gate.scan(staff.card)
    row = page.locator("#events li.event", has_text=staff.name)
    row.wait_for()
    assert "tone-granted" in (row.get_attribute("class") or "")
    unknown = "card:0000000042"
    gate.scan(unknown)
    page.locator("#events li.event.tone-denied", has_text="…0042").wait_for()
    assert page.locator("#events li.event").count() == 2


def test_approve_an_early_pickup_from_the_live_view(page: Any, gate: LiveGate) -> None:
    sign_in(page)
    guardian = school_guardian(gate.daemon.roster)
    child = gate.daemon.roster.children[guardian.children[0]]
    staff = list(gate.daemon.roster.staff.values())[1]
    gate.scan(staff.card)
    gate.scan("card:0000000042")
    gate.scan(guardian.card)  # 10:00 on a school day: early pickup
    card = page.locator(f"#pending .pending-card[data-credential='{guardian.card}']")
    card.wait_for()
    assert child.name in card.inner_text()
    page.locator("#events li.tone-needs_approval", has_text=guardian.name).wait_for()
    blocked = next(b for b in gate.daemon.roster.blocked if b.card)
    gate.scan(blocked.card)
    page.locator("#alarms .alarm").wait_for()
    shot(page, "live")
    card.locator("button.ok").click()
    page.locator(".flash.ok").wait_for()
    page.locator("#no-pending").wait_for()
    approved = [e for e in gate.events(EventType.ACCESS) if e.approved_by]
    assert [(e.decision, e.approved_by) for e in approved] == [("granted", GUARD[0])]
    page.locator("#alarms .alarm button").click()
    page.wait_for_selector("#alarms .alarm", state="detached")


def test_an_alarm_and_a_waiting_pickup_reach_every_page(page: Any, gate: LiveGate) -> None:
    sign_in(page)
    page.goto("/visitors/new")
    page.fill("input[name=name]", "typing, not to be lost")
    page.wait_for_selector("body[data-stream=open]")  # this page's stream is connected
    blocked = next(b for b in gate.daemon.roster.blocked if b.card)
    guardian = school_guardian(gate.daemon.roster)
    gate.scan(blocked.card)
    gate.scan(guardian.card)
    page.locator("#alarms .alarm", has_text=blocked.name).wait_for()
    page.locator("#pending-banner:not([hidden])").wait_for()
    assert page.input_value("input[name=name]") == "typing, not to be lost"
    page.locator("#alarms .alarm button").click()  # the alarm covers the page until then
    page.wait_for_selector("#alarms .alarm", state="detached")
    assert page.input_value("input[name=name]") == "typing, not to be lost"
    page.click("#pending-banner")
    page.locator(f"#pending .pending-card[data-credential='{guardian.card}']").wait_for()


def test_a_lock_that_did_not_engage_is_shown_live_on_every_page(page: Any, gate: LiveGate) -> None:
    sign_in(page)
    page.goto("/visitors")
    page.wait_for_selector("body[data-stream=open]")
    assert page.locator("#lock-fault").is_hidden()
    staff = next(iter(gate.daemon.roster.staff.values()))

    def bolt(engaged: bool) -> None:
        gate.thread.call(lambda: gate.daemon.on_input(InputChange(Input.LOCK_SENSOR, engaged)))

    def door(is_open: bool) -> None:
        gate.thread.call(lambda: gate.daemon.on_input(InputChange(Input.DOOR, is_open)))

    gate.scan(staff.card)
    bolt(False)
    door(True)
    door(False)  # relocked; the bolt stays out: after lock_engage_seconds, the alarm
    page.locator("#lock-fault:not([hidden])").wait_for()
    assert gate.events(EventType.DOOR, Reason.LOCK_NOT_ENGAGED)
    bolt(True)
    door(True)  # the next event tells the page the lock is fine again
    page.locator("#lock-fault").wait_for(state="hidden")


def test_manual_open_is_confirmed_first(page: Any, gate: LiveGate) -> None:
    sign_in(page)
    page.goto("/control")
    page.click("#do-open")
    page.locator("#form-error").wait_for()  # no reason given
    assert gate.events(EventType.OVERRIDE) == []
    page.fill("input[name=reason]", "救护车 ambulance")
    page.click("#do-open")
    page.locator("#confirm").wait_for()
    shot(page, "confirm_open")
    assert gate.events(EventType.OVERRIDE) == []
    page.click("#confirm")
    page.locator(".flash.ok").wait_for()
    (override,) = gate.events(EventType.OVERRIDE)
    assert (override.by, override.detail["why"]) == (GUARD[0], "救护车 ambulance")
    shot(page, "control")


def test_register_a_visitor_print_the_badge_and_sign_out(page: Any, gate: LiveGate) -> None:
    import cv2
    import numpy as np
    import zxingcpp

    sign_in(page)
    page.goto("/visitors/new")
    page.fill("input[name=name]", "赵敏")
    page.fill("input[name=id_number]", "110105194912310021")  # wrong check digit
    page.fill("input[name=phone]", "13912345678")
    page.fill("input[name=host]", "吴园长")
    page.fill("input[name=purpose]", "家长会")
    page.click("#register")
    page.locator(".error[data-field=id_number]").wait_for()
    shot(page, "visitor_form_error")
    assert gate.events(EventType.VISITOR) == []
    page.fill("input[name=id_number]", GOOD_ID)
    page.click("#register")
    page.locator("#badge img.qr").wait_for()
    wait_for(
        lambda: page.evaluate("document.querySelector('#badge img.qr').naturalWidth") > 0,
        15,
        "the badge's code to load",
    )
    shot(page, "badge")
    png = page.request.get(page.locator("#badge img.qr").get_attribute("src")).body()
    decoded = zxingcpp.read_barcodes(cv2.imdecode(np.frombuffer(png, np.uint8), 0))
    assert len(decoded) == 1
    page.goto("/visitors")
    page.locator("#on-site tr", has_text="赵敏").wait_for()
    shot(page, "visitors")
    gate.scan("qr:" + decoded[0].text)  # the visitor shows the badge at the gate
    wait_for(
        lambda: gate.events(EventType.VISITOR, Reason.VISITOR_OUT), 15, "the badge to sign out"
    )
    page.reload()
    page.locator("#no-visitors").wait_for()
    (out,) = gate.events(EventType.VISITOR, Reason.VISITOR_OUT)
    assert out.by == "badge"


def test_sign_out_a_visitor_from_the_list(page: Any, gate: LiveGate) -> None:
    sign_in(page)
    page.goto("/visitors/new")
    for field, value in (
        ("name", "钱立"),
        ("id_number", "E12345678"),
        ("host", "王老师"),
        ("purpose", "送教具"),
    ):
        page.fill(f"input[name={field}]", value)
    page.click("#register")
    page.locator("#badge").wait_for()
    page.goto("/visitors")
    page.locator("#on-site tr", has_text="钱立").locator("button.ok").click()
    page.locator("#no-visitors").wait_for()
    (out,) = gate.events(EventType.VISITOR, Reason.VISITOR_OUT)
    assert out.by == GUARD[0]


def test_complete_the_daily_device_check(page: Any, gate: LiveGate) -> None:
    sign_in(page)
    assert "check-due" in (page.get_attribute("#check-status", "class") or "")
    page.goto("/check")
    page.click("#save-check")
    page.locator("#form-error").wait_for()  # nothing chosen yet
    assert gate.events(EventType.CHECK) == []
    staff = next(iter(gate.daemon.roster.staff.values()))
    gate.scan(staff.card)  # the guard tries the reader and the door while checking
    gate.thread.call(lambda: gate.daemon.on_input(InputChange(Input.DOOR, True)))
    page.goto("/check")
    page.locator("#step-reader-entrance .seen").wait_for()
    for step in ("relay", "door", "exit_button", "reader-entrance", "fire_alarm"):
        page.click(f"#step-{step} .choice-pass")
    page.click("#step-camera .choice-not_present")
    shot(page, "check")
    page.click("#save-check")
    page.locator("#last-check.ok").wait_for()
    assert "check-done" in (page.get_attribute("#check-status", "class") or "")
    (check,) = gate.events(EventType.CHECK)
    assert check.by == GUARD[0]
    assert check.detail["steps"]["camera"] == {"result": "not_present"}


def test_report_a_repair(page: Any, gate: LiveGate, tmp_path: Path) -> None:
    sign_in(page)
    page.goto("/repairs/new")
    import cv2
    import numpy as np

    picture = np.full((240, 320, 3), 200, np.uint8)
    cv2.rectangle(picture, (90, 40), (230, 200), (60, 60, 60), -1)  # a reader on a wall
    cv2.circle(picture, (160, 90), 18, (40, 40, 200), -1)
    photo = tmp_path / "reader.png"
    photo.write_bytes(cv2.imencode(".png", picture)[1].tobytes())
    page.fill("input[name=device]", "读卡器 entrance")
    page.fill("textarea[name=problem]", "刷卡没有反应")
    page.set_input_files("input[name=photo]", str(photo))
    page.click("#save-repair")
    page.locator("article.repair.open").wait_for()
    shot(page, "repairs")
    (opened,) = gate.events(EventType.REPAIR)
    assert opened.detail["photo"] is True and opened.by == GUARD[0]


def test_evacuation_roll_call(page: Any, gate: LiveGate) -> None:
    roster = gate.daemon.roster
    guardian = school_guardian(roster)
    inside = {guardian.children[0], *list(roster.children)[:9]}
    gate.thread.call(lambda: gate.daemon.gate.today.dropped_off.update(inside))
    staff = list(roster.staff.values())[:2]
    for member in staff:
        gate.scan(member.card)
    sign_in(page)
    page.goto("/control")
    page.click("#do-evacuate")
    page.click("#confirm")
    page.locator(".banner.evacuate").wait_for()
    page.goto("/rollcall")
    child = gate.daemon.roster.children[guardian.children[0]]
    page.locator(f"#child-{child.child_id} button").click()
    page.locator(f"#child-{child.child_id}.ticked").wait_for()
    page.locator(f"#staff-{staff[0].staff_id} button").click()
    page.locator(f"#staff-{staff[0].staff_id}.ticked").wait_for()
    assert page.locator(f"#staff-{staff[1].staff_id}").count() == 1
    shot(page, "rollcall")
    with gate.daemon.store.transaction() as db:
        ticks = db.execute("SELECT kind, person, by FROM rollcall_ticks").fetchall()
    assert sorted(ticks) == [
        ("child", child.child_id, GUARD[0]),
        ("staff", staff[0].staff_id, GUARD[0]),
    ]


def test_refused_without_a_session_or_with_a_bad_csrf_token(page: Any, gate: LiveGate) -> None:
    answer = page.request.post("/control/confirm", form={"action": "evacuate", "confirmed": "yes"})
    assert answer.status == 403
    sign_in(page)
    page.goto("/control")
    page.click("#do-lockdown")
    page.locator("#confirm").wait_for()
    page.eval_on_selector("input[name=csrf] >> nth=-1", "el => el.value = 'forged'")
    page.click("#confirm")
    page.locator("#message").wait_for()
    assert page.locator("#message").inner_text() == "拒绝：请求无效或已过期，请重新打开页面"
    assert gate.events(EventType.MODE) == []
    assert gate.thread.call(lambda: str(gate.daemon.gate.mode)) == "normal"
