"""The sections of a config file, one model each, every key checked with its bounds.

A gate's file holds ``[site]``, ``[gate]``, ``[store]``, ``[roster]`` and what the gate
uses besides (``[mqtt]``, ``[[reader]]``, ``[gpio]``, ...); the office's holds ``[site]``,
``[mqtt]`` and ``[collector]`` (``edge.config.documents`` puts them together). Nothing
here opens a pin, a port or a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from drivers.gpio import GatePins

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Pin = Annotated[int, Field(ge=0, le=27)]


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
    # with a lock-state sensor: how soon after relocking it must say the lock engaged
    lock_engage_seconds: float = Field(default=2.0, gt=0, le=60)
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
    """An OSDP reader on an RS-485 adapter; the key file is checked with the paths."""

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
