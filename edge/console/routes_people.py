"""The evacuation roll call, and staff accounts (administrators only)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from edge.console.auth import ROLES, AuthError, hash_secret, validate_new_account
from edge.console.web import Refused, back, console, page_session, render, signed_form, words

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/rollcall")
async def rollcall_page(request: Request) -> Response:
    session = page_session(request)
    return render(request, "rollcall.html", session, rc=console(request).rollcall.view())


@router.post("/rollcall/tick")
async def tick(request: Request) -> Response:
    session, form = await signed_form(request)
    con, t = console(request), words(request)
    kind, person = str(form.get("kind") or ""), str(form.get("person") or "")[:64]
    ok = con.rollcall.tick(
        str(form.get("evacuation") or ""),
        kind,
        person,
        by=session.user.name,
        on=form.get("on") == "1",
    )
    if not ok:
        con.flash.add(session, "error", t("forbidden"))
    return back(f"/rollcall#{kind}-{person}")


@router.get("/users")
async def users_page(request: Request) -> Response:
    session = page_session(request)
    if not session.user.is_admin:
        raise Refused(403, "admin_only")
    return _users(request, 200, "")


def _users(request: Request, status_code: int, error: str, name: str = "") -> Response:
    session = page_session(request)
    return render(
        request,
        "users.html",
        session,
        status_code=status_code,
        users=console(request).users.all(),
        roles=ROLES,
        error=error,
        name=name,
    )


@router.post("/users")
async def add_user(request: Request) -> Response:
    session, form = await signed_form(request, admin=True)
    con, t = console(request), words(request)
    name = str(form.get("name") or "").strip()
    role, secret = str(form.get("role") or ""), str(form.get("secret") or "")
    try:
        validate_new_account(name, role, secret)
    except AuthError as err:
        return _users(request, 400, str(err), name)
    # argon2 takes tens of milliseconds on purpose: off the loop, so the gate never waits.
    con.users.save(name, role, await asyncio.to_thread(hash_secret, secret))
    log.info("console: %s saved account %s", session.user.name, name)
    con.flash.add(session, "ok", t("u_saved"))
    return back("/users")


@router.post("/users/{name}/{verb}")
async def enable_user(request: Request, name: str, verb: str) -> Response:
    session, _ = await signed_form(request, admin=True)
    con = console(request)
    if verb in ("disable", "enable") and name != session.user.name:
        con.users.set_disabled(name, verb == "disable")
        log.info("console: %s did %s on account %s", session.user.name, verb, name)
    return back("/users")
