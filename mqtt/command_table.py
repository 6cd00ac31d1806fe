"""The one table of office commands: name -> handler and the arguments it takes.

Handlers run on the daemon's loop, after the command was authenticated (see
``mqtt.commands``), with a ``CommandContext``: the host (``edge.host.GateHost``), the
publisher and the lock that keeps two roster swaps apart. Guard-like commands go through
``GateHost.guard`` exactly as a guard's action at the console does, with ``by="office"``,
so they are logged the same way.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.events import GUARD_REFUSALS, Event, EventType, Reason
from edge.guard import GuardAction
from edge.host import GateHost
from edge.roster import FILES, Roster, RosterError
from edge.roster_load import load_roster
from mqtt.publisher import Publisher

MAX_ERRORS_IN_REPLY = 50
MAX_RESEND = 100_000


class Refusal(Exception):
    """A command that is not carried out, with the reason code for its event."""

    def __init__(self, reason: Reason, why: str) -> None:
        super().__init__(why)
        self.reason = reason
        self.why = why


@dataclass(frozen=True)
class Reply:
    ok: bool
    reason: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandContext:
    """What a handler works with."""

    host: GateHost
    publisher: Publisher
    roster_lock: asyncio.Lock


Handler = Callable[[CommandContext, dict[str, Any]], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    handler: Handler
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def check(self, args: dict[str, Any]) -> None:
        unknown = sorted(set(args) - set(self.required) - set(self.optional))
        if unknown:
            raise Refusal(Reason.MALFORMED, f"unknown argument(s): {', '.join(unknown)[:200]}")
        missing = [k for k in self.required if args.get(k) in (None, "")]
        if missing:
            raise Refusal(Reason.MALFORMED, f"missing argument(s): {', '.join(missing)}")


def _text(args: dict[str, Any], key: str) -> str | None:
    value = args.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 500:
        raise Refusal(Reason.MALFORMED, f"{key} must be text of at most 500 characters")
    return value.strip() or None


def _guard_reply(events: list[Event], mode: str) -> Reply:
    ids = [e.id for e in events]
    refused = [e for e in events if e.type is EventType.SYSTEM and e.reason in GUARD_REFUSALS]
    if refused:
        return Reply(False, str(refused[0].reason), {"events": ids})
    if not events:
        return Reply(True, "unchanged", {"mode": mode})
    return Reply(True, str(events[0].reason), {"events": ids, "mode": mode})


def _guard(action: str) -> Handler:
    async def run(ctx: CommandContext, args: dict[str, Any]) -> Reply:
        reason = _text(args, "reason")
        if action == "open" and reason is None:
            raise Refusal(Reason.MALFORMED, "open needs a reason")
        host = ctx.host
        events = host.guard(GuardAction(action=action, by="office", reason=reason))
        return _guard_reply(events, str(host.gate.mode))

    return run


async def _ping(ctx: CommandContext, args: dict[str, Any]) -> Reply:
    host = ctx.host
    return Reply(True, "pong", {"time": host.clock.now().isoformat(), "status": host.status()})


def _bundle(args: dict[str, Any]) -> dict[str, str]:
    files = args.get("files")
    if not isinstance(files, dict) or not files:
        raise Refusal(Reason.MALFORMED, 'files must be an object {"classes.csv": "...", ...}')
    unknown = sorted(str(name)[:64] for name in files if name not in FILES)
    if unknown:
        raise Refusal(Reason.MALFORMED, f"not roster files: {', '.join(unknown)[:200]}")
    if not all(isinstance(text, str) for text in files.values()):
        raise Refusal(Reason.MALFORMED, "each file must be given as its text")
    return dict(files)


def load_bundle(files: dict[str, str]) -> Roster:
    """Write the bundle to a private temporary folder and load it fully (RosterError)."""
    with tempfile.TemporaryDirectory(prefix="kindergate-roster-") as tmp:
        for name, text in files.items():
            # names were checked against FILES: no path can leave the folder
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        return load_roster(tmp)


async def _roster(ctx: CommandContext, args: dict[str, Any]) -> Reply:
    files = _bundle(args)
    host = ctx.host
    async with ctx.roster_lock:
        loop = asyncio.get_running_loop()
        try:
            # parsing thousands of rows takes a while: not on the loop that decides scans
            roster = await loop.run_in_executor(None, load_bundle, files)
        except RosterError as err:
            return _roster_rejected(ctx, err.problems)
        version, changed = host.store.roster_save(
            roster.to_json(), roster.content_hash, "mqtt:office"
        )
        host.reload_roster()
    extra: dict[str, Any] = {"version": version, "changed": changed}
    if roster.warnings:
        extra["warnings"] = list(roster.warnings)[:MAX_ERRORS_IN_REPLY]
    return Reply(True, str(Reason.ROSTER_LOADED), extra)


def _roster_rejected(ctx: CommandContext, problems: list[str]) -> Reply:
    host = ctx.host
    shown = problems[:MAX_ERRORS_IN_REPLY]
    host.record(
        [
            host.gate.draft(
                EventType.SYSTEM,
                Reason.ROSTER_REJECTED,
                by="office",
                detail={"errors": shown[:20], "count": len(problems)},
            )
        ]
    )
    return Reply(False, str(Reason.ROSTER_REJECTED), {"errors": shown, "count": len(problems)})


def _seq(args: dict[str, Any], key: str) -> int | None:
    value = args.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Refusal(Reason.MALFORMED, f"{key} must be a positive whole number")
    return value


async def _resend(ctx: CommandContext, args: dict[str, Any]) -> Reply:
    """Put stored events back in the outbox, for a collector that found a gap in seq."""
    first = _seq(args, "from_seq")
    assert first is not None  # required
    last = _seq(args, "to_seq") or first + MAX_RESEND - 1
    if last < first or last - first >= MAX_RESEND:
        raise Refusal(Reason.MALFORMED, f"to_seq must be from_seq to from_seq+{MAX_RESEND - 1}")
    queued = ctx.host.store.outbox_requeue(first, last)
    ctx.publisher.rewind()
    return Reply(True, "resend", {"queued": queued, "from_seq": first, "to_seq": last})


async def _revoke(ctx: CommandContext, args: dict[str, Any]) -> Reply:
    """A delegate's or visitor's pass that must open the gate no more."""
    pass_id = _text(args, "pass_id")
    if not pass_id or len(pass_id) > 64:
        raise Refusal(Reason.MALFORMED, "pass_id must be a pass id")
    ctx.host.revoke_pass(pass_id, by="office")
    return Reply(True, str(Reason.REVOKED), {"pass_id": pass_id})


COMMANDS: dict[str, Command] = {
    "open": Command(_guard("open"), required=("reason",)),
    "lockdown": Command(_guard("lockdown"), optional=("reason",)),
    "evacuate": Command(_guard("evacuate"), optional=("reason",)),
    "normal": Command(_guard("normal"), optional=("reason",)),
    "ping": Command(_ping),
    "roster": Command(_roster, required=("files",)),
    "resend": Command(_resend, required=("from_seq",), optional=("to_seq",)),
    "revoke": Command(_revoke, required=("pass_id",)),
}
