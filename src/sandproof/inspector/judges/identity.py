"""Identity and capabilities: the uids, gids and groups, and the status fields (capability sets,
no-new-privs, seccomp mode) exactly as the sandbox handed them over at start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .common import FAIL, PASS, Judge, Judgement, strict_int


def _status(obs: Mapping[str, Any]) -> dict[str, str]:
    status = obs.get("status")
    if not isinstance(status, dict) or not all(isinstance(v, str) for v in status.values()):
        raise ValueError("no /proc/self/status fields recorded")
    return status


def _identity(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    st = _status(obs)
    # the kernel separates with one tab (fs/proc/array.c task_state): split exactly, so no
    # blank or stray character between the ids goes unread
    uids, gids = st["Uid"].split("\t"), st["Gid"].split("\t")
    groups = {strict_int(g) for g in st["Groups"].split(" ")} if st["Groups"] else set()
    problems = []
    if len(uids) != 4 or {strict_int(u) for u in uids} != {expect["uid"]}:
        problems.append(f"uids {uids} are not all {expect['uid']}")
    if "0" in uids:
        problems.append("runs as root")
    if len(gids) != 4 or {strict_int(g) for g in gids} != {expect["gid"]}:
        problems.append(f"gids {gids} are not all {expect['gid']}")
    if not groups <= set(expect["groups"]):
        problems.append(f"supplementary groups {sorted(groups)} beyond {expect['groups']}")
    return Judgement(FAIL, "; ".join(problems)) if problems else Judgement(PASS, f"uid {uids[0]}, gid {gids[0]}")


def _fields(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    st = _status(obs)
    equal, least = dict(sorted(expect.get("equal", {}).items())), dict(sorted(expect.get("at_least", {}).items()))
    problems = [f"{k} is {st.get(k)!r}, expected {v!r}" for k, v in equal.items() if st.get(k) != v]
    for k, n in least.items():
        value = st.get(k)
        if value is None or not re.fullmatch(r"[0-9]{1,20}", value) or int(value) < n:
            problems.append(f"{k} is {value!r}, expected at least {n}")
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    return Judgement(PASS, ", ".join(f"{k}={st.get(k)}" for k in [*equal, *least]))


JUDGES: dict[str, Judge] = {
    "identity": _identity,
    "status": _fields,
}
