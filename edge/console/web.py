"""Request helpers shared by the console's pages: who is signed in, CSRF, rendering.

Every page that changes something is a POST whose form carries the session's CSRF token;
``signed_form`` checks the session and the token before a handler sees a single field.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from edge.console.auth import LANG_COOKIE, LOGIN_COOKIE, SESSION_COOKIE, Session
from edge.console.context import Console
from edge.console.i18n import Words, pick
from edge.console.live import alarm_views

MAX_FORM_FIELDS = 200


class Refused(HTTPException):
    """A request refused before it changed anything (no session, bad token, wrong role)."""


def console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


def words(request: Request) -> Words:
    lang = request.cookies.get(LANG_COOKIE) or console(request).host.cfg.console.language
    return Words(pick(lang))


def session_of(request: Request) -> Session | None:
    return console(request).sessions.get(request.cookies.get(SESSION_COOKIE))


class SignInNeeded(Exception):
    """A page asked for without a session: answered with a redirect to the sign-in page."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def page_session(request: Request) -> Session:
    """The signed-in session for a page; without one the guard is sent to sign in."""
    session = session_of(request)
    if session is None:
        query = request.url.query
        raise SignInNeeded(request.url.path + (f"?{query}" if query else ""))
    return session


def sign_in_redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(safe_next(path), safe='/')}", status_code=303)


def _page_it_came_from(request: Request) -> str:
    """The path of this console's page a form was posted from ("/" if not known)."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.headers.get("host", "") or not referer.path:
        return "/"
    return referer.path + (f"?{referer.query}" if referer.query else "")


def _same_origin(request: Request) -> bool:
    # Browsers send Origin on POST; a form posted from another site fails here even
    # before its (missing) token is looked at. Clients that send none are judged by
    # the token alone.
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def read_form(request: Request) -> FormData:
    return await request.form(max_fields=MAX_FORM_FIELDS, max_files=1)


async def signed_form(request: Request, *, admin: bool = False) -> tuple[Session, FormData]:
    """The session and form of a POST, refused (403) without a session or a good token."""
    session = session_of(request)
    if session is None and request.headers.get("origin") and _same_origin(request):
        # A guard's own form, posted after the session ended: sign in, then back to that
        # page (whose draft the browser kept). Nothing was done, nothing is lost.
        raise SignInNeeded(_page_it_came_from(request))
    if session is None or not _same_origin(request):
        raise Refused(403, "session_needed")
    form = await read_form(request)
    token = form.get("csrf")
    if not session.csrf_ok(token if isinstance(token, str) else None):
        raise Refused(403, "forbidden")
    if admin and not session.user.is_admin:
        raise Refused(403, "admin_only")
    return session, form


async def login_form(request: Request) -> FormData:
    """The sign-in form: its token must match the one the sign-in page set as a cookie."""
    if not _same_origin(request):
        raise Refused(403, "forbidden")
    form = await read_form(request)
    token, cookie = form.get("csrf"), request.cookies.get(LOGIN_COOKIE)
    if not cookie or not isinstance(token, str):
        raise Refused(403, "forbidden")
    if not hmac.compare_digest(cookie, token):
        raise Refused(403, "forbidden")
    return form


def render(
    request: Request,
    template: str,
    session: Session | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    con = console(request)
    t = words(request)
    ctx = {
        "t": t,
        "session": session,
        "csrf": session.csrf if session else "",
        # Only a whole page shows (and so uses up) the flash messages: a fragment fetched
        # by the live stream between a form's redirect and its page must not eat them.
        "flashes": [] if template.startswith("_") else con.flash.take(session),
        "gate": con.host.status() if session else {},
        "check_done": con.checks.done_today(),
        "overdue": len(con.visitors.overdue()) if session else 0,
        "alarms": alarm_views(con.host, con.live, t) if session else [],
        "pending_count": len(con.host.gate.today.pending) if session else 0,
        "path": request.url.path,
        **context,
    }
    return con.templates.TemplateResponse(request, template, ctx, status_code=status_code)


def back(url: str) -> Response:
    """After a POST: back to a page with GET, so a reload never repeats the action."""
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str:
    """Only a path on this console: a sign-in link must not send the guard elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
