"""Every reason code in the enum is one the gate can emit; none is only a promise."""

from __future__ import annotations

import re
from pathlib import Path

from edge.console.i18n import REASONS
from edge.events import Reason

REPO = Path(__file__).resolve().parent.parent
# Where events are made: the gate (edge/) and its link (mqtt/). The office only reads them.
EMITTERS = ("edge", "mqtt")
USE = re.compile(r"\bReason\.([A-Z_0-9]+)\b")


def reasons_used(root: Path = REPO) -> set[str]:
    used: set[str] = set()
    for package in EMITTERS:
        for path in (root / package).rglob("*.py"):
            if path == root / "edge" / "events.py":
                continue  # the definitions and the groups
            used |= set(USE.findall(path.read_text(encoding="utf-8")))
    return used


def test_every_reason_is_used_where_events_are_made() -> None:
    assert sorted(r.name for r in Reason if r.name not in reasons_used()) == []


def test_the_check_sees_a_reason_nothing_uses(tmp_path: Path) -> None:
    (tmp_path / "edge").mkdir()
    (tmp_path / "mqtt").mkdir()
    (tmp_path / "edge" / "gate.py").write_text("x = Reason.PICKUP\ny = Reason.OPENED\n")
    assert reasons_used(tmp_path) == {"PICKUP", "OPENED"}


def test_the_console_has_words_for_no_reason_that_is_gone() -> None:
    assert sorted(set(REASONS) - {r.value for r in Reason}) == []
