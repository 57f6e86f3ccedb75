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


def test_architectures_come_from_the_kernel_headers() -> None:
    # include/uapi/linux/audit.h: EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
    assert syscalls.AUDIT_ARCH == {"x86_64": 0xC000003E, "aarch64": 0xC00000B7, "i386": 0x40000003}
    assert syscalls.SCMP_ARCH["x86_64"] == "SCMP_ARCH_X86_64"
    assert set(syscalls.ARCHES) == set(syscalls.TABLES) <= set(syscalls.AUDIT_ARCH)
    assert syscalls.I386["getpid"] == 20  # arch/x86/entry/syscalls/syscall_32.tbl


def test_no_second_table_of_architectures() -> None:
    """Architecture constants are written in the generated table only; everything else imports it."""
    table = ("0xC000003E", "0xC00000B7", '"SCMP_ARCH_X86_64"', '"SCMP_ARCH_AARCH64"', "AUDIT_ARCH = {")
    literals = (*table, "X32_SYSCALL_BIT = ")
    homes = {"syscall_table.py": literals[:5], "syscalls.py": literals[5:]}
    for path in (ROOT / "src" / "sandproof").rglob("*.py"):
        text = path.read_text()
        found = [lit for lit in literals if lit in text and lit not in homes.get(path.name, ())]
        assert not found, (path, found)
