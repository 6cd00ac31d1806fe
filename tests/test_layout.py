"""The shape of the code: no import cycle, small modules, the import direction, CLI names.

Every import counts, wherever it is written: at the top, inside a function, under
``TYPE_CHECKING``. A package's ``__init__`` importing its own children (to re-export
them) is not a cycle. These are the rules of ``shared/tools/layout.py``, checked here
on every test run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

import drivers
import edge
import mqtt
import office
from edge.cli import COMMANDS, module_of

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("edge", "drivers", "mqtt", "office")
MAX_LINES = 400
# Only the wiring may reach from edge/ into mqtt/ or office/: the CLI, and the one module
# that builds the daemon's optional components.
WIRING_MODULES = {"edge.components.wiring"}
WIRING_PACKAGES = ("edge.cli",)

Graph = dict[str, set[str]]


def modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every module of the packages under ``root``, by dotted name (a package by its own)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _targets(name: str, node: ast.Import | ast.ImportFrom, known: dict[str, Path]) -> set[str]:
    """The known modules one import statement of module ``name`` reaches."""
    if isinstance(node, ast.Import):
        wanted = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = name if known[name].name == "__init__.py" else name.rpartition(".")[0]
            parts = package.split(".")
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, base] if base else parts)
        # `from a import b` reaches a.b when b is a module, and a (its __init__) anyway
        wanted = [f"{base}.{alias.name}" for alias in node.names] + [base]
    out: set[str] = set()
    for target in wanted:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)
    return out


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> Graph:
    known = modules(root, packages)
    graph: Graph = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = {
            target
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for target in _targets(name, node, known)
        }
        if path.name == "__init__.py":  # re-exporting its own children is no cycle
            graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                part = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.append(member)
                    if member == node:
                        break
                if len(part) > 1:
                    found.append(sorted(part))
    return found


GRAPH = import_graph(REPO)


def reaches(module: str, packages: tuple[str, ...]) -> list[str]:
    return sorted(t for t in GRAPH[module] if t.split(".")[0] in packages)


# --- the rules ------------------------------------------------------------------------


def test_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


def test_modules_stay_under_the_limit() -> None:
    long = {
        name: n
        for name, path in modules(REPO).items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"modules over {MAX_LINES} lines"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("drivers")))
def test_drivers_import_neither_edge_nor_mqtt_nor_office(module: str) -> None:
    assert reaches(module, ("edge", "mqtt", "office")) == []


def _wiring(module: str) -> bool:
    return module in WIRING_MODULES or module.startswith(tuple(p + "." for p in WIRING_PACKAGES))


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.split(".")[0] == "edge"))
def test_edge_core_imports_neither_mqtt_nor_office(module: str) -> None:
    if _wiring(module):
        return
    assert reaches(module, ("mqtt", "office")) == [], "only the wiring may"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.split(".")[0] == "mqtt"))
def test_the_gate_link_does_not_import_the_office(module: str) -> None:
    assert reaches(module, ("office",)) == []


def test_the_wiring_exists_and_is_what_reaches_out() -> None:
    # the exceptions above name real modules, and they are used: else they are stale
    assert all(m in GRAPH for m in WIRING_MODULES)
    outward = {m for m in GRAPH if m.startswith("edge") and reaches(m, ("mqtt", "office"))}
    assert outward and all(_wiring(m) for m in outward)
    assert "edge.components.wiring" in outward


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_its_module_named_after_it(command: str) -> None:
    module = module_of(command)
    assert module == "edge.cli." + command.replace("-", "_") + ("_" if command == "pass" else "")
    assert (REPO / Path(*module.split("."))).with_suffix(".py").is_file()


def test_every_cli_module_is_a_command_or_shared() -> None:
    shared = {"edge.cli", "edge.cli.__main__", "edge.cli.common"}
    commands = {module_of(c) for c in COMMANDS}
    assert {m for m in GRAPH if m.startswith("edge.cli")} - commands == shared


@pytest.mark.parametrize("package", [edge, drivers, mqtt, office])
def test_packages_come_from_this_repository(package: object) -> None:
    path = Path(package.__file__).resolve()  # type: ignore[attr-defined]
    assert path.is_relative_to(REPO), f"{package} imported from {path}, not from the repository"


# --- the checks above can fail ------------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_cycle_through_a_function_level_or_type_checking_import_is_found(
    tmp_path: Path,
) -> None:
    root = _tree(
        tmp_path,
        {
            "edge/__init__.py": "",
            "edge/a.py": "from edge.b import thing\n",
            "edge/b.py": "def f():\n    from edge import c\n",
            "edge/c.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import A\n"
            ),
            "edge/d.py": "import edge.a\n",
            "mqtt/__init__.py": "",
            "mqtt/x.py": "from edge.d import y\n",
        },
    )
    graph = import_graph(root, ("edge", "mqtt"))
    assert graph["edge.c"] == {"edge.a"}
    assert cycles(graph) == [["edge.a", "edge.b", "edge.c"]]


def test_a_package_re_exporting_its_children_is_no_cycle(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "edge/__init__.py": "",
            "edge/config/__init__.py": "from edge.config.models import Config\n",
            "edge/config/models.py": "from edge.config.errors import ConfigError\n",
            "edge/config/errors.py": "import edge.config\n",
        },
    )
    graph = import_graph(root, ("edge",))
    assert graph["edge.config"] == set()
    assert cycles(graph) == []
