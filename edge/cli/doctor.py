"""doctor: check an installed gate (files, key, clock, broker, readers); OK/WARN/FAIL each."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edge.cli.common import become_store_owner


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check an installed gate: files, key, clock, broker, readers")
    p.add_argument("-c", "--config", required=True)
    p.set_defaults(func=doctor)


def doctor(args: argparse.Namespace) -> int:
    from edge.ops import doctor as doc
    from edge.ops import timesync

    path = Path(args.config)
    cfg, _ = doc.load(path)
    if cfg is not None:
        become_store_owner(cfg)
    probes = doc.Probes(
        clock=timesync.check, connect=doc.tcp_connect, load_key=_load_key, gpiochip=doc.GPIOCHIP
    )
    checks = doc.run_checks(path, probes)
    for check in checks:
        print(check.line())
    return 1 if doc.worst(checks) is doc.Level.FAIL else 0


def _load_key(path: Path) -> bytes:
    from mqtt.signing import load_key  # the one reading of a key file, shared with the link

    return load_key(path)
