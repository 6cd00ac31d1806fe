"""The office page: every gate's live state and today's reports, read-only.

Server-rendered (FastAPI + Jinja2, autoescaped: names come from the gates' events). The
page reloads itself every ``web_refresh_seconds``; there is nothing to click that
changes anything, so it needs no login beyond where it listens (127.0.0.1 by default).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from edge.config import OfficeConfig
from office.report_build import KINDS, build_report, render
from office.reports import Report, RosterInfo, roster_info
from office.store import CollectorStore, open_store

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


class Office:
    """What the page needs: the store, the roster, the site's zone and a clock."""

    def __init__(
        self,
        cfg: OfficeConfig,
        store: CollectorStore,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        assert cfg.collector is not None
        self.cfg = cfg
        self.ccfg = cfg.collector
        self.store = store
        self.clock = clock
        self.tz = cfg.site.tz
        self._roster: RosterInfo | None = None
        self._roster_at: datetime | None = None

    def roster(self) -> RosterInfo | None:
        """The roster folder, read again at most once a minute (it changes rarely)."""
        now = self.clock()
        if self._roster_at is None or now - self._roster_at > timedelta(minutes=1):
            self._roster = roster_info(self.cfg.roster.path) if self.cfg.roster else None
            self._roster_at = now
        return self._roster

    def today(self) -> date:
        return self.clock().astimezone(self.tz).date()

    def report(self, kind: str, day: date) -> Report:
        return build_report(
            kind,
            self.store,
            day,
            self.tz,
            roster=self.roster(),
            overstay_minutes=self.ccfg.visitor_overstay_minutes,
            offline_after_seconds=self.ccfg.offline_after_seconds,
            now=self.clock(),
        )

    def context(self, title: str, day: date) -> dict[str, Any]:
        return {
            "title": title,
            "day": day.isoformat(),
            "kinds": KINDS,
            "site_name": self.cfg.site.name or self.cfg.site.id,
            "refresh": self.ccfg.web_refresh_seconds,
            "updated": self.clock().astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S"),
        }


def parse_day(value: str | None, office: Office) -> date:
    if not value:
        return office.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"not a date YYYY-MM-DD: {value!r}") from None


def create_app(office: Office) -> FastAPI:
    app = FastAPI(title="KinderGate office", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(TEMPLATES))

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> Response:
        day = office.today()
        findings = [f for f in office.store.findings() if f["resolved_at"] is None]
        context = office.context("Gates", day) | {
            "gates": office.report("gates", day),
            "summary": office.report("day", day),
            "findings": findings[-50:],
        }
        return templates.TemplateResponse(request, "index.html", context)

    @app.get("/report/{name}", response_class=HTMLResponse)
    def report(request: Request, name: str, date: str | None = None) -> Response:
        kind, _, fmt = name.partition(".")
        if kind not in KINDS or fmt not in ("", "csv", "json"):
            raise HTTPException(404, "no such report")
        day = parse_day(date, office)
        result = office.report(kind, day)
        if fmt:
            return Response(render(result, fmt), media_type=MEDIA[fmt])
        context = office.context(f"{result.title}, {day.isoformat()}", day) | {"report": result}
        context["refresh"] = context["refresh"] if day == office.today() else None
        return templates.TemplateResponse(request, "report.html", context)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "events": office.store.count_events()}

    return app


class WebServer:
    """uvicorn in a thread, next to the collector; ``start()`` returns once it listens."""

    def __init__(
        self, cfg: OfficeConfig, host: str, port: int, *, office: Office | None = None
    ) -> None:
        if cfg.collector is None:
            raise ValueError("the office page needs a [collector] section")
        self._own_store = office is None
        self.office = office or Office(cfg, open_store(cfg.collector.database))
        config = uvicorn.Config(
            create_app(self.office), host=host, port=port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="office-web", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        pause = threading.Event()  # never set: a wait on it is a short pause
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            pause.wait(0.02)
        if not self.server.started:
            raise RuntimeError("the office page did not start (is the port free?)")
        log.info("office page on http://%s:%s/", self.server.config.host, self.server.config.port)

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(10)
        if self._own_store:
            self.office.store.close()
