"""Leaks: what the host may hand into the sandbox besides what the profile declares: environment
variables, descriptors, engine sockets, foreign processes, and code (every mapped file must be
the image's, byte for byte; the inspector must load no code dynamically)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .common import ERROR, FAIL, PASS, UNVERIFIED, Judge, Judgement, strict_int


def _runtime_values(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> list[str]:
    """The runtime's own variables must hold what the runtime sets; the hostname must be one the
    runtime gives (Docker: the container ID's first 12 hex digits; runc: our config's)."""
    if "runtime_values" not in expect:  # a seed bundle: names only
        return []
    matches, hostname = obs.get("runtime_values"), obs.get("hostname")
    if not isinstance(matches, dict) or not isinstance(hostname, str):
        return ["runtime variables not compared"]
    problems = [
        f"{k} does not hold what its setter (the runtime, or sandproof for a carried harness) gives it"
        for k, ok in sorted(matches.items())
        if ok is not True
    ]
    unchecked = sorted(set(expect["runtime_values"]) - set(matches))
    if unchecked:
        problems.append(f"runtime variables not compared: {unchecked}")
    pattern = expect.get("hostname")
    if pattern is not None and not re.fullmatch(pattern, hostname):
        problems.append(f"hostname {hostname!r} is not one {pattern!r} allows (another UTS namespace?)")
    return problems


def _env(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    """The exact set of names: the profile's plus the runtime's own. A name no pattern
    would call secret (DATABASE_URL, GH_PAT) is as much a leak as GITHUB_TOKEN."""
    keys, allowed = obs.get("keys"), expect.get("names")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or not isinstance(allowed, list):
        return Judgement(ERROR, "no environment key list recorded")
    problems = []
    if len(set(keys)) != len(keys):
        problems.append("a name is listed twice")
    loader = sorted(k for k in keys if k.startswith("LD_"))
    if loader:  # the dynamic loader acts on these before any probe runs
        problems.append(f"loader variables present: {loader}")
    extra = sorted(set(keys) - set(allowed) - set(loader))
    if extra:
        problems.append(f"variables the profile does not declare: {extra}")
    missing = sorted(set(allowed) - set(keys))
    if missing:
        problems.append(f"variables missing: {missing}")
    problems += _runtime_values(expect, obs)
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    return Judgement(PASS, f"exactly {sorted(keys)}")


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
    if (wrong := _stdin(expect, obs)) is not None:
        return wrong
    said = ", standard input at its end" if "stdin" in expect else ""
    return Judgement(PASS, f"only descriptors {sorted(fds)} at start, each a pipe or /dev/null{said}")


def _stdin(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement | None:
    """Each standard descriptor's file type and access mode is one the runtime gives (a host
    file open for writing is not: review 16, runsc); and runc hands fd 0 a pipe of its own
    whatever its caller's stdin is (a terminal, host data): what it gives tells them apart."""
    kinds, modes = expect.get("stdio_kinds"), obs.get("stdio")
    if kinds is not None:
        # the probe records exactly 0, 1 and 2, each a string: anything else is a malformed record
        if (
            not isinstance(modes, dict)
            or set(modes) != set(kinds)
            or not all(isinstance(v, str) for v in modes.values())
        ):
            return Judgement(ERROR, "no file type and access mode recorded for each standard descriptor")
        odd = {fd: modes.get(fd) for fd in sorted(kinds) if modes.get(fd) not in kinds[fd]}
        if odd:
            return Judgement(FAIL, f"standard descriptors are {odd}, expected {kinds} (file type, access mode)")
    want, got = expect.get("stdin"), obs.get("stdin")
    if want is None:
        return None
    if not isinstance(got, str):
        return Judgement(ERROR, "no state of standard input recorded")
    if got != want:
        return Judgement(FAIL, f"standard input gave {got[:40]!r}, expected {want!r} at once: the host reaches it")
    return None


