"""Limits: the cgroup quotas (pids, memory, swap, cpu, in v1 or v2 files), every rlimit, the OOM
switch and score, the cpu shares. Also the file names and parsers the plan and the probes share."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .common import ERROR, FAIL, PASS, UNVERIFIED, Judge, Judgement, strict_int

# fs/proc/base.c lnames[]: the row labels of /proc/PID/limits -> Docker's --ulimit names
# (docker/go-units ulimit.go; "as" is the one Docker leaves out: its map has it commented out)
RLIMITS = {
    "Max cpu time": "cpu",
    "Max file size": "fsize",
    "Max data size": "data",
    "Max stack size": "stack",
    "Max core file size": "core",
    "Max resident set": "rss",
    "Max processes": "nproc",
    "Max open files": "nofile",
    "Max locked memory": "memlock",
    "Max address space": "as",
    "Max file locks": "locks",
    "Max pending signals": "sigpending",
    "Max msgqueue size": "msgqueue",
    "Max nice priority": "nice",
    "Max realtime priority": "rtprio",
    "Max realtime timeout": "rttime",
}
RLIMIT_NAMES = tuple(sorted(RLIMITS.values()))
UNLIMITED = (1 << 64) - 1  # RLIM_INFINITY; /proc prints "unlimited"
OOM_FILE = "/sys/fs/cgroup/memory/memory.oom_control"
OOM_SCORE_ADJ = "/proc/self/oom_score_adj"
SHARES_FILES = ("/sys/fs/cgroup/cpu/cpu.shares", "/sys/fs/cgroup/cpu,cpuacct/cpu.shares")
WEIGHT_FILE = "/sys/fs/cgroup/cpu.weight"
V2_MARKER = "/sys/fs/cgroup/cgroup.controllers"
# The block I/O weights a proportional-share I/O scheduler shows a cgroup, each with the kernel's
# value for a new cgroup: no profile gives a sandbox one, and a larger weight is more of the disk
# than its peers get, as cpu.shares is of the CPU. BFQ (block/bfq-cgroup.c): v1 blkio.bfq.weight
# (the number alone) and blkio.bfq.weight_device, v2 io.bfq.weight (a "default" line, then one
# "MAJ:MIN WEIGHT" per device given its own); 100 is BFQ_DEFAULT_GRP_WEIGHT and CGROUP_WEIGHT_DFL.
# blk-iocost (block/blk-iocost.c ioc_weight_show): v2 io.weight, the same form. CFQ, removed in
# Linux 5.0 (block/cfq-iosched.c): blkio.weight and blkio.leaf_weight, CFQ_WEIGHT_LEGACY_DFL 500
# each, and blkio.weight_device and blkio.leaf_weight_device, device lines only (OCI's
# blockIO.leafWeight writes the leaf ones). A file that is not there: no such scheduler here.
IO_WEIGHTS = {
    "/sys/fs/cgroup/blkio/blkio.bfq.weight": "100",
    "/sys/fs/cgroup/blkio/blkio.bfq.weight_device": "default 100",
    "/sys/fs/cgroup/io.bfq.weight": "default 100",
    "/sys/fs/cgroup/io.weight": "default 100",
    "/sys/fs/cgroup/blkio/blkio.weight": "500",
    "/sys/fs/cgroup/blkio/blkio.weight_device": "",
    "/sys/fs/cgroup/blkio/blkio.leaf_weight": "500",
    "/sys/fs/cgroup/blkio/blkio.leaf_weight_device": "",
}
OOM_CONTROL = r"oom_kill_disable ([01])\nunder_oom [01](?:\noom_kill (?:0|[1-9][0-9]{0,19}))?"
UNLIMITED_V1 = 1 << 62  # memory.limit_in_bytes reads 9223372036854771712 when unset
CGROUP_FILES = {
    "pids": ("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"),
    "memory": ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"),
    "memory_swap": ("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", "/sys/fs/cgroup/memory.swap.max"),
    "cpu": ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us", "/sys/fs/cgroup/cpu.max"),
}


def parse_limits(text: str) -> dict[str, list[str]]:
    """``/proc/self/limits`` -> {docker name: [soft, hard]} as the kernel prints them."""
    out = {}
    for line in text.splitlines()[1:]:
        label = line[:26].strip()  # "%-25s %-20s %-20s %-10s" (fs/proc/base.c proc_pid_limits)
        fields = line[26:].split()
        if label in RLIMITS and len(fields) >= 2:
            out[RLIMITS[label]] = fields[:2]
    return out


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
    problems += _cfs_period(expect, files)
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    if unknown:
        return Judgement(UNVERIFIED, f"no cgroup v1 or v2 file shows {unknown}")
    return Judgement(PASS, ", ".join(f"{k}={_num(got[k])}" for k in sorted(expect["want"])))


def _cfs_period(expect: Mapping[str, Any], files: Mapping[str, Any]) -> list[str]:
    """The CFS period exactly (a plan before it was planned has none): the same cpus with a
    ten times longer period lets the sandbox hold every core for that long between throttles."""
    want = expect.get("period_us")
    if want is None:
        return []
    v1, v2 = files.get(CGROUP_FILES["cpu"][1]), files.get(CGROUP_FILES["cpu"][2])
    seen = [t.strip() for t in (v1, v2.partition(" ")[2] if isinstance(v2, str) else None) if isinstance(t, str)]
    if not seen:  # then no cpus either: judged UNVERIFIED there
        return []
    return [f"cpu period {p}, expected {want}" for p in sorted(set(seen)) if p != str(want)]


def _rlimits(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    got = obs.get("limits")
    if not isinstance(got, dict) or not got:
        return Judgement(ERROR, "no /proc/self/limits recorded")
    wrong, undeclared, missing = [], [], []
    for name, want in sorted(expect["limits"].items()):
        have = got.get(name)
        if not isinstance(have, list) or len(have) != 2:
            missing.append(name)
        elif want is None:
            undeclared.append(f"{name}={':'.join(have)}")
        elif list(have) != list(want):
            wrong.append(f"{name} is {':'.join(have)}, expected {':'.join(want)}")
    if wrong:
        return Judgement(FAIL, "; ".join(wrong))
    if missing:
        return Judgement(ERROR, f"not shown by the kernel: {missing}")
    if undeclared:
        return Judgement(UNVERIFIED, f"not declared by the profile, inherited from the host: {', '.join(undeclared)}")
    return Judgement(PASS, f"all {len(expect['limits'])} rlimits (soft:hard) as declared")


def _files(obs: Mapping[str, Any], *, exact: bool = False) -> dict[str, str]:
    """The cgroup files read (a text each; null: not there or not readable), stripped unless
    ``exact`` (then as the kernel wrote them, newline and all)."""
    files = obs.get("files")
    if not isinstance(files, dict):
        raise ValueError("no cgroup files recorded")
    if not all(v is None or isinstance(v, str) for v in files.values()):  # review 17: an int was "not there"
        raise ValueError("a cgroup file recorded as neither text nor null")
    if exact:
        return {k: v for k, v in files.items() if v is not None}
    return {k: v.strip() for k, v in files.items() if v is not None}


def _score_adj(expect: Mapping[str, Any], files: Mapping[str, str]) -> Judgement | None:
    adj = files.get(OOM_SCORE_ADJ)
    if adj is None or not re.fullmatch(r"-?[0-9]{1,4}", adj):
        return Judgement(ERROR, f"no oom_score_adj recorded ({adj!r})")
    span = expect.get("oom_score_adj_in")
    if span is not None:  # Kubernetes, Burstable: the kubelet's value depends on the node's memory
        if not (isinstance(span, list) and len(span) == 2 and all(type(v) is int for v in span)):
            return Judgement(ERROR, f"malformed oom_score_adj_in {span!r}")
        if not span[0] <= int(adj) <= span[1]:
            return Judgement(FAIL, f"oom_score_adj is {adj}, expected {span[0]}..{span[1]}")
        return None
    if int(adj) != expect["oom_score_adj"]:  # a lower score shields the sandbox, a higher one the host's
        return Judgement(FAIL, f"oom_score_adj is {adj}, expected {expect['oom_score_adj']}")
    return None


def _kill_switch(want: bool, files: Mapping[str, str]) -> Judgement:  # noqa: PLR0911 - one answer per hierarchy
    if OOM_FILE in files and V2_MARKER in files:
        # /sys/fs/cgroup is either cgroup2's root (cgroup.controllers, no v1 directories) or
        # v1's tmpfs of per-controller mounts (no cgroup.controllers): never both
        return Judgement(ERROR, f"contradictory observation: both cgroup v1's {OOM_FILE} and v2's {V2_MARKER} exist")
    if OOM_FILE in files:
        # exactly the kernel's lines (mm/memcontrol.c mem_cgroup_oom_control_read: oom_kill_disable
        # and under_oom, each 0 or 1, and since 4.13 oom_kill, a count): a stray line is not its file
        shape = re.fullmatch(OOM_CONTROL, files[OOM_FILE])
        if shape is None:
            return Judgement(ERROR, f"memory.oom_control is not the lines the kernel prints: {files[OOM_FILE][:80]!r}")
        got = shape.group(1)
        if (got == "1") != want:
            return Judgement(FAIL, f"oom_kill_disable is {got}, the profile says {int(want)}")
        return Judgement(PASS, f"oom_kill_disable {got} (cgroup v1)")
    if V2_MARKER in files:  # cgroup v2 has no switch to turn the OOM killer off
        if want:
            return Judgement(UNVERIFIED, "cgroup v2 cannot disable the OOM killer")
        return Judgement(PASS, "cgroup v2: the OOM killer cannot be disabled")
    return Judgement(UNVERIFIED, "neither memory.oom_control nor cgroup v2 readable")


def _oom(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    files = _files(obs)
    if (wrong := _score_adj(expect, files)) is not None:
        return wrong
    v = _kill_switch(expect["oom_kill_disable"], files)
    return Judgement(v.verdict, f"{v.reason}; oom_score_adj {files[OOM_SCORE_ADJ]}")


def v2_weight(shares: int) -> int:
    """runc's cpu.shares -> cpu.weight (libcontainer/cgroups/utils.go ConvertCPUSharesToCgroupV2Value)."""
    return 1 + ((shares - 2) * 9999) // 262142


