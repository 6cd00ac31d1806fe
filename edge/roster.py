"""The roster: classes, children, guardians, staff, blocked people and the calendar.

Loaded from six CSV files all or nothing. Every bad row is reported as
``file.csv:LINE: message``; a roster with any error is never used.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

from drivers.base import BadRead, card_credential

LOW24 = 0xFFFFFF


class RosterError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class DayKind(enum.StrEnum):
    HOLIDAY = "holiday"
    SCHOOL_DAY = "school_day"
    EARLY_DISMISSAL = "early_dismissal"


@dataclass(frozen=True, slots=True)
class ClassWindow:
    class_id: str
    name: str
    arrive_from: time
    arrive_until: time
    dismiss_from: time
    dismiss_until: time
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class Child:
    child_id: str
    name: str
    class_id: str
    card: str | None = None


@dataclass(frozen=True, slots=True)
class Guardian:
    guardian_id: str
    name: str
    phone: str
    card: str
    children: tuple[str, ...]
    valid_until: date | None = None


@dataclass(frozen=True, slots=True)
class Staff:
    staff_id: str
    name: str
    role: str
    card: str


@dataclass(frozen=True, slots=True)
class Blocked:
    name: str
    card: str | None
    children: tuple[str, ...]  # empty tuple with all_children=True means "*"
    reason: str
    all_children: bool = False
    # Optional: the keyed hash of the person's ID number (`kindergate roster id-hash`),
    # so a visitor registering under another name is still recognised.
    id_hash: str | None = None


@dataclass(frozen=True, slots=True)
class CalendarDay:
    day: date
    kind: DayKind
    shift_minutes: int = 0


@dataclass(frozen=True)
class Roster:
    classes: dict[str, ClassWindow]
    children: dict[str, Child]
    guardians: dict[str, Guardian]
    staff: dict[str, Staff]
    blocked: tuple[Blocked, ...]
    calendar: dict[date, CalendarDay]
    warnings: tuple[str, ...] = ()
    content_hash: str = ""
    version: int = 0
    _by_card: dict[str, Guardian | Staff | Child] = field(default_factory=dict, repr=False)
    _blocked_by_card: dict[str, list[Blocked]] = field(default_factory=dict, repr=False)
    _low24: dict[int, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        people: list[Guardian | Staff | Child] = [
            *self.guardians.values(),
            *self.staff.values(),
            *self.children.values(),
        ]
        for person in people:
            if person.card:
                self._by_card[person.card] = person
        for entry in self.blocked:
            if entry.card:
                self._blocked_by_card.setdefault(entry.card, []).append(entry)
        for card in {*self._by_card, *self._blocked_by_card}:
            self._low24.setdefault(_card_number(card) & LOW24, []).append(card)

    def resolve(self, credential: str, *, low24: bool = False) -> str | None:
        """The roster credential a read means; a 26-bit read matches on its low 24 bits."""
        if not low24 or not credential.startswith("card:"):
            return credential
        if credential in self._by_card or credential in self._blocked_by_card:
            return credential
        matches = self._low24.get(_card_number(credential) & LOW24, [])
        return matches[0] if len(matches) == 1 else None

    def person_by_card(self, credential: str) -> Guardian | Staff | Child | None:
        return self._by_card.get(credential)

    def blocked_by_card(self, credential: str) -> list[Blocked]:
        return self._blocked_by_card.get(credential, [])

    def children_of_class(self, class_id: str) -> list[Child]:
        return [c for c in self.children.values() if c.class_id == class_id]

    def blocked_children(self, entry: Blocked) -> tuple[str, ...]:
        return tuple(self.children) if entry.all_children else entry.children

    def to_json(self) -> dict[str, Any]:
        """A plain form, for storing a roster version and for roster bundles."""
        return {
            "classes": [_plain(c) for c in self.classes.values()],
            "children": [_plain(c) for c in self.children.values()],
            "guardians": [_plain(g) for g in self.guardians.values()],
            "staff": [_plain(s) for s in self.staff.values()],
            "blocked": [_plain(b) for b in self.blocked],
            "calendar": [_plain(d) for d in self.calendar.values()],
        }


def _card_number(credential: str) -> int:
    return int(credential.removeprefix("card:"))


def _plain(obj: Any) -> dict[str, Any]:
    out = asdict(obj)
    for key, value in out.items():
        if isinstance(value, date | time):
            out[key] = value.isoformat()
        elif isinstance(value, tuple):
            out[key] = list(value)
        elif isinstance(value, enum.Enum):
            out[key] = value.value
    return out


def roster_from_json(data: dict[str, Any], *, version: int = 0) -> Roster:
    def t(v: str) -> time:
        return time.fromisoformat(v)

    classes = {
        c["class_id"]: ClassWindow(
            c["class_id"],
            c["name"],
            t(c["arrive_from"]),
            t(c["arrive_until"]),
            t(c["dismiss_from"]),
            t(c["dismiss_until"]),
            c.get("channel"),
        )
        for c in data["classes"]
    }
    children = {c["child_id"]: Child(**c) for c in data["children"]}
    guardians = {
        g["guardian_id"]: Guardian(
            g["guardian_id"],
            g["name"],
            g["phone"],
            g["card"],
            tuple(g["children"]),
            date.fromisoformat(g["valid_until"]) if g.get("valid_until") else None,
        )
        for g in data["guardians"]
    }
    staff = {s["staff_id"]: Staff(**s) for s in data["staff"]}
    blocked = tuple(
        Blocked(
            b["name"],
            b["card"],
            tuple(b["children"]),
            b["reason"],
            b["all_children"],
            b.get("id_hash"),
        )
        for b in data["blocked"]
    )
    calendar = {
        date.fromisoformat(d["day"]): CalendarDay(
            date.fromisoformat(d["day"]), DayKind(d["kind"]), d["shift_minutes"]
        )
        for d in data["calendar"]
    }
    return Roster(
        classes,
        children,
        guardians,
        staff,
        blocked,
        calendar,
        content_hash=content_hash(data),
        version=version,
    )


def content_hash(data: dict[str, Any]) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


# --- loading CSV files ---------------------------------------------------------------

FILES: dict[str, tuple[tuple[str, ...], bool]] = {
    # file: (required columns, required file)
    "classes.csv": (
        ("class_id", "name", "arrive_from", "arrive_until", "dismiss_from", "dismiss_until"),
        True,
    ),
    "children.csv": (("child_id", "name", "class_id"), True),
    "guardians.csv": (("guardian_id", "name", "phone", "card", "children"), True),
    "staff.csv": (("staff_id", "name", "role", "card"), False),
    "blocked.csv": (("name", "card", "children", "reason"), False),
    "calendar.csv": (("date", "kind"), False),
}

MAX_SHIFT = 12 * 60


class _Collector:
    """Gathers problems while the rows are read, so all of them are reported at once."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.lines: dict[str, str] = {}  # "guardian g1" -> "guardians.csv:7"
        self.unreadable: set[str] = set()  # files that could not be read at all

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


