"""The docs tell the truth: every command is in the README, every doc link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", subcommands())
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"kindergate {name}" in README, f"README does not document `kindergate {name}`"


def test_readme_starts_with_the_two_commands() -> None:
    head = README[: README.index("## ")]
    assert "make demo" in head and "make test" in head


@pytest.mark.parametrize(
    "link", sorted(set(re.findall(r"\]\(((?:docs|config|systemd|bench)/[^)#]+)\)", README)))
)
def test_readme_links_resolve(link: str) -> None:
    assert (REPO / link).exists(), link


def test_architecture_names_modules_that_exist() -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:edge|drivers|mqtt)/[a-z_/]+\.py)`", text))
    assert named, "the architecture page names no modules"
    missing = sorted(n for n in named if not (REPO / n).exists())
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"
