"""What every probe shares: the observation type, the startup snapshot, errno names, raw calls.

Probes return facts only (outcome, errno name, raw text), never a verdict."""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from typing import Any

from .. import rawsys, syscalls  # noqa: TID252 - the image names the package "inspector"

Observation = dict[str, Any]
Probe = Callable[[Mapping[str, Any]], Observation]

STARTUP: dict[str, Any] = {}
"""Filled by the harness as its very first act, before its own guard sets no-new-privs
and adds a filter: the status and descriptors exactly as the sandbox handed them over."""


def err(exc: OSError) -> Observation:
    return {"outcome": "error", "errno": errno.errorcode.get(exc.errno or 0, str(exc.errno)), "message": str(exc)[:300]}


def raw(name: str, *args: int) -> tuple[int, str | None]:
    """A syscall straight to the kernel (rawsys), so a preloaded libc cannot answer for it."""
    ret = rawsys.call(syscalls.number(name, syscalls.machine()), *args)
    return ret, rawsys.errno_name(ret)


def read(path: str) -> str | None:
    """A file's text without surrounding whitespace, or None when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def read_text(path: str) -> str | None:
    """A file's text as the kernel wrote it (newlines kept), or None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None
