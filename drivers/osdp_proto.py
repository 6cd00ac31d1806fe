"""What OSDP readers say and are told, as plain values: card reads, tamper, lights.

Pure functions over the dicts that libosdp's Python binding passes around; no I/O.

Card data arrives as raw bits (``osdp_RAW``): a bit count and the bits packed
MSB first. A reader sends its cards in the Wiegand format it is set up for, so a
26- or 34-bit read goes through the same decoder as a Wiegand reader on GPIO
(parity, length) and gives the same ``card:`` credential for the same card. A
32-bit read in the "unspecified" raw format is the card's whole 32-bit number, as
an RDM6300 reports it. Anything else is a bad read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from osdp import CardFormat, Command, CommandLEDColor, Event, StatusReportType

from drivers.base import RAW_LIMIT, BadRead, Feedback, Read, card_credential
from drivers.wiegand import FORMATS as WIEGAND_LENGTHS
from drivers.wiegand import wiegand_read

RAW_NUMBER_BITS = 32


def bits_of(data: bytes, length: int) -> str:
    """The first ``length`` bits of ``data``, MSB first, as a string of 0 and 1."""
    return "".join(f"{byte:08b}" for byte in data)[:length]


def pack_bits(bits: str) -> bytes:
    """Bits (MSB first) packed into bytes, the last one padded with zeros."""
    padded = bits + "0" * (-len(bits) % 8)
    return bytes(int(padded[i : i + 8], 2) for i in range(0, len(padded), 8))


def card_read(reader: str, event: Mapping[str, Any]) -> Read:
    """A card-read event as a ``Read``: a credential, or a failed read saying why."""
    try:
        return _decode(reader, event)
    except BadRead as err:
        return Read.failed(reader, err)


def _decode(reader: str, event: Mapping[str, Any]) -> Read:
    fmt, length, data = event.get("format"), event.get("length"), event.get("data")
    if not isinstance(data, bytes) or not isinstance(length, int) or isinstance(length, bool):
        raise BadRead("card read without raw bits", repr(event.get("format")))
    if fmt not in (CardFormat.Wiegand, CardFormat.Unspecified):
        raise BadRead(f"card data format {fmt!r} is not raw bits", data.hex())
    if not 0 < length <= len(data) * 8:
        raise BadRead(f"{length} bits announced, {len(data) * 8} sent", data.hex())
    bits = bits_of(data, length)
    if length in WIEGAND_LENGTHS:
        return wiegand_read(reader, bits)
    if fmt == CardFormat.Unspecified and length == RAW_NUMBER_BITS:
        return Read(reader, card_credential(int(bits, 2)), raw=bits[:RAW_LIMIT])
    raise BadRead(f"wrong length: {length} bits", bits)


def card_event(bits: str, *, wiegand: bool = True) -> dict[str, Any]:
    """The card-read event a reader sends for ``bits`` (for the simulated reader)."""
    return {
        "event": Event.CardRead,
        "reader_no": 0,
        "direction": 0,
        "format": CardFormat.Wiegand if wiegand else CardFormat.Unspecified,
        "length": len(bits),
        "data": pack_bits(bits),
    }


def tamper_of(event: Mapping[str, Any]) -> bool | None:
    """Whether a local status report says the enclosure is open; None for other events."""
    if event.get("event") != Event.Status or event.get("type") != StatusReportType.Local:
        return None
    report = event.get("report")
    if not isinstance(report, bytes) or not report:
        return None
    return report[0] != 0


def tamper_event(active: bool) -> dict[str, Any]:
    """The local status report a reader sends when its tamper switch changes."""
    return {
        "event": Event.Status,
        "type": StatusReportType.Local,
        "report": bytes([1 if active else 0, 0]),
    }


# --- lights and buzzer ---------------------------------------------------------------
# OSDP counts time in tenths of a second. A reader's LED has a permanent state and a
# temporary one that overrides it until its timer runs out.

TEMPORARY_TENTHS = 30  # a granted or denied read shows for 3 s
LED_SET, LED_CANCEL_TEMPORARY = 2, 1  # temporary control codes
TONE_OFF, TONE_DEFAULT = 1, 2


@dataclass(frozen=True, slots=True)
class Light:
    color: int
    on: int = 1  # tenths on
    off: int = 0  # tenths off; 0 = steady


OFF = Light(CommandLEDColor.Black)


@dataclass(frozen=True, slots=True)
class Tone:
    on: int = 1
    off: int = 0
    times: int = 1  # 0 = until the next buzzer command


@dataclass(frozen=True, slots=True)
class ReaderPattern:
    """How one ``Feedback`` shows on a reader: like the gate's own LEDs and buzzer."""

    permanent: Light = OFF
    temporary: Light | None = None  # shown for TEMPORARY_TENTHS, then the permanent one
    tone: Tone | None = None  # None: silence


