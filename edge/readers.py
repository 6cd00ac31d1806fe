"""Building the configured card readers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.base import GateIO, InputChange, Read
from drivers.health import ReaderHealth
from edge.config import (
    KeyboardReaderConfig,
    LineReaderConfig,
    OsdpReaderConfig,
    Rdm6300ReaderConfig,
    ReaderConfig,
    WiegandReaderConfig,
)


def ensure_fifo(path: Path) -> None:
    """A line reader's FIFO is made here, private to the service, when it is not there yet."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path, 0o600)


def make_reader(
    rc: ReaderConfig,
    io: GateIO,
    *,
    on_read: Callable[[Read], None],
    on_health: Callable[[ReaderHealth], None],
    on_input: Callable[[InputChange], None] | None = None,
) -> Any:
    """A reader for ``rc``; ``on_input`` gets what a reader's own switches say (OSDP tamper)."""
    if isinstance(rc, LineReaderConfig):
        from drivers.line import LineReader

        ensure_fifo(rc.path)
        return LineReader(rc.name, str(rc.path), on_read=on_read, on_health=on_health)
    if isinstance(rc, Rdm6300ReaderConfig):
        from drivers.rdm6300 import SerialRdm6300Reader

        return SerialRdm6300Reader(
            rc.name, str(rc.port), on_read=on_read, on_health=on_health, baudrate=rc.baudrate
        )
    if isinstance(rc, WiegandReaderConfig):
        from drivers.wiegand import GpioWiegandReader

        factory = getattr(io, "pin_factory", None)
        formats = (rc.bits,) if rc.bits else (26, 34)
        return GpioWiegandReader(
            rc.name,
            rc.d0,
            rc.d1,
            on_read=on_read,
            on_health=on_health,
            pin_factory=factory,
            formats=formats,
        )
    if isinstance(rc, KeyboardReaderConfig):
        from drivers.keyboard import KeyboardReader

        return KeyboardReader(rc.name, str(rc.device), on_read=on_read, on_health=on_health)
    if isinstance(rc, OsdpReaderConfig):
        from drivers.osdp import OsdpReader

        return OsdpReader(
            rc.name,
            str(rc.port),
            address=rc.address,
            scbk_file=rc.scbk_file,
            baudrate=rc.baudrate,
            install_mode=rc.install_mode,
            on_read=on_read,
            on_health=on_health,
            on_input=on_input,
        )
    raise ValueError(f"unknown reader type {rc!r}")
