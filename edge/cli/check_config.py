"""check-config: validate a config file; exit 2 listing every problem."""

from __future__ import annotations

import argparse
from typing import Any

from edge.cli.common import CliError, any_config_or_exit
from edge.config import Config


def register(sub: Any) -> None:
    p = sub.add_parser("check-config", help="validate a config file; exit 2 listing every problem")
    p.add_argument("file")
    p.set_defaults(func=check_config)


def check_config(args: argparse.Namespace) -> int:
    """A gate's file is checked as a gate's (with its ``[collector]``, if any); a file with
    ``[collector]`` and no ``[gate]`` as an office's."""
    from edge.config.osdp import install_mode_problems

    cfg = any_config_or_exit(args.file)
    if not isinstance(cfg, Config):
        print(f"{args.file}: ok (an office config: collector, report, events --collector, cmd)")
        return 0
    # install mode left on once the key exists: refused here, though the daemon still starts
    refused = install_mode_problems(cfg.reader)
    if refused:
        raise CliError("\n".join(f"{args.file}: {key}: {why}" for key, why in refused))
    if cfg.collector is not None:
        print(f"{args.file}: ok (a gate config, with the office's [collector])")
    else:
        print(f"{args.file}: ok")
    return 0
