"""The daily device check and the repair log, both kept as events.

The school's rule: the security devices are checked every day and the check is recorded;
a problem is reported the moment someone sees it. A check is one ``check`` event carrying
each step's result and who did it; a repair entry is a row (so it can be closed) and a
``repair`` event when it is opened and another when it is closed. A photo of the problem
is kept next to the store, readable by the service only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from edge.console.forms import Fields
from edge.events import DOOR_PASSAGE, Event, EventType, Reason
from edge.host import GateHost
from edge.store.repairs import Repair

log = logging.getLogger(__name__)

RESULTS = ("pass", "fail", "not_present")
MAX_NOTE = 300
MAX_PHOTO_BYTES = 5 * 1024 * 1024
PHOTO_TYPES = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}
EVIDENCE_MINUTES = 15


@dataclass(frozen=True, slots=True)
class Step:
    key: str  # form field and event key: "relay", "reader:entrance", ...
    label: str  # i18n key
    values: tuple[tuple[str, str], ...] = ()  # for the label's placeholders


def check_steps(host: GateHost) -> list[Step]:
    readers = [
        Step(f"reader:{r.name}", "step_reader", (("name", r.name),)) for r in host.cfg.reader
    ]
    return [
        Step("relay", "step_relay"),
        Step("door", "step_door"),
        Step("exit_button", "step_exit_button"),
        *readers,
        Step("camera", "step_camera"),
        Step("fire_alarm", "step_fire_alarm"),
    ]


def parse_check(data: Mapping[str, Any], steps: list[Step]) -> dict[str, dict[str, str]]:
    """Each step's result and note; every step needs a result, a failed one a note."""
    f = Fields(data)
    out: dict[str, dict[str, str]] = {}
    for step in steps:
        result = f.raw(f"result.{step.key}")
        note = f.text(f"note.{step.key}", MAX_NOTE, required=False)
        if result not in RESULTS:
            f.problems[f"result.{step.key}"] = ("check_missing", {})
        elif result == "fail" and not note:
            f.problems[f"note.{step.key}"] = ("check_fail_note", {})
        out[step.key] = {"result": result, "note": note} if note else {"result": result}
    f.check()
    return out


class DeviceChecks:
    def __init__(self, host: GateHost) -> None:
        self.host = host
        found = host.store.newest(1, type=EventType.CHECK)
        self._last: Event | None = found[0] if found else None
        host.listeners.append(self.on_events)
        host.status_parts["device_check"] = self.status

    def on_events(self, events: list[Event]) -> None:
        for event in events:
            if event.type is EventType.CHECK:
                self._last = event

    def record(self, results: dict[str, dict[str, str]], *, by: str) -> list[Event]:
        failed = [key for key, step in results.items() if step["result"] == "fail"]
        draft = self.host.gate.draft(
            EventType.CHECK,
            Reason.DEVICE_CHECK,
            by=by,
            detail={"steps": results, "ok": not failed, "failed": failed},
        )
        return self.host.record([draft])

    @property
    def last(self) -> Event | None:
        return self._last

    def done_today(self) -> bool:
        if self._last is None:
            return False
        tz = self.host.cfg.site.tz
        return self._last.local_day(tz) == self.host.clock.now().astimezone(tz).date()

    def status(self) -> dict[str, Any]:
        last = self._last
        return {
            "done_today": self.done_today(),
            "last": last.ts.isoformat(timespec="milliseconds") if last else None,
            "ok": last.detail.get("ok") if last else None,
        }

    def evidence(self) -> dict[str, datetime]:
        """When the gate last saw each device work, in the last few minutes (step -> time).

        The guard presses the exit button or opens the door while checking; seeing it
        here confirms the input reached the gate, not just that the guard saw it move.
        """
        since = self.host.clock.now() - timedelta(minutes=EVIDENCE_MINUTES)
        seen: dict[str, datetime] = {}
        for event in self.host.store.newest(300):
            if event.ts < since:
                break
            for key in _steps_shown_by(event):
                seen.setdefault(key, event.ts)
        return seen


