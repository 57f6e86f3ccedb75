from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandproof import sweep
from sandproof.inspector import syscall_table, syscalls

ROOT = Path(__file__).resolve().parent.parent
RESOLVER = shutil.which("scmp_sys_resolver")


def test_table_holds_the_known_numbers() -> None:
    # arch/x86/entry/syscalls/syscall_64.tbl and include/uapi/asm-generic/unistd.h
    assert syscalls.number("execve", "x86_64") == 59
    assert syscalls.number("execve", "aarch64") == 221
    assert syscalls.number("clone3", "aarch64") == 435
    assert syscalls.exists("open", "x86_64")
    assert not syscalls.exists("open", "aarch64")  # asm-generic has only openat
    assert len(syscall_table.X86_64) > 350
    assert len(syscall_table.AARCH64) > 300
    with pytest.raises(KeyError, match="'open' on aarch64"):
        syscalls.number("open", "aarch64")


def test_every_sweep_entry_exists_on_both_architectures() -> None:
    for name in sweep.BASE_ARGS:
        for arch in syscalls.ARCHES:
            assert syscalls.exists(name, arch), (name, arch)


def test_a_sample_agrees_with_libseccomp() -> None:
    assert RESOLVER is not None, "scmp_sys_resolver missing: the test command installs Debian's seccomp"
    names = sorted(syscall_table.X86_64)
    for name in [*random.Random(9).sample(names, 40), "clone", "open", "execve", "io_uring_setup"]:  # noqa: S311 - a fixed sample, not a secret
        for arch in syscalls.ARCHES:
            out = subprocess.run([RESOLVER or "", "-a", arch, name], capture_output=True, text=True, check=True)
            nr = int(out.stdout)
            # a negative pseudo-number: libseccomp knows the name, the architecture lacks the call
            assert syscall_table.__dict__[arch.upper()].get(name) == (nr if nr >= 0 else None), (name, arch, nr)


def test_the_committed_table_is_what_the_script_generates() -> None:
    assert RESOLVER is not None, "scmp_sys_resolver missing: the test command installs Debian's seccomp"
    script = ROOT / "scripts" / "gen_syscalls.py"
    out = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
