"""The shape of the code: import direction, and the venv importing this repository."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import drivers
import edge
import mqtt
import office

REPO = Path(__file__).resolve().parent.parent
# Only the wiring may reach from edge/ into mqtt/.
WIRING = {"edge/extras.py"}
WIRING_DIRS = {"edge/cli"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def sources(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("package", [edge, drivers, mqtt, office])
def test_packages_come_from_this_repository(package: object) -> None:
    path = Path(package.__file__).resolve()  # type: ignore[attr-defined]
    assert path.is_relative_to(REPO), f"{package} imported from {path}, not from the repository"


@pytest.mark.parametrize("path", sources("drivers"), ids=lambda p: str(p.relative_to(REPO)))
def test_drivers_import_neither_edge_nor_mqtt(path: Path) -> None:
    assert not imported_packages(path) & {"edge", "mqtt", "office"}


@pytest.mark.parametrize("path", sources("edge"), ids=lambda p: str(p.relative_to(REPO)))
def test_edge_core_does_not_import_mqtt(path: Path) -> None:
    rel = path.relative_to(REPO)
    if str(rel) in WIRING or any(str(rel).startswith(d + "/") for d in WIRING_DIRS):
        return
    assert not imported_packages(path) & {"mqtt", "office"}, (
        f"{rel} imports mqtt/ or office/: only the wiring may"
    )


def test_the_checks_above_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from edge.gate import Gate\nimport mqtt.publisher\n")
    assert imported_packages(bad) == {"edge", "mqtt"}


def test_modules_stay_small() -> None:
    big = [
        (str(p.relative_to(REPO)), n)
        for pkg in ("edge", "drivers", "mqtt", "office")
        for p in sources(pkg)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    ]
    assert not big, f"modules over 500 lines: {big}"
