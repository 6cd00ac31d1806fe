"""run: the gate daemon in the foreground."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from edge.cli.common import CliError, config_or_exit, site_key_or_exit


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run the gate daemon in the foreground")
    p.add_argument("-c", "--config", required=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge.daemon import run_daemon
    from edge.ops.daemon_lock import StoreInUse
    from edge.roster import RosterError

    cfg = config_or_exit(args.config)  # before any pin, port or file is touched
    if not args.verbose:
        logging.getLogger().setLevel(logging.INFO)
    site_key = site_key_or_exit(cfg, args.config)
    try:
        return run_daemon(cfg, site_key=site_key)
    except RosterError as err:
        raise CliError("\n".join(f"roster: {p}" for p in err.problems)) from None
    except StoreInUse as err:
        raise CliError(str(err), code=1) from None
