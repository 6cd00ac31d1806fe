"""The live stream a page listens to: first what it missed, then each event as it is recorded.

Each Server-Sent Event carries the gate's event id. A page is rendered with the id of the
newest event at that moment and opens its stream with ``?after=`` that id; on a reconnect
the browser sends ``Last-Event-ID`` by itself. The stream registers for new events first
and then reads what came after that id from the store, all in one step on the daemon's
loop, so nothing recorded in between is lost or sent twice. The catch-up is bounded:
today's events, at most ``CATCH_UP_LIMIT``; past that the page is told to reload.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, time
from typing import Any, Protocol

from fastapi.templating import Jinja2Templates

from edge.console.auth import Sessions
from edge.console.i18n import Words
from edge.console.live import Live, blocked_alarm, describe, shown
from edge.events import Event, EventType, Reason
from edge.host import GateHost

HEARTBEAT_SECONDS = 15.0
RETRY_MS = 2000
CATCH_UP_LIMIT = 2000
MAX_ID = 40
ALARM_CHANGES = frozenset({Reason.BLOCKED_PERSON, Reason.ALARM_ACKNOWLEDGED})


class Console(Protocol):
    """The parts of the console app a stream uses."""

    host: GateHost
    live: Live
    templates: Jinja2Templates
    sessions: Sessions


def resume_point(last_event_id: str | None, after: str | None) -> str:
    """The id a stream resumes after: the browser's ``Last-Event-ID`` wins over ``?after=``."""
    given = last_event_id if last_event_id else after
    given = (given or "").strip()
    if not given:
        return ""  # a page with no event yet: all of today
    return given if len(given) <= MAX_ID and given.isascii() and given.isalnum() else "?"


def missed(con: Console, after: str) -> list[Event] | None:
    """Today's events after the one with id ``after`` ("" = all of today), oldest first.

    None when the id is not in the store or there are too many: the page starts afresh.
    """
    tz = con.host.cfg.site.tz
    day = con.host.clock.now().astimezone(tz).date()
    start = datetime.combine(day, time(0), tz)
    return con.host.store.after(after, since=start, limit=CATCH_UP_LIMIT)


def frame(con: Console, t: Words, event: Event) -> str:
    return f"id: {event.id}\nevent: gate\ndata: {json.dumps(payload(con, t, event))}\n\n"


def payload(con: Console, t: Words, event: Event) -> dict[str, Any]:
    """What a page needs of an event: the row to show, and what else to refresh."""
    out: dict[str, Any] = {
        "id": event.id,
        "type": str(event.type),
        "reason": str(event.reason),
        "decision": None if event.decision is None else str(event.decision),
    }
    if shown(event):
        view = describe(event, con.host.gate.roster, t, con.host.cfg.site.tz)
        out["html"] = con.templates.get_template("_event.html").render(e=view, t=t)
    out["alarm"] = blocked_alarm(event)
    out["alarms"] = event.type is EventType.ALARM and event.reason in ALARM_CHANGES
    out["pending"] = event.type is EventType.ACCESS or event.reason is Reason.NO_PENDING_APPROVAL
    out["mode"] = event.mode if event.type is EventType.MODE else None
    if out["mode"]:
        out["mode_words"] = t.of("mode", out["mode"])
    out["pending_count"] = len(con.host.gate.today.pending)
    out["lock_fault"] = con.host.gate.door.lock_fault  # the banner follows the gate's state
    return out


async def events_for(con: Console, t: Words, token: str | None, after: str) -> AsyncIterator[str]:
    """The stream of one page; ends when its session does, or at shutdown."""
    client = con.live.connect()
    try:
        yield f"retry: {RETRY_MS}\n\n"
        # connect() above and this read run without a pause: no event falls in between
        catch_up = missed(con, after)
        last_seq = 0
        if catch_up is None:
            yield "event: resync\ndata: {}\n\n"
        for event in catch_up or []:
            last_seq = event.seq or last_seq
            yield frame(con, t, event)
        while True:
            try:
                batch = await asyncio.wait_for(client.queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                if con.sessions.get(token) is None:  # an open page keeps its session alive
                    yield "event: signin\ndata: {}\n\n"
                    return
                yield ": ping\n\n"
                continue
            if batch is None or client.overflowed:
                return  # the browser reconnects with Last-Event-ID and catches up
            for event in batch:
                if (event.seq or 0) > last_seq:
                    yield frame(con, t, event)
    finally:
        con.live.disconnect(client)
