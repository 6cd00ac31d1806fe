"""The OSDP driver against libosdp's own reader side (its PeripheralDevice), over a pty."""

from __future__ import annotations

import logging
import random
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.base import Feedback, Input, InputChange, Read
from drivers.health import ReaderHealth
from drivers.osdp import OsdpReader
from drivers.osdp_key import load_scbk
from drivers.osdp_proto import feedback_commands, silence_command
from drivers.osdp_sim import PtyLine
from drivers.wiegand import decode_bits
from tests.conftest import wait_for
from tests.osdp_support import ADDRESS, WAIT, Rig, led_commands, until_seen
from tests.reader_support import Log

W26 = ["00101101000000001010001000", "10000000100000010001011001", "00000000100010100101000011"]
W34 = ["1000000000000000100000000000000010", "1000001001101001011011101110101010"]
RAW32 = f"{3887558:032b}"  # the number an RDM6300 reads from the same card


def osdp_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in ("cp", "pd") or "osdp" in t.name]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path)
    rig.driver.start()
    try:
        rig.wait_up()
        yield rig
    finally:
        rig.close()
    assert osdp_threads() == []  # close() stops libosdp's thread and ours


def test_cards_over_the_secure_channel_give_the_credentials_of_every_reader(rig: Rig) -> None:
    reads = [rig.read_card(bits) for bits in W26 + W34]
    reads.append(rig.read_card(RAW32, wiegand=False))
    assert [r.credential for r in reads] == [
        "card:0005898564",
        "card:0000066092",
        "card:0000070817",
        "card:0000065537",
        "card:0080928213",
        "card:0003887558",
    ]
    # the same bits on a Wiegand reader's GPIO lines give the same credentials
    assert [r.credential for r in reads[:5]] == [decode_bits(b) for b in W26 + W34]
    assert [r.low24 for r in reads] == [True] * 3 + [False] * 3
    first = rig.health.items[0]
    assert (first.ok, first.detail) == (
        True,
        f"secure channel with address {ADDRESS} on {rig.line.path}",
    )


def test_a_bad_card_frame_is_a_bad_read(rig: Rig) -> None:
    flipped = W26[0][:5] + ("1" if W26[0][5] == "0" else "0") + W26[0][6:]
    reads = [rig.read_card(flipped), rig.read_card("1" * 30)]
    assert [(r.credential, r.error) for r in reads] == [
        (None, "even parity error"),
        (None, "wrong length: 30 bits"),
    ]


def test_a_reader_with_the_wrong_key_is_down_and_never_believed(tmp_path: Path) -> None:
    rig = Rig(tmp_path, reader="wrong_key")
    rig.driver.start()
    try:
        down = rig.wait_down()
        assert "handshake fails" in down.detail and "wrong key" in down.detail
        rig.reader().present(W26[0])
        # several fresh handshakes later, still nothing from it has been believed
        wait_for(lambda: rig.driver.restarts >= 2, WAIT, "fresh handshakes")
    finally:
        rig.close()
    assert rig.reads.items == []
    assert not any(h.ok for h in rig.health.items)
    assert rig.key is not None and rig.key.hex() not in down.detail


def test_a_reader_talking_in_the_clear_is_down_and_its_reads_are_refused(tmp_path: Path) -> None:
    # install mode lets libosdp go on without the secure channel; the driver does not
    rig = Rig(tmp_path, reader="wrong_key", install_mode=True, enforce_secure=False)
    rig.driver.start()
    try:
        down = rig.wait_down()
        assert down.detail == (
            f"address {ADDRESS} on {rig.line.path} answers without the secure channel: "
            "its reads are refused"
        )
        refused = rig.read_card(W26[0])
    finally:
        rig.close()
    assert (refused.credential, refused.error, refused.raw) == (
        None,
        "read without the secure channel: refused",
        "",
    )
    assert all(r.credential is None for r in rig.reads.items)


