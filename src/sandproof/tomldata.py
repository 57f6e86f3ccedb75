"""Shipped-or-user TOML data files (profiles, matrices): one way to find, read and validate them.

A model is a tree of frozen dataclasses nested like its TOML. Each field *is* its key: the
loader derives the accepted keys, their types and their defaults from the dataclasses
themselves, and a field's metadata (``key(...)``) adds the rest: a docstring, a unit, the
choices, a check of the value. Untrusted TOML is refused with one line naming the file, the
dotted key and what was expected, with a did-you-mean hint for an unknown key (after
pypa/build's ``_parse_build_system_table``).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from sandproof.errors import Error

T = TypeVar("T")
_HERE = os.path.dirname(__file__)
_SIZE = re.compile(r"([0-9]{1,19})([kmgKMG]?)")
INT64_MAX = (1 << 63) - 1
"""Docker reads sizes and counts as int64 (go-units, strconv.ParseInt): more cannot be rendered."""
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def read(ref: str, *, package: str, shipped: tuple[str, ...], what: str, error: type[Error]) -> tuple[str, str]:
    """The text of a shipped file by name, or of a file by path; and where it came from."""
    # plain files beside this module (sandproof.profiles -> sandproof/profiles/): importlib.resources
    # and pathlib cost ~10 ms of imports on attest's path for the same bytes
    path, source = (
        (os.path.join(_HERE, *package.split(".")[1:], f"{ref}.toml"), f"shipped:{ref}")
        if ref in shipped
        else (ref, ref)
    )
    if os.path.isdir(path):  # not "no such file": it is there, and the wrong kind
        raise error(
            f"{what} {ref!r}: is a directory; expected a {what} TOML file or a shipped {what}: {', '.join(shipped)}"
        )
    if not os.path.isfile(path):
        raise error(f"{what} {ref!r}: no such file and not a shipped {what}; shipped {what}s: {', '.join(shipped)}")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), source
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{what} {ref}: cannot read: {exc}") from exc


def loads(text: str, *, source: str, what: str, error: type[Error]) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} {source}: not valid TOML: {exc}") from exc


@dataclass(frozen=True)
class Size:
    """A size as written ("256m") and in bytes: one value, never two fields to keep in step."""

    bytes: int
    text: str

    @classmethod
    def of(cls, text: str) -> Size:
        """``Size.of("1g")``; ValueError for anything but digits then k, m or g."""
        # ASCII only, the whole text: re's \d and "$" and str.lower() would take Arabic-Indic
        # digits, a final newline and the Kelvin sign, which Docker's go-units refuses
        m = _SIZE.fullmatch(text)
        if not m or int(m[1]) * _UNITS[m[2].lower()] > INT64_MAX:
            raise ValueError(text)
        return cls(int(m[1]) * _UNITS[m[2].lower()], text)


@dataclass(frozen=True)
class Key:
    """What a field's metadata says beyond its type and default."""

    doc: str = ""
    unit: str = ""
    choices: tuple[str, ...] = ()
    """The only strings accepted (of each item, for a list)."""
    check: Callable[[Any], str | None] | None = None
    """Given the typed value (each item, for a list): None, or what was expected instead."""
    read: Callable[[Table, str], Any] | None = None
    """Reads a value no plain type describes (a host:port, a table of limits)."""
    nonempty: bool = False
    toml: str = ""
    """The key in the file when it differs from the field's name."""
    internal: bool = False
    """Not a key at all: set by the loader (where the file came from, its text)."""
    secret: bool = False
    """A table whose values never enter the digest, only its names."""
    omit_default: bool = False
    """Left out of the digest while it holds its default: a key added later keeps the digest of
    every profile written before it (bundles recorded then still verify)."""


def key(**meta: Any) -> dict[str, Key]:
    """A field's metadata: ``field(default=..., metadata=key(check=...))``."""
    return {"key": Key(**meta)}


@dataclass(frozen=True)
class _Field:
    name: str
    toml: str
    shape: str
    """How the value is read: "read" (by Key.read), "model", "models" (a list of tables),
    "strings", or one of the scalar getters of ``Table``."""
    inner: Any
    """The model class, for "model" and "models"."""
    required: bool
    meta: Key


_FIELDS: dict[type[Any], tuple[_Field, ...]] = {}
_SCALARS = {str: "text", bool: "flag", int: "integer", float: "number", Size: "size"}


def _shape(kind: Any, meta: Key) -> tuple[str, Any]:
    if meta.read is not None:
        return "read", None
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # X | None: optional
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if kind in _SCALARS:
        return _SCALARS[kind], None
    if dataclasses.is_dataclass(kind):
        return "model", kind
    args = typing.get_args(kind)
    if typing.get_origin(kind) is tuple and dataclasses.is_dataclass(args[0]):
        return "models", args[0]
    if typing.get_origin(kind) is tuple and args == (str, ...):
        return "strings", None
    if typing.get_origin(kind) is Mapping and args == (str, str):
        return "str_map", None
    raise TypeError(f"{kind!r} needs a Key(read=...)")  # a model bug, never input


def fields(cls: type[Any]) -> tuple[_Field, ...]:
    """The keys of a model class, computed once per class from its dataclass fields."""
    if cls not in _FIELDS:
        hints = typing.get_type_hints(cls)
        out = []
        for f in dataclasses.fields(cls):
            meta = f.metadata.get("key", Key())
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            shape, inner = ("internal", None) if meta.internal else _shape(hints[f.name], meta)
            out.append(_Field(f.name, meta.toml or f.name, shape, inner, required, meta))
        _FIELDS[cls] = tuple(out)
    return _FIELDS[cls]


