"""Optional daemon components: the MQTT link and the guard console, when configured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.daemon import Daemon


def start_extras(daemon: Daemon) -> list[tuple[str, Any]]:
    """Named components in their start order (they are stopped in reverse)."""
    return []
