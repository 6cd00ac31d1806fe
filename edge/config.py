"""The gate's TOML config, validated in full before anything is claimed.

Every problem is reported at once as ``FILE: dotted.key: message``. Nothing here
opens a pin, a port or a database: validation only reads the file and looks at paths.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from drivers.gpio import GatePins
from edge.osdp_config import osdp_problems

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Pin = Annotated[int, Field(ge=0, le=27)]


class ConfigError(ValueError):
    """A config that cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteConfig(Model):
    id: Name
    timezone: str = "UTC"
    name: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class GateConfig(Model):
    id: Name
    channel: Name = "main"
    hardware: Literal["simulated", "gpio"] = "simulated"
    unlock_seconds: float = Field(default=5.0, gt=0, le=120)
    held_open_seconds: float = Field(default=30.0, gt=0, le=3600)
    held_open_warning_seconds: float = Field(default=10.0, ge=0, le=3600)
    late_grace_minutes: int = Field(default=15, ge=0, le=240)
    approval_minutes: int = Field(default=10, ge=1, le=120)
    unknown_limit: int = Field(default=5, ge=1, le=100)
    unknown_window_seconds: float = Field(default=60.0, gt=0)
    unknown_lockout_seconds: float = Field(default=60.0, gt=0)
    # An evacuation normally ends with the power cut that ends it; keep it across a
    # restart only where the school asks for that.
    evacuation_survives_restart: bool = False
    # Simulated hardware only: append every pin state to this file (PID PIN STATE), to
    # inspect a simulated gate from outside, even after it was killed.
    simulated_pin_log: Path | None = None

    @model_validator(mode="after")
    def _warning_before_alarm(self) -> GateConfig:
        if self.held_open_warning_seconds >= self.held_open_seconds:
            raise ValueError("held_open_warning_seconds must be less than held_open_seconds")
        return self


class StoreConfig(Model):
    path: Path


class RosterConfig(Model):
    path: Path


class TlsConfig(Model):
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None


class MqttConfig(Model):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    key_file: Path
    username: str | None = None
    password_file: Path | None = None
    tls: TlsConfig | None = None
    keepalive: int = Field(default=30, ge=5, le=3600)
    topic_prefix: str = "kindergate"
    command_window_seconds: int = Field(default=30, ge=1, le=600)
    # events published and not yet acknowledged, at most (the rest wait in the outbox)
    max_inflight: int = Field(default=256, ge=1, le=10000)
    reconnect_max_seconds: int = Field(default=30, ge=1, le=600)


class LineReaderConfig(Model):
    name: Name
    type: Literal["line"]
    path: Path


class Rdm6300ReaderConfig(Model):
    name: Name
    type: Literal["rdm6300"]
    port: Path
    baudrate: int = 9600


class WiegandReaderConfig(Model):
    name: Name
    type: Literal["wiegand"]
    d0: Pin
    d1: Pin
    # The reader's frame length, when known: a 34-bit frame cut short after 26 bits
    # has valid 26-bit parity one time in four; fixing the length makes that a bad read.
    bits: Literal[26, 34] | None = None


class KeyboardReaderConfig(Model):
    name: Name
    type: Literal["keyboard"]
    device: Path


class OsdpReaderConfig(Model):
    """An OSDP reader on an RS-485 adapter; the key file is checked in ``_path_problems``."""

    name: Name
    type: Literal["osdp"]
    port: Path
    baudrate: Literal[9600, 19200, 38400, 57600, 115200, 230400] = 9600
    address: int = Field(ge=0, le=126)  # 127 is the broadcast address
    scbk_file: Path
    install_mode: StrictBool = False  # a weakening of security: only true or false will do


ReaderConfig = Annotated[
    LineReaderConfig
    | Rdm6300ReaderConfig
    | WiegandReaderConfig
    | KeyboardReaderConfig
    | OsdpReaderConfig,
    Field(discriminator="type"),
]


