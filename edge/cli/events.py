"""events: the events stored by the gate (or, with --collector, the office) as JSON lines."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from edge.cli.common import CliError, config_or_exit, office_config_or_exit
from edge.config import OfficeConfig
from edge.store import Store


def register(sub: Any) -> None:
    p = sub.add_parser("events", help="print stored events as JSON lines, oldest first")
    p.add_argument("-c", "--config", required=True)
    p.add_argument(
        "--collector", action="store_true", help="the collector's events, not the gate's"
    )
    p.add_argument("--since", help="only events at or after this ISO 8601 time")
    p.set_defaults(func=events)


def events(args: argparse.Namespace) -> int:
    cfg = office_config_or_exit(args.config) if args.collector else config_or_exit(args.config)
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise CliError(f"--since: not an ISO 8601 time: {args.since!r}") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=cfg.site.tz)
    if isinstance(cfg, OfficeConfig):
        from office.service import collector_events

        collected = collector_events(cfg, since)
        for event in collected.events:
            sys.stdout.write(event.dumps() + "\n")
        for row in collected.unreadable:
            print(f"note: {row.note()}", file=sys.stderr)
        return 0
    if not cfg.store.path.exists():
        return 0
    store = Store(cfg.store.path, site=cfg.site.id, gate=cfg.gate.id)
    try:
        for stored in store.events(since):
            sys.stdout.write(stored.dumps() + "\n")
    finally:
        store.close()
    return 0
