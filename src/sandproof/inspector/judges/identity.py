"""Identity and capabilities: the uids, gids and groups, and the status fields (capability sets,
no-new-privs, seccomp mode) exactly as the sandbox handed them over at start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .common import FAIL, PASS, Judge, Judgement, strict_int


def _status(obs: Mapping[str, Any]) -> dict[str, str]:
    """The status fields; only Umask may be missing (None: gVisor), and umask(2)'s answer a string."""
    status, asked = obs.get("status"), obs.get("prctl", {})
    if not isinstance(status, dict) or not all(
        isinstance(v, str) or (k == "Umask" and v is None) for k, v in status.items()
    ):
        raise ValueError("no /proc/self/status fields recorded")
    if not isinstance(asked, dict) or not all(isinstance(v, str) for v in asked.values()):
        raise ValueError("umask(2)'s answer is not a string")
    return status


def _umask(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> tuple[list[str], str]:
    """The umask the process started with against exactly the planned one: the status line,
    and umask(2)'s own answer (``prctl``), which must agree; gVisor may print no line, then
    the answer alone shows it. A plan before the umask was planned has no ``umask``."""
    want = expect.get("umask")
    if want is None:
        return [], ""
    line, asked = obs["status"].get("Umask"), obs.get("prctl", {}).get("Umask")
    if line is not None and asked is not None and line != asked:
        return [f"/proc/self/status and umask(2) disagree (Umask: status {line!r}, umask(2) {asked!r})"], ""
    got = line if line is not None else asked
    if not isinstance(got, str):
        raise ValueError("no umask recorded (neither the status line nor umask(2))")
    how = "" if line is not None else " (by umask(2): not in /proc/self/status)"
    if got != want:
        return [f"umask {got}{how}, expected exactly {want}"], ""
    return [], f", umask {got}{how}"


def _identity(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    st = {k: v for k, v in _status(obs).items() if k != "Umask"}
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
    umask_problems, said = _umask(expect, obs)
    problems += umask_problems
    return Judgement(FAIL, "; ".join(problems)) if problems else Judgement(PASS, f"uid {uids[0]}, gid {gids[0]}{said}")


def _merged(obs: Mapping[str, Any]) -> tuple[dict[str, str], list[str], list[str]]:
    """The status fields, a missing one taken from prctl's answer (gVisor prints no
    NoNewPrivs, Seccomp or CapAmb line): the fields, the ones shown by behaviour, and every
    field where the two disagree (a /proc that lies about the process)."""
    status, asked = obs.get("status"), obs.get("prctl", {})
    if not isinstance(status, dict) or not all(isinstance(v, str | None) for v in status.values()):
        raise ValueError("no /proc/self/status fields recorded")
    if not isinstance(asked, dict) or not all(isinstance(v, str) for v in asked.values()):
        raise ValueError("prctl answers are not strings")
    merged = {k: v for k, v in status.items() if isinstance(v, str)}
    by_prctl = sorted(k for k in asked if status.get(k) is None)
    merged.update({k: asked[k] for k in by_prctl})
    differ = [
        f"{k}: status {status[k]!r}, prctl {asked[k]!r}" for k in sorted(asked) if status.get(k) not in (None, asked[k])
    ]
    return merged, by_prctl, differ


def _fields(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    st, by_prctl, differ = _merged(obs)
    equal, least = dict(sorted(expect.get("equal", {}).items())), dict(sorted(expect.get("at_least", {}).items()))
    one_of = dict(sorted(expect.get("one_of", {}).items()))
    problems = [f"{k} is {st.get(k)!r}, expected {v!r}" for k, v in equal.items() if st.get(k) != v]
    problems += [f"{k} is {st.get(k)!r}, expected one of {v}" for k, v in one_of.items() if st.get(k) not in v]
    problems += [f"/proc/self/status and prctl disagree ({d})" for d in differ]
    shown = {}
    for k, n in least.items():
        value = st.get(k)
        if (
            value is None
            and k == "Seccomp_filters"
            and n <= 1
            and st.get("Seccomp") == "2" == obs["prctl"].get("Seccomp")
        ):
            # no count printed (gVisor): mode 2 is only ever set by attaching a filter
            # (kernel/seccomp.c seccomp_set_mode_filter), so at least one is there
            shown[k] = "at least 1 (seccomp mode 2)"
            continue
        if value is None or not re.fullmatch(r"[0-9]{1,20}", value) or int(value) < n:
            problems.append(f"{k} is {value!r}, expected at least {n}")
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    said = ", ".join(f"{k}={shown.get(k, st.get(k))}" for k in [*equal, *one_of, *least])
    return Judgement(PASS, said + (f" ({', '.join(by_prctl)} by prctl: not in /proc/self/status)" if by_prctl else ""))


JUDGES: dict[str, Judge] = {
    "identity": _identity,
    "status": _fields,
}
