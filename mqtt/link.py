"""The gate's MQTT link: the publisher and the command handler on one connection.

Started by the daemon (``edge.components.wiring``) when ``[mqtt]`` is configured. It listens to the
daemon's events to wake the publisher and to refresh the retained ``state``. It never
stops the gate: a bad key or password file is logged and recorded as a ``system`` event,
and the gate goes on deciding and storing; without a usable key no command is accepted
(the command topic is not even subscribed), and without a connection events wait in the
outbox.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import paho.mqtt.client as paho

from edge.events import Event, EventType, Reason
from edge.host import GateHost
from edge.store import Store, StoreError
from mqtt.commands import CommandHandler
from mqtt.connection import MqttSetupError
from mqtt.nonces import Nonces, NonceStoreError
from mqtt.publisher import Publisher
from mqtt.signing import KeyFileError, load_key

log = logging.getLogger(__name__)

STATE_EVERY_SECONDS = 2.0
STATE_MIN_GAP_SECONDS = 0.25


class GateLink:
    def __init__(self, host: GateHost, *, reconnect: tuple[int, int] | None = None) -> None:
        if host.cfg.mqtt is None:
            raise ValueError("GateLink needs an [mqtt] section")
        self.host = host
        self.mqtt = host.cfg.mqtt
        self._reconnect = reconnect
        self.publisher: Publisher | None = None
        self.commands: CommandHandler | None = None
        self._own_store: Store | None = None
        self._state_timer: asyncio.TimerHandle | None = None
        self._last_state: dict[str, Any] | None = None
        self._last_refresh = float("-inf")

    def start(self) -> None:
        host = self.host
        cfg = host.cfg
        try:
            self.publisher = Publisher(
                self.mqtt,
                self._outbox(),
                site=cfg.site.id,
                gate=cfg.gate.id,
                reconnect=self._reconnect,
            )
        except (MqttSetupError, StoreError) as err:
            self._setup_failed(str(err))
            return
        self.commands = self._command_handler(self.publisher)
        self.publisher.on_connected.append(self._on_connected)
        host.listeners.append(self._on_events)
        self.refresh_state()
        self.publisher.start()

    def _outbox(self) -> Store:
        """The publisher's own connection to the store (see mqtt.publisher on why)."""
        outbox = self.host.store.drain_connection()
        if outbox is not self.host.store:
            self._own_store = outbox
        return outbox

    def _command_handler(self, publisher: Publisher) -> CommandHandler | None:
        try:
            # `run` loads the key before anything starts; a host built otherwise has none
            key = self.host.site_key or load_key(self.mqtt.key_file)
            nonces = Nonces(self.host.store, self.mqtt.command_window_seconds)
        except (KeyFileError, NonceStoreError) as err:
            self._setup_failed(f"{err}; no command is taken until this is fixed")
            return None
        return CommandHandler(self.host, publisher, key, nonces)

    def _setup_failed(self, why: str) -> None:
        log.error("mqtt: %s", why)
        gate = self.host.gate
        self.host.record(
            [gate.draft(EventType.SYSTEM, Reason.REFUSED, detail={"component": "mqtt", "why": why})]
        )

    def stop(self) -> None:
        if self._state_timer is not None:
            self._state_timer.cancel()
            self._state_timer = None
        if self._on_events in self.host.listeners:
            self.host.listeners.remove(self._on_events)
        if self.publisher is not None:
            self._push_state()
            self.publisher.stop()
        if self._own_store is not None:
            self._own_store.close()

    # --- on the loop ------------------------------------------------------------------

    def _on_events(self, events: list[Event]) -> None:
        if self.publisher is None:
            return
        self.publisher.wake()
        self._want_state()

    def _want_state(self) -> None:
        """Refresh the state soon: at once, unless it was refreshed a moment ago.

        A burst of scans must not turn into a status query (an outbox count) per scan.
        """
        loop = self.host.loop
        if loop is None:
            return
        # never inline: the listener runs inside the scan's decide-and-store
        due = max(loop.time(), self._last_refresh + STATE_MIN_GAP_SECONDS)
        if self._state_timer is None or self._state_timer.when() > due:
            self._reschedule(due)

    def _reschedule(self, when: float) -> None:
        loop = self.host.loop
        if loop is None:
            return
        if self._state_timer is not None:
            self._state_timer.cancel()
        self._state_timer = loop.call_at(when, self.refresh_state)

    def refresh_state(self) -> None:
        """Hand the current state to the publisher; it publishes it when it changed."""
        self._push_state()
        loop = self.host.loop
        if loop is not None:
            # the lock relocks on a timer, with no event: look again now and then
            self._last_refresh = loop.time()
            self._reschedule(self._last_refresh + STATE_EVERY_SECONDS)

    def _push_state(self) -> None:
        if self.publisher is None:
            return
        status = self.host.status()
        # `time` (the gate's local minute) changes once a minute, so the retained state is
        # republished at least that often: the office's heartbeat of a live gate, which
        # tells a hung-but-connected gate from a quiet one.
        if status != self._last_state:
            self._last_state = status
            self.publisher.set_state(status)

    # --- paho's network thread ----------------------------------------------------------

    def _on_connected(self, client: paho.Client) -> None:
        loop = self.host.loop
        if loop is not None and not loop.is_closed():
            # a fresh state after an outage: the outbox depth changed meanwhile
            loop.call_soon_threadsafe(self.refresh_state)