def _steps_shown_by(event: Event) -> list[str]:
    keys = []
    if event.type is EventType.DOOR and event.reason in DOOR_PASSAGE:
        keys.append("door")
    if event.reason is Reason.EXIT_REQUEST:
        keys.append("exit_button")
    if event.type is EventType.ACCESS and event.reader:
        keys.append(f"reader:{event.reader}")
    if event.type is EventType.OVERRIDE or (event.type is EventType.ACCESS and event.granted):
        keys.append("relay")
    return keys


# --- repair log (the rows: edge.store.repairs) -------------------------------------------


@dataclass(frozen=True, slots=True)
class RepairForm:
    device: str
    problem: str
    photo: bytes | None
    photo_type: str | None


def parse_repair(data: Mapping[str, Any], photo: bytes | None) -> RepairForm:
    f = Fields(data)
    device = f.text("device", 64)
    problem = f.text("problem", 500)
    kind = None
    if photo:
        if len(photo) > MAX_PHOTO_BYTES:
            f.problems["photo"] = ("bad_photo_size", {})
        kind = next((ext for magic, ext in PHOTO_TYPES.items() if photo.startswith(magic)), None)
        if kind is None and "photo" not in f.problems:
            f.problems["photo"] = ("bad_photo_type", {})
    f.check()
    return RepairForm(device, problem, photo or None, kind)


def parse_fix(data: Mapping[str, Any]) -> str:
    f = Fields(data)
    fix = f.text("fix", 500)
    f.check()
    return fix


class RepairLog:
    def __init__(self, host: GateHost) -> None:
        self.host = host
        self.table = host.store.repairs
        self.photos = Path(host.cfg.store.path).parent / "repairs"

    def all(self) -> list[Repair]:
        return self.table.all()

    def get(self, repair_id: int) -> Repair | None:
        return next((r for r in self.all() if r.id == repair_id), None)

    def open(self, form: RepairForm, *, by: str) -> tuple[int, list[Event]]:
        now = self.host.clock.now().isoformat(timespec="seconds")
        written: Path | None = None
        try:
            # One transaction: the entry, its photo's name and its event, or none of them.
            with self.host.store.transaction():
                repair_id = self.table.open(form.device, form.problem, at=now, by=by)
                if form.photo is not None and form.photo_type is not None:
                    written = self._save_photo(repair_id, form.photo, form.photo_type)
                    self.table.set_photo(repair_id, written.name)
                events = self._event(
                    Reason.REPAIR_OPENED,
                    by,
                    {
                        "repair_id": repair_id,
                        "device": form.device,
                        "problem": form.problem,
                        "photo": written is not None,
                    },
                )
        except BaseException:
            if written is not None:
                written.unlink(missing_ok=True)
            raise
        return repair_id, events

    def close(self, repair_id: int, fix: str, *, by: str) -> list[Event] | None:
        """Close an open entry; None when there is no open entry with that id."""
        now = self.host.clock.now().isoformat(timespec="seconds")
        with self.host.store.transaction():
            device = self.table.close(repair_id, fix, at=now, by=by)
            if device is None:
                return None
            return self._event(
                Reason.REPAIR_CLOSED, by, {"repair_id": repair_id, "device": device, "fix": fix}
            )

    def _event(self, reason: Reason, by: str, detail: dict[str, Any]) -> list[Event]:
        return self.host.record(
            [self.host.gate.draft(EventType.REPAIR, reason, by=by, detail=detail)]
        )

    def _save_photo(self, repair_id: int, data: bytes, ext: str) -> Path:
        self.photos.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.photos / f"repair-{repair_id}.{ext}"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        return path

    def photo_path(self, repair: Repair) -> Path | None:
        if not repair.photo:
            return None
        path = self.photos / Path(repair.photo).name
        return path if path.is_file() else None
