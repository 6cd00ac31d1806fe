"""The live gate view, early-pickup approvals, the blocked-person alarm and manual control."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from edge.console.auth import SESSION_COOKIE
from edge.console.live import ChildLine, EventView, children_of, describe
from edge.console.stream import events_for, resume_point
from edge.console.web import (
    back,
    console,
    page_session,
    render,
    safe_next,
    session_of,
    signed_form,
    words,
)
from edge.events import Event, EventType, Reason
from edge.guard import GuardAction
from edge.host import refusal

log = logging.getLogger(__name__)
router = APIRouter()

CONTROL_ACTIONS = ("open", "lockdown", "evacuate", "normal")
MAX_OPEN_REASON = 200


@dataclass(frozen=True, slots=True)
class PendingView:
    credential: str
    who: str
    children: tuple[ChildLine, ...]
    waited_minutes: int
    left_minutes: int


def pending_views(request: Request) -> list[PendingView]:
    host = console(request).host
    gate, now = host.gate, host.clock.monotonic()
    limit = host.cfg.gate.approval_minutes * 60
    out = []
    for credential, (outcome, since) in sorted(gate.today.pending.items(), key=lambda i: i[1][1]):
        if now - since > limit:
            continue  # runs out at the gate's next tick; not approvable any more
        out.append(
            PendingView(
                credential,
                outcome.person.name or outcome.person.id if outcome.person else credential,
                children_of(gate.roster, outcome.children),
                int((now - since) // 60),
                max(0, int((limit - (now - since)) // 60)),
            )
        )
    return out


def views(request: Request, events: list[Event]) -> list[EventView]:
    host, t = console(request).host, words(request)
    return [describe(e, host.gate.roster, t, host.cfg.site.tz) for e in events]


@router.get("/")
async def live_page(request: Request) -> Response:
    session = page_session(request)
    con = console(request)
    return render(
        request,
        "live.html",
        session,
        events=views(request, con.live.recent()),
        pending=pending_views(request),
    )


@router.get("/live/pending")
async def pending_fragment(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return Response(status_code=401)
    return render(request, "_pending.html", session, pending=pending_views(request))


@router.get("/live/alarms")
async def alarms_fragment(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return Response(status_code=401)
    then = safe_next(request.query_params.get("then"))
    return render(request, "_alarms.html", session, then=then)


@router.get("/live/stream")
async def stream(request: Request) -> Response:
    if session_of(request) is None:
        return Response(status_code=401)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    after = resume_point(request.headers.get("last-event-id"), request.query_params.get("after"))
    token = request.cookies.get(SESSION_COOKIE)
    events = events_for(console(request), words(request), token, after)
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


@router.post("/pending/{verb}")
async def decide_pending(request: Request, verb: str) -> Response:
    session, form = await signed_form(request)
    con, t = console(request), words(request)
    credential = str(form.get("credential") or "")
    if verb not in ("approve", "refuse") or not credential:
        return back("/")
    events = con.host.guard(GuardAction(verb, by=session.user.name, credential=credential))
    why = refusal(events)
    if why:
        con.flash.add(
            session, "error", t("not_done", why=t.of("reason", Reason.NO_PENDING_APPROVAL))
        )
    else:
        con.flash.add(session, "ok", t("approved" if verb == "approve" else "refused_done"))
    return back("/")


@router.post("/alarm/ack")
async def acknowledge(request: Request) -> Response:
    """A guard saw the alarm; back to the page they were on (the script stays on it)."""
    session, form = await signed_form(request)
    event_id = str(form.get("event") or "")[:40]
    if event_id and console(request).live.ack(event_id, by=session.user.name):
        log.info("console: %s acknowledged alarm %s", session.user.name, event_id)
    return back(safe_next(str(form.get("then") or "/")))


# --- manual control, each action confirmed on a second page ------------------------------


@router.get("/control")
async def control_page(request: Request) -> Response:
    session = page_session(request)
    return render(request, "control.html", session, reason="", error="")


def _control_form(form: Any) -> tuple[str, str, str | None]:
    """(action, reason, problem key)."""
    action = str(form.get("action") or "")
    reason = " ".join(str(form.get("reason") or "").split())
    if action not in CONTROL_ACTIONS:
        return action, reason, "required"
    if action == "open" and not reason:
        return action, reason, "reason_needed"
    if len(reason) > MAX_OPEN_REASON or not reason.isprintable():
        return action, reason, "reason_needed"
    return action, reason, None


@router.post("/control")
async def control_confirm(request: Request) -> Response:
    session, form = await signed_form(request)
    action, reason, problem = _control_form(form)
    if problem:
        t = words(request)
        return render(
            request, "control.html", session, status_code=400, reason=reason, error=t(problem)
        )
    return render(
        request,
        "confirm.html",
        session,
        action=action,
        reason=reason,
        then=safe_next(str(form.get("then") or "/control")),
    )


@router.post("/control/confirm")
async def control_do(request: Request) -> Response:
    session, form = await signed_form(request)
    con, t = console(request), words(request)
    action, reason, problem = _control_form(form)
    if problem or form.get("confirmed") != "yes":
        return back("/control")
    events = con.host.guard(GuardAction(action, by=session.user.name, reason=reason or None))
    why = refusal(events)
    if why:
        con.flash.add(session, "error", t("not_done", why=t.of("reason", _reason_code(events))))
    elif action == "open":
        con.flash.add(session, "ok", t("done_open"))
    else:
        con.flash.add(session, "ok", t("done_mode", mode=t.of("mode", con.host.gate.mode)))
    return back(safe_next(str(form.get("then") or "/control")))


def _reason_code(events: list[Event]) -> str:
    return next((e.reason for e in events if e.type is EventType.SYSTEM), Reason.REFUSED)
