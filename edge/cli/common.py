"""What every CLI command shares."""

from __future__ import annotations

import logging
import os
import pwd
import sys
from pathlib import Path

from edge.config import (
    Config,
    ConfigError,
    MqttConfig,
    OfficeConfig,
    load_any_config,
    load_config,
    load_office_config,
)
from edge.roster import Roster, RosterError

log = logging.getLogger(__name__)


class CliError(Exception):
    """A message for the user and an exit code (2: bad input, 1: failed at run time)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def config_or_exit(path: str) -> Config:
    """The validated gate config, or every problem in it as a CliError."""
    try:
        return load_config(path)
    except ConfigError as err:
        raise CliError("\n".join(err.problems)) from None


def office_config_or_exit(path: str) -> OfficeConfig:
    """The office's config (its own file, or a gate's file with ``[collector]``)."""
    try:
        return load_office_config(path)
    except ConfigError as err:
        raise CliError("\n".join(err.problems)) from None


def any_config_or_exit(path: str) -> Config | OfficeConfig:
    """A gate's or an office's config: for commands that need only the site and broker."""
    try:
        return load_any_config(path)
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


def site_key_or_exit(cfg: Config | OfficeConfig, config_path: str) -> bytes | None:
    """The site key from ``mqtt.key_file``; None when the config has no ``[mqtt]``."""
    if cfg.mqtt is None:
        return None
    from mqtt.signing import KeyFileError, load_key

    try:
        return load_key(cfg.mqtt.key_file)
    except KeyFileError as err:
        raise CliError(f"{config_path}: mqtt.key_file: {err}") from None


def mqtt_or_exit(cfg: Config | OfficeConfig, path: str) -> MqttConfig:
    """The ``[mqtt]`` section, which commands and keys need."""
    if cfg.mqtt is None:
        raise CliError(f"{path}: mqtt: missing section (needed for commands and keys)")
    return cfg.mqtt


def become_store_owner(cfg: Config) -> None:
    """When root, switch for good to the user who owns the state directory.

    Run as root (``sudo kindergate ...``), the operations commands first become the owner
    of the state directory: what they create (a backup, a store) then belongs to the
    service, and "readable by the service" is checked as the service sees it.
    """
    folder = cfg.store.path.parent
    if os.geteuid() != 0 or not folder.is_dir():
        return
    uid = folder.stat().st_uid
    if uid == 0:
        return
    entry = pwd.getpwuid(uid)
    os.initgroups(entry.pw_name, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(uid)
    log.debug("running as %s, the owner of %s", entry.pw_name, folder)
