"""What every CLI command shares."""

from __future__ import annotations

import sys
from pathlib import Path

from edge.config import Config, ConfigError, load_config
from edge.roster import Roster, RosterError


class CliError(Exception):
    """A message for the user and an exit code (2: bad input, 1: failed at run time)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def config_or_exit(path: str) -> Config:
    """The validated config, or every problem in it as a CliError."""
    try:
        return load_config(path)
    except ConfigError as err:
        raise CliError("\n".join(err.problems)) from None


def roster_or_exit(folder: str | Path, *, prefix: str = "") -> Roster:
    """The roster in ``folder``, its warnings on stderr, or every bad row as a CliError."""
    from edge.roster_load import load_roster

    try:
        roster = load_roster(folder)
    except RosterError as err:
        raise CliError("\n".join(f"{prefix}{p}" for p in err.problems)) from None
    for warning in roster.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return roster


def site_key_or_exit(cfg: Config, config_path: str) -> bytes | None:
    """The site key from ``mqtt.key_file``; None when the config has no ``[mqtt]``."""
    if cfg.mqtt is None:
        return None
    from mqtt.signing import KeyFileError, load_key

    try:
        return load_key(cfg.mqtt.key_file)
    except KeyFileError as err:
        raise CliError(f"{config_path}: mqtt.key_file: {err}") from None
