"""OSDP card data, tamper reports and reader lights, as plain values (no line, no threads)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from osdp import CardFormat, Command, CommandLEDColor

from drivers.base import Feedback
from drivers.feedback import ReaderFeedback
from drivers.osdp_proto import (
    PATTERNS,
    bits_of,
    card_event,
    card_read,
    feedback_commands,
    pack_bits,
    tamper_event,
    tamper_of,
)
from drivers.rdm6300 import decode_frame
from drivers.wiegand import decode_bits

VECTORS = {  # TEST_VECTORS.md, Wiegand 26 and 34
    "00101101000000001010001000": "card:0005898564",
    "10000000100000010001011001": "card:0000066092",
    "00000000100010100101000011": "card:0000070817",
    "1000000000000000100000000000000010": "card:0000065537",
    "1000001001101001011011101110101010": "card:0080928213",
}


@pytest.mark.parametrize(("bits", "credential"), VECTORS.items())
@pytest.mark.parametrize("wiegand", [True, False])
def test_vectors_give_the_wiegand_readers_credential(
    bits: str, credential: str, wiegand: bool
) -> None:
    read = card_read("door", card_event(bits, wiegand=wiegand))
    assert (read.credential, read.error) == (credential, None)
    assert read.credential == decode_bits(bits)
    assert read.low24 is (len(bits) == 26)


def test_raw_32_bits_are_the_number_an_rdm6300_reads() -> None:
    frame = bytes.fromhex("0236373030334235314336434203")  # TEST_VECTORS.md
    read = card_read("door", card_event(f"{0x003B51C6:032b}", wiegand=False))
    assert read.credential == decode_frame(frame) == "card:0003887558"


@pytest.mark.parametrize("bits", VECTORS)
def test_any_flipped_bit_is_a_parity_error(bits: str) -> None:
    for i in range(len(bits)):
        flipped = bits[:i] + ("1" if bits[i] == "0" else "0") + bits[i + 1 :]
        read = card_read("door", card_event(flipped))
        assert read.credential is None and "parity" in (read.error or ""), flipped


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (card_event("1" * 30), "wrong length: 30 bits"),
        (card_event("1" * 32), "wrong length: 32 bits"),  # 32 raw bits only unformatted
        ({**card_event("1" * 26), "length": 40}, "40 bits announced, 32 sent"),
        ({**card_event("1" * 26), "length": 0}, "0 bits announced, 32 sent"),
        ({**card_event("1" * 26), "format": CardFormat.ASCII}, "is not raw bits"),
        ({**card_event("1" * 26), "data": "not bytes"}, "card read without raw bits"),
        ({**card_event("1" * 26), "length": True}, "card read without raw bits"),
        ({"event": 1}, "card read without raw bits"),
    ],
)
def test_bad_card_data_is_a_bad_read(event: dict[str, Any], error: str) -> None:
    read = card_read("door", event)
    assert read.credential is None
    assert error in (read.error or "")


@given(
    st.fixed_dictionaries(
        {
            "format": st.one_of(st.integers(-2, 5), st.none(), st.text(max_size=3)),
            "length": st.one_of(st.integers(-5, 300), st.none()),
            "data": st.one_of(st.binary(max_size=40), st.none(), st.integers()),
        }
    )
)
def test_no_card_event_ever_raises(event: dict[str, Any]) -> None:
    read = card_read("door", event)
    assert (read.credential is None) != (read.error is None)


@given(st.text(alphabet="01", min_size=1, max_size=128))
def test_bits_round_trip(bits: str) -> None:
    assert bits_of(pack_bits(bits), len(bits)) == bits


def test_tamper_reports() -> None:
    assert tamper_of(tamper_event(True)) is True
    assert tamper_of(tamper_event(False)) is False
    assert tamper_of(card_event("1" * 26)) is None
    assert tamper_of({**tamper_event(True), "report": b""}) is None


def test_every_feedback_has_a_pattern_of_its_own() -> None:
    assert set(PATTERNS) == set(Feedback)
    shown = {(p.permanent, p.temporary, p.tone) for p in PATTERNS.values()}
    assert len(shown) == len(PATTERNS)


def test_granted_is_green_first_then_one_beep_then_dark() -> None:
    led, beep, after = feedback_commands(Feedback.GRANTED, led=True, buzzer=True)
    assert (led["command"], led["temporary"], led["on_color"]) == (
        Command.LED,
        True,
        CommandLEDColor.Green,
    )
    assert (beep["command"], beep["rep_count"], beep["on_count"]) == (Command.Buzzer, 1, 1)
    assert (after["temporary"], after["on_color"]) == (False, CommandLEDColor.Black)


def test_only_what_the_reader_has_is_commanded() -> None:
    both = feedback_commands(Feedback.DENIED, led=True, buzzer=True)
    assert [c["command"] for c in both] == [Command.LED, Command.Buzzer, Command.LED]
    assert [c["command"] for c in feedback_commands(Feedback.DENIED, led=False, buzzer=True)] == [
        Command.Buzzer
    ]
    assert [c["command"] for c in feedback_commands(Feedback.DENIED, led=True, buzzer=False)] == [
        Command.LED,
        Command.LED,
    ]
    assert feedback_commands(Feedback.DENIED, led=False, buzzer=False) == []


def test_idle_silences_the_buzzer_and_cancels_any_temporary_light() -> None:
    permanent, beep, cancel = feedback_commands(Feedback.IDLE, led=True, buzzer=True)
    assert permanent["on_color"] == CommandLEDColor.Black and not permanent["temporary"]
    assert beep["control_code"] == 1  # tone off
    assert cancel["temporary"] and cancel["control_code"] == 1


class Lights:
    def __init__(self, name: str) -> None:
        self.name = name
        self.shown: list[Feedback] = []

    def show(self, feedback: Feedback) -> None:
        self.shown.append(feedback)


class Gpio:
    def __init__(self) -> None:
        self.signals: list[Feedback] = []

    def signal(self, feedback: Feedback) -> None:
        self.signals.append(feedback)

    def set_lock(self, released: bool) -> None: ...

    def on_input(self, callback: Any) -> None: ...

    def close(self) -> None: ...


def test_feedback_goes_to_the_reader_that_read_else_to_every_reader() -> None:
    gpio, entrance, exit_ = Gpio(), Lights("entrance"), Lights("exit")
    feedback = ReaderFeedback(gpio)
    for reader in (entrance, exit_, object()):  # a reader without lights is left out
        feedback.add(reader)
    with feedback.reading("entrance"):
        feedback.signal(Feedback.NEEDS_APPROVAL)
    feedback.signal(Feedback.GRANTED)  # a guard approved: not a read
    with feedback.reading("wiegand"):  # a reader without lights: the gate's LEDs only
        feedback.signal(Feedback.DENIED)
    assert gpio.signals == [Feedback.NEEDS_APPROVAL, Feedback.GRANTED, Feedback.DENIED]
    assert entrance.shown == [Feedback.NEEDS_APPROVAL, Feedback.GRANTED]
    assert exit_.shown == [Feedback.GRANTED]
