"""Seccomp: PR-SECCOMP-SWEEP inside: every planned attempt and the per-run random draws, through
raw syscalls (``rawsys``), in the probe's own child.

The plan's arguments are numbers or markers (see the host's ``sandproof/sweep.py``).
Attempts that would change this process if they got through (unshare, ptrace) come last,
after an allowlist's table sweep (its hazards fork), and PTRACE_TRACEME after everything
else: a tracee stops on any signal, even SIGCHLD.
A clone that succeeds leaves at once in the new process and is reaped in this one.

The exhaustive groups (the host's ``sandproof/sweepgroups.py``) arrive as data and are
expanded here in the same order; each records how many it tried, a histogram of answers
and the first few answers that were not the plan's errno, with their arguments.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
import random
import signal
import struct
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .. import rawsys, syscalls  # noqa: TID252 - the image names the package "inspector"
from ..judges.draws import AF_MAX, IORING_FLAGS, NS_FLAGS, PTRACE_RANDOM, SOCK_FLAGS, SOCK_TYPES  # noqa: TID252 - the image names the package "inspector"
from . import table

WALL = 0x40000000  # __WALL: reap a child whatever its exit signal
SIGCHLD = syscalls.SIGCHLD
UNSHARE_OTHER = tuple(syscalls.UNSHARE_OTHER.values())


def _subset(rng: random.Random, bits: tuple[int, ...]) -> int:
    value = 0
    while not value:
        value = sum(b for b in bits if rng.random() < 0.3)
    return value


def _high(rng: random.Random) -> int:
    """Bits above a 32-bit argument, half the time: the kernel drops them, a filter may not."""
    return rng.randrange(1, 1 << 31) << 32 if rng.random() < 0.5 else 0


def draw(name: str, rng: random.Random) -> list[Any]:  # noqa: PLR0911 - one vector shape per call
    """One random argument vector for ``name``; never a pointer or pid the kernel could harm."""
    if name in ("socket", "socketpair"):  # int arguments: random bits above them too
        args: list[Any] = [rng.randrange(AF_MAX) | _high(rng), rng.choice(SOCK_TYPES) | rng.choice(SOCK_FLAGS)]
        args.append(rng.choice((0, rng.randrange(256))) | _high(rng))
        return [*args, "buf"] if name == "socketpair" else args
    if name == "unshare":
        return [_subset(rng, NS_FLAGS + UNSHARE_OTHER)]
    if name == "clone":  # namespace bits only: never CLONE_VM, CLONE_THREAD or anything shared
        return [_subset(rng, NS_FLAGS) | rng.choice((SIGCHLD, 0)), 0, 0, 0, 0]
    if name == "ptrace":
        return [rng.choice(PTRACE_RANDOM), "target", 0, 0]
    if name == "io_uring_setup":
        return [rng.randrange(1, 4097), {"u32": {"8": _subset(rng, IORING_FLAGS), "4": 4096}}]
    if name == "setns":
        return [rng.choice(("nsfd", "fd", -1, rng.randrange(3, 64))), rng.choice((0, *NS_FLAGS)) | _high(rng)]
    if name == "mq_open":  # no name (EFAULT if let through), any flags and mode
        return [0, rng.randrange(1 << 16) | _high(rng), rng.randrange(0o10000), 0]
    raise KeyError(name)


class _Markers:
    """Resolves the plan's argument markers to numbers, holding what they point at."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.fd = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        self.nsfd = os.open("/proc/self/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        self.path = ctypes.create_string_buffer(b"/")
        self.held: list[ctypes.Array[ctypes.c_char]] = []

    def value(self, arg: Any) -> int:
        if isinstance(arg, int):
            return arg
        if isinstance(arg, dict) or arg == "buf":
            buf = ctypes.create_string_buffer(4096)
            for offset, word in (arg.get("u32", {}) if isinstance(arg, dict) else {}).items():
                struct.pack_into("=I", buf, int(offset), int(word))
            self.held.append(buf)
            return ctypes.addressof(buf)
        fixed = {"fd": self.fd, "nsfd": self.nsfd, "target": self.target, "path": ctypes.addressof(self.path)}
        return fixed[arg]

    def close(self) -> None:
        os.close(self.fd)
        os.close(self.nsfd)


@contextmanager
def _target() -> Iterator[int]:
    """A sacrificial child for ptrace, process_vm_* and kcmp to aim at; killed afterwards."""
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, WALL)
        os.close(w)


def _attempt(call: Mapping[str, Any], markers: _Markers, arch: str) -> dict[str, Any]:
    name, args = call["name"], call["args"]
    ret = rawsys.call(syscalls.number(name, arch), *(markers.value(a) for a in args))
    markers.held.clear()
    if name in ("clone", "clone3") and ret == 0:
        os._exit(0)  # the new process: leave at once
    if name in ("clone", "clone3") and ret > 0:
        os.waitpid(ret, WALL)
    out = {"name": name, "class": call["class"], **rawsys.result(ret)}
    if call["class"] == "random":
        out["args"] = args
    return out


