"""The L2 guard's seccomp program, as data: classic BPF instructions, built without probing.

Pure, so both sides share it: the harness installs it (``guard``), and the verifier rebuilds it
to check the instruction count the bundle says was installed.
"""

from __future__ import annotations

import errno

from . import syscalls

RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
# classic BPF opcodes
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
RET_K = 0x06
# offsets in struct seccomp_data
NR_OFFSET = 0
ARCH_OFFSET = 4
Instruction = tuple[int, int, int, int]


def program(deny: list[str], errno_name: str, arch: str) -> list[Instruction]:
    """Return the filter as (code, jt, jf, k) instructions: deny the named syscalls,
    the x32 ABI and any foreign architecture with errno; allow the rest."""
    deny_ret = RET_ERRNO | getattr(errno, errno_name)
    # a name this architecture lacks cannot be called here (the profile lists it in arch_specific)
    nrs = [syscalls.number(n, arch) for n in deny if syscalls.exists(n, arch)]
    insns: list[Instruction] = [
        (LD_W_ABS, 0, 0, ARCH_OFFSET),
        (JEQ_K, 1, 0, syscalls.AUDIT_ARCH[arch]),
        (RET_K, 0, 0, deny_ret),
        (LD_W_ABS, 0, 0, NR_OFFSET),
    ]
    if arch == "x86_64":
        insns += [(JGE_K, 0, 1, syscalls.X32_SYSCALL_BIT), (RET_K, 0, 0, deny_ret)]
    for i, nr in enumerate(nrs):
        # on a match jump to the final deny; the allow sits just before it
        insns.append((JEQ_K, len(nrs) - i, 0, nr))
    insns += [(RET_K, 0, 0, RET_ALLOW), (RET_K, 0, 0, deny_ret)]
    return insns
