"""Live view: events fanned out to each open browser, and each event as a guard reads it.

The daemon calls ``Live.on_events`` on its loop with every batch it records; each open
Server-Sent Events stream has a bounded queue. A browser too slow to keep up is told to
reload rather than let its queue grow without limit.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.console.host import GateHost
from edge.console.i18n import Words
from edge.roster import Roster

QUEUE_SIZE = 200
SHOWN_TYPES = {"access", "visitor", "override", "mode", "alarm", "late_pickup", "check", "repair"}
SHOWN_DOOR = {"forced_open", "held_open", "lock_not_engaged"}
ACK_KEY = "console_acked_alarms"
ACK_KEEP = 100


def shown(event: dict[str, Any]) -> bool:
    """Events the guard's live list shows; door open/close and system chatter are left out."""
    if event["type"] == "door":
        return event["reason"] in SHOWN_DOOR
    if event["type"] == "alarm" and event["reason"] == "blocked_person":
        return False  # the red banner shows it, beside the denied scan in the list
    return event["type"] in SHOWN_TYPES


@dataclass(eq=False)  # each stream is its own client: hashed by identity
class Client:
    queue: asyncio.Queue[list[dict[str, Any]] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    overflowed: bool = False


class Live:
    def __init__(self, host: GateHost) -> None:
        self.host = host
        self.clients: set[Client] = set()
        host.listeners.append(self.on_events)

    def on_events(self, events: list[dict[str, Any]]) -> None:
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

    def acked(self) -> list[str]:
        return list(json.loads(self.host.store.get_state(ACK_KEY) or "[]"))

    def ack(self, event_id: str) -> None:
        ids = [*[i for i in self.acked() if i != event_id][-ACK_KEEP:], event_id]
        self.host.store.set_state(ACK_KEY, json.dumps(ids))

    def open_alarms(self) -> list[dict[str, Any]]:
        """Today's blocked-person alarms that no guard has acknowledged yet."""
        with self.host.store.transaction() as db:
            rows = db.execute(
                "SELECT body FROM events WHERE type = 'alarm' AND reason = 'blocked_person' "
                "ORDER BY seq DESC LIMIT 20"
            ).fetchall()
        tz = self.host.cfg.site.tz
        today = self.host.clock.now().astimezone(tz).date()
        acked = set(self.acked())
        events = [json.loads(r[0]) for r in rows]
        return [
            e
            for e in events
            if e["id"] not in acked
            and datetime.fromisoformat(e["ts"]).astimezone(tz).date() == today
        ]

    def recent(self, limit: int = 40) -> list[dict[str, Any]]:
        """Today's latest events the live list shows, newest first."""
        with self.host.store.transaction() as db:
            rows = db.execute(
                "SELECT body FROM events WHERE type != 'system' ORDER BY seq DESC LIMIT 400"
            ).fetchall()
        tz = self.host.cfg.site.tz
        today = self.host.clock.now().astimezone(tz).date()
        out = []
        for (body,) in rows:
            event = json.loads(body)
            if datetime.fromisoformat(event["ts"]).astimezone(tz).date() != today:
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


def _who(event: dict[str, Any], words: Words) -> str:
    person = event.get("person") or {}
    if person.get("name"):
        return str(person["name"])
    credential = event.get("credential") or ""
    if credential.startswith("card:"):
        return f"{words('unknown_person')} ({words('card')} …{credential[-4:]})"
    if credential.startswith("qr:"):
        return f"{words('unknown_person')} (QR)"
    return ""


def _tone(event: dict[str, Any]) -> str:
    if event["reason"] in ("blocked_person", "forced_open", "fire_alarm", "tamper"):
        return "alarm"
    if event.get("decision") in ("granted", "denied", "needs_approval"):
        return str(event["decision"])
    if event["reason"] in ("visitor_overstay", "late_pickup", "held_open", "lockdown", "evacuate"):
        return "denied"
    return "info"


def _note(event: dict[str, Any]) -> str:
    detail = event.get("detail") or {}
    for key in ("why", "host", "problem", "fix"):
        if detail.get(key):
            return str(detail[key])
    return ""


def alarm_views(host: GateHost, live: Live, words: Words) -> list[EventView]:
    """The open blocked-person alarms, as the red banner on every page shows them."""
    return [describe(e, host.gate.roster, words, host.cfg.site.tz) for e in live.open_alarms()]


def describe(event: dict[str, Any], roster: Roster, words: Words, tz: Any) -> EventView:
    person = event.get("person") or {}
    ts = datetime.fromisoformat(event["ts"]).astimezone(tz)
    reason = event["reason"]
    if event["type"] == "mode":
        reason = event.get("mode") or reason
    return EventView(
        id=event["id"],
        time=ts.strftime("%H:%M:%S"),
        type=event["type"],
        tone=_tone(event),
        who=_who(event, words),
        kind=words.of("kind", person.get("kind")),
        children=children_of(roster, event.get("children") or []),
        decision=words.of("decision", event.get("decision")),
        reason=words.of("reason", reason),
        reader=event.get("reader") or "",
        by=event.get("by") or event.get("approved_by") or "",
        note=_note(event),
    )
