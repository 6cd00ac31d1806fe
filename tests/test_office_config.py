"""The office's config stands alone; a gate's file with [collector] serves both commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import (
    Config,
    ConfigError,
    OfficeConfig,
    load_any_config,
    load_config,
    load_office_config,
)

REPO = Path(__file__).resolve().parent.parent
OFFICE = REPO / "config" / "office.toml"
GATE = REPO / "config" / "example.toml"

OFFICE_ONLY = """
[site]
id = "sunflower"
timezone = "Asia/Shanghai"
[mqtt]
host = "127.0.0.1"
port = 1883
key_file = "site.key"
[collector]
database = "office.db"
"""


def kindergate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_the_example_office_config_is_valid_on_its_own() -> None:
    out = kindergate("check-config", str(OFFICE))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"{OFFICE}: ok (an office config")
    cfg = load_office_config(OFFICE)
    assert cfg.site.tz.key == "Asia/Shanghai" and cfg.mqtt is not None
    assert Path(cfg.collector.database).resolve() == REPO / "var" / "office.db"
    assert cfg.roster is not None and cfg.roster.path == (REPO / "config" / "roster").resolve()
    assert isinstance(load_any_config(OFFICE), OfficeConfig)


def test_three_sections_are_enough(tmp_path: Path) -> None:
    path = tmp_path / "office.toml"
    path.write_text(OFFICE_ONLY)
    cfg = load_office_config(path)
    assert cfg.roster is None
    assert cfg.collector.database == str(tmp_path / "office.db")  # relative to the file
    assert cfg.mqtt is not None and cfg.mqtt.key_file == tmp_path / "site.key"
    out = kindergate("check-config", str(path))
    assert out.returncode == 0 and "office config" in out.stdout, out.stderr


def test_run_on_an_office_config_names_the_missing_gate(tmp_path: Path) -> None:
    path = tmp_path / "office.toml"
    path.write_text(OFFICE_ONLY.replace('"office.db"', '"var/office.db"'))
    out = kindergate("run", "-c", str(path))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: gate: no [gate] section")
    assert "office config" in lines[0] and "Traceback" not in out.stderr
    assert not (tmp_path / "var").exists()  # nothing was created
    with pytest.raises(ConfigError):
        load_config(path)


def test_one_file_two_commands() -> None:
    gate = load_config(GATE)
    office = load_office_config(GATE)
    assert gate.collector is not None
    assert office == gate.office()
    assert office.collector == gate.collector and office.site == gate.site
    assert office.roster == gate.roster and office.mqtt == gate.mqtt
    assert isinstance(load_any_config(GATE), Config)
    out = kindergate("check-config", str(GATE))
    assert out.returncode == 0 and "[collector]" in out.stdout, out.stderr


def test_a_gate_section_in_an_office_file_is_an_unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "office.toml"
    path.write_text(OFFICE_ONLY + '[store]\npath = "gate.db"\n[[reader]]\nname = "x"\n')
    with pytest.raises(ConfigError) as err:
        load_office_config(path)
    assert err.value.problems == [
        f"{path}: store: unknown key",
        f"{path}: reader: unknown key",
    ]


def test_every_problem_of_an_office_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "office.toml"
    path.write_text(
        OFFICE_ONLY.replace("port = 1883", "port = 0").replace(
            'database = "office.db"', 'database = "mysql://x"\nbatch_size = 0'
        )
        + '[roster]\npath = "nowhere"\n'
    )
    out = kindergate("check-config", str(path))
    assert out.returncode == 2
    keys = [line.split(": ")[1] for line in out.stderr.strip().splitlines()]
    assert keys == ["mqtt.port", "collector.batch_size", "roster.path", "collector.database"]


def test_a_file_with_neither_gate_nor_collector_is_judged_as_a_gates(tmp_path: Path) -> None:
    path = tmp_path / "half.toml"
    path.write_text(OFFICE_ONLY.split("[collector]")[0])
    with pytest.raises(ConfigError) as err:
        load_office_config(path)
    assert [p.split(": ")[1] for p in err.value.problems] == ["gate", "store", "roster"]


def test_a_gates_file_without_collector_is_no_office_config(tmp_path: Path) -> None:
    (tmp_path / "roster").mkdir()
    path = tmp_path / "gate.toml"
    path.write_text(
        '[site]\nid = "s"\n[gate]\nid = "g"\n[store]\npath = "gate.db"\n[roster]\npath = "roster"\n'
    )
    assert load_config(path).office() is None
    with pytest.raises(ConfigError) as err:
        load_office_config(path)
    assert err.value.problems == [f"{path}: collector: no [collector] section"]
