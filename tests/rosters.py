"""Small hand-made rosters for rule and gate tests, written as real CSV files."""

from __future__ import annotations

from pathlib import Path

from edge.roster import Roster
from edge.roster_load import load_roster

CLASSES = """class_id,name,arrive_from,arrive_until,dismiss_from,dismiss_until,channel
K1,Sprouts,07:30,08:30,16:00,16:30,
K2,Pandas,07:45,08:45,16:20,16:50,
K3,Comets,07:30,08:30,16:10,16:40,side
KN,Night,20:00,23:00,23:30,23:59,
"""
CHILDREN = """child_id,name,class_id,card
C1,Amy,K1,
C2,Ben,K2,
C3,Cai,K3,
C4,Dan,K1,0000001004
C5,Eve,KN,
"""
GUARDIANS = """guardian_id,name,phone,card,children,valid_until
G1,Anna,13800000001,0000000101,C1,
G2,Bo,13800000002,0000000102,C1;C2,
G3,Cho,13800000003,0000000103,C3,
G4,Dee,13800000004,0000000104,C1,2026-11-20
G5,Eli,13800000005,0000000105,C2,
G6,Fay,13800000006,0000000106,C5,
"""
STAFF = """staff_id,name,role,card
S1,Sam,teacher,0000000201
"""
BLOCKED = """name,card,children,reason
Max,0000000105,C2,court order
Rex,0000000301,*,trespass
"""
CALENDAR = """date,kind,shift_minutes
2026-11-25,holiday,
2026-11-26,early_dismissal,-60
2026-11-28,school_day,
2026-11-27,school_day,30
"""
FILES = {
    "classes.csv": CLASSES,
    "children.csv": CHILDREN,
    "guardians.csv": GUARDIANS,
    "staff.csv": STAFF,
    "blocked.csv": BLOCKED,
    "calendar.csv": CALENDAR,
}


def write_small_roster(folder: Path, **overrides: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**FILES, **overrides}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def small_roster(folder: Path) -> Roster:
    return load_roster(write_small_roster(folder))
