"""Network: no route out (connect), no socket at all, no interface beyond the allowed ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import ERROR, FAIL, PASS, Judge, Judgement, errno_in


def parse_net_dev(text: str) -> list[str]:
    return [ln.split(":")[0].strip() for ln in text.splitlines()[2:] if ":" in ln]


def _ifaces(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    raw, allowed = obs.get("proc_net_dev"), expect.get("interfaces_subset")
    if not isinstance(raw, str) or not isinstance(allowed, list):
        return Judgement(ERROR, "no /proc/net/dev text recorded")
    names = parse_net_dev(raw)
    extra = sorted(set(names) - set(allowed))
    if not names:
        return Judgement(ERROR, "/proc/net/dev lists no interface at all")
    if extra:
        return Judgement(FAIL, f"interfaces beyond {allowed}: {extra}")
    return Judgement(PASS, f"interfaces {sorted(set(names))}")


JUDGES: dict[str, Judge] = {
    "connect": errno_in,
    "socket": errno_in,
    "ifaces": _ifaces,
}
