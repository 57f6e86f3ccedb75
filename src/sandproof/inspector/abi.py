"""The foreign syscall ABIs, tried at startup: before the harness stacks its own filter,
which refuses every foreign architecture itself and would hide the runtime's.

On x86_64 a 64-bit process can still enter the kernel through the i386 ABI (``int 0x80``,
seen by seccomp as AUDIT_ARCH_I386) and the x32 ABI (syscall numbers with bit 0x40000000,
AUDIT_ARCH_X86_64). A filter that leaves them out of its architectures refuses them with
its bad-architecture action (libseccomp's default: kill, SIGSYS); a filter that lists them
lets them reach the kernel. Each try runs in its own child, since the refusal may kill it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

from . import rawsys

X32_SYSCALL_BIT = 0x40000000
GETPID_X86_64 = 39  # arch/x86/entry/syscalls/syscall_64.tbl: common, so x32 too
GETPID_I386 = 20  # arch/x86/entry/syscalls/syscall_32.tbl


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
    arch = rawsys.machine()
    if arch != "x86_64":  # aarch64: no int 0x80, no x32; AArch32 needs a 32-bit binary
        return {"arch": arch, "abis": {}}
    try:
        return {
            "arch": arch,
            "abis": {
                "i386": _try(lambda: rawsys.call_i386(GETPID_I386)),
                "x32": _try(lambda: rawsys.call(GETPID_X86_64 | X32_SYSCALL_BIT)),
            },
        }
    except OSError as exc:
        return {"arch": arch, "error": f"{type(exc).__name__}: {exc}"}
