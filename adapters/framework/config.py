"""An adapter's configuration file: TOML, one table per section, each section a frozen dataclass.

A court's IT staff writes this file once; every mistake must stop the start with the key's name
and what it takes -- an unknown key (a typo would otherwise be ignored and its default used), a
missing required one, a value of the wrong kind::

    error: dms.poll_seconds: expected a number, got 'soon'
    error: hub.usernme: unknown key (hub takes: ca_file, client_cert, ...)
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """The file cannot be used: the message names the file and the key."""


_KINDS: dict[Any, str] = {str: "text", int: "a whole number", float: "a number", bool: "true or false", Path: "a path"}


def load(path: Path, sections: dict[str, type[Any]]) -> dict[str, Any]:
    """Read ``path`` and build each section's dataclass (``sections``: table name -> dataclass);
    a section whose every field has a default may be left out."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - set(sections))
    if unknown:
        raise ConfigError(f"{path}: unknown section [{unknown[0]}] (sections: {', '.join(sorted(sections))})")
    built = {}
    for name, cls in sections.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {name} must be a table ([{name}])")
        built[name] = section(cls, table, name, base=path.parent)
    return built


def section(cls: type[T], table: dict[str, Any], name: str, base: Path = Path(".")) -> T:
    """``cls`` (a dataclass) from one TOML table; relative paths are taken from ``base`` (the
    file's directory), so a configuration means the same from wherever the adapter starts."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ConfigError(f"{name}.{unknown[0]}: unknown key ({name} takes: {', '.join(sorted(fields))})")
    values = {}
    for key, field in fields.items():
        where = f"{name}.{key}"
        if key not in table:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where}: required")
            continue
        if table[key] == "" and field.default == "":  # an empty text where "" is the default: that default
            continue
        values[key] = _value(where, hints[key], table[key], base)
    try:
        return cls(**values)
    except ValueError as exc:  # a section's own check (__post_init__) names its key
        raise ConfigError(f"{name}.{exc}") from exc


def _value(where: str, kind: Any, given: Any, base: Path) -> Any:
    optional = typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind)
    if optional:
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    origin = typing.get_origin(kind)
    if origin is tuple:  # tuple[str, ...]
        (item, _) = typing.get_args(kind)
        if not isinstance(given, list):
            raise ConfigError(f"{where}: expected a list, got {given!r}")
        return tuple(_value(f"{where}[{i}]", item, v, base) for i, v in enumerate(given))
    if kind is float and isinstance(given, int | float) and not isinstance(given, bool):
        return float(given)
    if kind is Path and isinstance(given, str) and given:
        path = Path(given).expanduser()
        return path if path.is_absolute() else (base / path)
    if kind in (str, int, bool) and type(given) is kind and (kind is not str or given):
        return given
    expected = _KINDS.get(kind, str(kind))
    raise ConfigError(f"{where}: expected {expected}, got {given!r}")
