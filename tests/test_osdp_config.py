"""An OSDP reader's config: the key file (hex, 0600, never shown), the address, install mode."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.osdp_key import ScbkError, create_scbk, load_scbk
from edge.config import OsdpReaderConfig, load_config
from edge.ops.doctor import Level, Probes, check_reader
from tests.rosters import write_small_roster

KEY = "00112233445566778899aabbccddeeff"

BASE = """
[site]
id = "s"
[gate]
id = "main"
[store]
path = "state/gate.db"
[roster]
path = "roster"
"""


def reader(**keys: object) -> str:
    fields = {"name": "entrance", "type": "osdp", "port": "/dev/ttyUSB0", "address": 0}
    fields.update({"scbk_file": "secrets/entrance.scbk", **keys})
    body = "\n".join(
        f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v) if isinstance(v, str) else v}"
        for k, v in fields.items()
    )
    return f"[[reader]]\n{body}\n".replace("'", '"')


def write_key(path: Path, text: str = KEY + "\n", mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def check(tmp_path: Path, *readers: str) -> tuple[int, list[str]]:
    write_small_roster(tmp_path / "roster")
    cfg = tmp_path / "gate.toml"
    cfg.write_text(BASE + "".join(readers))
    out = subprocess.run(
        [sys.executable, "-m", "edge.cli", "check-config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in out.stderr
    return out.returncode, [line.removeprefix(f"{cfg}: ") for line in out.stderr.splitlines()]


def test_a_valid_osdp_reader(tmp_path: Path) -> None:
    write_key(tmp_path / "secrets" / "entrance.scbk", f"  {KEY.upper()}\n")
    assert check(tmp_path, reader(address=126, baudrate=115200)) == (0, [])
    cfg = load_config(tmp_path / "gate.toml")
    rc = cfg.reader[0]
    assert isinstance(rc, OsdpReaderConfig)
    assert (rc.address, rc.baudrate, rc.install_mode) == (126, 115200, False)
    assert rc.scbk_file == tmp_path / "secrets" / "entrance.scbk"  # relative to the file
    assert load_scbk(rc.scbk_file) == bytes.fromhex(KEY)


def test_defaults(tmp_path: Path) -> None:
    write_key(tmp_path / "secrets" / "entrance.scbk")
    assert check(tmp_path, reader()) == (0, [])
    rc = load_config(tmp_path / "gate.toml").reader[0]
    assert isinstance(rc, OsdpReaderConfig)
    assert (rc.baudrate, rc.install_mode) == (9600, False)


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"address": 127}, "reader.0.address: Input should be less than or equal to 126"),
        ({"address": -1}, "reader.0.address: Input should be greater than or equal to 0"),
        ({"baudrate": 1200}, "reader.0.baudrate: Input should be 9600, 19200"),
        ({"install_mode": "yes"}, "reader.0.install_mode: Input should be a valid boolean"),
        ({"colour": "red"}, "reader.0.colour: unknown key"),
    ],
)
def test_bad_settings(tmp_path: Path, keys: dict[str, object], problem: str) -> None:
    write_key(tmp_path / "secrets" / "entrance.scbk")
    code, lines = check(tmp_path, reader(**keys))
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(problem), lines


@pytest.mark.parametrize(
    ("text", "mode", "problem"),
    [
        (KEY, 0o644, "open to others (mode 0644); chmod 600"),
        (KEY, 0o640, "open to others (mode 0640)"),
        (KEY[:-2], 0o600, "not a key: it must hold 32 hex digits (16 bytes)"),
        (KEY + "00", 0o600, "not a key: it must hold 32 hex digits"),
        ("zz" + KEY[2:], 0o600, "not a key"),
        ("", 0o600, "not a key"),
    ],
)
def test_bad_key_files_are_refused_without_showing_the_key(
    tmp_path: Path, text: str, mode: int, problem: str
) -> None:
    write_key(tmp_path / "secrets" / "entrance.scbk", text, mode)
    code, lines = check(tmp_path, reader())
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("reader.0.scbk_file: ") and problem in lines[0]
    assert KEY[4:20] not in lines[0] and KEY[4:20].upper() not in lines[0]


def test_a_missing_key_file_says_how_a_new_reader_gets_one(tmp_path: Path) -> None:
    code, lines = check(tmp_path, reader())
    assert code == 2
    assert lines == [
        f"reader.0.scbk_file: {tmp_path / 'secrets' / 'entrance.scbk'}: no such key file "
        "(a new reader gets its key with install_mode = true)"
    ]


def test_check_config_accepts_install_mode_only_while_there_is_no_key(tmp_path: Path) -> None:
    assert check(tmp_path, reader(install_mode=True)) == (0, [])
    write_key(tmp_path / "secrets" / "entrance.scbk")
    code, lines = check(tmp_path, reader(install_mode=True))
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("reader.0.install_mode: refused: the key file ")
    assert "set install_mode = false" in lines[0]
    # a gate restarted with it still starts (with a warning) rather than stay down
    rc = load_config(tmp_path / "gate.toml").reader[0]
    assert isinstance(rc, OsdpReaderConfig) and rc.install_mode


def test_install_mode_still_needs_a_usable_key_once_it_exists(tmp_path: Path) -> None:
    write_key(tmp_path / "secrets" / "entrance.scbk", mode=0o644)
    code, lines = check(tmp_path, reader(install_mode=True))
    assert code == 2
    assert [line.split(": ")[0] for line in lines] == ["reader.0.scbk_file"]


def test_two_osdp_readers_on_one_adapter_are_refused(tmp_path: Path) -> None:
    write_key(tmp_path / "secrets" / "entrance.scbk")
    code, lines = check(tmp_path, reader(), reader(name="exit", address=1))
    assert code == 2
    assert lines == [
        "reader.1.port: /dev/ttyUSB0 is also reader entrance's: "
        "give each OSDP reader its own RS-485 adapter"
    ]


def test_every_problem_at_once(tmp_path: Path) -> None:
    code, lines = check(tmp_path, reader(address=200), reader(name="x", port="/dev/ttyUSB1"))
    assert code == 2
    assert [line.split(": ")[0] for line in lines] == [
        "reader.0.address",
        "reader.0.scbk_file",
        "reader.1.scbk_file",
    ]


def test_a_new_key_is_random_private_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "new" / "k.scbk"
    key = create_scbk(path)
    assert len(key) == 16 and load_scbk(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert create_scbk(tmp_path / "other.scbk") != key
    with pytest.raises(ScbkError, match="already exists"):
        create_scbk(path)
    assert load_scbk(path) == key


def test_a_planted_link_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    link = tmp_path / "k.scbk"
    os.symlink(target, link)
    with pytest.raises(ScbkError, match="already exists"):
        create_scbk(link)
    assert not target.exists()


def test_a_directory_is_not_a_key(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir(mode=0o700)
    with pytest.raises(ScbkError, match="not a regular file"):
        load_scbk(tmp_path / "k")


def probes() -> Probes:
    def refuse(*_: object) -> None:
        raise AssertionError("not needed")

    return Probes(clock=refuse, connect=refuse, load_key=refuse)  # type: ignore[arg-type]


def test_doctor_fails_install_mode(tmp_path: Path) -> None:
    rc = OsdpReaderConfig(
        name="entrance", type="osdp", port=Path("/dev/null"), address=0,
        scbk_file=tmp_path / "k", install_mode=True,
    )  # fmt: skip
    found = check_reader(rc, probes())
    assert found.level is Level.FAIL
    assert "install_mode is on" in found.message and "install_mode = false" in found.fix


def test_doctor_checks_the_adapter(tmp_path: Path) -> None:
    rc = OsdpReaderConfig(
        name="entrance", type="osdp", port=tmp_path / "ttyUSB9", address=0, scbk_file=tmp_path / "k"
    )
    missing = check_reader(rc, probes())
    assert missing.level is Level.FAIL and "does not exist" in missing.message
    ok = check_reader(rc.model_copy(update={"port": Path("/dev/null")}), probes())
    assert ok.level is Level.OK
