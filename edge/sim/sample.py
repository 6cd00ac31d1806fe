"""A made-up kindergarten: rosters for the demo, the tests and the benchmarks.

Deterministic for a given seed, so the demo prints the same afternoon every time.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path

SURNAMES = [
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Ma",
    "Zhu",
    "Hu",
    "Guo",
    "He",
    "Lin",
    "Gao",
    "Luo",
    "Zheng",
    "Liang",
    "Xie",
    "Song",
    "Tang",
    "Han",
    "Feng",
    "Deng",
    "Cao",
    "Peng",
]
GIVEN = [
    "Xiaoming",
    "Yutong",
    "Haoran",
    "Zimo",
    "Yichen",
    "Xinyi",
    "Ruoxi",
    "Junjie",
    "Zihan",
    "Yuxuan",
    "Mengqi",
    "Jiayi",
    "Tianyu",
    "Anran",
    "Siyu",
    "Chenxi",
    "Muchen",
    "Keyan",
    "Lele",
    "Nuonuo",
    "Duoduo",
    "Tiantian",
    "Yiyi",
    "Guoguo",
    "Xiaoyu",
]
ADULT_GIVEN = [
    "Wei",
    "Fang",
    "Jing",
    "Lei",
    "Min",
    "Jun",
    "Yan",
    "Hua",
    "Qiang",
    "Li",
    "Na",
    "Tao",
    "Bin",
    "Hong",
    "Ping",
    "Gang",
    "Xia",
    "Lan",
]


@dataclass(frozen=True)
class ClassPlan:
    class_id: str
    name: str
    dismiss_from: time
    channel: str = ""


def default_classes(count: int) -> list[ClassPlan]:
    """Classes with dismissal staggered by ten minutes, from 16:00."""
    names = [
        "Sprouts",
        "Seedlings",
        "Sunbeams",
        "Dolphins",
        "Pandas",
        "Rainbows",
        "Comets",
        "Maples",
    ]
    out = []
    for i in range(count):
        start = (16 * 60) + 10 * (i % 8)
        channel = "side" if i == count - 1 and count >= 6 else ""
        out.append(
            ClassPlan(
                f"K{i + 1}",
                f"{names[i % len(names)]} {i // len(names) + 1}".removesuffix(" 1"),
                time(start // 60, start % 60),
                channel,
            )
        )
    return out


def _name(rng: random.Random, given: list[str], taken: set[str]) -> str:
    for _ in range(1000):
        name = f"{rng.choice(SURNAMES)} {rng.choice(given)}"
        if name not in taken:
            taken.add(name)
            return name
    name = f"{rng.choice(SURNAMES)} {rng.choice(given)} {len(taken)}"
    taken.add(name)
    return name


def write_roster(
    folder: Path,
    *,
    classes: int = 6,
    children: int = 100,
    guardians: int = 150,
    staff: int = 12,
    seed: int = 7,
    year: int = 2026,
) -> None:
    """Write the six CSV files of a plausible kindergarten into ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    plans = default_classes(classes)
    cards = iter(rng.sample(range(100_000, 4_000_000_000), children + guardians + staff + 2))

    def hhmm(t: time, plus: int = 0) -> str:
        minutes = t.hour * 60 + t.minute + plus
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    rows = [
        [
            p.class_id,
            p.name,
            "07:30",
            "08:45",
            hhmm(p.dismiss_from),
            hhmm(p.dismiss_from, 30),
            p.channel,
        ]
        for p in plans
    ]
    _write(
        folder / "classes.csv",
        [
            "class_id",
            "name",
            "arrive_from",
            "arrive_until",
            "dismiss_from",
            "dismiss_until",
            "channel",
        ],
        rows,
    )

    taken: set[str] = set()
    kids = [
        (f"C{i + 1:04d}", _name(rng, GIVEN, taken), plans[i % len(plans)].class_id)
        for i in range(children)
    ]
    _write(folder / "children.csv", ["child_id", "name", "class_id"], [list(k) for k in kids])

    # Every child has one guardian; the rest are second guardians, and a few families
    # have siblings in two classes (one guardian, two children).
    links: list[list[str]] = [[k[0]] for k in kids[: min(children, guardians)]]
    siblings = max(1, children // 20)
    while len(links) < guardians:
        a, b = rng.sample(range(children), 2)
        if siblings and kids[a][2] != kids[b][2]:
            links.append([kids[a][0], kids[b][0]])
            siblings -= 1
        else:
            links.append([kids[a][0]])
    g_rows = []
    for i, kid_ids in enumerate(links):
        phone = f"1{rng.randint(30, 89)}{rng.randint(10_000_000, 99_999_999)}"
        valid = f"{year}-09-30" if i == len(links) - 1 else ""
        g_rows.append(
            [
                f"G{i + 1:04d}",
                _name(rng, ADULT_GIVEN, taken),
                phone,
                f"{next(cards):010d}",
                ";".join(kid_ids),
                valid,
            ]
        )
    _write(
        folder / "guardians.csv",
        ["guardian_id", "name", "phone", "card", "children", "valid_until"],
        g_rows,
    )

    roles = ["guard", "guard", "guard", "teacher", "teacher", "director", "nurse", "cook"]
    s_rows = [
        [
            f"S{i + 1:03d}",
            _name(rng, ADULT_GIVEN, taken),
            roles[i % len(roles)],
            f"{next(cards):010d}",
        ]
        for i in range(staff)
    ]
    _write(folder / "staff.csv", ["staff_id", "name", "role", "card"], s_rows)

    blocked_child = kids[3][0]
    _write(
        folder / "blocked.csv",
        ["name", "card", "children", "reason"],
        [
            [_name(rng, ADULT_GIVEN, taken), f"{next(cards):010d}", blocked_child, "court order"],
            [_name(rng, ADULT_GIVEN, taken), "", "*", "trespass notice"],
        ],
    )
    national_day = date(year, 10, 1)
    _write(
        folder / "calendar.csv",
        ["date", "kind", "shift_minutes"],
        [[(national_day + timedelta(days=i)).isoformat(), "holiday", ""] for i in range(3)]
        + [
            [f"{year}-11-27", "early_dismissal", "-90"],
            [f"{year}-11-28", "school_day", ""],
            [f"{year}-12-25", "holiday", ""],
        ],
    )


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
