"""Seccomp probes: exec and ptrace (denied), a thread (allowed: clone3 must fall back), and the
foreign syscall ABIs, tried at startup (the sweep of every denied call is ``sweep``).

The foreign syscall ABIs, tried at startup: before the harness stacks its own filter,
which refuses every foreign architecture itself and would hide the runtime's.

On x86_64 a 64-bit process can still enter the kernel through the i386 ABI (``int 0x80``,
seen by seccomp as AUDIT_ARCH_I386) and the x32 ABI (syscall numbers with bit 0x40000000,
AUDIT_ARCH_X86_64). A filter that leaves them out of its architectures refuses them with
its bad-architecture action (libseccomp's default: kill, SIGSYS); a filter that lists them
lets them reach the kernel. Each try runs in its own child, since the refusal may kill it."""

from __future__ import annotations

import _thread
import errno
import os
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any

from .. import rawsys, syscalls  # noqa: TID252 - the image names the package "inspector"
from .common import STARTUP, Observation, Probe, raw


def execute(params: Mapping[str, Any]) -> Observation:
    """execve in a grandchild; a close-on-exec pipe tells a real exec (EOF, no data)
    from a denied one (the errno written back) without trusting the exit status."""
    argv = [sys.executable, "-S", "-c", "pass"]
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.execv(argv[0], argv)
        except OSError as exc:
            os.write(w, errno.errorcode.get(exc.errno or 0, "E?").encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if data:
        return {"outcome": "error", "errno": data.decode(), "target": argv[0]}
    return {"outcome": "executed", "errno": None, "target": argv[0], "exit_status": os.waitstatus_to_exitcode(status)}


def ptrace(params: Mapping[str, Any]) -> Observation:
    ptrace_traceme = 0
    _, err = raw("ptrace", ptrace_traceme, 0, 0, 0)
    if err is None:
        return {"outcome": "traced", "errno": None}
    return {"outcome": "error", "errno": err}


def thread(params: Mapping[str, Any]) -> Observation:
    """A thread started and run: pthread_create, through ``_thread`` (what threading.Thread
    calls, without compiling threading.py at every start: the image holds no bytecode)."""
    box: list[int] = []
    done = _thread.allocate_lock()
    done.acquire()

    def run() -> None:
        box.append(1)
        done.release()

    try:
        _thread.start_new_thread(run, ())
    except RuntimeError as exc:  # "can't start new thread": clone3 got EPERM, not ENOSYS
        return {"outcome": "error", "errno": None, "message": str(exc)}
    done.acquire(timeout=2.0)
    return {"outcome": "started" if box else "error", "errno": None}


def _try(call: Callable[[], int]) -> dict[str, Any]:
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.write(w, str(call()).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"signal": signal.Signals(os.WTERMSIG(status)).name, "ret": None, "errno": None}
    try:
        ret = int(data)
    except ValueError:
        return {"signal": None, "ret": None, "errno": None, "error": f"no answer (status {status})"}
    return {"signal": None, **rawsys.result(ret)}


def observe() -> dict[str, Any]:
    """getpid through each foreign ABI of this machine: how the sandbox answered."""
    arch = syscalls.machine()
    if arch != "x86_64":  # aarch64: no int 0x80, no x32; AArch32 needs a 32-bit binary
        return {"arch": arch, "abis": {}}
    try:
        return {
            "arch": arch,
            "abis": {
                "i386": _try(lambda: rawsys.call_i386(syscalls.I386["getpid"])),
                "x32": _try(lambda: rawsys.call(syscalls.number("getpid", arch) | syscalls.X32_SYSCALL_BIT)),
            },
        }
    except OSError as exc:
        return {"arch": arch, "error": f"{type(exc).__name__}: {exc}"}


def foreign_abis(params: Mapping[str, Any]) -> Observation:
    return dict(STARTUP.get("abis", {"harness_error": "no foreign-ABI observation was taken at startup"}))


PROBES: dict[str, Probe] = {
    "exec": execute,
    "ptrace": ptrace,
    "thread": thread,
    "abi": foreign_abis,
}