def read_rows(folder: Path, name: str, errors: _Collector) -> Iterator[tuple[str, dict[str, str]]]:
    """Rows of one CSV as (``file.csv:LINE``, row); a bad file is reported, not raised."""
    columns, required = FILES[name]
    path = folder / name
    if not path.is_file():
        if required:
            errors.unreadable.add(name)
            errors.add(name, "missing file")
        return
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        errors.unreadable.add(name)
        errors.add(
            name, f"not UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start}); save it as UTF-8"
        )
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in columns if c not in header]
    if missing:
        errors.unreadable.add(name)
        errors.add(f"{name}:1", f"missing column {', '.join(missing)}")
        return
    for row in reader:
        where = f"{name}:{reader.line_num}"
        if None in row:
            errors.add(where, "more fields than the header has")
            continue
        values = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(values.values()):
            continue  # blank line
        yield where, values


def parse_time(value: str) -> time:
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError(f"not a time HH:MM: {value!r}")
    hour, minute = int(parts[0]), int(parts[1])
    if hour > 23 or minute > 59:
        raise ValueError(f"not a time HH:MM: {value!r}")
    return time(hour, minute)


def parse_card(value: str) -> str:
    try:
        number = value.removeprefix("card:")
        if not (number.isascii() and number.isdigit()) or len(number) > 10:
            raise BadRead("bad card")
        return card_credential(int(number))
    except BadRead:
        raise ValueError(f"not a card number (decimal, up to 4294967295): {value!r}") from None


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date YYYY-MM-DD: {value!r}") from None
