"""A profile as TOML a person can own: ``profile show --format toml``, ``profile new``,
``profile import``. Written from the model (``profile.py``), field by field in its order and
nesting, so it loads back to the same model (``tests/test_profile_files.py``); every key
annotated with what the model says of it (its attribute docstring, unit and choices).

``data`` is the same tree as plain values (sizes and limits as written, variable values
included), which ``profile diff`` compares key by key.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import json
import re
import textwrap
from collections.abc import Mapping
from typing import Any

from sandproof import profile as profiles
from sandproof import tomldata
from sandproof.inspector.judges.limits import UNLIMITED
from sandproof.profile import Profile
from sandproof.tomldata import Size

_BARE = re.compile(r"[A-Za-z0-9_-]+")
WIDTH = 100


@functools.cache
def _docs() -> dict[tuple[str, str], str]:
    """(class, field) -> the attribute docstring under the field in profile.py (Python keeps
    none at run time, so read from the source)."""
    tree = ast.parse(inspect.getsource(profiles))
    out: dict[tuple[str, str], str] = {}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        body = cls.body
        for stmt, nxt in itertools.pairwise(body):
            doc = nxt.value.value if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) else None
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and isinstance(doc, str):
                out[cls.name, stmt.target.id] = " ".join(doc.split())
    return out


def _unset(cls: type[Any], f: tomldata._Field, v: Any) -> bool:
    """True for a key the file leaves out: None, or a default no value of the key can state
    ("engine-default": no flag at all) or one the digest leaves out while it holds it."""
    if v is None:
        return True
    if f.required:
        return False
    default = tomldata._default(cls, f.name)
    return v == default and (f.meta.omit_default or (bool(f.meta.choices) and v not in f.meta.choices))


def _limit(value: int) -> object:
    return "unlimited" if value == UNLIMITED else value


def _plain(value: Any) -> Any:
    """A field's value as its TOML states it."""
    if isinstance(value, Size):
        return value.text
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return data(value)
    if isinstance(value, tuple):
        if len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int):  # host:port
            return f"{value[0]}:{value[1]}"
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def data(model: Any) -> dict[str, Any]:
    """The model as TOML-shaped plain values; None (an optional key not set) left out."""
    out: dict[str, Any] = {}
    for f in tomldata.fields(type(model)):
        if f.shape == "internal":
            continue
        value = getattr(model, f.name)
        if _unset(type(model), f, value):
            continue
        if f.name == "ulimits":
            out[f.toml] = {
                k: _limit(s) if s == h else {"soft": _limit(s), "hard": _limit(h)} for k, (s, h) in value.items()
            }
        else:
            out[f.toml] = _plain(value)
    return out


def _key(name: str) -> str:
    return name if _BARE.fullmatch(name) else _string(name)


def _string(s: str) -> str:
    # TOML basic strings take JSON's escapes; DEL and the other controls must be escaped too
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def value(v: Any, indent: str = "", *, wrap: bool = True) -> str:  # noqa: PLR0911 - one return per TOML type
    """One TOML value; a long array of strings over several lines (TOML allows that inside
    an inline table too: the newlines are inside a value)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list):
        inline = "[" + ", ".join(value(x, indent, wrap=wrap) for x in v) + "]"
        if not wrap or len(inline) <= WIDTH or not all(isinstance(x, str) for x in v):
            return inline
        wrapped = textwrap.wrap(", ".join(map(_string, v)) + ",", WIDTH - len(indent) - 2, break_long_words=False)
        return "[\n" + "".join(f"{indent}  {ln}\n" for ln in wrapped) + f"{indent}]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {value(x, indent + '  ', wrap=wrap)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML form for {type(v).__name__}")  # a model bug, never input


def _note(cls: type[Any], f: tomldata._Field) -> str:
    parts = [_docs().get((cls.__name__, f.name), "") or f.meta.doc]
    if f.meta.choices:
        parts.append("one of: " + ", ".join(f.meta.choices))
    if f.meta.unit:
        parts.append(f.meta.unit)
    return "; ".join(p.rstrip(".") for p in parts if p)


def _comment(note: str) -> list[str]:
    return [f"# {ln}" for ln in textwrap.wrap(note, WIDTH - 2, break_long_words=False)]


def _table(model: Any, prefix: str, lines: list[str]) -> None:
    cls = type(model)
    later: list[tuple[str, Any, str]] = []
    for f in tomldata.fields(cls):
        if f.shape == "internal":
            continue
        note = _note(cls, f)
        v = getattr(model, f.name)
        if _unset(cls, f, v):
            lines += _comment(f"{f.toml}: not set{'; ' + note if note else ''}")
            continue
        plain = data(model)[f.toml]
        if f.shape == "model" or (isinstance(plain, dict) and f.name != "variables"):
            later.append((f.toml, v if f.shape == "model" else plain, note))
            continue
        lines += _comment(note)
        if isinstance(plain, list) and plain and isinstance(plain[0], dict):
            lines.append(f"{_key(f.toml)} = [")
            lines += [f"  {value(item, '  ')}," for item in plain]
            lines.append("]")
        else:
            lines.append(f"{_key(f.toml)} = {value(plain)}")
    for name, sub, note in later:
        where = f"{prefix}.{_key(name)}" if prefix else _key(name)
        lines.append("")
        lines += _comment(note)
        lines.append(f"[{where}]")
        if isinstance(sub, dict):
            lines += [f"{_key(k)} = {value(x)}" for k, x in sub.items()]
        else:
            _table(sub, where, lines)


def dumps(profile: Profile, header: str = "") -> str:
    """The profile as annotated TOML; ``header`` (comment lines) first."""
    lines = [f"# {ln}" if ln else "#" for ln in header.splitlines()]
    _table(profile, "", lines)
    return "\n".join(lines).strip("\n") + "\n"
