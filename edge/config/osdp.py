"""The checks of an OSDP reader's config that look at files and at the other readers.

``osdp_problems`` runs on the raw, path-resolved ``[[reader]]`` list, like the
config's other path checks, so a config with several problems reports them all at
once. ``install_mode_problems`` is for ``check-config`` alone: install mode left on
after the key was made is refused there (and is a FAIL in ``doctor``), but a gate
that restarts with it still starts, with a warning, rather than stay down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.osdp_key import install_mode_refusal, key_problems


def osdp_problems(readers: Any) -> list[tuple[str, str]]:
    """(dotted key, message) for each OSDP reader whose key or port cannot work."""
    if not isinstance(readers, list):
        return []
    out: list[tuple[str, str]] = []
    ports: dict[str, str] = {}
    for i, reader in enumerate(readers):
        if not isinstance(reader, dict) or reader.get("type") != "osdp":
            continue
        port, key_file = reader.get("port"), reader.get("scbk_file")
        install_mode = reader.get("install_mode", False)
        if isinstance(port, str):
            if port in ports:
                out.append(
                    (
                        f"reader.{i}.port",
                        f"{port} is also reader {ports[port]}'s: "
                        "give each OSDP reader its own RS-485 adapter",
                    )
                )
            ports.setdefault(port, str(reader.get("name", i)))
        if isinstance(key_file, str) and isinstance(install_mode, bool):
            out += [
                (f"reader.{i}.{key}", message)
                for key, message in key_problems(Path(key_file), install_mode)
            ]
    return out


def install_mode_problems(readers: list[Any]) -> list[tuple[str, str]]:
    """(dotted key, message) for each OSDP reader left in install mode with its key made."""
    out: list[tuple[str, str]] = []
    for i, reader in enumerate(readers):
        if getattr(reader, "type", None) == "osdp" and reader.install_mode:
            why = install_mode_refusal(Path(reader.scbk_file))
            if why is not None:
                out.append((f"reader.{i}.install_mode", why))
    return out
