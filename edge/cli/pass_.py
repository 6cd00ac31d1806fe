"""pass issue: sign a one-time QR pass for a delegate or a visitor and print it."""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
from typing import Any

from edge.cli.common import CliError, config_or_exit, roster_or_exit, site_key_or_exit


def register(sub: Any) -> None:
    group = sub.add_parser("pass", help="one-time QR passes for delegates and visitors")
    psub = group.add_subparsers(dest="pass_command", required=True, metavar="ACTION")
    p = psub.add_parser(
        "issue", help="sign a pass; print its credential, write a printable PNG/PDF"
    )
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--child", help="roster child id (required for a delegate)")
    p.add_argument("--name", required=True, help="the person who will show the pass")
    p.add_argument("--date", help="local date YYYY-MM-DD (default: today)")
    p.add_argument("--phone", help="stored masked on the pass: only the last four digits")
    p.add_argument("--kind", choices=["delegate", "visitor"], default="delegate")
    p.add_argument("--until", default="19:00", help="local time HH:MM at which the pass expires")
    p.add_argument("--id", dest="pass_id", help="pass id (default: random)")
    p.add_argument("--png", help="write a printable PNG here")
    p.add_argument("--pdf", help="write a printable A6 PDF here")
    p.set_defaults(func=pass_issue)


def pass_issue(args: argparse.Namespace) -> int:
    from edge.passes import issue_pass, render_pass_pdf, render_pass_png

    cfg = config_or_exit(args.config)
    key = site_key_or_exit(cfg, args.config)
    if key is None:
        raise CliError(
            f"{args.config}: mqtt.key_file: passes are signed with the site key; none is configured"
        )
    if args.kind == "delegate" and not args.child:
        raise CliError("--child: a delegate's pass names the child it collects")
    if args.child:
        roster = roster_or_exit(cfg.roster.path, prefix="roster: ")
        if args.child not in roster.children:
            raise CliError(f"--child: no child {args.child!r} in the roster")
    try:
        tz = cfg.site.tz
        day = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(tz).date()
        until = dt.datetime.combine(day, dt.time.fromisoformat(args.until), tzinfo=tz)
        payload = issue_pass(
            key,
            kind=args.kind,
            pass_id=args.pass_id or secrets.token_urlsafe(9),
            child=args.child,
            name=args.name,
            date=day,
            expires=until,
            phone=args.phone,
        )
    except ValueError as err:
        raise CliError(str(err)) from None
    title = [
        f"{cfg.site.name or cfg.site.id}: {args.kind} pass",
        args.name,
        f"{day} until {args.until}",
    ]
    if args.png:
        render_pass_png(payload, args.png, title_lines=title)
    if args.pdf:
        render_pass_pdf(payload, args.pdf, title_lines=title)
    print(f"qr:{payload}")
    return 0
