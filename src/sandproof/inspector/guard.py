"""The L2 layer: a seccomp filter the harness stacks on itself before any probe.

The runtime's filter must let the entrypoint's execve through (runc installs it
just before that execve when no-new-privileges is set), so exec is denied here
instead: every later process of the sandbox inherits this filter and cannot drop it.
The program is built in ``bpf``; here it is installed with ctypes:
prctl(PR_SET_NO_NEW_PRIVS) then prctl(PR_SET_SECCOMP, FILTER).
"""

from __future__ import annotations

import ctypes
import struct

from . import bpf, syscalls

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class _Fprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install(deny: list[str], errno_name: str) -> dict[str, object]:
    """Install the filter on this process; return what was installed, for the evidence."""
    arch = syscalls.machine()
    insns = bpf.program(deny, errno_name, arch)
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
