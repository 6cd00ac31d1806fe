"""Building the configured card readers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drivers.base import GateIO, Read
from drivers.health import ReaderHealth
from edge.config import (
    KeyboardReaderConfig,
    LineReaderConfig,
    Rdm6300ReaderConfig,
    ReaderConfig,
    WiegandReaderConfig,
)


def make_reader(
    rc: ReaderConfig,
    io: GateIO,
    *,
    on_read: Callable[[Read], None],
    on_health: Callable[[ReaderHealth], None],
) -> Any:
    if isinstance(rc, LineReaderConfig):
        from drivers.line import LineReader
        from edge.daemon import ensure_fifo

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
    raise ValueError(f"unknown reader type {rc!r}")
