"""check-config, roster import, simulate, events."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.commands.common import CliError, config_or_exit, roster_or_exit, site_key_or_exit
from edge.events import dumps
from edge.store import Store


def register(sub: Any) -> None:
    p = sub.add_parser("check-config", help="validate a config file; exit 2 listing every problem")
    p.add_argument("file")
    p.set_defaults(func=check_config)

    roster = sub.add_parser("roster", help="roster files")
    rsub = roster.add_subparsers(dest="roster_command", required=True, metavar="ACTION")
    p = rsub.add_parser("import", help="load the roster CSVs from DIR, all or nothing")
    p.add_argument("dir")
    p.add_argument("-c", "--config", required=True)
    p.set_defaults(func=roster_import)
    p = rsub.add_parser(
        "id-hash",
        help="print the keyed hash of an ID number (read from stdin) for blocked.csv's id_hash column",
    )
    p.add_argument("-c", "--config", required=True)
    p.set_defaults(func=roster_id_hash)
    p = rsub.add_parser("check", help="check the roster CSVs in DIR without loading them")

    p.add_argument("dir")
    p.set_defaults(func=roster_check)

    p = sub.add_parser(
        "simulate", help="replay a scenario in virtual time; print events as JSON lines"
    )
    p.add_argument("scenario")
    p.set_defaults(func=simulate)

    p = sub.add_parser("events", help="print stored events as JSON lines, oldest first")
    p.add_argument("-c", "--config", required=True)
    p.add_argument(
        "--collector", action="store_true", help="the collector's events, not the gate's"
    )
    p.add_argument("--since", help="only events at or after this ISO 8601 time")
    p.set_defaults(func=events)


def check_config(args: argparse.Namespace) -> int:
    config_or_exit(args.file)
    print(f"{args.file}: ok")
    return 0


def roster_check(args: argparse.Namespace) -> int:
    roster = roster_or_exit(args.dir)
    print(
        f"{args.dir}: ok ({len(roster.classes)} classes, {len(roster.children)} children, {len(roster.guardians)} guardians, {len(roster.staff)} staff)"
    )
    return 0


def roster_import(args: argparse.Namespace) -> int:
    cfg = config_or_exit(args.config)
    roster = roster_or_exit(args.dir)
    store = Store(cfg.store.path, site=cfg.site.id, gate=cfg.gate.id)
    try:
        version, changed = store.roster_save(
            roster.to_json(), roster.content_hash, str(Path(args.dir).resolve())
        )
    finally:
        store.close()
    state = "imported" if changed else "unchanged"
    print(
        f"roster {state}: version {version}, hash {roster.content_hash[:12]}, {len(roster.children)} children, {len(roster.guardians)} guardians"
    )
    return 0


def simulate(args: argparse.Namespace) -> int:
    from edge.simulate import ScenarioError, run_scenario

    def emit(event: dict[str, Any]) -> None:
        sys.stdout.write(dumps(event) + "\n")

    try:
        sim = run_scenario(Path(args.scenario), emit)
    except ScenarioError as err:
        raise CliError("\n".join(err.problems)) from None
    sim.close()
    sys.stdout.flush()
    return 0


def events(args: argparse.Namespace) -> int:
    cfg = config_or_exit(args.config)
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise CliError(f"--since: not an ISO 8601 time: {args.since!r}") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=cfg.site.tz)
    if args.collector:
        from mqtt.collector_cli import collector_events

        for event in collector_events(cfg, since):
            sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
        return 0
    if not cfg.store.path.exists():
        return 0
    store = Store(cfg.store.path, site=cfg.site.id, gate=cfg.gate.id)
    try:
        for event in store.events(since):
            sys.stdout.write(dumps(event) + "\n")
    finally:
        store.close()
    return 0


def roster_id_hash(args: argparse.Namespace) -> int:
    """The ID number comes on stdin, so it stays out of shell history and the process list."""
    from edge.guard import id_hash, id_salt

    cfg = config_or_exit(args.config)
    key = site_key_or_exit(cfg, args.config)
    number = sys.stdin.readline().strip()
    if not number:
        raise CliError("give the ID number on standard input")
    print(id_hash(number, id_salt(cfg.site.id, key)))
    return 0
