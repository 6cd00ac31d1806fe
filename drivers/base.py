"""Plain data that crosses the line between hardware and the gate.

Drivers turn hardware into these values and take plain commands back. Nothing in
``drivers/`` imports from ``edge/`` or ``mqtt/``: the gate depends on the drivers,
never the other way round.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

CARD_DIGITS = 10
MAX_CARD = 2**32 - 1
RAW_LIMIT = 64  # characters of raw input kept for the log; a noise storm must not bloat it


class BadRead(ValueError):
    """Raw reader input that does not decode to a credential."""

    def __init__(self, why: str, raw: str = "") -> None:
        super().__init__(why)
        self.why = why
        self.raw = raw[:RAW_LIMIT]


@dataclass(frozen=True, slots=True)
class Read:
    """One read from a reader: a credential, or the reason it could not be decoded."""

    reader: str
    credential: str | None
    error: str | None = None
    raw: str = ""
    # A Wiegand-26 read carries only the low 24 bits of the card's number; the roster
    # matches it against a card with the same low 24 bits when exactly one has them.
    low24: bool = False
    # Not a read but a count: this many bad reads were held back by the reader's limiter
    # (drivers.health.ReadFilter) since its last count.
    suppressed: int = 0

    @classmethod
    def failed(cls, reader: str, err: BadRead) -> Read:
        return cls(reader=reader, credential=None, error=err.why, raw=err.raw)


def card_credential(number: int) -> str:
    """The credential of a card number: ``card:`` and ten decimal digits."""
    if not 0 <= number <= MAX_CARD:
        raise BadRead("card number out of range", str(number))
    return f"card:{number:0{CARD_DIGITS}d}"


_CREDENTIAL = re.compile(r"^(card|qr):(\S+)$")


def parse_line(text: str) -> str:
    """A line reader's line as a credential (see TEST_VECTORS.md, line readers).

    A line is a credential (``card:0004567890``, ``qr:...``) or a bare decimal card
    number. Surrounding white space is ignored; anything else is a bad read.
    """
    line = text.strip()
    if not line:
        raise BadRead("empty line", text)
    if line.isascii() and line.isdigit():
        return card_credential(int(line))
    match = _CREDENTIAL.match(line)
    if match is None:
        raise BadRead("not a credential", text)
    scheme, value = match.groups()
    if scheme == "card":
        if not (value.isascii() and value.isdigit()):
            raise BadRead("card number is not decimal", text)
        return card_credential(int(value))
    return line


class Input(enum.StrEnum):
    """Contacts the gate reads."""

    DOOR = "door"  # active = door open
    EXIT_BUTTON = "exit_button"  # active = pressed
    FIRE_ALARM = "fire_alarm"  # active = alarm
    TAMPER = "tamper"  # active = enclosure opened
    LOCK_SENSOR = "lock_sensor"  # active = bolt engaged


@dataclass(frozen=True, slots=True)
class InputChange:
    input: Input
    active: bool
    source: str = ""  # "" for the gate's own contacts; a reader's name for its own switch


class Feedback(enum.StrEnum):
    """What the buzzer and LEDs tell the person at the gate."""

    GRANTED = "granted"
    DENIED = "denied"
    NEEDS_APPROVAL = "needs_approval"
    WARNING = "warning"  # e.g. door about to be reported held open
    ALARM = "alarm"
    IDLE = "idle"


class GateIO(Protocol):
    """The gate's outputs and inputs, real or simulated."""

    def set_lock(self, released: bool) -> None: ...

    def signal(self, feedback: Feedback) -> None: ...

    def on_input(self, callback: Callable[[InputChange], None]) -> None: ...

    def read_inputs(self) -> dict[Input, bool]:
        """Each wired input's state now (callbacks only tell of changes)."""
        ...

    def close(self) -> None: ...


ReadCallback = Callable[[Read], None]


class Reader(Protocol):
    """A running reader: its reads go to the ``on_read`` callback it was built with.

    ``start()`` claims the device and starts reading; ``close()`` stops and releases
    it and is safe to call twice.
    """

    name: str

    def start(self) -> None: ...

    def close(self) -> None: ...
