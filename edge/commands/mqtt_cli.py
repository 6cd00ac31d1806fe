"""cmd (sign and send a command to a gate, print its reply) and keygen (a new site key)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge.commands.basic import config_or_exit
from edge.config import Config, MqttConfig


def register(sub: Any) -> None:
    p = sub.add_parser(
        "cmd", help="sign and publish a command to a gate, wait for its reply; exit 0 if accepted"
    )
    p.add_argument("name", help="open, lockdown, evacuate, normal, ping, roster, resend")
    p.add_argument("--gate", required=True, help="the gate's id (its site is the config's)")
    p.add_argument(
        "--arg", action="append", default=[], metavar="KEY=VALUE", help="a command argument"
    )
    p.add_argument("--roster-dir", help="for roster: send the CSV files of this folder")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the reply")
    p.add_argument("-c", "--config", required=True)
    p.set_defaults(func=cmd)

    p = sub.add_parser("keygen", help="write a new random site key to mqtt.key_file (mode 0600)")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--force", action="store_true", help="replace an existing key file")
    p.set_defaults(func=keygen)


def _mqtt(cfg: Config, path: str) -> MqttConfig:
    from edge.cli import CliError

    if cfg.mqtt is None:
        raise CliError(f"{path}: mqtt: missing section (needed for commands and keys)")
    return cfg.mqtt


def _command_args(args: argparse.Namespace) -> dict[str, Any]:
    from edge.cli import CliError
    from mqtt.office import parse_args

    try:
        out: dict[str, Any] = dict(parse_args(args.arg))
    except ValueError as err:
        raise CliError(str(err)) from None
    if args.roster_dir:
        out["files"] = _roster_files(Path(args.roster_dir))
    return out


def _roster_files(folder: Path) -> dict[str, str]:
    """The folder's roster CSVs, checked here first so a bad row never leaves the office."""
    from edge.cli import CliError
    from edge.roster import FILES, RosterError
    from edge.roster_load import load_roster

    try:
        load_roster(folder)
    except RosterError as err:
        raise CliError("\n".join(err.problems)) from None
    return {
        name: (folder / name).read_text(encoding="utf-8-sig")
        for name in FILES
        if (folder / name).is_file()
    }


def cmd(args: argparse.Namespace) -> int:
    from edge.cli import CliError
    from mqtt.connection import MqttSetupError
    from mqtt.office import CommandError, send_command
    from mqtt.signing import KeyFileError, load_key

    cfg = config_or_exit(args.config)
    mqtt = _mqtt(cfg, args.config)
    command_args = _command_args(args)
    try:
        key = load_key(mqtt.key_file)
        reply = send_command(
            mqtt,
            key,
            site=cfg.site.id,
            gate=args.gate,
            name=args.name,
            args=command_args,
            timeout=args.timeout,
        )
    except (KeyFileError, MqttSetupError, ValueError) as err:
        raise CliError(str(err)) from None
    except CommandError as err:
        raise CliError(str(err), code=1) from None
    print(json.dumps(reply, ensure_ascii=False, indent=2))
    return 0 if reply.get("ok") is True else 1


def keygen(args: argparse.Namespace) -> int:
    from edge.cli import CliError
    from mqtt.office import write_key

    cfg = config_or_exit(args.config)
    path = _mqtt(cfg, args.config).key_file
    try:
        write_key(path, force=args.force)
    except FileExistsError:
        raise CliError(f"{path}: a key file is already there; --force replaces it") from None
    except OSError as err:
        raise CliError(f"{path}: cannot write the key: {err.strerror or err}", code=1) from None
    print(f"wrote a new site key to {path} (mode 0600); copy it to the office and every gate")
    return 0
