"""`kindergate doctor`: is this gate installed so that it works, and works privately?

Each check gives one line: OK, WARN (works, but look) or FAIL (someone must act), what
was found and what to do. Every probe that leaves the machine or reads the system clock
is injected, so the checks run in tests on any machine. Run it as the service user
(``sudo -u kindergate``): "readable by the service" is then checked as the service sees it.
"""

from __future__ import annotations

import enum
import os
import shutil
import socket
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.config import (
    Config,
    ConfigError,
    KeyboardReaderConfig,
    LineReaderConfig,
    OsdpReaderConfig,
    Rdm6300ReaderConfig,
    WiegandReaderConfig,
    load_config,
)
from edge.events import Reason
from edge.ops.timesync import ClockStatus, Sync
from edge.store import ReadOnlyStore

MIN_FREE_BYTES = 200 * 1024 * 1024
WARN_FREE_FRACTION = 0.10
BROKER_TIMEOUT = 3.0
OUTBOX_WARN = 1000
GPIOCHIP = Path("/dev/gpiochip0")


class Level(enum.IntEnum):
    OK = 0
    WARN = 1
    FAIL = 2


@dataclass(frozen=True, slots=True)
class Check:
    level: Level
    name: str
    message: str
    fix: str = ""

    def line(self) -> str:
        tail = f" -> {self.fix}" if self.fix else ""
        return f"{self.level.name:<4}  {self.name:<8}  {self.message}{tail}"


def ok(name: str, message: str) -> Check:
    return Check(Level.OK, name, message)


def warn(name: str, message: str, fix: str = "") -> Check:
    return Check(Level.WARN, name, message, fix)


def fail(name: str, message: str, fix: str = "") -> Check:
    return Check(Level.FAIL, name, message, fix)


KeyLoader = Callable[[Path], bytes]
Connector = Callable[[str, int, float], None]


@dataclass
class Probes:
    """What the doctor looks at outside the files: the clock, the network, the key format."""

    clock: Callable[[], ClockStatus]
    connect: Connector
    load_key: KeyLoader
    gpiochip: Path = GPIOCHIP


def tcp_connect(host: str, port: int, timeout: float) -> None:
    with socket.create_connection((host, port), timeout=timeout):
        pass


# --- files -------------------------------------------------------------------------------


def _private(path: Path, name: str, owner: int | None, mode: int = 0o600) -> Check | None:
    """None when ``path`` is the service's alone; else what is wrong."""
    info = path.stat()
    if info.st_mode & 0o077:
        return fail(
            name,
            f"{path} is open to others (mode {stat.S_IMODE(info.st_mode):04o})",
            f"chmod {mode:o} {path}",
        )
    if owner is not None and info.st_uid != owner:
        return fail(
            name,
            f"{path} belongs to uid {info.st_uid}, not the service (uid {owner})",
            f"chown {owner}: {path}",
        )
    return None


def check_store(cfg: Config) -> list[Check]:
    path = cfg.store.path
    folder = path.parent
    if not folder.is_dir():
        return [warn("store", f"{folder} does not exist yet", "start the service once")]
    owner = folder.stat().st_uid
    found = _private(folder, "store", None, 0o700)
    problems = [found] if found else []
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists():
            problem = _private(file, "store", owner)
            if problem:
                problems.append(problem)
    if problems:
        return problems
    if not path.exists():
        return [warn("store", f"no store at {path} yet", "start the service once")]
    if not os.access(path, os.R_OK | os.W_OK):
        return [fail("store", f"{path} is not writable by this user", "run as the service user")]
    return [ok("store", f"{path}: private to the service")]


def _key_files(cfg: Config) -> Iterable[tuple[str, Path, bool]]:
    """(label, path, is the site key) of every secret the config names."""
    mqtt = cfg.mqtt
    if mqtt is None:
        return []
    out = [("site key", mqtt.key_file, True)]
    if mqtt.password_file is not None:
        out.append(("password", mqtt.password_file, False))
    if mqtt.tls is not None and mqtt.tls.key_file is not None:
        out.append(("TLS key", mqtt.tls.key_file, False))
    return out


def check_keys(cfg: Config, probes: Probes) -> list[Check]:
    if cfg.mqtt is None:
        return [warn("key", "no [mqtt] section: events stay on this gate", "add [mqtt]")]
    out: list[Check] = []
    owner = cfg.store.path.parent.stat().st_uid if cfg.store.path.parent.is_dir() else None
    for label, path, is_site_key in _key_files(cfg):
        if not path.is_file():
            out.append(fail("key", f"{label} {path} is missing", "copy it from the office"))
            continue
        problem = _private(path, "key", owner)
        if problem:
            out.append(problem)
            continue
        if not is_site_key:
            out.append(ok("key", f"{label} {path}: private"))
            continue
        try:
            key = probes.load_key(path)
        except (ValueError, OSError) as err:
            out.append(fail("key", str(err), "replace it with the site key from the office"))
            continue
        out.append(ok("key", f"{label} {path}: private, {len(key) * 8} bits"))
    return out


# --- clock, broker, readers, disk --------------------------------------------------------


