"""Typed configuration: dataclasses filled from YAML recipes, with ``a.b.c=value`` overrides.

Recipes in ``configs/`` write every value out; a field missing from a recipe keeps the dataclass
default, an unknown key is an error naming the recipe file and the key (typos never pass silently).

This module is the one reader of recipes, and every recipe value is checked here, when it is read:

* the YAML is parsed by :class:`RecipeLoader`, which refuses anchors and aliases (a 300-byte alias bomb
  expands to gigabytes), nesting deeper than :data:`MAX_DEPTH` and keys given twice; files over
  :data:`MAX_RECIPE_BYTES`, non-UTF-8 files and ``--set`` texts over :data:`MAX_OVERRIDE_CHARS` are
  refused before parsing;
* a field's type is enforced (``int``, ``float``, ``bool``, ``str``, lists, mappings, ``Literal``,
  nested dataclasses), and a field annotated ``Annotated[T, rule, ...]`` with :class:`Check` rules
  (:func:`at_least`, :func:`between`, :func:`one_of`, ...) must satisfy them; a dataclass's own
  ``__post_init__`` check (a ``ValueError``) is reported naming the file;
* every failure is one :class:`~partparse.io.InputError` line naming the file and the dotted field
  (``r.yaml.train.batch_size: must be >= 1, got 0``), and values are shown truncated (:func:`short_repr`).
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from partparse.io import InputError, atomic_write, short_repr

T = TypeVar("T")

#: A recipe file larger than this is refused unread (the shipped ones are under 4 KB).
MAX_RECIPE_BYTES = 1 << 20
#: Deepest nesting of mappings and lists in a recipe (the shipped ones: 3). PyYAML composes nodes
#: recursively, so a recipe nested 20000 deep would otherwise end in a RecursionError.
MAX_DEPTH = 32
#: Longest ``--set`` text.
MAX_OVERRIDE_CHARS = 10_000
#: Longest image or frame side a recipe may ask for (a resize to 100000 px would exhaust memory).
MAX_SIDE = 4096
#: Integers beyond 64 bits fit no tensor, seed or size: refused in every int field.
_INT64 = 2**63 - 1

def _key(key: Any) -> str:
    """A mapping key as it appears in a dotted field name (``where``)."""
    text = str(key)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------------------------- YAML
class RecipeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses anchors, aliases (``&a``, ``*a``, ``<<: *a``), nesting deeper than
    :data:`MAX_DEPTH` and a key given twice in one mapping. Recipes need none of them; aliases let a few
    bytes expand without bound, and of two equal keys PyYAML silently keeps the last."""

    _depth = 0

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (&name, *name) are not allowed "
                                              "in recipes", event.start_mark)
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                              event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor):  # noqa: ANN001 - PyYAML's signature
        node = super().compose_mapping_node(anchor)
        seen = set()
        for key, _ in node.value:  # PyYAML keeps the last of two equal keys: a silent typo in a recipe
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise yaml.composer.ComposerError(None, None, f"key {key.value[:40]!r} given twice",
                                                      key.start_mark)
                seen.add(key.value)
        return node


# YAML 1.1 (PyYAML) reads ``5e-4`` and ``1.0e3`` as strings (its floats need a dot and a signed exponent);
# YAML 1.2 and every user read them as numbers. Resolved after PyYAML's own int and float rules.
RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def parse_yaml(text: str, where: str) -> Any:
    """The value of a YAML text (one document) read with :class:`RecipeLoader`; any failure is one
    :class:`InputError` line starting with ``where``."""
    try:
        return yaml.load(text, Loader=RecipeLoader)  # noqa: S506 - RecipeLoader is a SafeLoader
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(err.problem or err.context or "").split())
        raise InputError(f"{where}: malformed YAML{at}: {problem[:200]}") from None
    except yaml.YAMLError as err:
        raise InputError(f"{where}: malformed YAML: {' '.join(str(err).split())[:200]}") from None
    except Exception as err:  # noqa: BLE001 - PyYAML's scalar constructors raise ValueError, AttributeError, ...
        # (a date 2020-13-45, an int of 5000 digits, a bad !!timestamp)
        raise InputError(f"{where}: malformed YAML value ({type(err).__name__}: "
                         f"{' '.join(str(err).split())[:120]})") from None


# ------------------------------------------------------------------------------------- field checks
@dataclass(frozen=True)
class Check:
    """A rule on a recipe value, attached to a field as ``Annotated[T, Check(...)]``.

    ``test(value)`` is true when the (already type-checked) value is allowed; ``says`` completes
    "must be ..." in the error. ``None`` (an optional field left empty) is never tested.
    """

    test: Callable[[Any], bool]
    says: str

    def __call__(self, value: Any, where: str) -> None:
        if value is not None and not self.test(value):
            raise InputError(f"{where}: must be {self.says}, got {short_repr(value)}")


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def at_least(lo: float) -> Check:
    """A finite number ``>= lo``."""
    return Check(lambda v: _finite(v) and v >= lo, f">= {lo}")


def above(lo: float) -> Check:
    """A finite number ``> lo``."""
    return Check(lambda v: _finite(v) and v > lo, f"> {lo} (and finite)")


def between(lo: float, hi: float) -> Check:
    """A finite number in ``[lo, hi]``."""
    return Check(lambda v: _finite(v) and lo <= v <= hi, f"in [{lo}, {hi}]")


def one_of(*allowed: Any) -> Check:
    """One of ``allowed`` (compared with ``==`` and the same type: ``True`` is not ``1``)."""
    return Check(lambda v: any(type(v) is type(a) and v == a for a in allowed),
                 "one of " + ", ".join(repr(a) for a in allowed))


