"""Reading a config file: TOML, paths relative to the file, every problem in one list.

Every problem is reported at once as ``FILE: dotted.key: message``. Nothing here opens
a pin, a port or a database: validation only reads the file and looks at paths.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from edge.config.documents import Config, OfficeConfig
from edge.config.osdp import osdp_problems

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config that cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


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


def read_file(path: Path) -> dict[str, Any]:
    """The file's TOML as a dict; ConfigError when it cannot be read or parsed."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except UnicodeDecodeError as err:
        raise ConfigError([f"{path}: not UTF-8 ({err.reason} at byte {err.start})"]) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"{path}: TOML syntax: {err}"]) from None


def is_office_only(data: dict[str, Any]) -> bool:
    """A file for the office alone: ``[collector]`` and no ``[gate]``."""
    return "gate" not in data and "collector" in data


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Config:
    """Read and validate a gate's config file; raise ConfigError listing every problem."""
    path = Path(path)
    data = read_file(path)
    if overrides:
        data = merge(data, overrides)
    return config_from_dict(data, path)


def load_office_config(path: str | Path) -> OfficeConfig:
    """The office's config: its own file, or the ``[collector]`` of a gate's file."""
    path = Path(path)
    return office_config_from_dict(read_file(path), path)


def load_any_config(path: str | Path) -> Config | OfficeConfig:
    """A gate's config, or else an office's: for commands that need only the site and broker."""
    path = Path(path)
    data = read_file(path)
    if is_office_only(data):
        return office_config_from_dict(data, path)
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
    if is_office_only(data):
        raise ConfigError(
            [
                f"{path}: gate: no [gate] section: this is an office config (for `kindergate "
                "collector`, `report`, `cmd`), not a gate's"
            ]
        )
    return _validated(Config, data, path)


def office_config_from_dict(data: dict[str, Any], path: Path) -> OfficeConfig:
    if is_office_only(data):
        return _validated(OfficeConfig, data, path)
    office = config_from_dict(data, path).office()
    if office is None:
        raise ConfigError([f"{path}: collector: no [collector] section"])
    return office


def _validated(model: type[M], data: dict[str, Any], path: Path) -> M:
    _resolve_paths(data, path.resolve().parent)
    problems: list[str] = []
    found: M | None = None
    try:
        found = model.model_validate(data)
    except ValidationError as err:
        problems = [f"{path}: {_key(e, data)}: {_message(e)}" for e in err.errors()]
    problems += [f"{path}: {key}: {msg}" for key, msg in _path_problems(data)]
    if problems or found is None:
        raise ConfigError(problems)
    return found
