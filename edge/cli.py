"""The `kindergate` command line: parses arguments and calls the library, nothing more.

Each subcommand lives in a module with ``register(subparsers)``; the module list below
is the one table of commands. Exit codes: 0 done, 1 failed at run time, 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from edge.commands.common import CliError

COMMAND_MODULES = (
    "edge.commands.basic",
    "edge.commands.run",
    "edge.commands.guard_cli",
    "edge.commands.demo_cmd",
    "edge.commands.passes",
    "edge.commands.hwtest",
    "edge.commands.collector_cmd",
    "edge.commands.ops_cli",
    "edge.commands.mqtt_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kindergate",
        description="KinderGate: the kindergarten gate controller and its office collector.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        # Long-running commands raise this to INFO; one-shot commands keep stderr quiet.
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code = args.func(args)
    except CliError as err:
        print(str(err), file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
