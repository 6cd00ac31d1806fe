"""cmd: sign and publish a command to a gate, wait for its reply; exit 0 only if accepted."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge.cli.common import CliError, any_config_or_exit, mqtt_or_exit


def register(sub: Any) -> None:
    p = sub.add_parser(
        "cmd", help="sign and publish a command to a gate, wait for its reply; exit 0 if accepted"
    )
    p.add_argument("name", help="open, lockdown, evacuate, normal, ping, roster, resend, revoke")
    p.add_argument("--gate", required=True, help="the gate's id (its site is the config's)")
    p.add_argument(
        "--arg", action="append", default=[], metavar="KEY=VALUE", help="a command argument"
    )
    p.add_argument("--roster-dir", help="for roster: send the CSV files of this folder")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the reply")
    p.add_argument("-c", "--config", required=True)
    p.set_defaults(func=cmd)


def _command_args(args: argparse.Namespace) -> dict[str, Any]:
    from office.command import parse_args

    try:
        out: dict[str, Any] = dict(parse_args(args.arg))
    except ValueError as err:
        raise CliError(str(err)) from None
    if args.roster_dir:
        out["files"] = _roster_files(Path(args.roster_dir))
    return out


def _roster_files(folder: Path) -> dict[str, str]:
    """The folder's roster CSVs, checked here first so a bad row never leaves the office."""
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
    from mqtt.connection import MqttSetupError
    from mqtt.signing import KeyFileError, load_key
    from office.command import CommandError, send_command

    cfg = any_config_or_exit(args.config)
    mqtt = mqtt_or_exit(cfg, args.config)
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
