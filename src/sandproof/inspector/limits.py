"""The process tree, rlimits, sysctls, the cgroup and user namespaces, and the cgroup knobs
beyond the pids/memory/cpu quota: probes (facts only) and their judges, one module per concept.

Allow-lists throughout: every PID, every rlimit, every listed sysctl and every id-map line is
compared with the exact value the profile (plus the runtime's documented defaults) implies.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from .judge_system import INIT_NS_INODES
from .verdicts import ERROR, FAIL, PASS, UNVERIFIED, Judgement, strict_int

Observation = dict[str, Any]
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
MAX_PROCESSES = 64  # enough to name what is there; a foreign tree is one process too many
OOM_FILE = "/sys/fs/cgroup/memory/memory.oom_control"
OOM_SCORE_ADJ = "/proc/self/oom_score_adj"
SHARES_FILES = ("/sys/fs/cgroup/cpu/cpu.shares", "/sys/fs/cgroup/cpu,cpuacct/cpu.shares")
WEIGHT_FILE = "/sys/fs/cgroup/cpu.weight"
V2_MARKER = "/sys/fs/cgroup/cgroup.controllers"
STARTUP: dict[str, Any] = {}


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def parse_limits(text: str) -> dict[str, list[str]]:
    """``/proc/self/limits`` -> {docker name: [soft, hard]} as the kernel prints them."""
    out = {}
    for line in text.splitlines()[1:]:
        label = line[:26].strip()  # "%-25s %-20s %-20s %-10s" (fs/proc/base.c proc_pid_limits)
        fields = line[26:].split()
        if label in RLIMITS and len(fields) >= 2:
            out[RLIMITS[label]] = fields[:2]
    return out


def _process(pid: str) -> dict[str, Any] | None:
    stat, cmdline = _read(f"/proc/{pid}/stat"), _read(f"/proc/{pid}/cmdline")
    if stat is None:
        return None  # gone between listdir and read
    # the name in parentheses may hold spaces and ')': the fields after the last ')' are fixed
    ppid = int(stat.rpartition(")")[2].split()[1])
    return {"ppid": ppid, "cmdline": (cmdline or "").split("\0")[:-1][:32]}


def _processes() -> dict[str, dict[str, Any]]:
    out = {}
    for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int)[:MAX_PROCESSES]:
        if (info := _process(pid)) is not None:
            out[pid] = info
    return out


def snapshot() -> dict[str, Any]:
    """Taken by the harness before it does anything: the process tree as the runtime left it
    (one process: ours, PID 1) and the rlimits it was handed."""
    STARTUP.update(
        {"self_pid": os.getpid(), "processes": _processes(), "rlimits": parse_limits(_read("/proc/self/limits") or "")}
    )
    return dict(STARTUP)


def procs(params: Mapping[str, Any]) -> Observation:
    live = {}
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        if (info := _process(pid)) is not None:
            live[pid] = info["ppid"]
    return {
        "startup": {"self": STARTUP.get("self_pid"), "processes": STARTUP.get("processes")},
        "harness": os.getppid(),  # this probe runs in a child the harness forked
        "live": live,
    }


def rlimits(params: Mapping[str, Any]) -> Observation:
    return {"limits": STARTUP.get("rlimits")}


def sysctls(params: Mapping[str, Any]) -> Observation:
    values = {}
    for name in params["names"]:
        text = _read("/proc/sys/" + name.replace(".", "/"))
        values[name] = None if text is None else " ".join(text.split())
    return {"values": values}


def cgroupns(params: Mapping[str, Any]) -> Observation:
    return {"link": os.readlink("/proc/self/ns/cgroup"), "cgroup": _read("/proc/self/cgroup")}


def idmap(params: Mapping[str, Any]) -> Observation:
    return {
        "link": os.readlink("/proc/self/ns/user"),
        "uid_map": _read("/proc/self/uid_map"),
        "gid_map": _read("/proc/self/gid_map"),
    }


def cgfiles(params: Mapping[str, Any]) -> Observation:
    return {"files": {p: _read(p) for p in params["paths"]}}


PROBE_FUNCTIONS: dict[str, Callable[[Mapping[str, Any]], Observation]] = {
    "procs": procs,
    "rlimits": rlimits,
    "sysctls": sysctls,
    "cgroupns": cgroupns,
    "idmap": idmap,
    "cg_oom": cgfiles,
    "cg_shares": cgfiles,
}


# ---- judges: pure, never raise past judge.judge, never PASS what they cannot read ----


def _argv_ok(want: list[Any], got: list[str]) -> bool:
    """``None`` in the expected argv stands for the run date, which is not known at plan time."""
    return len(want) == len(got) and all(w is None or w == g for w, g in zip(want, got, strict=True))


def _show(cmdline: object) -> str:
    return " ".join(" ".join(cmdline).split())[:100] if isinstance(cmdline, list) else "?"


def _procs(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    start, live, harness = obs.get("startup"), obs.get("live"), obs.get("harness")
    if not isinstance(start, dict) or not isinstance(start.get("processes"), dict) or not isinstance(live, dict):
        return Judgement(ERROR, "no process table recorded")
    me, table = start.get("self"), start["processes"]
    problems = []
    if me != 1:
        problems.append(f"the harness is PID {me}, not PID 1 (an init or another container's tree is PID 1)")
    foreign = sorted(p for p in (strict_int(p) for p in table) if p != me)
    problems += [f"PID {p} ({_show(table[str(p)].get('cmdline'))}) is not the harness" for p in foreign]
    one = table.get("1")
    if not isinstance(one, dict):
        problems.append("no PID 1 visible")
    elif not isinstance(one.get("cmdline"), list) or not _argv_ok(expect["argv"], one["cmdline"]):
        problems.append(f"PID 1 runs {_show(one.get('cmdline'))!r}, not the profile's entrypoint")
    # now: every process must descend from the harness (a process joined from outside,
    # like docker exec, has parent 0 in this namespace)
    for pid in sorted(live, key=strict_int):
        seen, cur = set(), strict_int(pid)
        while cur not in (harness, 0) and cur not in seen:
            seen.add(cur)
            cur = strict_int(live.get(str(cur), 0))
        if cur != harness and strict_int(pid) != harness:
            problems.append(f"PID {pid} does not descend from the harness (PID {harness})")
    if problems:
        return Judgement(FAIL, "; ".join(problems[:6]))
    return Judgement(PASS, f"only the harness's own tree ({len(live)} processes now); PID 1 is the entrypoint")


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


def _sysctls(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    got = obs.get("values")
    if not isinstance(got, dict):
        return Judgement(ERROR, "no sysctl values recorded")
    optional = set(expect.get("optional", []))
    wrong, absent = [], []
    for name, want in sorted(expect["values"].items()):
        if name not in got:
            return Judgement(ERROR, f"{name} not read")
        if got[name] is None:
            if name not in optional:  # the profile or the runtime set it: it must be there
                wrong.append(f"{name} is missing, expected {want!r}")
            absent.append(name)
        elif got[name] != want:
            wrong.append(f"{name} is {got[name]!r}, expected {want!r}")
    if wrong:
        return Judgement(FAIL, "; ".join(wrong[:6]))
    note = f" ({len(absent)} not on this kernel)" if absent else ""
    return Judgement(PASS, f"{len(expect['values']) - len(absent)} namespaced sysctls as expected{note}")


def _cgroupns(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    link, text = obs.get("link"), obs.get("cgroup")
    m = re.fullmatch(r"cgroup:\[(\d+)\]", link) if isinstance(link, str) else None
    if m is None or not isinstance(text, str) or not text.strip():
        return Judgement(ERROR, "no cgroup namespace link or /proc/self/cgroup recorded")
    # in a cgroup namespace of its own, every hierarchy's path is its root "/"
    # (kernel/cgroup/cgroup.c proc_cgroup_show prints paths relative to the namespace root)
    paths = sorted({line.split(":", 2)[2] for line in text.strip().splitlines() if line.count(":") >= 2})
    shared = int(m.group(1)) == INIT_NS_INODES["cgroup"]
    if expect["mode"] != "private":
        return Judgement(PASS, f"the profile allows the {expect['mode']} cgroup namespace ({link}, paths {paths[:2]})")
    if shared or paths != ["/"]:
        where = "the host's initial cgroup namespace" if shared else "a cgroup namespace that is not its own"
        return Judgement(FAIL, f"{where} ({link}): cgroup paths {paths[:3]} show the host's hierarchy")
    return Judgement(PASS, f"own cgroup namespace {link}, every path '/'")


def _map(text: object) -> list[list[int]]:
    if not isinstance(text, str):
        raise ValueError("no id map recorded")
    return [[strict_int(x) for x in line.split()] for line in text.strip().splitlines()]


def _idmap(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    problems = []
    for key in ("uid_map", "gid_map"):
        got, want = _map(obs.get(key)), expect[key]
        if got != want:
            problems.append(f"{key} is {got}, expected {want}")
    if problems:
        return Judgement(FAIL, "; ".join(problems) + f" ({obs.get('link')})")
    return Judgement(PASS, f"uid_map and gid_map exactly {expect['uid_map']} ({obs.get('link')})")


def _files(obs: Mapping[str, Any]) -> dict[str, str]:
    files = obs.get("files")
    if not isinstance(files, dict):
        raise ValueError("no cgroup files recorded")
    return {k: v.strip() for k, v in files.items() if isinstance(v, str)}


def _score_adj(expect: Mapping[str, Any], files: Mapping[str, str]) -> Judgement | None:
    adj = files.get(OOM_SCORE_ADJ)
    if adj is None or not re.fullmatch(r"-?[0-9]{1,4}", adj):
        return Judgement(ERROR, f"no oom_score_adj recorded ({adj!r})")
    if int(adj) != expect["oom_score_adj"]:  # a lower score shields the sandbox, a higher one the host's
        return Judgement(FAIL, f"oom_score_adj is {adj}, expected {expect['oom_score_adj']}")
    return None


def _kill_switch(want: bool, files: Mapping[str, str]) -> Judgement:
    if OOM_FILE in files:
        fields = dict(line.split() for line in files[OOM_FILE].splitlines() if len(line.split()) == 2)
        got = fields.get("oom_kill_disable")
        if got not in ("0", "1"):
            return Judgement(ERROR, f"memory.oom_control has no oom_kill_disable: {files[OOM_FILE][:80]!r}")
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


def _shares(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    files, shares = _files(obs), int(expect["shares"])
    v1 = next((files[p] for p in SHARES_FILES if p in files), None)
    if v1 is not None:
        want, got, what = shares or 1024, strict_int(v1), "cpu.shares"  # 1024: the kernel's default (NICE_0_LOAD)
    elif WEIGHT_FILE in files:
        want, got, what = (v2_weight(shares) if shares else 100), strict_int(files[WEIGHT_FILE]), "cpu.weight"
    else:
        return Judgement(UNVERIFIED, "neither cpu.shares nor cpu.weight readable")
    if got != want:
        return Judgement(FAIL, f"{what} is {got}, expected {want}")
    return Judgement(PASS, f"{what} {got}")


JUDGES: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], Judgement]] = {
    "procs": _procs,
    "rlimits": _rlimits,
    "sysctls": _sysctls,
    "cgroupns": _cgroupns,
    "idmap": _idmap,
    "cg_oom": _oom,
    "cg_shares": _shares,
}
