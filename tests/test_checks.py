"""The daily device check and the repair log: checked input, events with who, private photos."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from drivers.base import Input, InputChange, Read
from edge.console.checks import (
    MAX_PHOTO_BYTES,
    DeviceChecks,
    RepairLog,
    check_steps,
    parse_check,
    parse_fix,
    parse_repair,
)
from edge.console.forms import FormError
from edge.events import EventType
from tests.console_support import SCHOOL_DAY, SettableClock, events_of, make_config, open_daemon

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


class Bench:
    def __init__(self, folder: Path) -> None:
        self.clock = SettableClock(SCHOOL_DAY)
        self.daemon = open_daemon(make_config(folder), self.clock)
        self.checks = DeviceChecks(self.daemon)
        self.repairs = RepairLog(self.daemon)
        self.steps = check_steps(self.daemon)


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    b = Bench(tmp_path)
    yield b
    b.daemon.store.close()


def answers(bench: Bench, **results: str) -> dict[str, str]:
    out = {f"result.{s.key}": "pass" for s in bench.steps}
    out.update({f"result.{k.replace('__', ':')}": v for k, v in results.items()})
    return out


def test_the_steps_cover_every_device_and_each_reader(bench: Bench) -> None:
    assert [s.key for s in bench.steps] == [
        "relay",
        "door",
        "exit_button",
        "reader:entrance",
        "camera",
        "fire_alarm",
    ]


def test_every_step_needs_a_result_and_a_failure_a_note(bench: Bench) -> None:
    with pytest.raises(FormError) as err:
        parse_check({"result.relay": "pass", "result.door": "maybe"}, bench.steps)
    assert "result.door" in err.value.problems and "result.camera" in err.value.problems
    assert "result.relay" not in err.value.problems
    with pytest.raises(FormError) as err:
        parse_check(answers(bench, camera="fail"), bench.steps)
    assert err.value.problems == {"note.camera": ("check_fail_note", {})}


def test_a_check_is_an_event_with_who_did_it_and_today_is_done(bench: Bench) -> None:
    assert not bench.checks.done_today()
    results = parse_check(
        {**answers(bench, camera="fail", fire_alarm="not_present"), "note.camera": "no image"},
        bench.steps,
    )
    bench.checks.record(results, by="guard1")
    (event,) = events_of(bench.daemon, EventType.CHECK)
    assert (event.reason, event.by) == ("device_check", "guard1")
    assert event.detail["ok"] is False
    assert event.detail["failed"] == ["camera"]
    assert event.detail["steps"]["camera"] == {"result": "fail", "note": "no image"}
    assert event.detail["steps"]["fire_alarm"] == {"result": "not_present"}
    assert bench.checks.done_today()
    status = bench.daemon.status()["device_check"]
    assert status["done_today"] is True and status["ok"] is False
    bench.clock.set(bench.clock.now() + timedelta(days=1))
    assert not bench.checks.done_today()
    assert bench.daemon.status()["device_check"]["done_today"] is False


def test_the_last_check_is_found_after_a_restart(tmp_path: Path) -> None:
    first = Bench(tmp_path)
    first.checks.record(parse_check(answers(first), first.steps), by="guard1")
    first.daemon.store.close()
    again = Bench(tmp_path)
    try:
        assert again.checks.last is not None and again.checks.last.by == "guard1"
    finally:
        again.daemon.store.close()


def test_the_check_page_shows_what_the_gate_saw(bench: Bench) -> None:
    assert bench.checks.evidence() == {}
    guardian = next(iter(bench.daemon.roster.staff.values()))
    bench.daemon.on_read(Read("entrance", guardian.card))
    bench.daemon.on_input(InputChange(Input.DOOR, True))
    bench.daemon.on_input(InputChange(Input.EXIT_BUTTON, True))
    assert set(bench.checks.evidence()) == {"reader:entrance", "relay", "door", "exit_button"}
    bench.clock.set(bench.clock.now() + timedelta(minutes=20))
    assert bench.checks.evidence() == {}


@pytest.mark.parametrize(
    ("photo", "problem"),
    [
        (b"GIF89a" + b"\x00" * 10, "bad_photo_type"),
        (b"<svg onload=alert(1)>", "bad_photo_type"),
        (PNG + b"\x00" * MAX_PHOTO_BYTES, "bad_photo_size"),
    ],
)
def test_a_photo_must_be_a_small_jpeg_or_png(photo: bytes, problem: str) -> None:
    with pytest.raises(FormError) as err:
        parse_repair({"device": "lock", "problem": "stuck"}, photo)
    assert err.value.problems == {"photo": (problem, {})}


def test_a_repair_is_opened_with_a_private_photo_and_closed(bench: Bench) -> None:
    form = parse_repair({"device": "Reader entrance", "problem": "no beep"}, JPEG)
    repair_id, events = bench.repairs.open(form, by="guard1")
    assert (events[0].type, events[0].reason, events[0].by) == (
        "repair",
        "repair_opened",
        "guard1",
    )
    assert events[0].detail == {
        "repair_id": repair_id,
        "device": "Reader entrance",
        "problem": "no beep",
        "photo": True,
    }
    repair = bench.repairs.get(repair_id)
    assert repair is not None and repair.is_open
    photo = bench.repairs.photo_path(repair)
    assert photo is not None and photo.read_bytes() == JPEG and photo.suffix == ".jpg"
    assert stat.S_IMODE(photo.stat().st_mode) == 0o600
    assert stat.S_IMODE(photo.parent.stat().st_mode) == 0o700
    closed = bench.repairs.close(repair_id, parse_fix({"fix": "new cable"}), by="guard2")
    assert closed is not None and closed[0].reason == "repair_closed"
    assert closed[0].detail == {
        "repair_id": repair_id,
        "device": "Reader entrance",
        "fix": "new cable",
    }
    assert bench.repairs.close(repair_id, "again", by="guard2") is None
    assert len(events_of(bench.daemon, EventType.REPAIR)) == 2


def test_a_repair_without_a_photo_and_bad_fields(bench: Bench) -> None:
    with pytest.raises(FormError) as err:
        parse_repair({"device": "", "problem": "x" * 501}, None)
    assert sorted(err.value.problems) == ["device", "problem"]
    repair_id, _ = bench.repairs.open(
        parse_repair({"device": "lock", "problem": "loose"}, None), by="g"
    )
    repair = bench.repairs.get(repair_id)
    assert repair is not None and repair.photo is None and bench.repairs.photo_path(repair) is None
