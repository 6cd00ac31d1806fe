"""The `kindergate` command line: parses arguments and calls the library, nothing more.

One module per command, named after it: ``kindergate verify-log`` is
``edge/cli/verify_log.py`` (a dash becomes an underscore; ``pass`` is ``pass_``, as the
word is Python's). Each module has ``register(subparsers)``; ``COMMANDS`` below is the one
table of commands, in the order ``--help`` lists them. Exit codes: 0 done, 1 failed at
run time, 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from edge.cli.common import CliError

COMMANDS = (
    "run",
    "check-config",
    "roster",
    "simulate",
    "events",
    "demo",
    "guard",
    "pass",
    "hw-test",
    "doctor",
    "verify-log",
    "backup",
    "purge",
    "collector",
    "report",
    "cmd",
    "keygen",
)


def module_of(command: str) -> str:
    """The module that implements ``command`` (the naming rule above)."""
    name = command.replace("-", "_")
    return f"edge.cli.{name}_" if name == "pass" else f"edge.cli.{name}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kindergate",
        description="KinderGate: the kindergarten gate controller and its office collector.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        importlib.import_module(module_of(command)).register(sub)
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
        sys.stdout.flush()
    except CliError as err:
        print(str(err), file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`kindergate events ... | head -1`): what it wanted it has.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
