"""Shared pieces of the console's browser tests: Chromium, a live gate, phone and tablet pages.

Debian's Chromium is driven by Playwright against a real daemon on simulated hardware,
run in a thread. A page is opened as a guard would hold it: a phone (390×844, touch) or a
tablet (1024×768, touch), in Chinese or English. Nothing here sleeps: every wait is on a
selector or a condition, with a deadline.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge.console.auth import Users
from edge.daemon import Daemon
from edge.events import Event, EventType, Reason
from tests.conftest import free_port
from tests.console_support import (
    ADMIN,
    GUARD,
    SCHOOL_DAY,
    DaemonThread,
    SettableClock,
    events_of,
    make_config,
    open_daemon,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]
WAIT_MS = 15_000


@dataclass(frozen=True)
class Device:
    name: str
    width: int
    height: int
    mobile: bool

    def context_options(self) -> dict[str, Any]:
        return {
            "viewport": {"width": self.width, "height": self.height},
            "has_touch": True,
            "is_mobile": self.mobile,
            "device_scale_factor": 2 if self.mobile else 1,
        }


PHONE = Device("phone", 390, 844, True)
TABLET = Device("tablet", 1024, 768, False)
# Every combination a guard uses: a phone or a tablet, in Chinese or in English.
VIEWS = [(PHONE, "zh"), (PHONE, "en"), (TABLET, "zh"), (TABLET, "en")]
VIEW_IDS = [f"{d.name}-{lang}" for d, lang in VIEWS]


@dataclass
class LiveGate:
    daemon: Daemon
    thread: DaemonThread
    clock: SettableClock
    url: str
    folder: Path

    def scan(self, credential: str) -> None:
        self.thread.scan(credential)

    def events(self, type_: str, reason: str | None = None) -> list[Event]:
        kind, why = EventType(type_), None if reason is None else Reason(reason)
        return list(self.thread.call(lambda: events_of(self.daemon, kind, why)))

    def call(self, fn: Callable[[], Any]) -> Any:
        return self.thread.call(fn)


def launch(playwright_api: Any) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test installs it)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def start_gate(
    folder: Path, *, console_keys: str = "session_minutes = 60", start: Any = SCHOOL_DAY
) -> LiveGate:
    port = free_port()
    cfg = make_config(folder, port=port, enabled=True, language="zh", console_keys=console_keys)
    clock = SettableClock(start)
    daemon = open_daemon(cfg, clock)
    users = Users(daemon.store, clock.now)
    users.add(GUARD[0], "guard", GUARD[1])
    users.add(ADMIN[0], "admin", ADMIN[1])
    thread = DaemonThread(daemon)
    thread.start()
    return LiveGate(daemon, thread, clock, f"http://127.0.0.1:{port}", folder)


def new_page(browser: Any, gate: LiveGate, device: Device, lang: str) -> Any:
    """A fresh browser (no cookies, no storage) held like ``device``, speaking ``lang``."""
    context = browser.new_context(base_url=gate.url, **device.context_options())
    context.set_default_timeout(WAIT_MS)
    context.add_cookies([{"name": "kg_lang", "value": lang, "url": gate.url}])
    return context.new_page()


class Pages:
    """Browsers opened by one test, closed before its gate stops (so no stream holds it up)."""

    def __init__(self, browser: Any, gate: LiveGate) -> None:
        self.browser = browser
        self.gate = gate
        self.opened: list[Any] = []

    def new(self, device: Device, lang: str) -> Any:
        page = new_page(self.browser, self.gate, device, lang)
        self.opened.append(page.context)
        return page

    def close(self) -> None:
        for context in self.opened:
            context.close()


def sign_in(page: Any, user: tuple[str, str] = GUARD, path: str = "/") -> None:
    """Through the sign-in form, as a guard does; waits until the page's stream is open."""
    page.goto(path)
    page.wait_for_url("**/login?next=**")
    page.fill("input[name=name]", user[0])
    page.fill("input[name=secret]", user[1])
    page.locator("#sign-in, form[action='/login'] button[type=submit]").first.click()
    page.wait_for_selector("body[data-stream=open]")


def in_viewport(page: Any, selector: str) -> bool:
    """True when the element is wholly on screen and nothing covers its middle."""
    return bool(
        page.eval_on_selector(
            selector,
            """el => {
              const r = el.getBoundingClientRect();
              if (r.width === 0 || r.height === 0) return false;
              if (r.top < 0 || r.left < 0) return false;
              if (r.bottom > window.innerHeight || r.right > window.innerWidth) return false;
              const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
              return hit !== null && (el === hit || el.contains(hit));
            }""",
        )
    )


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """With KINDERGATE_SCREENSHOTS=DIR set, save the page there (docs/screenshots/ is made so)."""
    folder = os.environ.get("KINDERGATE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(Path(folder) / f"{name}.png"), full_page=full_page, animations="disabled"
        )