class GpioConfig(Model):
    """Pins (BCM numbers) and levels; see the wiring table in the README."""

    lock: Pin = 17
    lock_active_high: bool = True
    lock_kind: Literal["fail_secure", "fail_safe"] = "fail_secure"
    door: Pin = 27
    door_active_high: bool = True
    exit_button: Pin = 22
    exit_button_active_high: bool = False
    fire_alarm: Pin | None = 23
    fire_alarm_active_high: bool = True
    tamper: Pin | None = None
    tamper_active_high: bool = True
    lock_sensor: Pin | None = None
    lock_sensor_active_high: bool = False
    buzzer: Pin | None = 18
    buzzer_active_high: bool = True
    led_green: Pin | None = 5
    led_red: Pin | None = 6
    led_amber: Pin | None = 13
    leds_active_high: bool = True
    input_pull: Literal["up", "down", "none"] = "up"
    debounce_seconds: float | None = Field(default=0.05, ge=0, le=1)

    @model_validator(mode="after")
    def _wiring_makes_sense(self) -> GpioConfig:
        self.pins()  # GatePins refuses a pin used twice and similar mistakes
        return self

    def pins(self) -> GatePins:
        fields = self.model_dump()
        fields["bounce_time"] = fields.pop("debounce_seconds")
        return GatePins(**fields)


class CollectorConfig(Model):
    database: str
    sites: list[Name] = Field(default_factory=list)
    client_id: str = "kindergate-collector"
    shared_group: str | None = None
    batch_size: int = Field(default=500, ge=1, le=10000)
    offline_after_seconds: int = Field(default=120, ge=10)
    # A batch is committed when full, after batch_seconds, or when nothing arrived for
    # idle_seconds (the broker's in-flight window may be full, waiting for our acks).
    batch_seconds: float = Field(default=0.05, gt=0, le=5)
    idle_seconds: float = Field(default=0.005, gt=0, le=1)
    check_seconds: float = Field(default=10.0, gt=0, le=3600)
    session_expiry_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    visitor_overstay_minutes: int = Field(default=120, ge=1, le=24 * 60)
    web_host: str = "127.0.0.1"
    web_port: int | None = Field(default=None, ge=1, le=65535)
    web_refresh_seconds: int = Field(default=15, ge=1, le=3600)


class ConsoleConfig(Model):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    language: Literal["zh", "en"] = "zh"
    # A sign-in slides: unused for idle_minutes it ends; in use, it ends session_minutes
    # after sign-in at the latest (12 hours: a school day from 07:00 to 19:00).
    session_minutes: int = Field(default=720, ge=1, le=24 * 60)
    idle_minutes: int = Field(default=60, ge=1, le=24 * 60)


class CameraConfig(Model):
    source: str
    fps: float = Field(default=8.0, gt=0, le=60)
    snapshots: bool = True


class RetentionConfig(Model):
    access_days: int = Field(default=365, ge=1)
    visitor_days: int = Field(default=30, ge=1)
    snapshot_days: int = Field(default=30, ge=1)


class Config(Model):
    site: SiteConfig
    gate: GateConfig
    store: StoreConfig
    roster: RosterConfig
    mqtt: MqttConfig | None = None
    reader: list[ReaderConfig] = Field(default_factory=list)
    gpio: GpioConfig = GpioConfig()
    collector: CollectorConfig | None = None
    console: ConsoleConfig = ConsoleConfig()
    camera: CameraConfig | None = None
    retention: RetentionConfig = RetentionConfig()

    @model_validator(mode="after")
    def _unique_readers(self) -> Config:
        names = [r.name for r in self.reader]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"reader names must be unique: {', '.join(dupes)}")
        return self


def _dotted(loc: tuple[int | str, ...], data: Any) -> str:
    """pydantic's error location as a dotted key, without union tags."""
    parts: list[str] = []
    node = data
    for item in loc:
        if (
            isinstance(node, dict)
            and isinstance(item, str)
            and item not in node
            and node.get("type") == item
        ):
            # a discriminated union's tag (e.g. "line"), not a key of the file
            continue
        parts.append(str(item))
        node = _child(node, item)
    return ".".join(parts) or "(top level)"


def _child(node: Any, item: int | str) -> Any:
    if isinstance(node, dict) and item in node:
        return node[item]
    if isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node):
        return node[item]
    return None


