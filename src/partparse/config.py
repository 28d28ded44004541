"""Typed configuration: dataclasses filled from YAML recipes, with ``a.b.c=value`` overrides.

Recipes in ``configs/`` write every value out; a field missing from a recipe keeps the dataclass
default, an unknown key is an error naming the recipe file and the key (typos never pass silently).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Iterable, TypeVar

import yaml

from partparse.io import InputError, atomic_write

T = TypeVar("T")


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg, where)
            except InputError as err:
                errors.append(str(err))
        raise InputError(errors[0] if errors else f"{where}: cannot convert {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise InputError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        out = [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected a mapping, got {value!r}")
        return {k: _convert(v, args[1] if args else Any, f"{where}.{k}") for k, v in value.items()}
    if tp is Any or tp is object:
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is bool and not isinstance(value, bool):
        raise InputError(f"{where}: expected true/false, got {value!r}")
    if tp is int and isinstance(value, bool):
        raise InputError(f"{where}: expected an integer, got {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise InputError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict, where: str = "config") -> T:
    """Build dataclass ``cls`` from a (nested) dict; unknown keys and wrong types raise InputError."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r} for {cls.__name__} (known: {', '.join(sorted(names))})")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise InputError(f"override {text!r}: expected dotted.key=value")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw)


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    """Set ``a.b=value`` entries (values parsed as YAML: ``0.1``, ``true``, ``[16, 22]``) in a nested dict."""
    for text in overrides:
        path, value = _parse_override(text)
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"override {text!r}: {part!r} is not a section")
        node[path[-1]] = value
    return data


def read_recipe_dict(path: str | Path) -> dict:
    """The raw mapping of a YAML recipe; a missing file, bad YAML or a non-mapping raise InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: recipe not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise InputError(f"{path}: malformed YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a recipe is a mapping of sections, got {type(data).__name__}")
    return data


def load_recipe(path: str | Path, cls: type[T], overrides: Iterable[str] = ()) -> T:
    """Read a YAML recipe into dataclass ``cls``; errors name the file and the key."""
    return from_dict(cls, apply_overrides(read_recipe_dict(path), overrides), where=str(path))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_dict(cfg: Any) -> dict:
    """Nested plain dict (tuples as lists) of a dataclass config, ready for YAML or JSON."""
    return _plain(dataclasses.asdict(cfg))


def save_recipe(cfg: Any, path: str | Path) -> Path:
    """Write a dataclass config as YAML, atomically (the run directory keeps what was really used)."""
    text = yaml.safe_dump(to_dict(cfg), sort_keys=False)
    return atomic_write(path, lambda fh: fh.write(text))
