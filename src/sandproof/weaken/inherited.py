"""Weakenings handed down by whoever starts the runtime, which no runtime resets and neither the
config nor the engine's view shows: the personality (``setarch -R``, a unit's Personality=) and
the nice value (``nice -n -15``, a unit's Nice=). Set here on the thread that starts runc or
podman (both are per-thread, copied at fork: kernel/fork.c copy_process, sched_fork)."""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator

from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening

# include/uapi/linux/personality.h: no address space randomization for what is exec'd next
ADDR_NO_RANDOMIZE = 0x0040000
PERSONALITY_QUERY = 0xFFFFFFFF
# Docker's containers are started by containerd's shim, never by sandproof: not expressible there
CALLER_STARTED = ("runc", "podman")


@contextlib.contextmanager
def _no_aslr(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
    libc = ctypes.CDLL(None, use_errno=True)
    old = libc.personality(PERSONALITY_QUERY)
    libc.personality(old | ADDR_NO_RANDOMIZE)
    try:
        yield Mutation()
    finally:
        libc.personality(old)


@contextlib.contextmanager
def _niced(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
    old = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, -15)  # root may raise priority (CAP_SYS_NICE)
    try:
        yield Mutation()
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, old)


# include/uapi/linux/ioprio.h and the x86_64/aarch64 syscall numbers (ioprio_set, ioprio_get)
IOPRIO_WHO_PROCESS, IOPRIO_CLASS_RT = 1, 1
IOPRIO_CALLS = {"x86_64": (251, 252), "aarch64": (30, 31)}


@contextlib.contextmanager
def _ioniced(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
    libc = ctypes.CDLL(None, use_errno=True)
    set_nr, get_nr = IOPRIO_CALLS[os.uname().machine]
    old = libc.syscall(get_nr, IOPRIO_WHO_PROCESS, 0)
    libc.syscall(set_nr, IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_RT << 13)  # ionice -c1 -n0 (root only)
    try:
        yield Mutation()
    finally:
        libc.syscall(set_nr, IOPRIO_WHO_PROCESS, 0, max(old, 0))


PR_SET_MEMORY_MERGE, PR_GET_MEMORY_MERGE = 67, 68  # include/uapi/linux/prctl.h (Linux 6.4+)


def _no_merge_any(runtime: str) -> str | None:  # noqa: ARG001 - the same on both
    libc = ctypes.CDLL(None, use_errno=True)
    return None if libc.prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) >= 0 else "no PR_SET_MEMORY_MERGE (Linux < 6.4)"


@contextlib.contextmanager
def _merged(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
    libc = ctypes.CDLL(None, use_errno=True)
    old = libc.prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0)
    libc.prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0)  # the whole process: this test's own memory too
    try:
        yield Mutation()
    finally:
        libc.prctl(PR_SET_MEMORY_MERGE, max(old, 0), 0, 0, 0)


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "caller-no-aslr",
        "PR-SCHED-1",
        "the runtime started under setarch -R: ADDR_NO_RANDOMIZE inherited, ASLR off in the sandbox",
        setup=_no_aslr,
        runtimes=CALLER_STARTED,
    ),
    Weakening(
        "caller-niced",
        "PR-SCHED-1",
        "the runtime started at nice -15: the sandbox outranks the host's processes for CPU",
        setup=_niced,
        runtimes=CALLER_STARTED,
    ),
    Weakening(
        "caller-ioniced",
        "PR-SCHED-1",
        "the runtime started under ionice -c1: the sandbox's I/O in the real-time class, ahead of the host's",
        setup=_ioniced,
        runtimes=CALLER_STARTED,
    ),
    Weakening(
        "caller-memory-merge",
        "PR-SCHED-1",
        "the runtime started with PR_SET_MEMORY_MERGE: every page of the sandbox offered to KSM",
        setup=_merged,
        runtimes=CALLER_STARTED,
        no_effect=_no_merge_any,
    ),
)