def _key(err: Any, data: Any) -> str:
    key = _dotted(err["loc"], data)
    return f"{key}.type" if str(err["type"]).startswith("union_tag") else key


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "union_tag_invalid":
        expected = err.get("ctx", {}).get("expected_tags", "")
        return f"must be one of {expected} (got {err['ctx'].get('tag')!r})"
    if kind == "union_tag_not_found":
        return "missing required key"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing required key"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind not in ("value_error", "assertion_error") and "input" in err:
        shown = repr(err["input"])
        msg += f" (got {shown[:40]})"
    return msg


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Relative paths are relative to the config file."""

    def fix(section: dict[str, Any] | None, key: str) -> None:
        if (
            isinstance(section, dict)
            and isinstance(section.get(key), str)
            and section[key] != ":memory:"
        ):
            path = Path(section[key]).expanduser()
            section[key] = str(path if path.is_absolute() else base / path)

    for name, keys in {
        "store": ["path"],
        "gate": ["simulated_pin_log"],
        "roster": ["path"],
        "mqtt": ["key_file", "password_file"],
    }.items():
        for key in keys:
            fix(data.get(name), key)
    tls = data.get("mqtt", {}).get("tls") if isinstance(data.get("mqtt"), dict) else None
    for key in ("ca_file", "cert_file", "key_file"):
        fix(tls, key)
    readers = data.get("reader")
    if isinstance(readers, list):
        for reader in readers:
            for key in ("path", "port", "device", "scbk_file"):
                fix(reader, key)
    collector = data.get("collector")
    if isinstance(collector, dict):
        db = collector.get("database")
        if isinstance(db, str) and "://" not in db:
            fix(collector, "database")


def _get(data: dict[str, Any], dotted: str) -> str | None:
    node: Any = data
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, str) else None


def _path_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Paths that cannot work, found without creating anything (on the raw, resolved data)."""
    out: list[tuple[str, str]] = []
    roster = _get(data, "roster.path")
    if roster is not None and not Path(roster).is_dir():
        out.append(("roster.path", f"not a directory: {roster}"))
    store = _get(data, "store.path")
    if store is not None and store != ":memory:":
        out += _writable_file("store.path", Path(store))
    for key in ("mqtt.key_file", "mqtt.password_file"):
        value = _get(data, key)
        if value is not None and Path(value).exists() and not Path(value).is_file():
            out.append((key, f"not a file: {value}"))
    for key in ("mqtt.tls.ca_file", "mqtt.tls.cert_file", "mqtt.tls.key_file"):
        value = _get(data, key)
        if value is not None and not Path(value).is_file():
            out.append((key, f"no such file: {value}"))
    out += osdp_problems(data.get("reader"))
    database = _get(data, "collector.database")
    if database is not None and "://" not in database:
        out += _writable_file("collector.database", Path(database))
    elif database is not None and not database.startswith(("postgresql://", "postgres://")):
        out.append(("collector.database", "must be a SQLite path or a postgresql:// URL"))
    return out


def _writable_file(key: str, path: Path) -> list[tuple[str, str]]:
    if path.is_dir():
        return [(key, f"is a directory: {path}")]
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return [(key, f"parent is not a directory: {ancestor}")]
    return []


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Config:
    """Read and validate a config file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except UnicodeDecodeError as err:
        raise ConfigError([f"{path}: not UTF-8 ({err.reason} at byte {err.start})"]) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"{path}: TOML syntax: {err}"]) from None
    if overrides:
        data = merge(data, overrides)
    return config_from_dict(data, path)


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def config_from_dict(data: dict[str, Any], path: Path) -> Config:
    _resolve_paths(data, path.resolve().parent)
    problems: list[str] = []
    cfg: Config | None = None
    try:
        cfg = Config.model_validate(data)
    except ValidationError as err:
        problems = [f"{path}: {_key(e, data)}: {_message(e)}" for e in err.errors()]
    problems += [f"{path}: {key}: {msg}" for key, msg in _path_problems(data)]
    if problems or cfg is None:
        raise ConfigError(problems)
    return cfg
