"""Judges for the process's own standing: identity, capabilities, status fields,
descriptors, cgroup limits, namespaces, user-namespace routes and the walk (the seccomp
sweep and foreign ABIs are judged in ``judge_seccomp``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .judge_seccomp import SECCOMP_JUDGES
from .verdicts import ERROR, FAIL, PASS, UNVERIFIED, Judgement, errno_in, strict_int

# include/linux/proc_ns.h: the initial namespaces have fixed inode numbers, so a process
# can tell from inside that it shares the host's namespace
INIT_NS_INODES = {
    "ipc": 0xEFFFFFFF,
    "uts": 0xEFFFFFFE,
    "user": 0xEFFFFFFD,
    "pid": 0xEFFFFFFC,
    "cgroup": 0xEFFFFFFB,
    "time": 0xEFFFFFFA,
}
UNLIMITED_V1 = 1 << 62  # memory.limit_in_bytes reads 9223372036854771712 when unset
CGROUP_FILES = {
    "pids": ("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"),
    "memory": ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"),
    "memory_swap": ("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", "/sys/fs/cgroup/memory.swap.max"),
    "cpu": ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us", "/sys/fs/cgroup/cpu.max"),
}


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


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


def _fds(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    fds = obs.get("fds")
    if not isinstance(fds, list) or not all(type(fd) is int and fd >= 0 for fd in fds) or len(set(fds)) != len(fds):
        # 1.0 or true would pass as 1 in a set: only plain distinct integers are descriptors
        return Judgement(ERROR, "no descriptor list of distinct integers recorded")
    extra = sorted(set(fds) - set(expect["allowed"]))
    if extra:  # runc CVE-2024-21626: a leaked descriptor is a way out
        return Judgement(FAIL, f"descriptors inherited beyond {expect['allowed']}: {extra}")
    targets = obs.get("targets")
    if not isinstance(targets, dict) or sorted(targets) != sorted(str(fd) for fd in fds):
        return Judgement(ERROR, "no target recorded for each descriptor")
    # stdio must be the runtime's pipes or the null device: a host file or socket handed in as
    # stdin or stdout is a door to the host as much as a leaked fd 3
    odd = {fd: t for fd, t in sorted(targets.items()) if not re.fullmatch(expect["stdio"], str(t))}
    if odd:
        return Judgement(FAIL, f"standard descriptors open on {odd}, expected pipes or /dev/null")
    return Judgement(PASS, f"only descriptors {sorted(fds)} at start, each a pipe or /dev/null")


def _max_or_int(text: str) -> float | None:
    return None if text == "max" else strict_int(text)


def _v1_bytes(text: str) -> float | None:
    return None if strict_int(text) >= UNLIMITED_V1 else strict_int(text)


def _cpu_v2(text: str) -> float | None:
    quota, _, period = text.partition(" ")
    return None if quota == "max" else strict_int(quota) / _period(period)


def _period(text: str) -> int:
    n = strict_int(text)
    if n <= 0:
        raise ValueError(f"cpu period {text!r} is not positive")
    return n


def limit_readings(files: Mapping[str, Any]) -> tuple[dict[str, float | None], list[str]]:
    """Limits read from cgroup v1 and v2 files (None = unlimited; absent = not readable) and
    where the two hierarchies disagree: a host mounting both shows one limit twice, and a
    bundle whose two copies differ has had one of them edited. Values parse strictly
    (``strict_int``): "nan" or "64.0" raises ValueError, judged ERROR."""

    def read(path: str) -> str | None:
        value = files.get(path)
        return value if isinstance(value, str) else None

    readings: dict[str, list[float | None]] = {}
    v1p, v2p = (read(p) for p in CGROUP_FILES["pids"])
    readings["pids"] = [_max_or_int(t) for t in (v1p, v2p) if t is not None]
    v1m, v2m = (read(p) for p in CGROUP_FILES["memory"])
    readings["memory"] = ([_v1_bytes(v1m)] if v1m is not None else []) + ([_max_or_int(v2m)] if v2m is not None else [])
    memory = readings["memory"][0] if readings["memory"] else None
    v1s, v2s = (read(p) for p in CGROUP_FILES["memory_swap"])
    # v1 counts memory and swap together, as docker's --memory-swap does; v2's swap.max is swap alone
    readings["memory_swap"] = [_v1_bytes(v1s)] if v1s is not None else []
    if v2s is not None and memory is not None:
        swap = _max_or_int(v2s)
        readings["memory_swap"].append(None if swap is None else swap + memory)
    quota, period, v2c = (read(p) for p in CGROUP_FILES["cpu"])
    readings["cpus"] = []
    if quota is not None and period is not None:
        readings["cpus"].append(None if strict_int(quota) < 0 else strict_int(quota) / _period(period))
    if v2c is not None:
        readings["cpus"].append(_cpu_v2(v2c))
    out = {k: v[0] for k, v in readings.items() if v}
    disagree = [f"{k}: v1 {_num(v[0])}, v2 {_num(v[1])}" for k, v in readings.items() if len(v) == 2 and v[0] != v[1]]
    return out, disagree


def limits(files: Mapping[str, Any]) -> dict[str, float | None]:
    return limit_readings(files)[0]


def _num(value: float | None) -> str:
    return "unlimited" if value is None else str(int(value)) if float(value).is_integer() else str(value)


def _cgroup(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    files = obs.get("files")
    if not isinstance(files, dict):
        return Judgement(ERROR, "no cgroup files recorded")
    got, disagree = limit_readings(files)
    if disagree:
        return Judgement(FAIL, f"cgroup v1 and v2 files disagree: {'; '.join(disagree)}")
    problems, unknown = [], []
    for key, want in sorted(expect["want"].items()):
        if key not in got:
            unknown.append(key)
        elif got[key] is None:
            problems.append(f"{key} is unlimited, expected {want}")
        elif abs(float(got[key] or 0) - float(want)) > 1e-9:
            problems.append(f"{key} is {_num(got[key])}, expected {want}")
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    if unknown:
        return Judgement(UNVERIFIED, f"no cgroup v1 or v2 file shows {unknown}")
    return Judgement(PASS, ", ".join(f"{k}={_num(got[k])}" for k in sorted(expect["want"])))


def _ns(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    link, ns = obs.get("link"), expect["ns"]
    m = re.fullmatch(rf"{ns}:\[([0-9]{{1,20}})\]", link) if isinstance(link, str) else None
    if m is None:
        return Judgement(ERROR, f"no {ns} namespace link recorded")
    if int(m.group(1)) == INIT_NS_INODES[ns]:
        return Judgement(FAIL, f"shares the host's initial {ns} namespace ({link})")
    if ns == "ipc":
        objects = obs.get("sysvipc")
        if not isinstance(objects, dict) or not all(isinstance(objects.get(k), int) for k in ("shm", "msg", "sem")):
            return Judgement(ERROR, "no count of SysV IPC objects recorded")
        held = {k: n for k, n in sorted(objects.items()) if n}
        if held:
            return Judgement(FAIL, f"SysV IPC objects of other processes are visible: {held} (a shared IPC namespace)")
    return Judgement(PASS, f"own {ns} namespace {link}")


def _userns(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    routes = obs.get("routes")
    if not isinstance(routes, dict):
        return Judgement(ERROR, "no route recorded")
    results = {
        name: errno_in({"errno_in": allowed}, _obj(routes.get(name)))
        for name, allowed in sorted(expect["routes"].items())
    }
    bad = [f"{name}: {v.reason}" for name, v in results.items() if v.verdict != PASS]
    if bad:
        worst = ERROR if all(v.verdict == ERROR for v in results.values() if v.verdict != PASS) else FAIL
        return Judgement(worst, "; ".join(bad))
    return Judgement(PASS, "; ".join(f"{n} {v.reason}" for n, v in results.items()))


def _positive(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    if obs.get("outcome") == expect["outcome"]:
        return Judgement(PASS, f"{expect['outcome']} (positive control)")
    return Judgement(FAIL, f"positive control failed: {obs.get('message') or obs.get('outcome')}")


def _walk(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    kinds = [expect["collect"], *expect.get("also", [])]
    if not all(isinstance(obs.get(k), list) for k in kinds) or not isinstance(obs.get("complete"), bool):
        return Judgement(ERROR, "no walk recorded")
    for kind in kinds:
        extra = sorted(set(obs[kind]) - set(expect["allowed"]))
        if extra:
            return Judgement(FAIL, f"{kind} found: {extra[:5]}")
    unreadable = obs.get("unreadable")
    if not isinstance(unreadable, list):
        return Judgement(ERROR, "no list of unlistable directories recorded")
    if sorted(unreadable) != sorted(expect["unlistable"]):
        # a directory the walk cannot list may hide a socket reachable by name (mode 0711)
        return Judgement(FAIL, f"unlistable directories {sorted(unreadable)[:5]}, expected only {expect['unlistable']}")
    if not obs["complete"]:
        return Judgement(UNVERIFIED, f"the walk stopped after {obs.get('scanned')} entries")
    return Judgement(PASS, f"no {' or '.join(kinds)} among {obs.get('scanned')} entries")


SYSTEM_JUDGES: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], Judgement]] = {
    "identity": _identity,
    "status": _fields,
    "fds": _fds,
    "cgroup": _cgroup,
    "ns": _ns,
    "userns": _userns,
    "thread": _positive,
    "mmap_exec": errno_in,
    "walk": _walk,
    **SECCOMP_JUDGES,
}
