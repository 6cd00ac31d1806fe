"""check-config: validate a config file; exit 2 listing every problem."""

from __future__ import annotations

import argparse
from typing import Any

from edge.cli.common import CliError, config_or_exit


def register(sub: Any) -> None:
    p = sub.add_parser("check-config", help="validate a config file; exit 2 listing every problem")
    p.add_argument("file")
    p.set_defaults(func=check_config)


def check_config(args: argparse.Namespace) -> int:
    from edge.osdp_config import install_mode_problems

    cfg = config_or_exit(args.file)
    # install mode left on once the key exists: refused here, though the daemon still starts
    refused = install_mode_problems(cfg.reader)
    if refused:
        raise CliError("\n".join(f"{args.file}: {key}: {why}" for key, why in refused))
    print(f"{args.file}: ok")
    return 0
