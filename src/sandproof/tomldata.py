"""Shipped-or-user TOML data files (profiles, matrices): one way to find and read them."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from sandproof.errors import Error


def read(ref: str, *, package: str, shipped: tuple[str, ...], what: str, error: type[Error]) -> tuple[str, str]:
    """The text of a shipped file by name, or of a file by path; and where it came from."""
    if ref in shipped:
        return resources.files(package).joinpath(f"{ref}.toml").read_text("utf-8"), f"shipped:{ref}"
    path = Path(ref)
    if not path.is_file():
        raise error(f"{what} {ref!r}: no such file and not a shipped {what}; shipped {what}s: {', '.join(shipped)}")
    try:
        return path.read_text("utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{what} {ref}: cannot read: {exc}") from exc


def loads(text: str, *, source: str, what: str, error: type[Error]) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} {source}: not valid TOML: {exc}") from exc
