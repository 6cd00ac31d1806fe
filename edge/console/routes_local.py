"""The local API behind ``kindergate guard``: only on the unix socket, never over TCP.

The socket file is 0600 in the store's 0700 directory, so whoever can connect is the
service's own user; ``LocalOnly`` marks requests that arrived through it, and these
routes answer 404 to anything else (the TCP listener never sets the mark).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from edge.console.forms import FormError
from edge.console.visitors import parse_visitor
from edge.console.web import console
from edge.events import Event, Reason
from edge.guard import ACTIONS, GuardAction, GuardError
from edge.host import refusal

router = APIRouter()
LOCAL_MARK = "kindergate.local"


class LocalOnly:
    """Wraps the app for the unix-socket listener: marks each request as local."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, LOCAL_MARK: True}
        await self.app(scope, receive, send)


def _answer(ok: bool, events: list[Event], error: str | None = None, **extra: Any) -> Response:
    body = {"ok": ok, "error": error, "events": [e.to_json() for e in events], **extra}
    return JSONResponse(body, status_code=200 if ok else 409)


@router.get("/local/status")
async def status(request: Request) -> Response:
    if not request.scope.get(LOCAL_MARK):
        return Response(status_code=404)
    return JSONResponse(console(request).host.status())


@router.post("/local/guard")
async def guard(request: Request) -> Response:
    if not request.scope.get(LOCAL_MARK):
        return Response(status_code=404)
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return _answer(False, [], "the request is not JSON", bad_input=True)
    if not isinstance(data, dict):
        return _answer(False, [], "the request is not a JSON object", bad_input=True)
    by = str(data.pop("by", "") or "cli")[:64]
    action = data.get("action")
    if action == "visitor_in":
        return _visitor_in(request, data, by)
    if action == "visitor_out":
        return _visitor_out(request, data, by)
    try:
        parsed = GuardAction.from_dict(data, by=by)
    except (GuardError, TypeError) as err:
        return _answer(False, [], f"{err} (actions: {', '.join(ACTIONS)})", bad_input=True)
    events = console(request).host.guard(parsed)
    why = refusal(events)
    return _answer(why is None, events, why)


def _visitor_in(request: Request, data: dict[str, Any], by: str) -> Response:
    fields = {k: str(v) for k, v in data.items() if v is not None}
    try:
        form = parse_visitor(fields)
    except FormError as err:
        return _answer(False, [], "; ".join(err.english()), bad_input=True)
    result = console(request).visitors.register(form, by=by)
    if result.visitor is None:
        why = "blocked person: do not let them in" if result.blocked else result.refused
        return _answer(False, result.events, why or Reason.REFUSED)
    return _answer(True, result.events, visitor=result.visitor.id)


def _visitor_out(request: Request, data: dict[str, Any], by: str) -> Response:
    book = console(request).visitors
    vid = data.get("visitor_id")
    if not vid and data.get("name"):
        wanted = " ".join(str(data["name"]).split()).casefold()
        matches = [v.id for v in book.on_site() if v.name.casefold() == wanted]
        vid = matches[-1] if matches else None
    events = book.sign_out(str(vid), by=by) if vid else None
    if events is None:
        return _answer(False, [], "no such visitor on site")
    why = refusal(events)
    return _answer(why is None, events, why)
