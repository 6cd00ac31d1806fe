"""check-config: validate a config file; exit 2 listing every problem."""

from __future__ import annotations

import argparse
from typing import Any

from edge.cli.common import config_or_exit


def register(sub: Any) -> None:
    p = sub.add_parser("check-config", help="validate a config file; exit 2 listing every problem")
    p.add_argument("file")
    p.set_defaults(func=check_config)


def check_config(args: argparse.Namespace) -> int:
    config_or_exit(args.file)
    print(f"{args.file}: ok")
    return 0