CHANGING = ("unshare", "ptrace")
"""Calls that change this process (or their target) when let through: they run after everything
that forks (the table sweep's hazards), PTRACE_TRACEME after everything. An
unshare(CLONE_NEWUSER|CLONE_NEWPID) let through puts every later child in a new PID namespace;
the first becomes its init, and once it exits fork() answers ENOMEM (pid_namespaces(7);
kernel/pid.c: alloc_pid once PIDNS_ADDING is cleared). Only now and then: an SQPOLL io_uring let
through earlier leaves an io thread in this process, and CLONE_NEWUSER implies CLONE_THREAD
(kernel/fork.c: ksys_unshare), so the unshare answers EINVAL; but ring memory counts against
RLIMIT_MEMLOCK per uid, host-wide (io_uring/rsrc.c: __io_account_mem), and while other uid-65532
sandboxes hold rings the SQPOLL setup answers ENOMEM and the unshare gets through."""
FIRST = 8  # offending answers a group keeps, with their arguments
STOP_AFTER = 32  # a group let through stops here: each answer may be a fork, a namespace, a module load


def _axis(axis: Any) -> list[Any]:
    if isinstance(axis, dict):
        lo, hi = axis["range"]
        return list(range(int(lo), int(hi)))
    return list(axis)


def _argument(axes: list[Any], markers: _Markers) -> list[tuple[int, Any]]:
    """(number passed, value as planned) for every value of one argument."""
    if len(axes) == 1:
        return [(markers.value(v), v) for v in _axis(axes[0])]
    values = []
    for combo in itertools.product(*(_axis(a) for a in axes)):
        word = 0
        for v in combo:
            word |= int(v)
        values.append((word, word))
    return values


def _let_through(name: str, ret: int, numbers: tuple[int, ...]) -> None:
    """Undo what a call that got through made: close sockets, leave a clone, reap it."""
    if name == "clone" and ret == 0:
        os._exit(0)
    if name == "clone" and ret > 0:
        os.waitpid(ret, WALL)
    if name == "socket" and ret >= 0:
        os.close(ret)
    if name == "socketpair" and ret == 0:
        for fd in (ctypes.c_int * 2).from_address(numbers[3]):
            os.close(fd)


def expand(blocks: list[Any], markers: _Markers) -> Iterator[tuple[list[dict[int, Any]], tuple[int, ...]]]:
    """Each argument vector of a group, as numbers, with what each number stands for in the plan."""
    for block in blocks:
        args = [_argument(axes, markers) for axes in block]
        planned = [dict(a) for a in args]
        numbers = [[n for n, _ in a] for a in args] + [[0]] * (6 - len(args))
        for vector in itertools.product(*numbers):
            yield planned, vector


def group(spec: Mapping[str, Any], markers: _Markers, arch: str) -> dict[str, Any]:
    """Every argument vector of one exhaustive group, in the plan's order."""
    name, fn = spec["name"], rawsys.stub()
    nr, want = syscalls.number(name, arch), -getattr(errno, spec["errno"])
    same, other, first = 0, dict[str, int](), list[dict[str, Any]]()
    for planned, vector in expand(spec["blocks"], markers):
        ret = fn(nr, *vector)
        if ret == want:  # the hot path: nothing else per call
            same += 1
            continue
        _let_through(name, ret, vector)
        key = rawsys.errno_name(ret) or "ok"
        other[key] = other.get(key, 0) + 1
        if len(first) < FIRST:
            first.append({"args": [p[n] for p, n in zip(planned, vector, strict=False)], **rawsys.result(ret)})
        if sum(other.values()) >= STOP_AFTER:
            break
    markers.held.clear()
    answers = {spec["errno"]: same, **other} if same else other
    return {
        "group": spec["group"],
        "name": name,
        "tried": same + sum(other.values()),
        "answers": answers,
        "first": first,
    }


def sweep(params: Mapping[str, Any]) -> dict[str, Any]:
    arch = syscalls.machine()
    rng = random.SystemRandom()
    drawn = {str(k): int(v) for k, v in params.get("random", {}).items()}
    pending: dict[str, list[dict[str, Any]]] = {}
    for spec in params.get("groups", []):
        pending.setdefault(spec["name"], []).append(spec)
    final = {c["name"]: i for i, c in enumerate(params["calls"])}
    calls: list[dict[str, Any]] = []
    for i, call in enumerate(params["calls"]):  # each call's groups and draws follow its last fixed attempt
        calls.append(call)
        if final[call["name"]] == i:
            calls += pending.pop(call["name"], [])
            n = drawn.get(call["name"], 0)
            calls += [{"name": call["name"], "class": "random", "args": draw(call["name"], rng)} for _ in range(n)]
    last = [c for c in calls if c["name"] == "ptrace" and c.get("args", [None])[:1] == [0]]  # TRACEME
    calls = [c for c in calls if c not in last] + [g for specs in pending.values() for g in specs]
    early, late = [c for c in calls if c["name"] not in CHANGING], [c for c in calls if c["name"] in CHANGING]
    attempts, groups = [], []
    with _target() as pid:
        markers = _Markers(pid)

        def run(part: list[dict[str, Any]]) -> None:
            for c in part:
                if "group" in c:
                    groups.append(group(c, markers, arch))
                else:
                    attempts.append(_attempt(c, markers, arch))

        run(early)
        # an allowlist: every syscall once, while this child can still fork its hazards' children
        tried = table.sweep(params["table"], arch) if "table" in params else None
        run(late)
    attempts += [_attempt(c, markers, arch) for c in last]
    markers.close()
    out = {"arch": arch, "attempts": attempts, "groups": groups}
    return out if tried is None else {**out, "table": tried}


PROBES: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {"sweep": sweep}