def build(cls: type[T], t: Table, **internal: Any) -> T:
    """An instance of the model ``cls`` from table ``t``: every key known, typed and checked."""
    spec = [f for f in fields(cls) if f.shape != "internal"]
    t.keys_only(*(f.toml for f in spec))
    values = dict(internal)
    for f in spec:
        if f.required or f.toml in t.data:
            values[f.name] = _value(f, t)
    return cls(**values)


def _value(f: _Field, t: Table) -> Any:
    name, meta = f.toml, f.meta
    if f.shape == "read":
        return meta.read(t, name)  # type: ignore[misc] # "read" means it is set
    if f.shape == "model":
        return build(f.inner, t.table(name))
    if f.shape == "models":
        tables = t.tables(name)
        if meta.nonempty and not tables:
            t.fail(name, "a non-empty list of tables")
        return tuple(build(f.inner, x) for x in tables)
    if f.shape == "strings":
        values = t.str_list(name, nonempty=meta.nonempty)
        for v in values:
            if meta.choices and v not in meta.choices:
                t.fail(name, f"items from {', '.join(meta.choices)}, got {v!r}")
            _check(t, name, meta, v)
        return values
    value = t.choice(name, meta.choices) if meta.choices else getattr(t, f.shape)(name)
    _check(t, name, meta, value)
    return value


def _check(t: Table, name: str, meta: Key, value: Any) -> None:
    if meta.check is not None:
        wrong = meta.check(value)
        if wrong is not None:
            t.fail(name, wrong)


def canonical(obj: Any) -> Any:
    """What a model instance says, as JSON data keyed like its TOML: internal fields left
    out, a secret table by its names only."""
    kind = type(obj)
    if kind is tuple or kind is list:
        return [x if type(x) is str else canonical(x) for x in obj]
    if kind in _FIELDS or dataclasses.is_dataclass(kind):
        return {
            f.toml: sorted(v) if f.meta.secret else canonical(v)
            for f in fields(kind)
            if f.shape != "internal"
            for v in (getattr(obj, f.name),)
            if not (f.meta.omit_default and v == _default(kind, f.name))
        }
    if isinstance(obj, Mapping):
        return {k: canonical(v) for k, v in obj.items()}
    return obj


def _default(cls: type[Any], name: str) -> Any:
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def hint(word: str, candidates: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Table:
    """A TOML table with typed getters that fail with the file and dotted key."""

    def __init__(
        self, data: Mapping[str, Any], source: str, prefix: str = "", *, what: str, error: type[Error]
    ) -> None:
        self.data = data
        self.source = source
        self.prefix = prefix
        self.what = what
        self.error = error

    def _sub(self, data: Mapping[str, Any], prefix: str) -> Table:
        return Table(data, self.source, prefix, what=self.what, error=self.error)

    def where(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def fail(self, key: str, expected: str) -> NoReturn:
        raise self.error(f"{self.what} {self.source}: key '{self.where(key)}': expected {expected}")

    def keys_only(self, *allowed: str) -> None:
        for key in self.data:
            if key not in allowed:
                where = f"[{self.prefix}]" if self.prefix else "the top level"
                raise self.error(
                    f"{self.what} {self.source}: unknown key '{self.where(key)}' in {where}{hint(key, allowed)}; "
                    f"expected one of: {', '.join(allowed)}"
                )

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> Any:
        if key not in self.data:
            self.fail(key, "a value (the key is missing)")
        return self.data[key]

    def table(self, key: str) -> Table:
        value = self.get(key)
        if not isinstance(value, dict):
            self.fail(key, f"a table, got {type(value).__name__}")
        return self._sub(value, self.where(key))

    def tables(self, key: str) -> list[Table]:
        value = self.get(key)
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            self.fail(key, "a list of tables")
        return [self._sub(x, f"{self.where(key)}[{i}]") for i, x in enumerate(value)]

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            self.fail(key, f"a string, got {type(value).__name__}")
        return value

    def flag(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            self.fail(key, f"true or false, got {type(value).__name__}")
        return value

    def integer(self, key: str) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
            self.fail(key, f"a non-negative integer below 2**63, got {value!r}")
        return value

    def number(self, key: str) -> float:
        value = self.get(key)
        # docker keeps cpus as int64 nano-CPUs (api/types/container NanoCPUs): nan, inf and
        # anything that overflows it cannot be rendered
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 9e9:
            self.fail(key, f"a number 0..9e9 (0: no limit), got {value!r}")
        return float(value)

    def size(self, key: str) -> Size:
        text = self.text(key)
        try:
            return Size.of(text)
        except ValueError:
            self.fail(key, f"a size like '256m' (digits then k, m or g), got {text!r}")

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in choices:
            self.fail(key, f"one of {', '.join(choices)}, got {value!r}")
        return value

    def str_list(self, key: str, *, nonempty: bool = False) -> tuple[str, ...]:
        value = self.get(key)
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            self.fail(key, "a list of strings")
        if nonempty and not value:
            self.fail(key, "a non-empty list of strings")
        return tuple(value)

    def str_map(self, key: str) -> dict[str, str]:
        value = self.get(key)
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            self.fail(key, "a table of string values")
        return dict(value)
