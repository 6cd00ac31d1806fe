"""What the daemon's components may use of the daemon that hosts them.

The MQTT link, the console, the camera, the clock watch and the watchdog are written
against ``GateHost``, never against ``edge.daemon.Daemon``: they import this module and
the daemon imports them (through ``edge.components.wiring``), so the dependency runs one way.
Every member is used on the daemon's loop, except ``from_thread``, which is how a
component's own thread (a camera, paho's network loop) hands a value over to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from drivers.base import InputChange, Read
from drivers.health import ReaderHealth
from edge.clock import Clock
from edge.config import Config
from edge.events import GUARD_REFUSALS, Draft, Event, EventType
from edge.gate import Gate
from edge.guard import GuardAction
from edge.store import Store

T = TypeVar("T")

# Told of every batch of events once it is durable, in order, on the loop.
Listener = Callable[[list[Event]], None]


class GateHost(Protocol):
    """The daemon as its components see it."""

    cfg: Config
    clock: Clock
    # the site key: verifies QR passes, signs commands; None for a gate without [mqtt]
    site_key: bytes | None
    listeners: list[Listener]
    # extra lines for ``status()``: a component adds its own (the device check, ...)
    status_parts: dict[str, Callable[[], Any]]

    @property
    def store(self) -> Store: ...

    @property
    def gate(self) -> Gate: ...

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The daemon's running loop; None before it runs."""
        ...

    @property
    def reader_health(self) -> Mapping[str, ReaderHealth]:
        """Each reader's health as the gate's events last reported it."""
        ...

    def from_thread(self, fn: Callable[[T], None]) -> Callable[[T], None]:
        """A callable for another thread: it hands its argument to ``fn`` on the loop."""
        ...

    def record(self, drafts: list[Draft]) -> list[Event]:
        """Write events durably, tell the listeners, return the stored events."""
        ...

    def on_read(self, read: Read) -> None:
        """A credential (or a bad read) from a reader: decide, drive the lock, record."""
        ...

    def on_input(self, change: InputChange) -> None:
        """A contact changed (the gate's own, or a reader's tamper switch): act, record."""
        ...

    def guard(self, action: GuardAction) -> list[Event]:
        """A guard's action (console, CLI, office command), recorded like any input."""
        ...

    def revoke_pass(self, pass_id: str, *, by: str) -> list[Event]: ...

    def reload_roster(self) -> None:
        """Swap in the store's newest roster version, if it is newer than the gate's."""
        ...

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
