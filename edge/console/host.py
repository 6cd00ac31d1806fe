"""What the console, visitors, checks and roll call need from the daemon that hosts them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from edge.clock import Clock
from edge.config import Config
from edge.events import GUARD_REFUSALS, Draft, Event, EventType
from edge.gate import Gate
from edge.guard import GuardAction
from edge.store import Store

Listener = Callable[[list[Event]], None]


class GateHost(Protocol):
    """The daemon as seen by its components; every call is made on the daemon's loop."""

    cfg: Config
    store: Store
    gate: Gate
    clock: Clock
    loop: asyncio.AbstractEventLoop | None
    listeners: list[Listener]
    status_parts: dict[str, Callable[[], Any]]
    site_key: bytes | None  # signs QR passes the gate verifies; None without MQTT

    def record(self, drafts: list[Draft]) -> list[Event]: ...

    def guard(self, action: GuardAction) -> list[Event]: ...

    def status(self) -> dict[str, Any]: ...


def refusal(events: list[Event]) -> str | None:
    """Why the gate refused a guard action (its `system` event), or None when it did not."""
    for event in events:
        if event.type is EventType.SYSTEM and event.reason in GUARD_REFUSALS:
            return str(event.detail.get("why") or event.reason)
    return None


def later(fn: Callable[[], Any]) -> None:
    """Run ``fn`` after the current event batch: on the running loop when there is one.

    A listener that records events itself would otherwise nest inside ``record`` and show
    other listeners the new events before the ones that caused them.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        fn()
        return
    loop.call_soon(fn)
