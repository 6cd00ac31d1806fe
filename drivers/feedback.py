"""The gate's feedback, shown on the readers that have lights of their own (OSDP).

``ReaderFeedback`` stands in for the gate's ``GateIO``: the lock and inputs pass
straight through, and each ``signal`` drives the gate's own buzzer and LEDs first,
then the readers'. A feedback given while a read from one reader is being decided
(granted, denied, waiting for a guard) shows on that reader only: the person
standing there is the one it answers. Any other (a guard's approval, the door, an
alarm, a change of mode) shows on every reader, as on the gate's own LEDs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

from drivers.base import Feedback, GateIO, Input, InputChange

log = logging.getLogger(__name__)


@runtime_checkable
class ShowsFeedback(Protocol):
    """A reader with its own LED or buzzer."""

    name: str

    def show(self, feedback: Feedback) -> None: ...


class ReaderFeedback:
    """A ``GateIO`` that also shows each feedback on the readers that can."""

    def __init__(self, io: GateIO) -> None:
        self.io = io
        self._readers: dict[str, ShowsFeedback] = {}
        self._source: str | None = None

    def add(self, reader: object) -> None:
        """Show feedback on ``reader`` too, if it has lights (others are ignored)."""
        if isinstance(reader, ShowsFeedback):
            self._readers[reader.name] = reader

    @contextmanager
    def reading(self, reader: str) -> Iterator[None]:
        """Feedback given inside this block answers a read from ``reader``."""
        self._source = reader
        try:
            yield
        finally:
            self._source = None

    def signal(self, feedback: Feedback) -> None:
        self.io.signal(feedback)
        if self._source is None:
            targets = list(self._readers.values())
        else:  # a read from a reader without lights shows on the gate's LEDs alone
            targets = [r for name, r in self._readers.items() if name == self._source]
        for reader in targets:
            try:
                reader.show(feedback)
            except Exception:  # a reader's lights never stand in the way of the gate
                log.exception("reader %s: showing %s failed", reader.name, feedback)

    def set_lock(self, released: bool) -> None:
        self.io.set_lock(released)

    def on_input(self, callback: Callable[[InputChange], None]) -> None:
        self.io.on_input(callback)

    def read_inputs(self) -> dict[Input, bool]:
        return self.io.read_inputs()

    def close(self) -> None:
        self.io.close()
