"""verify-log: walk the gate log's hash chain; name an edited, inserted or deleted event."""

from __future__ import annotations

import argparse
from typing import Any

from edge.cli.common import CliError, become_store_owner, config_or_exit


def register(sub: Any) -> None:
    p = sub.add_parser("verify-log", help="walk the event log's hash chain; exit 1 if changed")
    p.add_argument("-c", "--config", required=True)
    p.set_defaults(func=verify_log)


def verify_log(args: argparse.Namespace) -> int:
    from edge.ops.verify import verify_path

    cfg = config_or_exit(args.config)
    become_store_owner(cfg)
    if not cfg.store.path.is_file():
        raise CliError(f"no store at {cfg.store.path}", 1)
    report = verify_path(cfg.store.path)
    print(f"{cfg.store.path}: {report.summary()}")
    for problem in report.problems:
        print(str(problem))
    return 0 if report.ok else 1
