"""Optional daemon components: the MQTT link and the guard console, when configured."""

from __future__ import annotations

from typing import Any

from edge.host import GateHost


def start_extras(host: GateHost) -> list[tuple[str, Any]]:
    """Named components in their start order (they are stopped in reverse)."""
    from edge.ops.timesync import ClockWatch
    from edge.ops.watchdog import Watchdog

    extras: list[tuple[str, Any]] = []
    if host.cfg.gate.hardware == "gpio":
        # A real gate owns its clock; simulated hardware runs on machines whose clock is
        # not the gate's business (a laptop, a CI container that reports it unsynchronised).
        extras.append(("clock", ClockWatch(host)))
    if host.cfg.mqtt is not None:
        from mqtt.link import GateLink

        extras.append(("mqtt", GateLink(host)))
    if host.cfg.camera is not None:
        from edge.components.camera import CameraLink

        extras.append(("camera", CameraLink(host)))
    if host.cfg.console.enabled:
        from edge.console.server import ConsoleComponent

        extras.append(("console", ConsoleComponent(host)))
    # READY=1 once everything above has started, STOPPING=1 before it stops: keep it last.
    extras.append(("watchdog", Watchdog(host)))
    return extras
