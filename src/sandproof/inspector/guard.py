"""The L2 layer: a seccomp filter the harness stacks on itself before any probe.

The runtime's filter must let the entrypoint's execve through (runc installs it
just before that execve when no-new-privileges is set), so exec is denied here
instead: every later process of the sandbox inherits this filter and cannot drop it.
Built with ctypes: prctl(PR_SET_NO_NEW_PRIVS) then prctl(PR_SET_SECCOMP, FILTER).
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

from . import syscalls

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
X32_SYSCALL_BIT = 0x40000000
# classic BPF opcodes
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
RET_K = 0x06
# offsets in struct seccomp_data
NR_OFFSET = 0
ARCH_OFFSET = 4


class _Fprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def machine() -> str:
    m = platform.machine()
    return {"arm64": "aarch64", "amd64": "x86_64"}.get(m, m)


def program(deny: list[str], errno_name: str, arch: str) -> list[tuple[int, int, int, int]]:
    """Return the filter as (code, jt, jf, k) instructions: deny the named syscalls,
    the x32 ABI and any foreign architecture with errno; allow the rest."""
    deny_ret = RET_ERRNO | getattr(errno, errno_name)
    # a name this architecture lacks cannot be called here (the profile lists it in arch_specific)
    nrs = [syscalls.number(n, arch) for n in deny if syscalls.exists(n, arch)]
    insns: list[tuple[int, int, int, int]] = [
        (LD_W_ABS, 0, 0, ARCH_OFFSET),
        (JEQ_K, 1, 0, syscalls.AUDIT_ARCH[arch]),
        (RET_K, 0, 0, deny_ret),
        (LD_W_ABS, 0, 0, NR_OFFSET),
    ]
    if arch == "x86_64":
        insns += [(JGE_K, 0, 1, X32_SYSCALL_BIT), (RET_K, 0, 0, deny_ret)]
    for i, nr in enumerate(nrs):
        # on a match jump to the final deny; the allow sits just before it
        insns.append((JEQ_K, len(nrs) - i, 0, nr))
    insns += [(RET_K, 0, 0, RET_ALLOW), (RET_K, 0, 0, deny_ret)]
    return insns


def install(deny: list[str], errno_name: str) -> dict[str, object]:
    """Install the filter on this process; return what was installed, for the evidence."""
    arch = machine()
    insns = program(deny, errno_name, arch)
    raw = b"".join(struct.pack("=HBBI", *i) for i in insns)
    buf = ctypes.create_string_buffer(raw, len(raw))
    prog = _Fprog(len(insns), ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
    return {
        "layer": "L2-inprocess-seccomp",
        "arch": arch,
        "deny": deny,
        "errno": errno_name,
        "instructions": len(insns),
    }
