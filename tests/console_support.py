"""Helpers for the console tests: a gate config, a settable clock, a daemon run in a thread."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from drivers.base import Read
from edge.config import Config, load_config
from edge.console.app import Console, create_app
from edge.daemon import Daemon
from edge.events import Event, EventType, Reason
from edge.roster import Guardian, Roster
from edge.roster_load import load_roster
from edge.sim.sample import write_roster
from tests.conftest import wait_for

TZ = ZoneInfo("Asia/Shanghai")
SCHOOL_DAY = datetime(2026, 11, 24, 10, 0, tzinfo=TZ)  # a Tuesday, between drop-off and dismissal
SITE_KEY = bytes(range(32))
T = TypeVar("T")

CONFIG = """
[site]
id = "sunflower"
timezone = "Asia/Shanghai"
[gate]
id = "main"
hardware = "simulated"
[store]
path = "var/gate.db"
[roster]
path = "roster"
[console]
enabled = {enabled}
host = "127.0.0.1"
port = {port}
language = "{language}"
{console_keys}
[[reader]]
name = "entrance"
type = "line"
path = "var/entrance.fifo"
"""


def make_config(
    folder: Path,
    *,
    port: int = 8080,
    enabled: bool = False,
    language: str = "en",
    console_keys: str = "session_minutes = 60",
) -> Config:
    write_roster(folder / "roster", classes=3, children=12, guardians=15, staff=4)
    path = folder / "gate.toml"
    text = CONFIG.format(
        enabled=str(enabled).lower(), port=port, language=language, console_keys=console_keys
    )
    path.write_text(text, encoding="utf-8")
    return load_config(path)


class SettableClock:
    """Wall time that starts where a test puts it and then runs at real speed.

    Real speed so timers and sessions behave as in production; settable (forward only)
    so a test can be at drop-off time, then at an early pickup, on a school day.
    """

    def __init__(self, start: datetime) -> None:
        self._base = start
        self._mono0 = time.monotonic()
        self._skipped = 0.0

    def now(self) -> datetime:
        return self._base + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        return time.monotonic() - self._mono0 + self._skipped

    def set(self, when: datetime) -> None:
        ahead = (when - self.now()).total_seconds()
        if ahead < 0:
            raise ValueError("time cannot go back")
        self._skipped += ahead


def open_daemon(cfg: Config, clock: SettableClock | None = None) -> Daemon:
    daemon = Daemon(cfg, clock=clock or SettableClock(SCHOOL_DAY), site_key=SITE_KEY)
    daemon.open()
    return daemon


def school_guardian(roster: Roster) -> Guardian:
    """A guardian with one child, in a class that uses this gate."""
    for guardian in roster.guardians.values():
        if len(guardian.children) != 1 or guardian.valid_until is not None:
            continue
        child = roster.children[guardian.children[0]]
        if not roster.classes[child.class_id].channel:
            return guardian
    raise AssertionError("no suitable guardian in the sample roster")


def roster_of(cfg: Config) -> Roster:
    return load_roster(cfg.roster.path)


class DaemonThread:
    """``Daemon.run()`` on its own loop in a thread, as ``kindergate run`` runs it.

    Signal handlers can only be installed from the main thread; the test stops the daemon
    by setting its ``stopping`` event instead, which is what the handlers do.
    """

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.runner = asyncio.Runner()
        self.loop = self.runner.get_loop()
        self.loop.add_signal_handler = lambda *args: None  # type: ignore[method-assign]
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="daemon", daemon=True)

    def _run(self) -> None:
        # Like asyncio.run: what is still pending when run() returns is cancelled.
        try:
            self.runner.run(self.daemon.run())
        except BaseException as err:
            self.error = err
        finally:
            self.runner.close()

    def start(self) -> None:
        self.thread.start()

        def started() -> bool:
            if not self.thread.is_alive():
                raise AssertionError(f"the daemon did not start: {self.error!r}")
            return self.daemon.loop is not None and self.loop.is_running()

        wait_for(started, 20, "the daemon to start")
        if self.daemon.cfg.console.enabled:
            # components are listed once started: the console's sockets are listening then
            wait_for(
                lambda: any(name == "console" for name, _ in list(self.daemon.components)),
                20,
                "the console to listen",
            )

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the daemon's loop (where its state lives) and return its result."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def scan(self, credential: str, reader: str = "entrance") -> None:
        self.call(lambda: self.daemon.on_read(Read(reader, credential)))

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.daemon.stopping.set)
            self.thread.join(20)
        if self.error is not None:
            raise self.error


def events_of(daemon: Daemon, type_: EventType, reason: Reason | None = None) -> list[Event]:
    return [
        e
        for e in daemon.store.events()
        if e.type is type_ and (reason is None or e.reason is reason)
    ]


# --- the app in-process, for tests through httpx ---------------------------------------

GUARD = ("guard1", "246810")
ADMIN = ("boss", "s3cret-pass")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class ConsoleGate:
    client: TestClient
    daemon: Daemon
    console: Console
    clock: SettableClock

    def close(self) -> None:
        self.client.close()
        self.console.close()
        self.daemon.store.close()


def console_gate(folder: Path, *, clock: SettableClock | None = None) -> ConsoleGate:
    clock = clock or SettableClock(SCHOOL_DAY)
    daemon = open_daemon(make_config(folder), clock)
    app = create_app(daemon)
    con: Console = app.state.console
    con.users.add(GUARD[0], "guard", GUARD[1])
    con.users.add(ADMIN[0], "admin", ADMIN[1])
    return ConsoleGate(TestClient(app, follow_redirects=False), daemon, con, clock)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, user: tuple[str, str] = GUARD) -> str:
    """Sign in through the form; return the session's CSRF token."""
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "name": user[0], "secret": user[1], "next": "/"},
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/").text)
