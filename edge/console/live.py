"""Live view: events fanned out to each open browser, and each event as a guard reads it.

The daemon calls ``Live.on_events`` on its loop with every batch it records; each open
Server-Sent Events stream has a bounded queue. A browser too slow to keep up is told to
reload rather than let its queue grow without limit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from edge.console.i18n import Words
from edge.events import ALARMING, DOOR_FAULTS, WARNING, Event, EventType, Reason
from edge.host import GateHost
from edge.roster import Roster

QUEUE_SIZE = 200
SHOWN_TYPES = frozenset(EventType) - {EventType.SYSTEM, EventType.DOOR}


def shown(event: Event) -> bool:
    """Events the guard's live list shows; door open/close and system chatter are left out."""
    if event.type is EventType.DOOR:
        return event.reason in DOOR_FAULTS
    if blocked_alarm(event):
        return False  # the red banner shows it, beside the denied scan in the list
    return event.type in SHOWN_TYPES


def blocked_alarm(event: Event) -> bool:
    """The alarm of a blocked person at the gate or the desk: a red banner until acknowledged."""
    return event.type is EventType.ALARM and event.reason is Reason.BLOCKED_PERSON


@dataclass(eq=False)  # each stream is its own client: hashed by identity
class Client:
    queue: asyncio.Queue[list[Event] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    overflowed: bool = False


class Live:
    def __init__(self, host: GateHost) -> None:
        self.host = host
        self.clients: set[Client] = set()
        host.listeners.append(self.on_events)

    def on_events(self, events: list[Event]) -> None:
        for client in list(self.clients):
            try:
                client.queue.put_nowait(events)
            except asyncio.QueueFull:
                client.overflowed = True

    def connect(self) -> Client:
        client = Client()
        self.clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        self.clients.discard(client)

    def close(self) -> None:
        """End every stream (shutdown): each gets an end marker, queue full or not."""
        for client in list(self.clients):
            while True:
                try:
                    client.queue.put_nowait(None)
                    break
                except asyncio.QueueFull:
                    client.queue.get_nowait()

    # --- blocked-person alarms, until a guard acknowledges them -----------------------

    def ack(self, event_id: str, *, by: str) -> list[Event]:
        """Record that ``by`` saw the alarm: an event every console and the office get.

        Nothing is recorded for an alarm that is not open (unknown, or acknowledged already).
        """
        alarm = next((e for e in self.open_alarms() if e.id == event_id), None)
        if alarm is None:
            return []
        draft = self.host.gate.draft(
            EventType.ALARM,
            Reason.ALARM_ACKNOWLEDGED,
            by=by,
            children=alarm.children,
            detail={"alarm": event_id},
        )
        return self.host.record([draft])

    def open_alarms(self) -> list[Event]:
        """Today's blocked-person alarms that no guard has acknowledged yet, newest first."""
        tz = self.host.cfg.site.tz
        today = self.host.clock.now().astimezone(tz).date()
        alarms = [
            e for e in self.host.store.newest(200, type=EventType.ALARM) if e.local_day(tz) == today
        ]
        acked = {e.detail.get("alarm") for e in alarms if e.reason is Reason.ALARM_ACKNOWLEDGED}
        return [e for e in alarms if e.reason is Reason.BLOCKED_PERSON and e.id not in acked]

    def recent(self, limit: int = 40) -> list[Event]:
        """Today's latest events the live list shows, newest first."""
        tz = self.host.cfg.site.tz
        today = self.host.clock.now().astimezone(tz).date()
        out = []
        for event in self.host.store.newest(400, skip=EventType.SYSTEM):
            if event.local_day(tz) != today:
                break
            if shown(event):
                out.append(event)
            if len(out) >= limit:
                break
        return out


# --- an event in words --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChildLine:
    name: str
    class_name: str


@dataclass(frozen=True, slots=True)
class EventView:
    id: str
    time: str
    type: str
    tone: str  # granted | denied | needs_approval | alarm | info
    who: str
    kind: str
    children: tuple[ChildLine, ...]
    decision: str
    reason: str
    reader: str
    by: str
    note: str


def children_of(roster: Roster, ids: list[str] | tuple[str, ...]) -> tuple[ChildLine, ...]:
    out = []
    for cid in ids:
        child = roster.children.get(cid)
        if child is None:
            out.append(ChildLine(cid, ""))
            continue
        window = roster.classes.get(child.class_id)
        out.append(ChildLine(child.name, window.name if window else child.class_id))
    return tuple(out)


def _who(event: Event, words: Words) -> str:
    if event.person is not None and event.person.name:
        return event.person.name
    credential = event.credential or ""
    if credential.startswith("card:"):
        return f"{words('unknown_person')} ({words('card')} …{credential[-4:]})"
    if credential.startswith("qr:"):
        return f"{words('unknown_person')} (QR)"
    return ""


def _tone(event: Event) -> str:
    if event.reason in ALARMING:
        return "alarm"
    if event.decision is not None:
        return str(event.decision)
    if event.reason in WARNING:
        return "denied"
    return "info"


def _note(event: Event) -> str:
    for key in ("why", "host", "problem", "fix", "detail"):  # detail: why a reader is down
        if event.detail.get(key):
            return str(event.detail[key])
    return ""


def alarm_views(host: GateHost, live: Live, words: Words) -> list[EventView]:
    """The open blocked-person alarms, as the red banner on every page shows them."""
    return [describe(e, host.gate.roster, words, host.cfg.site.tz) for e in live.open_alarms()]


def describe(event: Event, roster: Roster, words: Words, tz: Any) -> EventView:
    reason = str(event.reason)
    if event.type is EventType.MODE:
        reason = event.mode or reason
    return EventView(
        id=event.id,
        time=event.ts.astimezone(tz).strftime("%H:%M:%S"),
        type=str(event.type),
        tone=_tone(event),
        who=_who(event, words),
        kind=words.of("kind", event.person.kind if event.person else None),
        children=children_of(roster, event.children),
        decision=words.of("decision", event.decision),
        reason=words.of("reason", reason),
        reader=event.reader or "",
        by=event.by or event.approved_by or "",
        note=_note(event),
    )
