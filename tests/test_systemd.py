"""The systemd units and `make install`: what they promise, checked without touching this
machine. systemd-analyze verifies the units where it is installed (Debian: apt-get install
systemd); install.sh runs into a temporary root (DESTDIR)."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from edge.cli import build_parser
from edge.config import config_from_dict, office_config_from_dict

REPO = Path(__file__).resolve().parent.parent
UNITS = REPO / "systemd"
SERVICES = ["kindergate.service", "kindergate-collector.service", "kindergate-purge.service"]
ALL_UNITS = [*SERVICES, "kindergate-purge.timer"]
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze not installed (apt-get install systemd)"
)


def directives(unit: str) -> list[tuple[str, str, str]]:
    """(section, key, value) in file order; repeated keys stay separate."""
    out, section = [], ""
    for line in (UNITS / unit).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def values(unit: str, key: str) -> list[str]:
    return [v for _, k, v in directives(unit) if k == key]


def one(unit: str, key: str) -> str:
    found = values(unit, key)
    assert len(found) == 1, f"{unit}: {key} set {len(found)} times"
    return found[0]


# --- what the units promise -------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["kindergate.service", "kindergate-collector.service"])
def test_daemons_notify_watchdog_restart(unit: str) -> None:
    assert one(unit, "Type") == "notify"
    assert re.fullmatch(r"\d+s", one(unit, "WatchdogSec"))
    assert one(unit, "Restart") == "on-failure"
    assert one(unit, "RestartPreventExitStatus") == "2"  # a bad config waits for a person
    assert one(unit, "StartLimitIntervalSec") == "0"


@pytest.mark.parametrize("unit", SERVICES)
def test_services_run_as_kindergate_with_private_state(unit: str) -> None:
    assert one(unit, "User") == "kindergate"
    assert one(unit, "StateDirectory") == "kindergate"
    assert one(unit, "StateDirectoryMode") == "0700"
    assert one(unit, "ConfigurationDirectory") == "kindergate"
    assert one(unit, "UMask") == "0077"
    assert one(unit, "ReadWritePaths") == "/var/lib/kindergate"
    for key, value in [
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
    ]:
        assert one(unit, key) == value, key


def test_the_gate_reaches_gpio_serial_and_input_devices() -> None:
    unit = "kindergate.service"
    assert values(unit, "PrivateDevices") == []
    assert set(one(unit, "SupplementaryGroups").split()) >= {"gpio", "dialout"}
    assert one(unit, "DevicePolicy") == "closed"
    allowed = {v.split()[0] for v in values(unit, "DeviceAllow")}
    assert allowed >= {"char-gpiochip", "char-ttyAMA", "char-ttyS", "char-ttyUSB", "char-input"}
    assert one(unit, "RestrictAddressFamilies").split() == [
        "AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK",
    ]  # fmt: skip
    # The clock probe's adjtimex must stay allowed; ProtectClock would forbid it.
    assert "adjtimex" in values(unit, "SystemCallFilter")[0].split()
    assert values(unit, "ProtectClock") == []


def test_stopping_leaves_the_lock_to_the_daemon() -> None:
    unit = "kindergate.service"
    assert one(unit, "KillMode") == "mixed"  # SIGTERM to the daemon alone first
    assert one(unit, "KillSignal") == "SIGTERM"
    assert values(unit, "ExecStopPost") == [] and values(unit, "ExecStop") == []


@pytest.mark.parametrize(
    ("unit", "command"),
    [
        ("kindergate.service", "run"),
        ("kindergate-collector.service", "collector"),
        ("kindergate-purge.service", "purge"),
    ],
)
def test_exec_start_is_a_real_command(unit: str, command: str) -> None:
    argv = one(unit, "ExecStart").split()
    assert argv[0] == "/opt/kindergate/venv/bin/kindergate"
    args = build_parser().parse_args(argv[1:])
    assert args.command == command and args.config.startswith("/etc/kindergate/")


def test_the_purge_runs_nightly_and_catches_up() -> None:
    timer = "kindergate-purge.timer"
    assert one(timer, "OnCalendar").startswith("*-*-* ")
    assert one(timer, "Persistent") == "true"
    assert one("kindergate-purge.service", "Type") == "oneshot"


# --- systemd's own judgement -----------------------------------------------------------------


def runnable_units(tmp_path: Path) -> Path:
    """The units with ExecStart pointing at this venv's kindergate (verify checks it exists)."""
    exe = REPO / ".venv" / "bin" / "kindergate"
    if not exe.exists():
        pytest.skip(f"{exe} missing: run make venv")
    out = tmp_path / "units"
    out.mkdir()
    for unit in ALL_UNITS:
        text = (UNITS / unit).read_text().replace("/opt/kindergate/venv/bin/kindergate", str(exe))
        (out / unit).write_text(text)
    return out


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    units = runnable_units(tmp_path)
    done = subprocess.run(
        [str(ANALYZE), "verify", *(str(units / u) for u in ALL_UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


@needs_analyze
def test_a_broken_unit_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key is reported."""
    units = runnable_units(tmp_path)
    bad = units / "kindergate.service"
    bad.write_text(bad.read_text().replace("WatchdogSec=", "WatchdogSecs="))
    done = subprocess.run(
        [str(ANALYZE), "verify", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert "WatchdogSecs" in done.stderr


@needs_analyze
@pytest.mark.parametrize(
    ("unit", "limit"), [("kindergate.service", 3.0), ("kindergate-purge.service", 2.0)]
)
def test_exposure_stays_low(tmp_path: Path, unit: str, limit: float) -> None:
    units = runnable_units(tmp_path)
    done = subprocess.run(
        [str(ANALYZE), "security", "--offline=true", str(units / unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", done.stdout + done.stderr)
    if found is None:
        pytest.skip(f"this systemd-analyze has no offline security report: {done.stderr[:200]}")
    assert float(found.group(1)) <= limit


# --- make install into a temporary root ---------------------------------------------------------


def install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(UNITS / "install.sh"), "--destdir", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def owner_name(root: Path, path: Path) -> str:
    uid = path.stat().st_uid
    for line in (root / "etc" / "passwd").read_text().splitlines():
        name, _, found, *_ = line.split(":")
        if int(found) == uid:
            return name
    return pwd.getpwuid(uid).pw_name


@pytest.fixture
def staged(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    done = install(root, "--new-key")
    assert done.returncode == 0, done.stderr
    return root


def test_install_lays_out_directories_and_modes(staged: Path) -> None:
    state = staged / "var/lib/kindergate"
    assert mode(state) == 0o700 and mode(state / "roster") == 0o700
    assert mode(staged / "etc/kindergate/gate.toml") == 0o640
    key = staged / "etc/kindergate/site.key"
    assert mode(key) == 0o600 and re.fullmatch(r"[0-9a-f]{64}", key.read_text())
    for unit in ALL_UNITS:
        installed = staged / "etc/systemd/system" / unit
        assert mode(installed) == 0o644
        assert installed.read_text() == (UNITS / unit).read_text()
    link = staged / "usr/local/bin/kindergate"
    assert os.readlink(link) == "/opt/kindergate/venv/bin/kindergate"


@pytest.mark.skipif(not shutil.which("systemd-sysusers"), reason="no systemd-sysusers")
def test_install_creates_the_user_and_gives_it_its_files(staged: Path) -> None:
    passwd = (staged / "etc/passwd").read_text()
    assert re.search(
        r"^kindergate:x:\d+:\d+:.*:/var/lib/kindergate:/usr/sbin/nologin$", passwd, re.M
    )
    groups = {
        line.split(":")[0]: line.split(":")[3]
        for line in (staged / "etc/group").read_text().splitlines()
    }
    for group in ("gpio", "dialout", "input"):
        assert "kindergate" in groups[group].split(","), group
    if os.geteuid() == 0:  # only root can give files away
        assert owner_name(staged, staged / "var/lib/kindergate") == "kindergate"
        assert owner_name(staged, staged / "etc/kindergate/site.key") == "kindergate"


@pytest.mark.skipif(not shutil.which("systemctl"), reason="no systemctl")
def test_install_enables_the_gate_units(staged: Path) -> None:
    wants = staged / "etc/systemd/system"
    assert (wants / "multi-user.target.wants/kindergate.service").is_symlink()
    assert (wants / "timers.target.wants/kindergate-purge.timer").is_symlink()
    assert not (wants / "multi-user.target.wants/kindergate-collector.service").exists()


def test_install_again_keeps_config_and_key(staged: Path) -> None:
    config = staged / "etc/kindergate/gate.toml"
    key = staged / "etc/kindergate/site.key"
    config.write_text(config.read_text() + "\n# edited on site\n")
    before = key.read_text()
    done = install(staged, "--new-key", "--role", "all")
    assert done.returncode == 0, done.stderr
    assert config.read_text().endswith("# edited on site\n")
    assert key.read_text() == before
    assert mode(staged / "etc/kindergate/collector.toml") == 0o640
    assert mode(staged / "var/lib/kindergate") == 0o700


def test_install_with_a_prefix_points_the_units_there(tmp_path: Path) -> None:
    root = tmp_path / "root"
    done = install(root, "--prefix", "/srv/kg")
    assert done.returncode == 0, done.stderr
    unit = (root / "etc/systemd/system/kindergate.service").read_text()
    assert "ExecStart=/srv/kg/venv/bin/kindergate run" in unit and "/opt/kindergate" not in unit
    assert not (root / "etc/kindergate/site.key").exists()  # no key unless asked


def test_install_rejects_bad_options(tmp_path: Path) -> None:
    assert install(tmp_path, "--role", "office").returncode == 2
    assert install(tmp_path, "--prefix", "relative").returncode == 2


@pytest.mark.parametrize("name", ["gate.example.toml", "collector.example.toml"])
def test_example_configs_are_valid_once_installed(tmp_path: Path, name: str) -> None:
    """Paths rebased into a temporary root, the example passes check-config's validation."""
    text = (UNITS / name).read_text()
    data = tomllib.loads(text.replace('"/', f'"{tmp_path}/'))
    (tmp_path / "var/lib/kindergate/roster").mkdir(parents=True)
    path = tmp_path / "etc/kindergate" / name.replace(".example", "")
    if name.startswith("gate"):
        cfg = config_from_dict(data, path)
        assert cfg.store.path.is_relative_to(tmp_path)
    else:  # the office's own file: no gate section
        office = office_config_from_dict(data, path)
        assert Path(office.collector.database).is_relative_to(tmp_path)
        assert "gate" not in data and "store" not in data


def test_make_install_runs_the_script() -> None:
    done = subprocess.run(
        ["make", "-n", "install", "DESTDIR=/tmp/x", "ROLE=all"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "systemd/install.sh --role 'all'" in done.stdout and "--destdir '/tmp/x'" in done.stdout


def test_operations_guide_covers_the_commands_and_checks(tmp_path: Path) -> None:
    import argparse

    from edge.cli import backup, purge, verify_log
    from edge.cli import doctor as doctor_cmd
    from edge.ops import doctor
    from edge.ops.timesync import ClockStatus, Sync
    from tests.ops_support import write_config

    guide = (REPO / "docs" / "operations.md").read_text()
    sub = argparse.ArgumentParser().add_subparsers()
    for module in (doctor_cmd, verify_log, backup, purge):
        module.register(sub)
    for command in sub.choices:
        assert f"kindergate {command}" in guide, command
    key = tmp_path / "site.key"
    key.write_text("ab" * 32)
    cfg = write_config(
        tmp_path,
        f'[mqtt]\nkey_file = "{key}"\n[[reader]]\nname = "r"\ntype = "keyboard"\ndevice = "/x"\n',
    )
    probes = doctor.Probes(
        clock=lambda: ClockStatus(Sync.SYNCED, "ok"),
        connect=lambda host, port, timeout: None,
        load_key=lambda path: path.read_bytes(),
    )
    for check in doctor.run_checks(cfg, probes):
        assert f"| `{check.name}` |" in guide, check.name
    for unit in ALL_UNITS:
        assert unit.split(".")[0] in guide, unit
