"""The host's kernel as the sandbox meets it: host-wide settings no namespace separates, read
from /proc/sys, and whether /proc/kallsyms shows this process real kernel addresses (the
effect of kptr_restrict and perf_event_paranoid together, for these credentials)."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Any

from .common import Observation, read

KALLSYMS = "/proc/kallsyms"
KALLSYMS_BYTES = 4096
"""One read: kallsyms_show_value() is decided once, at open (kernel/kallsyms.c kallsyms_open
keeps it for every line), so the first lines say what all would."""


def _kallsyms() -> Observation:
    try:
        with open(KALLSYMS, "rb") as f:
            head = f.read(KALLSYMS_BYTES)
    except OSError as exc:
        return {"errno": errno.errorcode.get(exc.errno or 0, str(exc.errno))}
    lines = head.split(b"\n")[:-1]  # the last may be cut
    addresses = [ln.split(b" ", 1)[0] for ln in lines]
    hexes = [a for a in addresses if a and all(c in b"0123456789abcdef" for c in a)]
    return {
        "lines": len(lines),
        "malformed": len(addresses) - len(hexes),
        "nonzero": sum(int(a, 16) != 0 for a in hexes),
    }


def hostk(params: Mapping[str, Any]) -> Observation:
    values = {}
    for name in params["names"]:
        values[name] = read("/proc/sys/" + name.replace(".", "/"))
    obs: Observation = {"values": values, "kallsyms": _kallsyms()}
    if params.get("core_pattern"):  # text, not a number: what the kernel does with a crash
        text = read("/proc/sys/kernel/core_pattern")
        obs["core_pattern"] = None if text is None else text[:CORE_PATTERN_CHARS]
    return obs


CORE_PATTERN_CHARS = 256
"""CORENAME_MAX_SIZE (include/linux/binfmts.h): the kernel keeps no more."""


PROBES = {"hostk": hostk}
