"""The console's FastAPI app: pages, the live stream and the local API, on the daemon's loop.

``create_app(host)`` builds it around a running (or opened) daemon. Its endpoints are
``async``: uvicorn runs them on the daemon's own loop, so they touch the gate's state from
the one thread that owns it. Only argon2 hashing is sent to a worker thread.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.console import (
    routes_auth,
    routes_checks,
    routes_gate,
    routes_local,
    routes_people,
    routes_visitors,
)
from edge.console.context import Console, build_console
from edge.console.web import (
    Refused,
    SignInNeeded,
    render,
    session_of,
    sign_in_redirect,
    words,
)
from edge.host import GateHost

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 6 * 1024 * 1024  # a 5 MB repair photo and its form

# No inline script or style anywhere, so the policy can forbid both.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"media-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # "same-origin", not "no-referrer": with no-referrer a browser sends "Origin: null" on
    # its own form posts, and the origin check would refuse every one of them.
    (b"referrer-policy", b"same-origin"),
]


class Guarded:
    """Security headers on every answer; bodies over the limit refused before being read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _body_problem(scope)
        if problem is not None:
            await Response(problem[1], status_code=problem[0])(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _body_problem(scope: Scope) -> tuple[int, str] | None:
    if scope["method"] not in ("POST", "PUT", "PATCH"):
        return None
    length = dict(scope["headers"]).get(b"content-length")
    if length is None:
        return 411, "length required"
    if not length.isdigit() or int(length) > MAX_BODY:
        return 413, "request too large"
    return None


def create_app(host: GateHost, *, console: Console | None = None) -> FastAPI:
    con = console or build_console(host)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = con
    for module in (
        routes_auth,
        routes_gate,
        routes_visitors,
        routes_checks,
        routes_people,
        routes_local,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, exc: SignInNeeded) -> Response:
        return sign_in_redirect(exc.path)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        text = words(request)(str(exc.detail))
        return render(request, "message.html", session_of(request), exc.status_code, text=text)

    app.add_middleware(Guarded)
    return app