def check_clock(probes: Probes) -> Check:
    status = probes.clock()
    if status.state is Sync.SYNCED:
        return ok("clock", status.describe())
    fix = "enable NTP (timedatectl set-ntp true) and let the gate reach a time server"
    if status.state is Sync.UNSYNCED:
        return fail("clock", f"{status.describe()}: pickups need a guard's approval", fix)
    return warn("clock", status.describe(), fix)


def check_broker(cfg: Config, probes: Probes) -> Check:
    if cfg.mqtt is None:
        return warn("broker", "no broker configured")
    where = f"{cfg.mqtt.host}:{cfg.mqtt.port}"
    try:
        probes.connect(cfg.mqtt.host, cfg.mqtt.port, BROKER_TIMEOUT)
    except OSError as err:
        return fail(
            "broker",
            f"{where} unreachable ({err.strerror or err}); events wait in the outbox",
            "check the network and the broker at the office",
        )
    return ok("broker", f"{where} accepts connections")


def _openable(path: Path, flags: int) -> str | None:
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        return err.strerror or str(err)
    os.close(fd)
    return None


def check_reader(reader: object, probes: Probes) -> Check:
    name = f"reader {getattr(reader, 'name', '?')}"
    if isinstance(reader, LineReaderConfig):
        if not reader.path.exists():
            return warn("reader", f"{name}: {reader.path} missing (the daemon makes a FIFO)")
        device, flags = reader.path, os.O_RDWR
    elif isinstance(reader, Rdm6300ReaderConfig):
        device, flags = reader.port, os.O_RDWR
    elif isinstance(reader, KeyboardReaderConfig):
        device, flags = reader.device, os.O_RDONLY
    elif isinstance(reader, WiegandReaderConfig):
        device, flags = probes.gpiochip, os.O_RDWR
    elif isinstance(reader, OsdpReaderConfig):
        if reader.install_mode:
            return fail(
                "reader",
                f"{name}: install_mode is on: the reader takes a key offered under the "
                "standard's well-known default key",
                "once the reader has its key (the daemon logs it), set install_mode = false",
            )
        device, flags = reader.port, os.O_RDWR
    else:
        return warn("reader", f"{name}: unknown type")
    if not device.exists():
        return fail("reader", f"{name}: {device} does not exist", "check the wiring and cable")
    why = _openable(device, flags)
    if why:
        return fail(
            "reader",
            f"{name}: cannot open {device}: {why}",
            "add the service user to the device's group (dialout, input, gpio)",
        )
    return ok("reader", f"{name}: {device} opens")


def check_disk(cfg: Config) -> Check:
    folder = cfg.store.path.parent
    while not folder.exists():
        folder = folder.parent
    usage = shutil.disk_usage(folder)
    free = f"{usage.free // (1024 * 1024)} MB free ({usage.free / usage.total:.0%})"
    if usage.free < MIN_FREE_BYTES:
        return fail("disk", f"{folder}: {free}", "free space, or lower [retention] days")
    if usage.free / usage.total < WARN_FREE_FRACTION:
        return warn("disk", f"{folder}: {free}", "free space soon")
    return ok("disk", f"{folder}: {free}")


# --- what the log says ---------------------------------------------------------------------


def check_log(cfg: Config, now: datetime) -> list[Check]:
    """Unpublished events, and readers whose last report was `reader_down`."""
    if not cfg.store.path.is_file():
        return []
    with ReadOnlyStore(cfg.store.path) as store:
        depth, oldest = store.outbox()
        readers = store.reader_reports()
    out = [_outbox(depth, oldest, now)]
    last = {name: (reason, ts) for name, reason, ts in readers if name is not None}
    for name, (reason, ts) in sorted(last.items()):
        if reason is Reason.READER_DOWN:
            out.append(fail("reader", f"reader {name} reported down at {ts}", "check it"))
    return out


def _outbox(depth: int, oldest: str | None, now: datetime) -> Check:
    if not depth:
        return ok("outbox", "every event has reached the office")
    age = now - datetime.fromisoformat(oldest) if oldest else None
    text = f"{depth} events not yet published, oldest from {oldest}"
    if depth >= OUTBOX_WARN or (age is not None and age.days >= 1):
        return warn("outbox", text, "check the broker link")
    return ok("outbox", text)


# --- all together --------------------------------------------------------------------------


def load(path: Path) -> tuple[Config | None, list[Check]]:
    try:
        cfg = load_config(path)
    except ConfigError as err:
        return None, [fail("config", p, "kindergate check-config") for p in err.problems]
    return cfg, [ok("config", f"{path} is valid")]


def run_checks(path: Path, probes: Probes, now: datetime | None = None) -> list[Check]:
    cfg, checks = load(path)
    if cfg is None:
        return checks
    checks += check_store(cfg)
    checks += check_keys(cfg, probes)
    checks.append(check_clock(probes))
    checks.append(check_broker(cfg, probes))
    checks += [check_reader(reader, probes) for reader in cfg.reader]
    checks.append(check_disk(cfg))
    checks += check_log(cfg, now or datetime.now(UTC))
    return checks


def worst(checks: Iterable[Check]) -> Level:
    return max((c.level for c in checks), default=Level.OK)
