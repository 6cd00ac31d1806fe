"""What the `collector`, `report` (and `report export`) and `events --collector` commands call."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from edge.config import OfficeConfig
from office.store import StoredEvents, open_store

if TYPE_CHECKING:
    from office.export import Exported
    from office.reports import Report

log = logging.getLogger(__name__)


class CollectorSetupError(ValueError):
    """The config lacks what the collector needs."""


def require_collector(cfg: OfficeConfig) -> None:
    if cfg.mqtt is None:
        raise CollectorSetupError("the collector needs an [mqtt] section (the broker)")


def collector_events(cfg: OfficeConfig, since: datetime | None) -> StoredEvents:
    """The events the collector stored, oldest first, and the rows that are not events
    (``events --collector``)."""
    store = open_store(cfg.collector.database)
    try:
        return store.read_events(since)
    finally:
        store.close()


def run(cfg: OfficeConfig) -> int:
    """The collector in the foreground, and the office page when ``web_port`` is set."""
    from edge.ops.sdnotify import Notifier, watchdog_interval
    from office.collector import Collector

    require_collector(cfg)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    collector = Collector(cfg, on_failure=stop.set)
    web = None
    if cfg.collector.web_port:
        from office.web import WebServer

        web = WebServer(cfg, cfg.collector.web_host, cfg.collector.web_port)
    notifier = Notifier()
    collector.start()
    try:
        if web is not None:
            web.start()
        log.info("collector running; stop with SIGTERM")
        notifier.ready("collecting")
        # Under systemd's watchdog: ping while the writer lives (a dead writer sets `stop`).
        interval = watchdog_interval()
        while not stop.wait(interval):
            notifier.watchdog()
    finally:
        notifier.stopping()
        if web is not None:
            web.stop()
        collector.stop()
    return 1 if collector.failed.is_set() else 0


def report(cfg: OfficeConfig, kind: str, day: date) -> Report:
    """One day's report from the collector's database (``report KIND``)."""
    from office.report_build import build_report
    from office.reports import roster_info

    store = open_store(cfg.collector.database)
    try:
        result = build_report(
            kind,
            store,
            day,
            cfg.site.tz,
            roster=roster_info(cfg.roster.path) if cfg.roster else None,
            overstay_minutes=cfg.collector.visitor_overstay_minutes,
            offline_after_seconds=cfg.collector.offline_after_seconds,
        )
    finally:
        store.close()
    return result


def export(cfg: OfficeConfig, out: Path, first: date, last: date) -> Exported:
    """Some days of the office database as a SQLite file (``report export``)."""
    from office.export import export as write_export
    from office.reports import roster_info

    store = open_store(cfg.collector.database)
    try:
        return write_export(
            store,
            out,
            first,
            last,
            cfg.site.tz,
            roster=roster_info(cfg.roster.path) if cfg.roster else None,
            site=cfg.site.id,
            now=datetime.now(UTC),
        )
    finally:
        store.close()
