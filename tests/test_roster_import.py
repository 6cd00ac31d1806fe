"""`kindergate roster import`: all or nothing, every bad row named by file and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.roster import RosterError
from edge.roster_load import load_roster
from edge.store import Store
from tests.rosters import CHILDREN, CLASSES, GUARDIANS, STAFF, write_small_roster

CONFIG = """
[site]
id = "s"
timezone = "Asia/Shanghai"
[gate]
id = "g"
[store]
path = "gate.db"
[roster]
path = "roster"
"""


def kindergate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    write_small_roster(tmp_path / "roster")
    cfg = tmp_path / "gate.toml"
    cfg.write_text(CONFIG)
    return tmp_path, cfg


def stored_versions(tmp_path: Path) -> list[tuple[int, str]]:
    store = Store(tmp_path / "gate.db", site="s", gate="g")
    try:
        return [
            (r[0], r[1])
            for r in store.db.execute("SELECT version, hash FROM roster ORDER BY version")
        ]
    finally:
        store.close()


def test_import_then_reimport_unchanged_then_changed(setup: tuple[Path, Path]) -> None:
    tmp_path, cfg = setup
    first = kindergate("roster", "import", str(tmp_path / "roster"), "-c", str(cfg))
    assert first.returncode == 0, first.stderr
    assert "imported: version 1" in first.stdout
    again = kindergate("roster", "import", str(tmp_path / "roster"), "-c", str(cfg))
    assert "unchanged: version 1" in again.stdout
    write_small_roster(tmp_path / "roster", **{"staff.csv": STAFF + "S2,Sue,cook,0000000202\n"})
    third = kindergate("roster", "import", str(tmp_path / "roster"), "-c", str(cfg))
    assert "imported: version 2" in third.stdout
    versions = stored_versions(tmp_path)
    assert [v for v, _ in versions] == [1, 2] and versions[0][1] != versions[1][1]


def test_one_bad_row_changes_nothing(setup: tuple[Path, Path]) -> None:
    tmp_path, cfg = setup
    assert kindergate("roster", "import", str(tmp_path / "roster"), "-c", str(cfg)).returncode == 0
    before = stored_versions(tmp_path)
    bad = tmp_path / "bad"
    write_small_roster(bad, **{"children.csv": CHILDREN + "C9,Zed,K9,\n"})
    out = kindergate("roster", "import", str(bad), "-c", str(cfg))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["children.csv:7: unknown class 'K9'"]
    assert stored_versions(tmp_path) == before


BAD_CASES = [
    # (file, text, expected problem lines)
    ("children.csv", CHILDREN + "C1,Again,K1,\n", ["children.csv:7: duplicate child_id 'C1'"]),
    (
        "guardians.csv",
        GUARDIANS + "G7,Gus,1,0000000101,C1,\n",
        [
            "guardians.csv:8: card 0000000101 of guardian G7 is also on guardian G1 (guardians.csv:2)"
        ],
    ),
    (
        "guardians.csv",
        GUARDIANS + "G7,Gus,1,0000000777,C99,\n",
        ["guardians.csv:8: unknown child 'C99'"],
    ),
    (
        "guardians.csv",
        GUARDIANS + "G7,Gus,1,12ab,C1,\n",
        ["guardians.csv:8: card: not a card number (decimal, up to 4294967295): '12ab'"],
    ),
    (
        "guardians.csv",
        GUARDIANS + "G7,Gus,1,99999999999,C1,\n",
        ["guardians.csv:8: card: not a card number (decimal, up to 4294967295): '99999999999'"],
    ),
    (
        "guardians.csv",
        GUARDIANS + "G7,Gus,1,0000000777,C1,2026-02-30\n",
        ["guardians.csv:8: valid_until: not a date YYYY-MM-DD: '2026-02-30'"],
    ),
    (
        "classes.csv",
        CLASSES + "K8,Late,09:00,08:00,16:00,16:30,\n",
        ["classes.csv:6: arrive_until is before arrive_from"],
    ),
    (
        "classes.csv",
        CLASSES + "K8,Bad,7:30,08:00,16:00,16:30,\n",
        ["classes.csv:6: arrive_from: not a time HH:MM: '7:30'"],
    ),
    (
        "classes.csv",
        CLASSES + "K8,Bad,07:30,08:00,25:00,16:30,\n",
        ["classes.csv:6: dismiss_from: not a time HH:MM: '25:00'"],
    ),
    (
        "calendar.csv",
        "date,kind\n2026-12-01,party\n",
        ["calendar.csv:2: kind: must be one of holiday, school_day, early_dismissal, not 'party'"],
    ),
    (
        "calendar.csv",
        "date,kind,shift_minutes\n2026-12-01,early_dismissal,soon\n",
        ["calendar.csv:2: shift_minutes: not a whole number of minutes: 'soon'"],
    ),
    ("staff.csv", "staff_id,name,card\nS1,Sam,0000000201\n", ["staff.csv:1: missing column role"]),
    (
        "staff.csv",
        STAFF + "S2,Sue,cook,0000000101\n",
        ["staff.csv:3: card 0000000101 of staff S2 is also on guardian G1 (guardians.csv:2)"],
    ),
    (
        "blocked.csv",
        "name,card,children,reason\nMax,,C77,x\n",
        ["blocked.csv:2: unknown child 'C77'"],
    ),
    (
        "blocked.csv",
        "name,card,children,reason,id_hash\nMax,,C1,x,12ab\n",
        ["blocked.csv:2: id_hash: not an ID hash (64 hex digits from `kindergate roster id-hash`)"],
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "expected"), BAD_CASES, ids=[c[2][0][:40] for c in BAD_CASES]
)
def test_bad_rows_are_reported_by_file_and_line(
    tmp_path: Path, name: str, text: str, expected: list[str]
) -> None:
    write_small_roster(tmp_path, **{name: text})
    with pytest.raises(RosterError) as err:
        load_roster(tmp_path)
    assert err.value.problems == expected


def test_every_problem_at_once(tmp_path: Path) -> None:
    write_small_roster(
        tmp_path,
        **{
            "children.csv": CHILDREN + "C9,Zed,K9,\nC1,Dup,K1,\n",
            "classes.csv": CLASSES + "K8,Late,09:00,08:00,16:00,16:30,\n",
        },
    )
    with pytest.raises(RosterError) as err:
        load_roster(tmp_path)
    assert err.value.problems == [
        "classes.csv:6: arrive_until is before arrive_from",
        "children.csv:7: unknown class 'K9'",
        "children.csv:8: duplicate child_id 'C1'",
    ]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    write_small_roster(tmp_path)
    path = tmp_path / "children.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CHILDREN.replace("Amy", "王小明").encode())
    roster = load_roster(tmp_path)
    assert roster.children["C1"].name == "王小明"


def test_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    write_small_roster(tmp_path)
    (tmp_path / "children.csv").write_bytes(CHILDREN.replace("Amy", "王小明").encode("gb18030"))
    with pytest.raises(RosterError) as err:
        load_roster(tmp_path)
    (problem,) = err.value.problems
    assert problem.startswith("children.csv: not UTF-8 (byte 0x")
    assert "save it as UTF-8" in problem


def test_missing_required_file(tmp_path: Path) -> None:
    write_small_roster(tmp_path)
    (tmp_path / "guardians.csv").unlink()
    with pytest.raises(RosterError) as err:
        load_roster(tmp_path)
    assert err.value.problems == ["guardians.csv: missing file"]


def test_extra_columns_ignored_and_low24_collisions_warned(tmp_path: Path) -> None:
    extra = (
        GUARDIANS.replace("valid_until", "valid_until,notes")
        .replace("\n", ",x\n")
        .replace("valid_until,notes,x", "valid_until,notes")
    )
    extra += "G7,Gus,1,0016777317,C1,,x\n"  # low 24 bits equal to card 101's
    write_small_roster(tmp_path, **{"guardians.csv": extra})
    roster = load_roster(tmp_path)
    assert "G7" in roster.guardians
    assert len(roster.warnings) == 1 and "0000000101, 0016777317" in roster.warnings[0]
    # and a 26-bit read of either cannot be matched
    assert roster.resolve("card:0000000101", low24=True) == "card:0000000101"
    assert roster.resolve("card:0033554533", low24=True) is None


def test_content_hash_ignores_file_formatting_but_not_content(tmp_path: Path) -> None:
    a = load_roster(write_small_roster(tmp_path / "a"))
    b = load_roster(
        write_small_roster(tmp_path / "b", **{"staff.csv": STAFF.replace("\n", "\r\n")})
    )
    c = load_roster(
        write_small_roster(tmp_path / "c", **{"staff.csv": STAFF.replace("Sam", "Samuel")})
    )
    assert a.content_hash == b.content_hash != c.content_hash


def test_id_hash_command_reads_the_number_from_stdin(setup: tuple[Path, Path]) -> None:
    from edge.guard import id_hash, id_salt

    _, cfg = setup
    out = subprocess.run(
        [sys.executable, "-m", "edge.cli", "roster", "id-hash", "-c", str(cfg)],
        input="110101199003077777\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == id_hash("110101199003077777", id_salt("s", None))
    assert "110101199003077777" not in out.stdout
