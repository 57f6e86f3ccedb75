"""The one syscall table: names and numbers per architecture, and the flag values the
plans and probes pass to them.

Shared by the seccomp renderer, the profile loader, the sweep (host and harness), the L2
guard and the foreign-ABI probe. Numbers and AUDIT_ARCH values are generated
(``syscall_table``, by scripts/gen_syscalls.py from libseccomp and the kernel headers);
a name absent from an architecture's table does not exist there. Pure: no probing here.
"""

from __future__ import annotations

import os

from . import syscall_table

ARCHES = syscall_table.ARCHES
AUDIT_ARCH = syscall_table.AUDIT_ARCH
SCMP_ARCH = syscall_table.SCMP_ARCH
TABLES: dict[str, dict[str, int]] = {"x86_64": syscall_table.X86_64, "aarch64": syscall_table.AARCH64}
"""The native ABIs; ``number`` and ``exists`` answer for these only."""
I386 = syscall_table.I386
"""The i386 ABI (``int 0x80``), which an x86_64 process can still enter."""
X32_SYSCALL_BIT = 0x40000000  # arch/x86/include/uapi/asm/unistd.h: x32 numbers carry this bit

# include/uapi/linux/sched.h: the namespace flags a clone() may not carry
CLONE_NAMESPACE_FLAGS = {
    "CLONE_NEWTIME": 0x00000080,
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
CLONE_NEWUSER = CLONE_NAMESPACE_FLAGS["CLONE_NEWUSER"]
# unshare(2) flags that are not namespaces (kernel/fork.c: ksys_unshare)
UNSHARE_OTHER = {"CLONE_FILES": 0x400, "CLONE_FS": 0x200, "CLONE_SYSVSEM": 0x40000}
SIGCHLD = 17  # include/uapi/asm-generic/signal.h and x86's: a clone's exit signal on both ABIs


def machine() -> str:
    """This machine's architecture under the table's names."""
    m = os.uname().machine  # what platform.machine() answers on Linux, without compiling platform.py
    return {"arm64": "aarch64", "amd64": "x86_64"}.get(m, m)


def exists(name: str, arch: str) -> bool:
    return name in TABLES.get(arch, {})


def number(name: str, arch: str) -> int:
    """The number of ``name`` on ``arch``; KeyError (naming both) where it does not exist."""
    table = TABLES.get(arch)
    if table is None or name not in table:
        raise KeyError(f"no syscall {name!r} on {arch}")
    return table[name]
