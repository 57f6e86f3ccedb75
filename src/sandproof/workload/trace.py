"""Reading an ``strace -f --quiet=attach,exit --pidns-translation`` log (``learn.STRACE``)
of one ``runc run``: which system calls the workload made, and which runc's init made after
loading the filter.

Pure text in, sets out (unit-tested on a recorded log). The workload starts at the
``execve`` of its entrypoint (the first execve of that path); from there, that process
and every process or thread it creates count. runc's own setup before the exec, its
parent and its other processes do not, except what runc's init does between loading
the seccomp filter and that execve (runc loads it last when no-new-privileges is set:
libcontainer/standard_init_linux.go), which a default-deny filter must let through too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<rest>.*)$")
_CALL = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*)\((?P<args>.*)$")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>[a-z_][a-z0-9_]*) resumed>(?P<args>.*)$")
_RET = re.compile(r"\)\s+= (?P<ret>-?\d+|0x[0-9a-f]+|\?)(?: /\* (?P<host>\d+) in strace's PID NS \*/)?")
_FORKS = {"clone", "clone3", "fork", "vfork"}
_FILTER = ("prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER", "seccomp(SECCOMP_SET_MODE_FILTER")
# strace writes "[ Process PID=N runs in 32 bit mode. ]" as a line of its own (after the pid
# with -f) when a process enters another ABI, and names its calls by that ABI's table from then
# on, until "runs in 64 bit mode" (src/syscall.c update_personality; learn.STRACE keeps it on).
# Only that line counts: what the workload writes or passes reaches the log quoted inside a
# call's arguments ("..."), newlines escaped, so it never starts a line.
_MODE = re.compile(r"^\[ Process PID=(?P<pid>\d+) runs in (?P<mode>64 bit|32 bit|x32) mode\. \]$")


@dataclass
class _Call:
    pid: int
    name: str
    args: str
    ret: str = ""
    host: int | None = None
    """The returned pid as the host sees it (strace's PID namespace)."""


@dataclass(frozen=True)
class Traced:
    workload: frozenset[str]
    """Every syscall name the workload's processes made, from the entrypoint's execve on."""
    runtime: frozenset[str]
    """What runc's init made after loading its filter, up to and including that execve."""
    exec_found: bool
    other_abi: bool
    """strace saw a process switch to another ABI (32-bit or x32): those calls are not
    the native architecture's and are not in ``workload``."""


def _calls(text: str) -> tuple[list[_Call], bool]:
    """The calls in native mode, and whether any process entered another ABI."""
    calls: list[_Call] = []
    pending: dict[int, _Call] = {}
    foreign: set[int] = set()  # pids in a 32-bit or x32 mode: their calls are not native names
    other_abi = False
    for raw in text.splitlines():
        if (mode := _MODE.match(raw.split(None, 1)[-1] if raw[:1].isdigit() else raw)) is not None:
            if mode["mode"] == "64 bit":
                foreign.discard(int(mode["pid"]))
            else:
                foreign.add(int(mode["pid"]))
                other_abi = True
            continue
        m = _LINE.match(raw)
        if m is None:
            continue
        pid, rest = int(m["pid"]), m["rest"]
        if (r := _RESUMED.match(rest)) is not None:
            call = pending.pop(pid, None)
            tail = r["args"]
        elif (c := _CALL.match(rest)) is not None:
            if pid in foreign:
                continue
            call = _Call(pid, c["name"], c["args"])
            calls.append(call)
            tail = c["args"]
            if tail.endswith("<unfinished ...>"):
                pending[pid] = call
                continue
        else:
            continue  # signals (--- SIG... ---), exits (+++ ... +++)
        if call is not None and (ret := _RET.search(tail)) is not None:
            call.ret = ret["ret"]
            call.host = int(ret["host"]) if ret["host"] else None
    return calls, other_abi


def _child(call: _Call) -> int | None:
    if call.name not in _FORKS:
        return None
    if call.host is not None:
        return call.host
    return int(call.ret) if call.ret.isdigit() and int(call.ret) > 0 else None


def parse(text: str, entrypoint: str) -> Traced:
    """The names the workload and the post-filter runtime made; ``entrypoint`` is the
    path the runtime execs (the OCI config's ``process.args[0]``)."""
    calls, other_abi = _calls(text)
    start = next(
        (i for i, c in enumerate(calls) if c.name in ("execve", "execveat") and c.args.startswith(f'"{entrypoint}"')),
        None,
    )
    if start is None:
        return Traced(frozenset(), frozenset(), exec_found=False, other_abi=other_abi)
    exec_pid = calls[start].pid
    # runc's init: the exec's pid and the threads it had (clones with CLONE_THREAD)
    group = {exec_pid}
    for c in calls[:start]:
        child = _child(c)
        if child is not None and c.pid in group and "CLONE_THREAD" in c.args:
            group.add(child)
    loaded = max(
        (i for i, c in enumerate(calls[:start]) if c.pid == exec_pid and (c.name + "(" + c.args).startswith(_FILTER)),
        default=start,
    )
    runtime = {c.name for c in calls[loaded + 1 : start + 1] if c.pid in group}
    ours = {exec_pid}
    workload: set[str] = set()
    for c in calls[start:]:
        if c.pid in ours:
            workload.add(c.name)
            child = _child(c)
            if child is not None:
                ours.add(child)
    return Traced(frozenset(workload), frozenset(runtime), exec_found=True, other_abi=other_abi)
