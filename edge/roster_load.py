"""Reading and checking the six roster CSV files, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from edge.roster import (
    LOW24,
    MAX_SHIFT,
    Blocked,
    CalendarDay,
    Child,
    ClassWindow,
    DayKind,
    Guardian,
    Roster,
    RosterError,
    Staff,
    _Collector,
    content_hash,
    parse_card,
    parse_date,
    parse_time,
    read_rows,
    roster_from_json,
)

T = TypeVar("T")


def _field(
    errors: _Collector, where: str, row: dict[str, str], key: str, parse: Callable[[str], T]
) -> T | None:
    try:
        return parse(row[key])
    except ValueError as err:
        errors.add(where, f"{key}: {err}")
        return None


def _required(errors: _Collector, where: str, row: dict[str, str], *keys: str) -> bool:
    empty = [k for k in keys if not row.get(k)]
    for key in empty:
        errors.add(where, f"{key}: must not be empty")
    return not empty


def _classes(folder: Path, errors: _Collector) -> dict[str, ClassWindow]:
    out: dict[str, ClassWindow] = {}
    for where, row in read_rows(folder, "classes.csv", errors):
        if not _required(errors, where, row, "class_id", "name"):
            continue
        times = [
            _field(errors, where, row, k, parse_time)
            for k in ("arrive_from", "arrive_until", "dismiss_from", "dismiss_until")
        ]
        if row["class_id"] in out:
            errors.add(where, f"duplicate class_id {row['class_id']!r}")
            continue
        a_from, a_until, d_from, d_until = times
        if a_from is None or a_until is None or d_from is None or d_until is None:
            continue
        if a_until < a_from:
            errors.add(where, "arrive_until is before arrive_from")
            continue
        if d_until < d_from:
            errors.add(where, "dismiss_until is before dismiss_from")
            continue
        if d_from < a_until:
            errors.add(where, "dismiss_from is before arrive_until")
            continue
        out[row["class_id"]] = ClassWindow(
            row["class_id"],
            row["name"],
            a_from,
            a_until,
            d_from,
            d_until,
            row.get("channel") or None,
        )
    return out


def _children(
    folder: Path, errors: _Collector, classes: dict[str, ClassWindow]
) -> dict[str, Child]:
    out: dict[str, Child] = {}
    for where, row in read_rows(folder, "children.csv", errors):
        if not _required(errors, where, row, "child_id", "name", "class_id"):
            continue
        card = _field(errors, where, row, "card", parse_card) if row.get("card") else None
        if row["child_id"] in out:
            errors.add(where, f"duplicate child_id {row['child_id']!r}")
        elif row["class_id"] not in classes and "classes.csv" not in errors.unreadable:
            errors.add(where, f"unknown class {row['class_id']!r}")
        else:
            errors.lines[f"child {row['child_id']}"] = where
            out[row["child_id"]] = Child(row["child_id"], row["name"], row["class_id"], card)
    return out


def _child_list(
    errors: _Collector, where: str, value: str, children: dict[str, Child]
) -> tuple[str, ...] | None:
    ids = tuple(dict.fromkeys(c.strip() for c in value.split(";") if c.strip()))
    if "children.csv" in errors.unreadable:
        return ids  # the children file itself is reported; do not bury that under echoes
    unknown = [c for c in ids if c not in children]
    if unknown:
        errors.add(where, f"unknown child {', '.join(map(repr, unknown))}")
        return None
    return ids


def _guardians(folder: Path, errors: _Collector, children: dict[str, Child]) -> dict[str, Guardian]:
    out: dict[str, Guardian] = {}
    for where, row in read_rows(folder, "guardians.csv", errors):
        if not _required(errors, where, row, "guardian_id", "name", "card", "children"):
            continue
        card = _field(errors, where, row, "card", parse_card)
        kids = _child_list(errors, where, row["children"], children)
        until = (
            _field(errors, where, row, "valid_until", parse_date)
            if row.get("valid_until")
            else None
        )
        if row["guardian_id"] in out:
            errors.add(where, f"duplicate guardian_id {row['guardian_id']!r}")
        elif (
            card is not None
            and kids is not None
            and (until is not None or not row.get("valid_until"))
        ):
            if not kids:
                errors.add(where, "children: a guardian needs at least one child")
                continue
            errors.lines[f"guardian {row['guardian_id']}"] = where
            out[row["guardian_id"]] = Guardian(
                row["guardian_id"], row["name"], row["phone"], card, kids, until
            )
    return out


def _staff(folder: Path, errors: _Collector) -> dict[str, Staff]:
    out: dict[str, Staff] = {}
    for where, row in read_rows(folder, "staff.csv", errors):
        if not _required(errors, where, row, "staff_id", "name", "card"):
            continue
        card = _field(errors, where, row, "card", parse_card)
        if row["staff_id"] in out:
            errors.add(where, f"duplicate staff_id {row['staff_id']!r}")
        elif card is not None:
            errors.lines[f"staff {row['staff_id']}"] = where
            out[row["staff_id"]] = Staff(row["staff_id"], row["name"], row["role"], card)
    return out


def _blocked(folder: Path, errors: _Collector, children: dict[str, Child]) -> list[Blocked]:
    out: list[Blocked] = []
    for where, row in read_rows(folder, "blocked.csv", errors):
        if not _required(errors, where, row, "name", "children"):
            continue
        card = _field(errors, where, row, "card", parse_card) if row.get("card") else None
        hashed = _field(errors, where, row, "id_hash", _id_hash) if row.get("id_hash") else None
        if (row.get("card") and card is None) or (row.get("id_hash") and hashed is None):
            continue
        if row["children"] == "*":
            out.append(
                Blocked(row["name"], card, (), row["reason"], all_children=True, id_hash=hashed)
            )
            continue
        kids = _child_list(errors, where, row["children"], children)
        if kids is not None:
            out.append(Blocked(row["name"], card, kids, row["reason"], id_hash=hashed))
    return out


def _id_hash(value: str) -> str:
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value.lower()):
        raise ValueError("not an ID hash (64 hex digits from `kindergate roster id-hash`)")
    return value.lower()


def _shift(value: str) -> int:
    try:
        minutes = int(value or "0")
    except ValueError:
        raise ValueError(f"not a whole number of minutes: {value!r}") from None
    if abs(minutes) > MAX_SHIFT:
        raise ValueError(f"more than {MAX_SHIFT} minutes: {value!r}")
    return minutes


def _calendar(folder: Path, errors: _Collector) -> dict[date, CalendarDay]:
    out: dict[date, CalendarDay] = {}
    kinds = ", ".join(k.value for k in DayKind)
    for where, row in read_rows(folder, "calendar.csv", errors):
        day = _field(errors, where, row, "date", parse_date)
        shift = _field(errors, where, row, "shift_minutes", _shift) if "shift_minutes" in row else 0
        if row["kind"] not in {k.value for k in DayKind}:
            errors.add(where, f"kind: must be one of {kinds}, not {row['kind']!r}")
        elif day is not None and day in out:
            errors.add(where, f"duplicate date {day.isoformat()}")
        elif day is not None and shift is not None:
            out[day] = CalendarDay(day, DayKind(row["kind"]), shift)
    return out


def _cards_unique(roster_parts: list[tuple[str, str, str | None]], errors: _Collector) -> None:
    """The same card on two people is ambiguous at the gate: refuse the roster."""
    seen: dict[str, str] = {}
    for _, who, card in roster_parts:
        if not card:
            continue
        if card in seen:
            first = f"{seen[card]} ({errors.lines.get(seen[card], '?')})"
            errors.add(
                errors.lines.get(who, who),
                f"card {card.removeprefix('card:')} of {who} is also on {first}",
            )
        else:
            seen[card] = who


def _low24_warnings(cards: list[str]) -> list[str]:
    groups: dict[int, list[str]] = {}
    for card in cards:
        groups.setdefault(int(card.removeprefix("card:")) & LOW24, []).append(card)
    return [
        f"cards {', '.join(c.removeprefix('card:') for c in sorted(g))} share their low 24 bits: "
        "a 26-bit Wiegand reader cannot tell them apart and will deny them"
        for g in groups.values()
        if len(g) > 1
    ]


def load_roster(folder: str | Path) -> Roster:
    """Read the roster folder; raise RosterError listing every bad row."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RosterError([f"{folder}: not a directory"])
    errors = _Collector()
    classes = _classes(folder, errors)
    children = _children(folder, errors, classes)
    guardians = _guardians(folder, errors, children)
    staff = _staff(folder, errors)
    blocked = _blocked(folder, errors, children)
    calendar = _calendar(folder, errors)
    holders = [
        *(("children.csv", f"child {c.child_id}", c.card) for c in children.values()),
        *(("guardians.csv", f"guardian {g.guardian_id}", g.card) for g in guardians.values()),
        *(("staff.csv", f"staff {s.staff_id}", s.card) for s in staff.values()),
    ]
    _cards_unique(holders, errors)
    if errors.problems:
        raise RosterError(errors.problems)
    roster = Roster(classes, children, guardians, staff, tuple(blocked), calendar)
    data = roster.to_json()
    cards = [c for _, _, c in holders if c] + sorted(
        {b.card for b in blocked if b.card} - {c for _, _, c in holders}
    )
    final = roster_from_json(data)
    object.__setattr__(final, "warnings", tuple(_low24_warnings(cards)))
    object.__setattr__(final, "content_hash", content_hash(data))
    return final