def each(rule: Check) -> Check:
    """Every item of a list satisfies ``rule``."""
    return Check(lambda v: all(rule.test(x) for x in v), f"a list of values each {rule.says}")


#: A string or list that is not empty.
NON_EMPTY = Check(lambda v: len(v) > 0, "non-empty")
#: A list without repeated items.
UNIQUE = Check(lambda v: len(set(map(repr, v))) == len(v), "a list without repeated items")


def length(n: int) -> Check:
    """A list of exactly ``n`` items."""
    return Check(lambda v: len(v) == n, f"a list of {n} values")


# ----------------------------------------------------------------------------------------- convert
def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        value = _convert(value, args[0], where)
        for rule in args[1:]:
            if isinstance(rule, Check):
                rule(value, where)
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg, where)
            except InputError as err:
                errors.append(str(err))
        raise InputError(errors[0] if errors else f"{where}: cannot convert {short_repr(value)}")
    if origin is typing.Literal:
        if not any(type(value) is type(a) and value == a for a in args):
            raise InputError(f"{where}: must be one of {', '.join(repr(a) for a in args)}, got {short_repr(value)}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected a mapping for {tp.__name__}, got {short_repr(value)}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise InputError(f"{where}: expected a list, got {short_repr(value)}")
        item = args[0] if args else Any
        out = [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected a mapping, got {short_repr(value)}")
        key_tp, value_tp = args if args else (Any, Any)
        return {_convert(k, key_tp, f"{where} key {_key(k)!r}"): _convert(v, value_tp, f"{where}.{_key(k)}")
                for k, v in value.items()}
    if tp is Any or tp is object:
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is bool and not isinstance(value, bool):
        raise InputError(f"{where}: expected true/false, got {short_repr(value)}")
    if tp is int and isinstance(value, bool):
        raise InputError(f"{where}: expected an integer, got {short_repr(value)}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise InputError(f"{where}: expected {tp.__name__}, got {short_repr(value)}")
    if tp is int and abs(value) > _INT64:
        raise InputError(f"{where}: integer out of range, got {short_repr(value)}")
    if tp is str and "\x00" in value:  # no path, name or device holds one (os calls raise ValueError)
        raise InputError(f"{where}: contains a NUL character, got {short_repr(value)}")
    return value


def from_dict(cls: type[T], data: dict, where: str = "config") -> T:
    """Build dataclass ``cls`` from a (nested) dict; unknown keys, wrong types or values breaking a field's
    :class:`Check` rules raise one-line InputErrors (a ``__post_init__`` check raises its ValueError)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted((k for k in data if k not in names), key=str)
    if unknown:
        raise InputError(f"{where}: unknown key {_key(unknown[0])!r} for {cls.__name__} "
                         f"(known: {', '.join(sorted(names))})")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


# --------------------------------------------------------------------------------------- overrides
def _parse_override(text: str) -> tuple[list[str], Any]:
    if len(text) > MAX_OVERRIDE_CHARS:
        raise InputError(f"override {short_repr(text)}: longer than {MAX_OVERRIDE_CHARS} characters")
    if "=" not in text:
        raise InputError(f"override {short_repr(text)}: expected dotted.key=value")
    key, raw = text.split("=", 1)
    path = key.strip().split(".")
    if not all(part.strip() for part in path):
        raise InputError(f"override {short_repr(text)}: expected dotted.key=value (an empty key part)")
    return [p.strip() for p in path], parse_yaml(raw, f"override {short_repr(text)}")


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    """Set ``a.b=value`` entries (values parsed as YAML: ``0.1``, ``true``, ``[16, 22]``) in a nested dict."""
    for text in overrides:
        path, value = _parse_override(text)
        node = data
        for part in path[:-1]:
            if node.get(part) is None:  # a section left empty in the recipe (``model:``) or absent
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise InputError(f"override {short_repr(text)}: {part!r} is not a section")
        node[path[-1]] = value
    return data


# ------------------------------------------------------------------------------------------ recipes
def read_recipe_dict(path: str | Path) -> dict:
    """The raw mapping of a YAML recipe; a missing, oversized, unreadable or non-UTF-8 file, bad YAML
    (aliases included) or a non-mapping raise InputError."""
    path = Path(path)
    if not path.is_file():  # also keeps FIFOs and devices out: reading them could block for ever
        raise InputError(f"{path}: recipe not found")
    try:
        size = path.stat().st_size
        if size > MAX_RECIPE_BYTES:
            raise InputError(f"{path}: {size} bytes, larger than a recipe can be ({MAX_RECIPE_BYTES} bytes)")
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text (byte {err.start})") from None
    data = parse_yaml(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: a recipe is a mapping of sections, got {type(data).__name__}")
    return data


def load_recipe(path: str | Path, cls: type[T], overrides: Iterable[str] = ()) -> T:
    """Read a YAML recipe into dataclass ``cls``, checking every value; errors name the file and the key.

    Every error is an :class:`InputError`: a ValueError of a config's own check (``__post_init__``)
    becomes one naming the file. A recipe class with a ``task`` field reads only recipes of its own task
    (its default): neither the file nor ``--set task=...`` can make a video recipe save ``task: pose``.
    """
    data = apply_overrides(read_recipe_dict(path), overrides)
    try:
        cfg = from_dict(cls, data, where=str(path))
    except InputError:
        raise
    except ValueError as err:
        raise InputError(f"{path}: {' '.join(str(err).split())[:300]}") from None
    own = {f.name: f.default for f in dataclasses.fields(cls)}.get("task", dataclasses.MISSING)
    if own is not dataclasses.MISSING and cfg.task != own:
        raise InputError(f"{path}: task {short_repr(cfg.task)}, expected {own!r} (a recipe's task cannot be "
                         "changed with --set)")
    return cfg


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
