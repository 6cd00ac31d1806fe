"""Signed commands from the office: checked, then handled on the daemon's loop.

paho's network thread only copies the message and hands it to the loop
(``call_soon_threadsafe``); every check, the nonce table and the handlers run on the
loop, so the gate's state and store keep one owner. A command is acted on only when:

1. it is not a retained message (subscribed with Retain As Published, so a live
   retained publish shows its flag too) and its MQTT v5 message expiry has not run out;
2. the user property ``sig`` is the hex HMAC-SHA256 of the exact payload bytes;
3. the payload is a JSON object whose ``ts`` is within ``command_window_seconds`` of the
   gate's clock and whose ``nonce`` was never seen (the nonce table survives restarts);
4. ``cmd``, when present, names the topic's command (a signed payload cannot be moved
   to another command's topic), the command is in ``COMMANDS`` and its arguments fit.

Anything else is refused: a ``system`` event with the reason, and a reply. Replies go to
``cmd/{name}/reply`` under the gate's own prefix, never to a topic named by the request,
with the request's correlation data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from drivers.health import BadReadLimiter
from edge.events import EventType, Reason
from edge.host import GateHost
from mqtt.command_table import COMMANDS, CommandContext, Refusal, Reply
from mqtt.nonces import Nonces, NonceStoreError, valid_nonce
from mqtt.publisher import Publisher
from mqtt.signing import RESERVED, verify

log = logging.getLogger(__name__)

MAX_PAYLOAD = 4 * 1024 * 1024  # a roster bundle of a large school is a few hundred KB
MAX_PENDING = 64  # commands handed to the loop and not yet handled
REPLY_EXPIRY_SECONDS = 60


@dataclass(frozen=True)
class Incoming:
    """A command message as paho gave it, copied on the network thread."""

    name: str
    payload: bytes
    sig: object
    retain: bool
    correlation: bytes | None
    expiry: int | None
    arrived: float = field(default_factory=time.monotonic)


def incoming(name: str, msg: paho.MQTTMessage) -> Incoming:
    props = getattr(msg, "properties", None)
    sigs = [v for k, v in getattr(props, "UserProperty", None) or [] if k == "sig"]
    correlation = getattr(props, "CorrelationData", None)
    expiry = getattr(props, "MessageExpiryInterval", None)
    return Incoming(
        name=name,
        payload=bytes(msg.payload),
        sig=sigs[0] if len(sigs) == 1 else None,  # two signatures: which one was meant?
        retain=bool(msg.retain),
        correlation=bytes(correlation) if isinstance(correlation, bytes | bytearray) else None,
        expiry=expiry if isinstance(expiry, int) else None,
    )


def decode(inc: Incoming, key: bytes, now: float, window: int) -> dict[str, Any]:
    """The checked command body; raises Refusal. Does not touch the nonce table."""
    if inc.retain:
        raise Refusal(Reason.REFUSED, "a retained command is never acted on")
    if inc.expiry is not None and time.monotonic() - inc.arrived >= inc.expiry:
        raise Refusal(Reason.STALE, "message expiry passed before it could be handled")
    if len(inc.payload) > MAX_PAYLOAD:
        raise Refusal(Reason.MALFORMED, f"payload over {MAX_PAYLOAD} bytes")
    if inc.sig is None:
        raise Refusal(Reason.BAD_SIGNATURE, "no sig user property")
    if not verify(key, inc.payload, inc.sig):
        raise Refusal(Reason.BAD_SIGNATURE, "the signature does not match the payload")
    try:
        body = json.loads(inc.payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refusal(Reason.MALFORMED, "the payload is not UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise Refusal(Reason.MALFORMED, "the payload is not a JSON object")
    ts = body.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise Refusal(Reason.MALFORMED, "ts must be Unix seconds")
    if abs(now - ts) > window:
        raise Refusal(Reason.STALE, f"ts is {now - ts:.0f} s from the gate's clock")
    if not valid_nonce(body.get("nonce")):
        raise Refusal(Reason.MALFORMED, "nonce must be a printable string of 8 to 128 characters")
    if "cmd" in body and body["cmd"] != inc.name:
        raise Refusal(Reason.MALFORMED, "the payload's cmd does not match the topic")
    return body


class CommandHandler:
    def __init__(self, host: GateHost, publisher: Publisher, key: bytes, nonces: Nonces) -> None:
        self.host = host
        self.publisher = publisher
        self.window = host.cfg.mqtt.command_window_seconds if host.cfg.mqtt else 30
        self._key = key
        self.nonces = nonces
        self.base = publisher.base
        self._pending = 0  # handed to the loop, not yet started there
        self._pending_lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._limiter = BadReadLimiter(limit=30, window=60.0)
        self.context = CommandContext(host, publisher, asyncio.Lock())
        publisher.on_connected.append(self.subscribe)

    # --- paho's network thread ----------------------------------------------------------

    def subscribe(self, client: paho.Client) -> None:
        topic = f"{self.base}/cmd/+"
        client.message_callback_add(topic, self._on_message)
        client.subscribe(topic, options=SubscribeOptions(qos=1, retainAsPublished=True))

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        name = msg.topic.rsplit("/", 1)[-1]
        loop = self.host.loop
        with self._pending_lock:
            if loop is None or self._pending >= MAX_PENDING:
                log.warning("command %.64s dropped: the gate is busy or stopping", name)
                return
            self._pending += 1
        try:
            loop.call_soon_threadsafe(self._start, incoming(name, msg))
        except RuntimeError:
            self._done_pending()  # the loop closed under us: shutting down

    def _done_pending(self) -> None:
        with self._pending_lock:
            self._pending -= 1

    # --- the daemon's loop ----------------------------------------------------------------

    def _start(self, inc: Incoming) -> None:
        self._done_pending()
        task = asyncio.get_running_loop().create_task(self.handle(inc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle(self, inc: Incoming) -> None:
        nonce: str | None = None
        try:
            body = decode(inc, self._key, self.host.clock.now().timestamp(), self.window)
            nonce = body["nonce"]
            self._use_nonce(body)
            reply = await self._run(inc.name, body)
        except Refusal as refusal:
            self._record_refusal(inc, refusal, nonce)
            reply = Reply(False, str(refusal.reason), {"why": refusal.why})
        except Exception:
            log.exception("command %.64s failed", inc.name)
            reply = Reply(False, "error", {"why": "the gate could not carry out the command"})
        self.reply(inc, reply, nonce)

    def _use_nonce(self, body: dict[str, Any]) -> None:
        try:
            now = self.host.clock.now().timestamp()
            fresh = self.nonces.use(body["nonce"], int(body["ts"]), now)
        except NonceStoreError as err:
            log.error("%s", err)
            raise Refusal(Reason.REFUSED, "the nonce table is unavailable") from None
        if not fresh:
            raise Refusal(Reason.REPLAYED, "this nonce was used before")

    async def _run(self, name: str, body: dict[str, Any]) -> Reply:
        command = COMMANDS.get(name)
        if command is None:
            raise Refusal(Reason.UNKNOWN_COMMAND, f"no command {name[:64]!r}")
        args = {k: v for k, v in body.items() if k not in RESERVED}
        command.check(args)
        log.info("command %s accepted", name)
        return await command.handler(self.context, args)

    def _record_refusal(self, inc: Incoming, refusal: Refusal, nonce: str | None) -> None:
        if not self._limiter.allow(self.host.clock.monotonic()):
            return  # a flood of bad commands must not turn into a flood of disk writes
        log.warning("command %.64s refused: %s (%s)", inc.name, refusal.reason, refusal.why)
        detail: dict[str, Any] = {"command": inc.name[:64], "why": refusal.why}
        if nonce is not None:
            detail["nonce"] = nonce
        suppressed = self._limiter.take_suppressed()
        if suppressed:
            detail["suppressed"] = suppressed
        gate = self.host.gate
        try:
            self.host.record(
                [gate.draft(EventType.SYSTEM, refusal.reason, by="office", detail=detail)]
            )
        except Exception:  # the store failing (disk full) must not cost the office its reply
            log.exception("could not record the refusal of command %.64s", inc.name)

    def reply(self, inc: Incoming, reply: Reply, nonce: str | None) -> None:
        body: dict[str, Any] = {"ok": reply.ok, "reason": reply.reason, "cmd": inc.name[:64]}
        if nonce is not None:
            body["nonce"] = nonce
        body.update(reply.extra)
        props = Properties(PacketTypes.PUBLISH)
        props.MessageExpiryInterval = REPLY_EXPIRY_SECONDS
        if inc.correlation is not None:
            props.CorrelationData = inc.correlation
        payload = json.dumps(body, ensure_ascii=False, default=str).encode()
        self.publisher.send(f"{self.base}/cmd/{inc.name}/reply", payload, properties=props)
