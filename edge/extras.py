"""Optional daemon components: the MQTT link and the guard console, when configured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.daemon import Daemon


def start_extras(daemon: Daemon) -> list[tuple[str, Any]]:
    """Named components in their start order (they are stopped in reverse)."""
    from edge.ops.timesync import ClockWatch
    from edge.ops.watchdog import Watchdog

    extras: list[tuple[str, Any]] = []
    if daemon.cfg.gate.hardware == "gpio":
        # A real gate owns its clock; simulated hardware runs on machines whose clock is
        # not the gate's business (a laptop, a CI container that reports it unsynchronised).
        extras.append(("clock", ClockWatch(daemon)))
    if daemon.cfg.mqtt is not None:
        from mqtt.link import GateLink

        extras.append(("mqtt", GateLink(daemon)))
    if daemon.cfg.camera is not None:
        from edge.camera_link import CameraLink

        extras.append(("camera", CameraLink(daemon)))
    if daemon.cfg.console.enabled:
        from edge.console.server import ConsoleComponent

        extras.append(("console", ConsoleComponent(daemon)))
    # READY=1 once everything above has started, STOPPING=1 before it stops: keep it last.
    extras.append(("watchdog", Watchdog(daemon)))
    return extras