PATTERNS: dict[Feedback, ReaderPattern] = {
    Feedback.GRANTED: ReaderPattern(temporary=Light(CommandLEDColor.Green), tone=Tone(1)),
    Feedback.DENIED: ReaderPattern(temporary=Light(CommandLEDColor.Red), tone=Tone(1, 1, 2)),
    Feedback.NEEDS_APPROVAL: ReaderPattern(
        permanent=Light(CommandLEDColor.Amber, 5, 5), tone=Tone(10)
    ),
    Feedback.WARNING: ReaderPattern(temporary=Light(CommandLEDColor.Amber), tone=Tone(2, 2, 3)),
    Feedback.ALARM: ReaderPattern(permanent=Light(CommandLEDColor.Red, 2, 2), tone=Tone(5, 5, 0)),
    Feedback.IDLE: ReaderPattern(),
}


def _led(light: Light, *, temporary: bool) -> dict[str, Any]:
    cmd: dict[str, Any] = {
        "command": Command.LED,
        "reader": 0,
        "led_number": 0,
        "temporary": temporary,
        "control_code": LED_SET if temporary else 1,
        "on_color": light.color,
        "off_color": CommandLEDColor.Black,
        "on_count": light.on,
        "off_count": light.off,
    }
    if temporary:
        cmd["timer_count"] = TEMPORARY_TENTHS
    return cmd


def _cancel_temporary() -> dict[str, Any]:
    cmd = _led(OFF, temporary=True)
    cmd.update(control_code=LED_CANCEL_TEMPORARY, timer_count=0)
    return cmd


def _buzzer(tone: Tone | None) -> dict[str, Any]:
    return {
        "command": Command.Buzzer,
        "reader": 0,
        "control_code": TONE_OFF if tone is None else TONE_DEFAULT,
        "on_count": 0 if tone is None else tone.on,
        "off_count": 0 if tone is None else tone.off,
        "rep_count": 0 if tone is None else tone.times,
    }


def silence_command() -> dict[str, Any]:
    """The buzzer off: an alarm's tone lasts until the next buzzer command."""
    return _buzzer(None)


def endless_tone(feedback: Feedback) -> bool:
    tone = PATTERNS[feedback].tone
    return tone is not None and tone.times == 0


def feedback_commands(feedback: Feedback, *, led: bool, buzzer: bool) -> list[dict[str, Any]]:
    """The commands that show ``feedback`` on a reader, most visible first.

    A temporary light goes first (the person at the reader sees it at once), then the
    tone, then the permanent state it falls back to. A permanent pattern (waiting for
    a guard, an alarm, idle) cancels whatever temporary light is still showing.
    Only what the reader said it has (``led``, ``buzzer``) is commanded: a reader
    refuses the rest, and libosdp takes a refusal as the reader going offline.
    """
    pattern = PATTERNS[feedback]
    lights: list[dict[str, Any]] = []
    if pattern.temporary is not None:
        lights = [_led(pattern.temporary, temporary=True), _led(pattern.permanent, temporary=False)]
    else:
        lights = [_led(pattern.permanent, temporary=False), _cancel_temporary()]
    out = lights[:1] if led else []
    if buzzer:
        out.append(_buzzer(pattern.tone))
    if led:
        out += lights[1:]
    return out
