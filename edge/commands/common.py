"""What every CLI command shares."""

from __future__ import annotations

from edge.config import Config, ConfigError, load_config


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
