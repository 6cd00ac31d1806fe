"""hw-test: the installer's check. Run it with the daemon stopped: it claims the pins."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from typing import Any, cast

from edge.cli.common import config_or_exit


def register(sub: Any) -> None:
    p = sub.add_parser(
        "hw-test",
        help="click the relay, beep, light each LED, then report inputs and readers as they trigger",
    )
    p.add_argument("-c", "--config", required=True)
    p.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for inputs and cards (default 60)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drivers.hwtest import CheckableGate, run_hw_test
    from edge.components.readers import make_reader
    from edge.daemon import make_io

    cfg = config_or_exit(args.config)
    io = make_io(cfg)
    readers = {rc.name: functools.partial(make_reader, rc, io) for rc in cfg.reader}
    try:
        result = run_hw_test(cast(CheckableGate, io), readers, sys.stderr, wait=args.wait)
    finally:
        io.close()
    print(json.dumps(result, sort_keys=True))
    return 0 if result["complete"] else 1
