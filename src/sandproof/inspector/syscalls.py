"""The one syscall table: names and numbers of the native 64-bit ABIs, per architecture.

Shared by the seccomp renderer, the profile loader, the sweep and the L2 guard. The
numbers are generated from libseccomp (``syscall_table``, by scripts/gen_syscalls.py);
a name absent from an architecture's table does not exist there.
"""

from __future__ import annotations

from . import syscall_table

ARCHES = ("x86_64", "aarch64")
TABLES: dict[str, dict[str, int]] = {"x86_64": syscall_table.X86_64, "aarch64": syscall_table.AARCH64}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

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


def exists(name: str, arch: str) -> bool:
    return name in TABLES.get(arch, {})


def number(name: str, arch: str) -> int:
    """The number of ``name`` on ``arch``; KeyError (naming both) where it does not exist."""
    table = TABLES.get(arch)
    if table is None or name not in table:
        raise KeyError(f"no syscall {name!r} on {arch}")
    return table[name]
