"""Sign in, sign out and the language switch."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response

from edge.console.auth import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    check_secret,
    hash_secret,
    needs_rehash,
)
from edge.console.web import (
    back,
    console,
    login_form,
    render,
    safe_next,
    session_of,
    signed_form,
    words,
)
from edge.events import EventType, Reason

log = logging.getLogger(__name__)
router = APIRouter()


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _login_page(
    request: Request,
    status_code: int = 200,
    error: str = "",
    *,
    name: str = "",
    target: str | None = None,
) -> Response:
    """The sign-in form; after a failed try it keeps the name and where the guard was going."""
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status_code=status_code,
        csrf=token,
        error=error,
        name=name,
        next=safe_next(target if target is not None else request.query_params.get("next")),
    )
    _cookie(response, request, LOGIN_COOKIE, token, 3600)
    return response


@router.get("/login")
async def login_page(request: Request) -> Response:
    if session_of(request) is not None:
        return back(safe_next(request.query_params.get("next")))
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await login_form(request)
    con, t = console(request), words(request)
    name = str(form.get("name") or "").strip()[:64]
    secret = str(form.get("secret") or "")[:256]
    address = request.client.host if request.client else "unknown"
    target = safe_next(str(form.get("next") or "/"))
    now = con.host.clock.monotonic()
    wait = max(
        con.user_lock.locked_for(f"user:{name}", now),
        con.addr_lock.locked_for(f"addr:{address}", now),
    )
    if wait:
        minutes = math.ceil(wait / 60)
        return _login_page(request, 429, t("locked_out", minutes=minutes), name=name, target=target)
    found = con.users.hash_of(name)
    # argon2 takes tens of milliseconds on purpose: off the loop, so the gate never waits.
    ok = await asyncio.to_thread(check_secret, found[1] if found else None, secret)
    if not ok or found is None:
        return _failed(request, name, address, known=found is not None, target=target)
    user, stored = found
    con.user_lock.success(f"user:{name}")
    con.addr_lock.success(f"addr:{address}")
    if needs_rehash(stored):  # the hash parameters were raised since this PIN was set
        con.users.set_hash(name, await asyncio.to_thread(hash_secret, secret))
    token, _ = con.sessions.create(user)
    log.info("console: %s signed in from %s", name, address)
    response = back(target)
    _cookie(response, request, SESSION_COOKIE, token, con.sessions.seconds)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _failed(request: Request, name: str, address: str, *, known: bool, target: str) -> Response:
    con, t = console(request), words(request)
    now = con.host.clock.monotonic()
    locked = [
        key
        for key, lock in ((f"user:{name}", con.user_lock), (f"addr:{address}", con.addr_lock))
        if lock.failure(key, now)
    ]
    log.warning("console: failed sign-in from %s", address)
    if locked:
        who = name if known else "(unknown name)"
        con.host.record(
            [
                con.host.gate.draft(
                    EventType.SYSTEM,
                    Reason.REFUSED,
                    by="console",
                    detail={"action": "sign_in", "why": "locked out", "user": who, "from": address},
                )
            ]
        )
        minutes = math.ceil(con.user_lock.duration / 60)
        return _login_page(request, 429, t("locked_out", minutes=minutes), name=name, target=target)
    return _login_page(request, 401, t("bad_login"), name=name, target=target)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await signed_form(request)
    console(request).sessions.end(request.cookies.get(SESSION_COOKIE))
    response = back("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/lang")
async def switch_language(request: Request) -> Response:
    if session_of(request) is not None:
        _, form = await signed_form(request)
    else:
        form = await login_form(request)
    lang = "en" if words(request).lang == "zh" else "zh"
    response = back(safe_next(str(form.get("next") or "/")))
    _cookie(response, request, LANG_COOKIE, lang, 365 * 24 * 3600)
    return response