def _io_weights(files: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(each block I/O weight file not at the kernel's default, named with what it shows; the
    names of those that are)."""
    wrong, default = [], []
    for path, want in IO_WEIGHTS.items():
        if path in files:
            name = path.rsplit("/", 1)[1]
            if files[path] == (f"{want}\n" if want else ""):  # the kernel ends each line it writes
                default.append(name)
            else:
                got = files[path].removesuffix("\n")
                said = repr(got[:120]) if files[path].endswith("\n") or not got else f"{got[:120]!r} with no newline"
                wrong.append(f"{name} is {said}, expected {want!r} (the kernel's default)")
    return wrong, default


def _shares(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    """The CPU shares the profile gives (the kernel's default when it gives none), and every
    block I/O weight at the kernel's default."""
    files, shares = _files(obs), int(expect["shares"])
    io_wrong, io_default = _io_weights(_files(obs, exact=True))  # "100" as the kernel writes it, no more
    if io_wrong:
        return Judgement(FAIL, "; ".join(io_wrong))
    io = f"; {', '.join(io_default)} at the kernel's default" if io_default else "; no block I/O weight here"
    v1 = next((files[p] for p in SHARES_FILES if p in files), None)
    if v1 is not None:
        want, got, what = shares or 1024, strict_int(v1), "cpu.shares"  # 1024: the kernel's default (NICE_0_LOAD)
    elif WEIGHT_FILE in files:
        want, got, what = (v2_weight(shares) if shares else 100), strict_int(files[WEIGHT_FILE]), "cpu.weight"
    else:
        return Judgement(UNVERIFIED, f"neither cpu.shares nor cpu.weight readable{io}")
    if got != want:
        return Judgement(FAIL, f"{what} is {got}, expected {want}")
    return Judgement(PASS, f"{what} {got}{io}")


def _enforced(judge: Judge) -> Judge:
    """A cgroup limit the plan knows the runtime does not apply (``expect["unenforced"]``, the
    why): FAIL naming it unless the sandbox shows the limit after all (never UNVERIFIED)."""

    def judged(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
        got = judge(expect, obs)
        why = expect.get("unenforced")
        if got.verdict == PASS or not isinstance(why, str):
            return got
        return Judgement(FAIL, f"not enforced: {why} ({got.reason})")

    return judged


JUDGES: dict[str, Judge] = {
    "cgroup": _enforced(_cgroup),
    "rlimits": _rlimits,
    "cg_oom": _enforced(_oom),
    "cg_shares": _enforced(_shares),
}
