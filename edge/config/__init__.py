"""The config files of KinderGate: a gate's, an office's, validated in full before use.

``sections`` holds one model per section, ``documents`` what a file holds (a gate's
``Config``, an ``OfficeConfig``, or both in one file), ``loading`` reads a file and lists
every problem as ``FILE: dotted.key: message``. Everything is importable from here.
"""

from edge.config.documents import Config, OfficeConfig
from edge.config.loading import (
    ConfigError,
    config_from_dict,
    is_office_only,
    load_any_config,
    load_config,
    load_office_config,
    merge,
    office_config_from_dict,
    read_file,
)
from edge.config.sections import (
    CameraConfig,
    CollectorConfig,
    ConsoleConfig,
    GateConfig,
    GpioConfig,
    KeyboardReaderConfig,
    LineReaderConfig,
    MqttConfig,
    OsdpReaderConfig,
    Rdm6300ReaderConfig,
    ReaderConfig,
    RetentionConfig,
    RosterConfig,
    SiteConfig,
    StoreConfig,
    TlsConfig,
    WiegandReaderConfig,
)

__all__ = [
    "CameraConfig",
    "CollectorConfig",
    "Config",
    "ConfigError",
    "ConsoleConfig",
    "GateConfig",
    "GpioConfig",
    "KeyboardReaderConfig",
    "LineReaderConfig",
    "MqttConfig",
    "OfficeConfig",
    "OsdpReaderConfig",
    "Rdm6300ReaderConfig",
    "ReaderConfig",
    "RetentionConfig",
    "RosterConfig",
    "SiteConfig",
    "StoreConfig",
    "TlsConfig",
    "WiegandReaderConfig",
    "config_from_dict",
    "is_office_only",
    "load_any_config",
    "load_config",
    "load_office_config",
    "merge",
    "office_config_from_dict",
    "read_file",
]