def test_an_unplugged_reader_is_down_within_seconds_and_up_when_it_answers(rig: Rig) -> None:
    rig.line.cut()
    down = rig.wait_down()
    assert down.detail == f"no answer from address {ADDRESS} on {rig.line.path}"
    seen = len(rig.health.items)
    rig.line.mend()
    rig.wait_up(after=seen)
    assert rig.read_card(W26[1]).credential == "card:0000066092"
    assert rig.health.items[0].ok and rig.health.items[-1].ok


def test_a_reader_libosdp_gave_up_on_is_back_within_seconds(rig: Rig) -> None:
    rig.line.cut()
    rig.wait_down()
    # libosdp gives up after 8 s of silence and would wait five minutes; the driver starts afresh
    wait_for(lambda: rig.driver.restarts >= 1, WAIT, "a fresh ControlPanel")
    seen = len(rig.health.items)
    rig.line.mend()
    rig.wait_up(after=seen)
    assert rig.read_card(W34[1]).credential == "card:0080928213"


def test_a_pulled_adapter_is_down_and_reopened_when_it_is_back(rig: Rig, tmp_path: Path) -> None:
    rig.reader().close()
    rig.line.unplug()
    down = rig.wait_down()
    assert str(rig.line.path) in down.detail
    seen = len(rig.health.items)
    rig.line = PtyLine(rig.line.path)  # the adapter plugged in again, same udev link
    rig.plug_in_reader(rig.key)
    rig.wait_up(after=seen)
    assert rig.read_card(W26[2]).credential == "card:0000070817"


def test_the_readers_tamper_switch_is_an_input_change_named_after_it(rig: Rig) -> None:
    until_seen(lambda: rig.reader().tamper(True), lambda: rig.inputs.items)
    rig.reader().tamper(True)  # no change: no second report
    until_seen(lambda: rig.reader().tamper(False), lambda: len(rig.inputs.items) >= 2)
    assert rig.inputs.items == [
        InputChange(Input.TAMPER, True, source="entrance"),
        InputChange(Input.TAMPER, False, source="entrance"),
    ]


@pytest.mark.parametrize(
    "feedback", [Feedback.GRANTED, Feedback.DENIED, Feedback.NEEDS_APPROVAL, Feedback.IDLE]
)
def test_the_gates_feedback_reaches_the_readers_led_and_buzzer(
    rig: Rig, feedback: Feedback
) -> None:
    expected = feedback_commands(feedback, led=True, buzzer=True)
    rig.driver.show(feedback)
    rig.commands.wait_for(len(expected), WAIT)
    assert rig.commands.items == expected


def test_the_lights_are_green_red_and_blinking_amber(rig: Rig) -> None:
    green, red, amber = 2, 1, 3
    for feedback in (Feedback.GRANTED, Feedback.DENIED, Feedback.NEEDS_APPROVAL):
        before = len(rig.commands.items)
        rig.driver.show(feedback)
        rig.commands.wait_for(before + 3, WAIT)
    leds = led_commands(rig.commands.items)
    beeps = [c for c in rig.commands.items if c["command"] == 3]
    # granted: green for 3 s, one short beep; denied: red, two beeps
    assert leds[0]["temporary"] and leds[0]["on_color"] == green and leds[0]["timer_count"] == 30
    assert (beeps[0]["rep_count"], beeps[0]["on_count"]) == (1, 1)
    assert leds[2]["temporary"] and leds[2]["on_color"] == red
    assert beeps[1]["rep_count"] == 2
    # waiting for a guard: amber blinking until told otherwise, whatever was showing cancelled
    assert not leds[4]["temporary"] and leds[4]["on_color"] == amber
    assert leds[4]["on_count"] == leds[4]["off_count"] == 5
    assert leds[5]["temporary"] and leds[5]["control_code"] == 1  # cancel the temporary one


