"""roster import | check | id-hash: the roster CSVs, checked and loaded all or nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edge.cli.common import (
    CliError,
    any_config_or_exit,
    config_or_exit,
    roster_or_exit,
    site_key_or_exit,
)
from edge.store import Store


def register(sub: Any) -> None:
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


def roster_id_hash(args: argparse.Namespace) -> int:
    """The ID number comes on stdin, so it stays out of shell history and the process list."""
    from edge.guard import id_hash, id_salt

    cfg = any_config_or_exit(args.config)  # blocked.csv is often prepared at the office
    key = site_key_or_exit(cfg, args.config)
    number = sys.stdin.readline().strip()
    if not number:
        raise CliError("give the ID number on standard input")
    print(id_hash(number, id_salt(cfg.site.id, key)))
    return 0
