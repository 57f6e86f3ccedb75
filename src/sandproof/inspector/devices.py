"""The /dev inventory: every node under /dev, and the devices cgroup's allow list, must be
exactly the runtime's default set (a host device handed in with --device, or a cgroup rule
that allows more, FAILs naming it)."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from typing import Any

from .verdicts import ERROR, FAIL, PASS, Judgement

DEVICES_LIST = "/sys/fs/cgroup/devices/devices.list"
_TYPES = (
    (stat.S_ISCHR, "chr"),
    (stat.S_ISBLK, "blk"),
    (stat.S_ISDIR, "dir"),
    (stat.S_ISLNK, "lnk"),
    (stat.S_ISREG, "reg"),
    (stat.S_ISSOCK, "sock"),
    (stat.S_ISFIFO, "fifo"),
)


def describe(path: str, st: os.stat_result) -> str:
    """One node as a comparable string: ``chr 1:3 0666``, ``lnk /proc/self/fd``, ``dir 0755``."""
    kind = next((name for test, name in _TYPES if test(st.st_mode)), "other")
    perms = f"{stat.S_IMODE(st.st_mode):04o}"
    if kind in ("chr", "blk"):
        return f"{kind} {os.major(st.st_rdev)}:{os.minor(st.st_rdev)} {perms}"
    if kind == "lnk":
        return f"lnk {os.readlink(path)}"
    return f"{kind} {perms}"


def inventory(params: Mapping[str, Any]) -> dict[str, Any]:
    nodes: dict[str, str] = {}
    unreadable: list[str] = []
    stack = [params["root"]]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            unreadable.append(d)
            continue
        for e in entries:
            st = e.stat(follow_symlinks=False)
            nodes[e.path] = describe(e.path, st)
            if stat.S_ISDIR(st.st_mode):
                stack.append(e.path)
    try:
        with open(DEVICES_LIST, encoding="utf-8") as f:
            cgroup: list[str] | None = sorted(f.read().split("\n")[:-1])
    except OSError:
        cgroup = None  # cgroup v2 keeps the device policy in an eBPF program, not a file
    return {"nodes": dict(sorted(nodes.items())), "unreadable": sorted(unreadable), "devices_list": cgroup}


def judge(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    nodes, cgroup = obs.get("nodes"), obs.get("devices_list")
    if not isinstance(nodes, dict) or not all(isinstance(v, str) for v in nodes.values()):
        return Judgement(ERROR, "no /dev inventory recorded")
    want: dict[str, str] = expect["nodes"]
    optional: dict[str, str] = expect["optional"]
    problems = []
    for path, got in sorted(nodes.items()):
        allowed = want.get(path, optional.get(path))
        if allowed is None:
            problems.append(f"unexpected {path} ({got})")
        elif got != allowed:
            problems.append(f"{path} is {got}, expected {allowed}")
    missing = sorted(set(want) - set(nodes))
    if missing:
        problems.append(f"missing {missing}")
    if obs.get("unreadable"):
        problems.append(f"unlistable {obs.get('unreadable')}")
    if cgroup is not None:
        if not isinstance(cgroup, list) or not all(isinstance(r, str) for r in cgroup):
            return Judgement(ERROR, "devices.list recorded in an unknown shape")
        extra = sorted(set(cgroup) - set(expect["devices_list"]))
        lacking = sorted(set(expect["devices_list"]) - set(cgroup))
        if extra:
            problems.append(f"devices cgroup allows more: {extra}")
        if lacking:
            problems.append(f"devices cgroup lacks {lacking}")
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    cg = f"; devices cgroup exactly {len(cgroup)} rules" if cgroup is not None else "; devices cgroup not readable (v2)"
    return Judgement(PASS, f"{len(nodes)} nodes under /dev, each a default of the runtime{cg}")
