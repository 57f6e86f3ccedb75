"""Raw syscalls from machine code, on this kernel: the kernel's own answers, no libc."""

from __future__ import annotations

import errno
import os

import pytest

from sandproof.inspector import rawsys, syscalls
from sandproof.inspector.probes import seccomp


def test_native_stub_answers_like_the_kernel() -> None:
    arch = syscalls.machine()
    assert rawsys.call(syscalls.number("getpid", arch)) == os.getpid()
    ret = rawsys.call(syscalls.number("socket", arch), -1, 0, 0)
    assert ret == -errno.EAFNOSUPPORT
    assert rawsys.result(ret) == {"ret": ret, "errno": "EAFNOSUPPORT"}
    assert rawsys.errno_name(3) is None
    assert rawsys.call(syscalls.number("setns", arch), -1, 0) == -errno.EBADF  # six arguments padded


def test_i386_stub_enters_the_32_bit_abi() -> None:
    if syscalls.machine() != "x86_64":  # int 0x80 exists on x86_64 only: the stub says so
        with pytest.raises(OSError, match="x86_64 only"):
            rawsys.call_i386(syscalls.I386["getpid"])
        return
    assert rawsys.call_i386(syscalls.I386["getpid"]) == os.getpid()  # no filter on the test process


def test_foreign_abis_observed_without_a_filter() -> None:
    seen = seccomp.observe()
    assert seen["arch"] == syscalls.machine() == "x86_64", "the image lock and these ABIs are x86_64's"
    assert seen["abis"]["i386"] == {"signal": None, "ret": seen["abis"]["i386"]["ret"], "errno": None}
    assert seen["abis"]["i386"]["ret"] > 0
    assert seen["abis"]["x32"]["signal"] is None  # this kernel: no x32 ABI (ENOSYS) or x32 getpid
