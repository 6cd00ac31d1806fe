"""The store owns its SQL: outside ``edge/store/`` no product code opens the gate's database
or runs a statement on it. (``office/`` has a database of its own.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PRODUCT = ("edge", "drivers", "mqtt")
STORE = REPO / "edge" / "store"
SQL_METHODS = {"execute", "executemany", "executescript"}


def sql_calls(source: str, filename: str = "<test>") -> list[str]:
    """Each ``.execute(...)``-like call and ``sqlite3.connect(...)`` in the code, by line."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, owner = node.func.attr, node.func.value
        connects = name == "connect" and isinstance(owner, ast.Name) and owner.id == "sqlite3"
        if name in SQL_METHODS or connects:
            found.append(f"line {node.lineno}: .{name}(")
    return found


def product_modules() -> list[Path]:
    return sorted(
        p for pkg in PRODUCT for p in (REPO / pkg).rglob("*.py") if not p.is_relative_to(STORE)
    )


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_sql_outside_the_store(path: Path) -> None:
    calls = sql_calls(path.read_text(encoding="utf-8"), str(path))
    assert not calls, (
        f"{path.relative_to(REPO)} speaks SQL itself; give edge/store/ a method: {calls}"
    )


def test_the_check_above_can_fail() -> None:
    code = (
        "import sqlite3\n"
        "db = sqlite3.connect('gate.db')\n"
        "store.db.execute('DELETE FROM outbox')\n"
        "db.executemany('INSERT INTO t VALUES (?)', rows)\n"
        "# db.execute('in a comment') is not code\n"
        "text = 'db.execute(x)'\n"
    )
    assert sql_calls(code) == ["line 2: .connect(", "line 3: .execute(", "line 4: .executemany("]


def test_the_store_package_is_where_the_sql_is() -> None:
    inside = [p for p in STORE.glob("*.py") if sql_calls(p.read_text(encoding="utf-8"))]
    assert len(inside) >= 10  # the check looks where the SQL really is
