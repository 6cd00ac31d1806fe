"""collector: the office collector, foreground."""

from __future__ import annotations

import argparse
from typing import Any

from edge.cli.common import CliError, office_config_or_exit


def register(sub: Any) -> None:
    p = sub.add_parser("collector", help="the office collector: every gate's events, foreground")
    p.add_argument("-c", "--config", required=True)
    p.set_defaults(func=collector)


def collector(args: argparse.Namespace) -> int:
    from office.service import CollectorSetupError, run

    cfg = office_config_or_exit(args.config)
    try:
        return run(cfg)
    except CollectorSetupError as err:
        raise CliError(f"{args.config}: {err}") from None
