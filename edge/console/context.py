"""What the console's pages work with, built once per app around the daemon that hosts it.

``edge.console.web`` reads it from the request (``console(request)``); ``edge.console.app``
builds it and mounts the routes. It imports neither, so the routes and the app do not
import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi.templating import Jinja2Templates

from edge.console.auth import ADDRESS_FAILURES, USER_FAILURES, LockOut, Session, Sessions, Users
from edge.console.checks import DeviceChecks, RepairLog
from edge.console.live import Live
from edge.console.rollcall import RollCall
from edge.console.visitors import VisitorBook
from edge.host import GateHost

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass
class Flash:
    """Messages shown once on the next page, per session (in memory: they are only hints)."""

    by_session: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, session: Session, tone: str, text: str) -> None:
        self.by_session.setdefault(session.id_hash, []).append((tone, text))
        if len(self.by_session) > 500:  # sessions that never came back
            self.by_session.pop(next(iter(self.by_session)))

    def take(self, session: Session | None) -> list[tuple[str, str]]:
        return self.by_session.pop(session.id_hash, []) if session else []


@dataclass
class Console:
    """Everything the pages work with, built once per app."""

    host: GateHost
    users: Users
    sessions: Sessions
    visitors: VisitorBook
    checks: DeviceChecks
    repairs: RepairLog
    rollcall: RollCall
    live: Live
    templates: Jinja2Templates
    user_lock: LockOut = field(default_factory=lambda: LockOut(USER_FAILURES))
    addr_lock: LockOut = field(default_factory=lambda: LockOut(ADDRESS_FAILURES))
    flash: Flash = field(default_factory=Flash)

    def close(self) -> None:
        """End live streams and stop listening to the daemon."""
        self.live.close()
        for listener in (self.live.on_events, self.visitors.on_events, self.checks.on_events):
            if listener in self.host.listeners:
                self.host.listeners.remove(listener)
        self.host.status_parts.pop("device_check", None)


def build_console(host: GateHost) -> Console:
    visitors = VisitorBook(host)
    return Console(
        host=host,
        users=Users(host.store, host.clock.now),
        sessions=Sessions(
            host.store,
            host.clock.now,
            host.cfg.console.session_minutes,
            host.cfg.console.idle_minutes,
        ),
        visitors=visitors,
        checks=DeviceChecks(host),
        repairs=RepairLog(host),
        rollcall=RollCall(host),
        live=Live(host),
        templates=Jinja2Templates(directory=TEMPLATES),
    )
