"""check-config: every problem of a bad config on its own line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import ConfigError, load_config

REPO = Path(__file__).resolve().parent.parent


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_example_config_is_valid() -> None:
    out = check(REPO / "config" / "example.toml")
    assert out.returncode == 0, out.stderr
    cfg = load_config(REPO / "config" / "example.toml")
    assert cfg.site.id == "sunflower" and cfg.gate.channel == "main"
    assert cfg.roster.path == (REPO / "config" / "roster").resolve()  # relative to the file
    assert cfg.reader[0].type == "line"


def test_every_problem_listed_once_each(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        """
[site]
id = "sun flower"
timezone = "Mars/Olympus"
colour = "blue"
[gate]
channel = 5
hardware = "robot"
unlock_seconds = -1
[store]
path = "/etc/passwd/x.db"
[roster]
path = "nowhere"
[[reader]]
name = "a"
type = "line"
[[reader]]
name = "b"
type = "laser"
"""
    )
    out = check(bad)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    keys = [line.split(": ")[1] for line in lines]
    assert keys == [
        "site.id",
        "site.timezone",
        "site.colour",
        "gate.id",
        "gate.channel",
        "gate.hardware",
        "gate.unlock_seconds",
        "reader.0.path",
        "reader.1.type",
        "roster.path",
        "store.path",
    ]
    assert all(line.startswith(f"{bad}: ") for line in lines)
    assert f"{bad}: site.timezone: unknown time zone 'Mars/Olympus'" in lines
    assert f"{bad}: site.colour: unknown key" in lines
    assert f"{bad}: gate.id: missing required key" in lines
    assert "Traceback" not in out.stderr


def test_missing_sections(tmp_path: Path) -> None:
    bad = tmp_path / "empty.toml"
    bad.write_text("")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert [p.split(": ")[1] for p in err.value.problems] == ["site", "gate", "store", "roster"]


def test_toml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "syntax.toml"
    bad.write_text("[site\nid=1")
    out = check(bad)
    assert out.returncode == 2 and out.stderr.startswith(f"{bad}: TOML syntax:")
    out = check(tmp_path / "nope.toml")
    assert out.returncode == 2 and out.stderr.strip() == f"{tmp_path / 'nope.toml'}: no such file"


def test_settings_that_go_together(tmp_path: Path) -> None:
    (tmp_path / "roster").mkdir()
    bad = tmp_path / "c.toml"
    bad.write_text(
        """
[site]
id = "s"
[gate]
id = "g"
held_open_seconds = 10
held_open_warning_seconds = 20
[store]
path = "gate.db"
[roster]
path = "roster"
[[reader]]
name = "x"
type = "line"
path = "a.fifo"
[[reader]]
name = "x"
type = "wiegand"
d0 = 5
d1 = 99
"""
    )
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    text = "\n".join(err.value.problems)
    assert "gate: held_open_warning_seconds must be less than held_open_seconds" in text
    assert "reader.1.d1: Input should be less than or equal to 27" in text


def test_run_with_bad_config_exits_2_before_touching_files(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text(
        '[site]\nid = "s"\n[gate]\nid = "g"\nhardware = "robot"\n[store]\npath = "state/gate.db"\n[roster]\npath = "."\n'
    )
    out = subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "-c", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "gate.hardware" in out.stderr
    assert not (tmp_path / "state").exists()
