"""report: one day's office report from the collector's database."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from typing import Any

from edge.cli.common import CliError, config_or_exit

REPORT_KINDS = ("pickups", "late", "visitors", "alarms", "gates", "day")


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="a report for one day from the collector's database")
    p.add_argument("kind", choices=REPORT_KINDS)
    p.add_argument("--date", help="local date YYYY-MM-DD (default: today)")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=report)


def report(args: argparse.Namespace) -> int:
    from office.report_build import render
    from office.service import CollectorSetupError
    from office.service import report as make_report

    cfg = config_or_exit(args.config)
    if args.date:
        try:
            day = date.fromisoformat(args.date)
        except ValueError:
            raise CliError(f"--date: not a date YYYY-MM-DD: {args.date!r}") from None
    else:
        day = datetime.now(cfg.site.tz).date()
    try:
        result = make_report(cfg, args.kind, day)
    except CollectorSetupError as err:
        raise CliError(f"{args.config}: {err}") from None
    text = render(result, args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if args.format == "csv":  # the table and JSON carry their notes; CSV is rows only
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
    return 0
