"""Limit probes: the cgroup files of the quotas, the OOM switch and the cpu shares, and the rlimits
as the sandbox handed them over (read at start)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import STARTUP, Observation, Probe, read, read_text


def cgroup(params: Mapping[str, Any]) -> Observation:
    return {"files": {p: read(p) for p in params["paths"]}}


def cgfiles(params: Mapping[str, Any]) -> Observation:
    return {"files": {p: read_text(p) for p in params["paths"]}}


def rlimits(params: Mapping[str, Any]) -> Observation:
    return {"limits": STARTUP.get("rlimits")}


PROBES: dict[str, Probe] = {
    "cgroup": cgroup,
    "cg_oom": cgfiles,
    "cg_shares": cgfiles,
    "rlimits": rlimits,
}
