"""What a config file holds: a gate's config, an office's, or both in one file.

A file with ``[gate]`` is a gate's (``Config``): ``kindergate run`` and the gate's other
commands read it. A file with ``[collector]`` serves the office (``OfficeConfig``):
``kindergate collector``, ``report`` and ``events --collector``. One file may be both: a
gate's config that also holds ``[collector]`` works for both commands (``Config.office``);
the office's own file needs none of the gate's sections.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from edge.config.sections import (
    CameraConfig,
    CollectorConfig,
    ConsoleConfig,
    GateConfig,
    GpioConfig,
    Model,
    MqttConfig,
    ReaderConfig,
    RetentionConfig,
    RosterConfig,
    SiteConfig,
    StoreConfig,
)


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

    def office(self) -> OfficeConfig | None:
        """The office's part of this file, when it holds ``[collector]``."""
        if self.collector is None:
            return None
        return OfficeConfig(
            site=self.site, mqtt=self.mqtt, collector=self.collector, roster=self.roster
        )


class OfficeConfig(Model):
    """The collector's config: the broker, the office database, the site's time zone.

    ``[mqtt]`` is the broker the gates publish to (its ``key_file`` signs ``kindergate cmd``);
    ``[roster]``, when given, names children and classes in the reports.
    """

    site: SiteConfig
    mqtt: MqttConfig | None = None
    collector: CollectorConfig
    roster: RosterConfig | None = None
