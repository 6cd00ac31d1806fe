"""purge: apply [retention]: anonymise old visitor records, delete old events and snapshots."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edge.cli.common import CliError, become_store_owner, config_or_exit


def register(sub: Any) -> None:
    p = sub.add_parser("purge", help="apply [retention]: anonymise, delete, record a purge event")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--dry-run", action="store_true", help="say what would go; change nothing")
    p.add_argument(
        "--force", action="store_true", help="purge even when the clock is not synchronised"
    )
    p.set_defaults(func=purge)


def purge(args: argparse.Namespace) -> int:
    from edge.clock import SystemClock
    from edge.ops.retention import purge as run_purge
    from edge.ops.retention import snapshot_directory
    from edge.ops.timesync import check
    from edge.store import Store

    cfg = config_or_exit(args.config)
    become_store_owner(cfg)
    if not cfg.store.path.is_file():
        print(f"no store at {cfg.store.path} yet: nothing to purge")
        return 0
    clock = check()
    if not (clock.trusted or args.force or args.dry_run):
        # A clock a year ahead would delete a year of records that must still be kept.
        raise CliError(
            f"clock not trusted, not purging (--force to purge anyway): {clock.describe()}", 1
        )
    store = Store(cfg.store.path, site=cfg.site.id, gate=cfg.gate.id)
    try:
        result = run_purge(
            store,
            cfg.retention,
            SystemClock(cfg.site.tz).now(),
            snapshots=snapshot_directory(cfg),
            dry_run=args.dry_run,
        )
    finally:
        store.close()
    print(result.summary())
    if result.events:
        print(f"recorded {len(result.events)} purge event(s), last {result.events[-1].id}")
    sys.stdout.flush()
    return 0
