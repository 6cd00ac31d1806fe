"""Visitors: register, badge, sign out (from the list or by scanning the badge), on-site list."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from edge.console.forms import FormError
from edge.console.visitors import DEFAULT_MINUTES, Visitor, parse_visitor
from edge.console.web import back, console, page_session, render, signed_form, words
from edge.events import Reason
from edge.passes import render_pass_png

log = logging.getLogger(__name__)
router = APIRouter()

FORM_FIELDS = ("name", "id_number", "phone", "host", "purpose", "minutes")


@router.get("/visitors")
async def visitors_page(request: Request) -> Response:
    session = page_session(request)
    book = console(request).visitors
    now = console(request).host.clock.now()
    on_site = book.on_site()
    left = [v for v in book.today() if v.left_at is not None]
    return render(request, "visitors.html", session, on_site=on_site, left=left, now=now, fmt=_hhmm)


def _hhmm(visitor: Visitor, field: str) -> str:
    value = getattr(visitor, field)
    return value.strftime("%H:%M") if value else ""


def _new_page(
    request: Request, status_code: int = 200, values: dict[str, str] | None = None, **extra: object
) -> Response:
    session = page_session(request)
    values = values or {"minutes": str(DEFAULT_MINUTES)}
    return render(
        request,
        "visitor_new.html",
        session,
        status_code=status_code,
        values=values,
        errors=extra.pop("errors", {}),
        **extra,
    )


@router.get("/visitors/new")
async def new_visitor_page(request: Request) -> Response:
    return _new_page(request)


@router.post("/visitors")
async def register(request: Request) -> Response:
    session, form = await signed_form(request)
    con, t = console(request), words(request)
    values = {k: str(form.get(k) or "") for k in FORM_FIELDS}
    try:
        parsed = parse_visitor(values)
    except FormError as err:
        errors = err.messages(t)
        return _new_page(request, 400, values, errors=errors)
    result = con.visitors.register(parsed, by=session.user.name)
    if result.blocked:
        # The alarm is on the live view too; here the guard sees it where they typed.
        return _new_page(request, 409, values, blocked=True)
    if result.visitor is None:
        return _new_page(request, 409, values, refused=result.refused or Reason.REFUSED)
    con.flash.add(session, "ok", t("v_in_done"))
    return back(f"/visitors/{result.visitor.id}/badge")


@router.get("/visitors/{vid}/badge")
async def badge(request: Request, vid: str) -> Response:
    session = page_session(request)
    visitor = console(request).visitors.get(vid)
    if visitor is None:
        return render(
            request, "message.html", session, status_code=404, text=words(request)("not_found")
        )
    return render(request, "badge.html", session, v=visitor, fmt=_hhmm)


@router.get("/visitors/{vid}/pass.png")
async def badge_code(request: Request, vid: str) -> Response:
    page_session(request)
    book = console(request).visitors
    visitor = book.get(vid)
    if visitor is None or not visitor.on_site:
        return Response(status_code=404)
    payload = book.badge_payload(visitor)
    # Only the visit's id goes in the image: its font has Latin letters only, and the
    # badge around it gives the times in the guard's language.
    png = await asyncio.to_thread(_png, payload, [visitor.id])
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def _png(payload: str, lines: list[str]) -> bytes:
    # The pass file is private (0600) and lives only as long as this request.
    with tempfile.TemporaryDirectory(prefix="kg-badge-") as tmp:
        path = render_pass_png(payload, Path(tmp) / "pass.png", title_lines=lines)
        return path.read_bytes()


@router.post("/visitors/{vid}/out")
async def sign_out(request: Request, vid: str) -> Response:
    session, _ = await signed_form(request)
    con, t = console(request), words(request)
    visitor = con.visitors.get(vid)
    events = con.visitors.sign_out(vid, by=session.user.name)
    if visitor is None or events is None:
        con.flash.add(session, "error", t("not_found"))
    else:
        con.flash.add(session, "ok", t("v_out_done", name=visitor.name))
    return back("/visitors")


@router.post("/visitors/scan-out")
async def scan_out(request: Request) -> Response:
    session, form = await signed_form(request)
    con, t = console(request), words(request)
    payload = str(form.get("badge") or "")[:600]
    done = con.visitors.sign_out_badge(payload, by=session.user.name) if payload else None
    if done is None:
        con.flash.add(session, "error", t("v_bad_badge"))
    else:
        con.flash.add(session, "ok", t("v_out_done", name=done[0].name))
    return back("/visitors")
