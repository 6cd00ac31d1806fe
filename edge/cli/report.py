"""report: one day's office report from the collector's database, or an export of some days.

``kindergate report KIND [--date D]`` prints a report; ``kindergate report export --from D
[--to D] --out FILE.db`` writes those days to a SQLite file for Datasette.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from edge.cli.common import CliError, office_config_or_exit

REPORT_KINDS = ("pickups", "late", "visitors", "alarms", "gates", "day")
EXPORT = "export"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="a report for one day from the collector's database, or an export of some days",
    )
    p.add_argument("kind", choices=(*REPORT_KINDS, EXPORT))
    p.add_argument("--date", help="local date YYYY-MM-DD (default: today)")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--format", choices=("table", "csv", "json"), help="default: table")
    p.add_argument("--from", dest="first", help="export: the first local date YYYY-MM-DD")
    p.add_argument("--to", dest="last", help="export: the last local date (default: --from)")
    p.add_argument("--out", help="export: the SQLite file to write (replaced when complete)")
    p.set_defaults(func=report)


def parse_date(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{option}: not a date YYYY-MM-DD: {value!r}") from None


def report(args: argparse.Namespace) -> int:
    if args.kind == EXPORT:
        return export(args)
    for option, value in (("--from", args.first), ("--to", args.last), ("--out", args.out)):
        if value is not None:
            raise CliError(f"{option}: only for `report export`")
    from office.report_build import render
    from office.service import report as make_report

    cfg = office_config_or_exit(args.config)  # no [collector]: exit 2 naming it
    day = parse_date("--date", args.date) if args.date else datetime.now(cfg.site.tz).date()
    result = make_report(cfg, args.kind, day)
    fmt = args.format or "table"
    text = render(result, fmt)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if fmt == "csv":  # the table and JSON carry their notes; CSV is rows only
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
    return 0


def export(args: argparse.Namespace) -> int:
    from office.export import ExportError
    from office.service import export as write_export

    if args.date is not None or args.format is not None:
        raise CliError("report export: takes --from, --to and --out (not --date or --format)")
    if args.first is None or args.out is None:
        raise CliError("report export: --from and --out are required")
    first = parse_date("--from", args.first)
    last = parse_date("--to", args.last) if args.last else first
    cfg = office_config_or_exit(args.config)
    try:
        done = write_export(cfg, Path(args.out), first, last)
    except ExportError as err:
        raise CliError(str(err)) from None
    except OSError as err:
        raise CliError(f"cannot write {args.out}: {err.strerror or err}", 1) from None
    print(f"wrote {done.line()}")
    return 0
