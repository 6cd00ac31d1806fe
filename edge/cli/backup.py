"""backup: an online, consistent, verified copy of the gate's store (0600)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edge.cli.common import CliError, become_store_owner, config_or_exit


def register(sub: Any) -> None:
    p = sub.add_parser("backup", help="copy the gate's store (online, consistent, 0600)")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--to", required=True, help="a new file, or a directory to put one in")
    p.set_defaults(func=backup)


def backup(args: argparse.Namespace) -> int:
    from edge.ops.backup import BackupError
    from edge.ops.backup import backup as run_backup

    cfg = config_or_exit(args.config)
    become_store_owner(cfg)
    try:
        result = run_backup(cfg.store.path, Path(args.to))
    except (BackupError, OSError) as err:
        raise CliError(f"backup failed: {err}", 1) from None
    print(f"{result.path}: {result.size} bytes; {result.report.summary()}")
    for problem in result.report.problems:
        print(str(problem))
    return 0 if result.report.ok else 1
