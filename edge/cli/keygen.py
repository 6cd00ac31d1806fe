"""keygen: write a new random site key to mqtt.key_file (mode 0600)."""

from __future__ import annotations

import argparse
from typing import Any

from edge.cli.common import CliError, any_config_or_exit, mqtt_or_exit


def register(sub: Any) -> None:
    p = sub.add_parser("keygen", help="write a new random site key to mqtt.key_file (mode 0600)")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--force", action="store_true", help="replace an existing key file")
    p.set_defaults(func=keygen)


def keygen(args: argparse.Namespace) -> int:
    from office.command import write_key

    cfg = any_config_or_exit(args.config)
    path = mqtt_or_exit(cfg, args.config).key_file
    try:
        write_key(path, force=args.force)
    except FileExistsError:
        raise CliError(f"{path}: a key file is already there; --force replaces it") from None
    except OSError as err:
        raise CliError(f"{path}: cannot write the key: {err.strerror or err}", code=1) from None
    print(f"wrote a new site key to {path} (mode 0600); copy it to the office and every gate")
    return 0
