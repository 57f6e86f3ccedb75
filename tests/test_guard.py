"""The L2 in-process filter, installed for real in a forked child on this kernel."""

from __future__ import annotations

import errno
import os
import sys

from sandproof.inspector import bpf, guard, syscalls


def test_program_layout() -> None:
    insns = bpf.program(["execve", "execveat"], "EPERM", "x86_64")
    assert insns[1] == (bpf.JEQ_K, 1, 0, syscalls.AUDIT_ARCH["x86_64"])
    assert (bpf.JGE_K, 0, 1, syscalls.X32_SYSCALL_BIT) in insns  # x32 refused
    assert insns[-2] == (bpf.RET_K, 0, 0, bpf.RET_ALLOW)
    assert insns[-1] == (bpf.RET_K, 0, 0, bpf.RET_ERRNO | errno.EPERM)
    # every deny jump lands on the final deny
    for i, (code, jt, _, _) in enumerate(insns):
        if code == bpf.JEQ_K and i > 1:
            assert i + 1 + jt == len(insns) - 1
    assert not any(c == bpf.JGE_K for c, *_ in bpf.program(["execve"], "EPERM", "aarch64"))


def test_installed_filter_denies_exec_and_allows_the_rest() -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 9
        try:
            guard.install(["execve", "execveat"], "EPERM")
            status = open("/proc/self/status").read()  # noqa: SIM115 - still allowed
            try:
                os.execv(sys.executable, [sys.executable, "-c", "pass"])
            except OSError as exc:
                code = 0 if exc.errno == errno.EPERM and "Seccomp:\t2" in status else 3
        finally:
            os.write(w, bytes([code]))
            os._exit(0)
    os.close(w)
    result = os.read(r, 1)
    os.waitpid(pid, 0)
    assert result == b"\x00"
