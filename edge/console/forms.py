"""Checking what a person typed: every problem is collected, none is raised half-way.

A problem is an i18n key with its values, so the console shows it in the guard's language
and the CLI in English. A form with any problem changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Problem = tuple[str, dict[str, Any]]


class FormError(ValueError):
    """A form with problems, field by field."""

    def __init__(self, problems: dict[str, Problem]) -> None:
        super().__init__("; ".join(f"{k}: {v[0]}" for k, v in problems.items()))
        self.problems = problems

    def messages(self, words: Callable[..., str]) -> dict[str, str]:
        """Each field's problem in the reader's language."""
        return {field: words(key, **values) for field, (key, values) in self.problems.items()}

    def english(self) -> list[str]:
        from edge.console.i18n import Words

        return [f"{field}: {text}" for field, text in self.messages(Words("en")).items()]


class Fields:
    """Reads fields from a submitted form, noting each problem under the field's name."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.problems: dict[str, Problem] = {}

    def raw(self, key: str) -> str:
        value = self.data.get(key)
        return value.strip() if isinstance(value, str) else ""

    def text(self, key: str, limit: int, *, required: bool = True) -> str:
        value = re.sub(r"\s+", " ", self.raw(key))
        if required and not value:
            self.problems[key] = ("required", {})
        elif len(value) > limit:
            self.problems[key] = ("too_long", {"n": limit})
        elif value and not value.isprintable():
            self.problems[key] = ("required", {})
        return value

    def number(self, key: str, lo: int, hi: int, default: int | None = None) -> int:
        value = self.raw(key)
        if not value and default is not None:
            return default
        if not (value.isascii() and value.isdigit()) or not lo <= int(value) <= hi:
            self.problems[key] = ("bad_minutes", {"lo": lo, "hi": hi})
            return lo
        return int(value)

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self.raw(key)
        if value not in options:
            self.problems[key] = ("required", {})
        return value

    def check(self) -> None:
        if self.problems:
            raise FormError(dict(self.problems))


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
_OTHER_ID = re.compile(r"^[A-Z0-9]{6,20}$")


def clean_id_number(value: str) -> str | None:
    """An ID number in one spelling, or None when it cannot be one.

    An 18-character resident ID must have a valid check digit (a typo is caught at the
    desk, not discovered later); passports and permits are 6-20 letters and digits.
    """
    clean = re.sub(r"[\s-]+", "", value).upper()
    if _RESIDENT_ID.match(clean):
        total = sum(int(d) * w for d, w in zip(clean[:17], _ID_WEIGHTS, strict=True))
        return clean if _ID_CHECK[total % 11] == clean[17] else None
    if len(clean) == 18 and clean[:17].isdigit():
        return None
    return clean if _OTHER_ID.match(clean) else None


def clean_phone(value: str) -> str | None:
    """A phone number as digits (a leading + kept), or None when it cannot be one."""
    clean = re.sub(r"[\s()-]+", "", value)
    digits = clean.removeprefix("+")
    if not (digits.isascii() and digits.isdigit()) or not 7 <= len(digits) <= 15:
        return None
    return clean