def _absent(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    present, wanted = obs.get("present"), expect.get("absent")
    if not isinstance(present, list) or not isinstance(wanted, list):
        return Judgement(ERROR, "no presence list recorded")
    checked = obs.get("checked")
    if not isinstance(checked, list):
        return Judgement(ERROR, "no list of checked paths recorded")
    found = sorted(p for p in present if p in checked)
    if found:
        return Judgement(FAIL, f"present: {found}")
    if present:  # compared exactly: "/run/docker.sock " or one with a zero-width space was never looked for
        return Judgement(FAIL, f"present, though not among the paths checked: {sorted(map(ascii, present))[:5]}")
    unchecked = sorted(set(wanted) - set(checked))
    if unchecked:
        return Judgement(UNVERIFIED, f"not looked for: {unchecked}")
    return Judgement(PASS, f"none of {len(wanted)} engine sockets present")


def _argv_ok(want: list[Any], got: list[str]) -> bool:
    """``None`` in the expected argv stands for the run date, which is not known at plan time."""
    return len(want) == len(got) and all(w is None or w == g for w, g in zip(want, got, strict=True))


def _show(cmdline: object) -> str:
    return " ".join(" ".join(cmdline).split())[:100] if isinstance(cmdline, list) else "?"


def _parents(live: Mapping[str, Any], harness: object) -> list[str]:
    """The live table's parent links as the kernel gives them (fs/proc/array.c task_state: PPid
    is the parent's PID in the reader's namespace, 0 when the parent is outside it): never
    negative, never the process itself, and the harness, PID 1 of its namespace, has parent 0."""
    parents = {strict_int(pid): strict_int(ppid) for pid, ppid in live.items()}
    negative = sorted(p for p, pp in parents.items() if p < 1 or pp < 0)
    if negative:  # malformed: no PID is negative (kernel/pid.c allocates from 1)
        raise ValueError(f"PID {negative[0]} recorded with parent {parents[negative[0]]}: no such PID or parent")
    problems = [f"PID {p} is recorded as its own parent" for p, pp in sorted(parents.items()) if p == pp]
    if type(harness) is not int or harness not in parents:
        problems.append(f"the harness (PID {harness}) is not in the live process table")
    elif parents[harness] != 0:
        problems.append(f"the harness (PID {harness}) has parent {parents[harness]}: PID 1 of a namespace has 0")
    return problems


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
    if "cwd" in expect and obs.get("cwd") != expect["cwd"]:  # a plan before it was planned has none
        problems.append(f"started in {obs.get('cwd')!r}, not the workdir {expect['cwd']!r}")
    problems += _parents(live, harness)
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


PSEUDO_MAPPINGS = frozenset({"[heap]", "[stack]", "[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]", "[uprobes]"})
"""Kernel-provided mappings with a bracketed name (fs/proc/task_mmu.c, arch vdso code)."""


def _maps(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    files, other = obs.get("files"), obs.get("other")
    declared: dict[str, str] = expect["files"]
    if not isinstance(files, dict) or not isinstance(other, list) or not files:
        return Judgement(ERROR, "no memory map recorded")
    problems = []
    for path, entry in sorted(files.items()):
        if not isinstance(entry, dict):
            return Judgement(ERROR, f"{path}: malformed entry")
        if path not in declared:
            problems.append(f"{path} is mapped but not a file of the image")
        elif entry.get("sha256") != declared[path]:
            problems.append(f"{path} differs from the image's ({str(entry.get('sha256'))[:12]})")
        elif entry.get("same_file") is not True:
            problems.append(f"{path}: the mapped file is not the one at that path")
    strange = sorted(str(n) for n in other if n not in PSEUDO_MAPPINGS and not str(n).startswith("[anon:"))
    if strange:
        problems.append(f"mappings of no image file: {strange}")
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    return Judgement(PASS, f"{len(files)} mapped files, each byte for byte a file of the image")


def _static(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:  # noqa: ARG001 - one signature
    findings = obs.get("findings")
    if not isinstance(findings, list) or not isinstance(obs.get("files"), int) or obs["files"] < 1:
        return Judgement(ERROR, "no scan result recorded")
    if findings:
        return Judgement(FAIL, f"{len(findings)} dynamic code loading site(s): {findings[:3]}")
    return Judgement(PASS, f"{obs['files']} files scanned, no dynamic import or code loading")


JUDGES: dict[str, Judge] = {
    "env": _env,
    "fds": _fds,
    "absent": _absent,
    "procs": _procs,
    "maps": _maps,
    "static": _static,
}
