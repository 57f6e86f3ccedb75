"""Weakenings handed down by whoever starts the runtime, which no runtime resets and neither the
config nor the engine's view shows: the personality (``setarch -R``, a unit's Personality=),
the nice value (``nice -n -15``, a unit's Nice=), a blocked signal mask, the timer slack (a
unit's TimerSlackNSec=), set here on the thread that starts runc or podman (each is per-thread,
copied at fork: kernel/fork.c copy_process, sched_fork); and the caller's own time namespace
(``unshare --time``), which the runtime's client is started under."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

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


# what a caller blocked is blocked in the sandbox: Go's runtime in runc unblocks only its own
# (runtime/signal_unix.go blockableSig); an alarm (SIGALRM) or the CPU limit's warning (SIGXCPU)
# then never arrives, a user signal (SIGUSR1) stays pending
BLOCKED = frozenset({signal.SIGUSR1, signal.SIGALRM, signal.SIGXCPU})


@contextlib.contextmanager
def _signals_blocked(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
    old = signal.pthread_sigmask(signal.SIG_BLOCK, BLOCKED)  # this thread's: the one that spawns the runtime
    try:
        yield Mutation()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _host_file(redirect: str) -> Callable[[str], contextlib.AbstractContextManager[Mutation]]:
    """The runtime's client started with an empty host file on one of its standard descriptors
    (``redirect``: the shell's, e.g. ``<>`` for stdin read-write): the sandbox could write the
    host's file through it where the runtime hands its descriptors on (review 16: runsc)."""

    @contextlib.contextmanager
    def setup(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
        with tempfile.TemporaryDirectory(prefix="sandproof-weak-") as d:
            victim = Path(d) / "host-file"
            victim.write_bytes(b"")
            yield Mutation(caller=("sh", "-c", f'exec "$@" {redirect}{victim}', "sh"))

    return setup


def _copied_by_runc(runtime: str) -> str | None:
    copied = "runc copies its caller's stdio through pipes of its own: the host file never reaches the sandbox"
    return copied if runtime == "runc" else None


PR_SET_TIMERSLACK, PR_GET_TIMERSLACK = 29, 30  # include/uapi/linux/prctl.h


@contextlib.contextmanager
def _timer_slack(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
    libc = ctypes.CDLL(None, use_errno=True)
    old = libc.prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)
    libc.prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)  # 1 ns: no coalescing of the sandbox's timers
    try:
        yield Mutation()
    finally:
        libc.prctl(PR_SET_TIMERSLACK, max(old, 0), 0, 0, 0)  # 0 restores the default slack


# the caller's own time namespace with its clocks a year ahead: runc 1.1 makes none, so the
# container inherits it (util-linux unshare(1) --time; Linux 5.6+ CONFIG_TIME_NS)
STDIN_FED = ("sh", "-c", 'echo "a line of the host, for the sandbox to read" | exec "$@"', "sh")
"""The runtime's client started with host data on its standard input (an audit found it unseen:
/work/notes/hunt.md): runc copies its caller's stdin into the pipe it gives the sandbox's fd 0
(runc tty.go setupProcessPipes), so a printed ``runc run`` typed at a terminal hands the
sandbox the terminal. Podman's conmon gives /dev/null without -i: runc only."""
TIME_NAMESPACED = ("unshare", "--time", "--fork", "--kill-child", "--boottime", "31536000", "--monotonic", "31536000")


def _no_time_namespaces(runtime: str) -> str | None:  # noqa: ARG001 - the same on both
    if not os.path.lexists("/proc/self/ns/time"):
        return "no time namespaces in this kernel (Linux < 5.6 or CONFIG_TIME_NS off)"
    return None if shutil.which("unshare") else "no unshare(1) here (util-linux)"


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "caller-time-namespace",
        "PR-NS-TIME",
        "the runtime started in its caller's own time namespace (unshare --time): the sandbox's monotonic and"
        " boot-time clocks a year off the host's",
        mutation=Mutation(caller=TIME_NAMESPACED),
        no_effect=_no_time_namespaces,
        runtimes=CALLER_STARTED,
    ),
    Weakening(
        "caller-stdin-data",
        "PR-FD-1",
        "the runtime started with the host's data on its standard input, which runc copies into the sandbox's",
        mutation=Mutation(caller=STDIN_FED),
        runtimes=("runc",),
    ),
    Weakening(
        "caller-stdin-host-file",
        "PR-FD-1",
        "the runtime started with a host file open read-write as its standard input, which a runtime that hands"
        " its descriptors on gives the sandbox to write",
        setup=_host_file("<>"),
        runtimes=("runc",),
        no_effect=_copied_by_runc,
    ),
    Weakening(
        "caller-stderr-host-file",
        "PR-FD-1",
        "the runtime started with a host file open for appending as its standard error, which a runtime that"
        " hands its descriptors on gives the sandbox to write",
        setup=_host_file("2>>"),
        runtimes=("runc",),
        no_effect=_copied_by_runc,
    ),
    Weakening(
        "caller-signals-blocked",
        "PR-SCHED-1",
        "the runtime started with SIGUSR1, SIGALRM and SIGXCPU blocked: the sandbox's alarms and CPU-limit"
        " warnings never arrive",
        setup=_signals_blocked,
        runtimes=CALLER_STARTED,
    ),
    Weakening(
        "caller-timer-slack",
        "PR-SCHED-1",
        "the runtime started with a timer slack of 1 ns: uncoalesced timers, a sharper clock for timing side channels",
        setup=_timer_slack,
        runtimes=CALLER_STARTED,
    ),
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