def test_garbage_on_the_line_never_stops_the_reader(rig: Rig) -> None:
    noise = random.Random(19).randbytes(4096)
    for i in range(0, len(noise), 256):
        rig.line.inject(noise[i : i + 256])
    # it may take a fresh handshake; never a crash, never a read made of noise
    assert rig.read_card(W26[0]).credential == "card:0005898564"
    assert rig.read_card(W26[1]).credential == "card:0000066092"
    assert all(r.credential for r in rig.reads.items)


def test_garbage_without_a_reader_is_no_answer_and_no_read(tmp_path: Path) -> None:
    rig = Rig(tmp_path, reader="none")
    rig.driver.start()
    try:
        rig.line.inject(random.Random(7).randbytes(2048))
        down = rig.wait_down()
        assert f"address {ADDRESS}" in down.detail
        seen = len(rig.health.items)
        rig.plug_in_reader(rig.key)
        rig.wait_up(after=seen)
        rig.read_card(W26[0])
    finally:
        rig.close()
    assert [r.credential for r in rig.reads.items] == ["card:0005898564"]


def test_install_mode_gives_a_new_reader_its_key_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(tmp_path, reader="new", install_mode=True)
    assert not rig.key_file.exists()
    caplog.set_level(logging.WARNING, logger="drivers.osdp")
    rig.driver.start()
    try:
        rig.wait_up()
        wait_for(lambda: "has its key now" in caplog.text, WAIT, "the hand-over to be logged")
        key = load_scbk(rig.key_file)  # written before it was offered, readable by us alone
        assert stat.S_IMODE(rig.key_file.stat().st_mode) == 0o600
        assert [c for c in rig.commands.items if c["command"] == 5] == [
            {"command": 5, "type": 1, "data": key}
        ]
        rig.driver.close()
        # from now on the reader is an ordinary one: no install mode, the secure channel enforced
        rig.driver = type(rig.driver)(
            "entrance",
            str(rig.line.path),
            address=ADDRESS,
            scbk_file=rig.key_file,
            on_read=rig.reads,
            on_health=rig.health,
        )
        seen = len(rig.health.items)
        rig.driver.start()
        rig.wait_up(after=seen)
        rig.read_card(W26[0])
    finally:
        rig.close()
    assert rig.reads.items[0].credential == "card:0005898564"
    assert key.hex() not in caplog.text and key.hex().upper() not in caplog.text


def test_install_mode_left_on_warns_and_still_needs_the_readers_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(tmp_path)  # the reader already has our key; the file exists
    rig.driver.install_mode = True
    with caplog.at_level(logging.WARNING, logger="drivers.osdp"):
        rig.driver.start()
        try:
            rig.wait_up()
            rig.read_card(W26[0])
        finally:
            rig.close()
    assert any("install_mode is on" in r.getMessage() for r in caplog.records)
    assert rig.key is not None and load_scbk(rig.key_file) == rig.key  # never rewritten
    assert all(rig.key.hex() not in r.getMessage() for r in caplog.records)


def test_a_second_program_on_the_same_adapter_is_refused(rig: Rig) -> None:
    health = Log[ReaderHealth]()
    other = OsdpReader(
        "hw-test",
        str(rig.line.path),
        address=ADDRESS,
        scbk_file=rig.key_file,
        on_read=Log[Read](),
        on_health=health,
    )
    other.start()
    try:
        health.wait_for(1, WAIT)
    finally:
        other.close()
    assert not health.items[0].ok
    assert health.items[0].detail.startswith(f"cannot open {rig.line.path}")
    rig.read_card(W26[0])  # the gate's own driver never noticed
    assert rig.reads.items[0].credential == "card:0005898564"


def test_an_alarms_endless_tone_does_not_outlive_the_driver(rig: Rig) -> None:
    alarm = feedback_commands(Feedback.ALARM, led=True, buzzer=True)
    rig.driver.show(Feedback.ALARM)
    rig.commands.wait_for(len(alarm), WAIT)
    rig.driver.close()
    rig.commands.wait_for(len(alarm) + 1, WAIT)
    assert rig.commands.items == [*alarm, silence_command()]
    assert alarm[1]["rep_count"] == 0  # the alarm's tone: until the next buzzer command
