"""Raw system calls without libc: a few bytes of machine code in an anonymous mapping.

libc's ``syscall()``, ``ptrace()`` and ``socket()`` are symbols an ``LD_PRELOAD`` shim or
``/etc/ld.so.preload`` can replace with something that answers EPERM while the kernel
allows everything. The stubs here trap into the kernel themselves (``syscall``, ``svc #0``,
``int 0x80``) and hand back its raw answer: a value >= 0, or -errno.

The code is written to a private anonymous mapping (read-write), which is then made
read-execute (mprotect), never writable and executable at once.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
from collections.abc import Callable

from . import syscalls

# x86_64 System V: nr, a1..a5 in rdi, rsi, rdx, rcx, r8, r9, a6 on the stack; the kernel
# wants nr in rax and the arguments in rdi, rsi, rdx, r10, r8, r9 (arch/x86/entry/entry_64.S)
_X86_64 = bytes.fromhex(
    "4889f8"  # mov rax, rdi
    "4889f7"  # mov rdi, rsi
    "4889d6"  # mov rsi, rdx
    "4889ca"  # mov rdx, rcx
    "4d89c2"  # mov r10, r8
    "4d89c8"  # mov r8, r9
    "4c8b4c2408"  # mov r9, [rsp+8]
    "0f05"  # syscall
    "c3"  # ret
)
# The i386 ABI from a 64-bit process: int 0x80 takes nr in eax and a1..a3 in ebx, ecx,
# edx; seccomp sees AUDIT_ARCH_I386 (arch/x86/entry/entry_64_compat.S). rbx is callee-saved.
_I386 = bytes.fromhex(
    "53"  # push rbx
    "4889f8"  # mov rax, rdi
    "4889f3"  # mov rbx, rsi
    "4887ca"  # xchg rdx, rcx  (a2 -> ecx, a3 -> edx)
    "cd80"  # int 0x80
    "4863c0"  # movsxd rax, eax  (the 32-bit answer, sign-extended)
    "5b"  # pop rbx
    "c3"  # ret
)
# aarch64 AAPCS64: nr, a1..a6 in x0..x6; the kernel wants nr in x8, arguments in x0..x5
_AARCH64 = b"".join(
    w.to_bytes(4, "little")
    for w in (
        0xAA0003E8,  # mov x8, x0
        0xAA0103E0,  # mov x0, x1
        0xAA0203E1,  # mov x1, x2
        0xAA0303E2,  # mov x2, x3
        0xAA0403E3,  # mov x3, x4
        0xAA0503E4,  # mov x4, x5
        0xAA0603E5,  # mov x5, x6
        0xD4000001,  # svc #0
        0xD65F03C0,  # ret
    )
)
_CODE = {"x86_64": _X86_64, "aarch64": _AARCH64}
_ARG = ctypes.c_long
_SIG7 = ctypes.CFUNCTYPE(ctypes.c_long, *([_ARG] * 7))
_SIG4 = ctypes.CFUNCTYPE(ctypes.c_long, *([_ARG] * 4))
_stubs: dict[str, Callable[..., int]] = {}
_pages: list[mmap.mmap] = []  # kept mapped for the life of the process
MAX_ERRNO = 4095  # include/linux/err.h: -4095..-1 are errors


def _stub(code: bytes, signature: Callable[[int], Callable[..., int]]) -> Callable[..., int]:
    page = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    page.write(code)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    if libc.mprotect(address, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
        raise OSError(ctypes.get_errno(), "mprotect(PROT_READ|PROT_EXEC) of the syscall stub")
    _pages.append(page)
    return signature(address)


def _native() -> Callable[..., int]:
    if "native" not in _stubs:
        arch = syscalls.machine()
        if arch not in _CODE:
            raise OSError(errno.ENOSYS, f"no raw syscall stub for {arch}")
        _stubs["native"] = _stub(_CODE[arch], _SIG7)
    return _stubs["native"]


def stub() -> Callable[..., int]:
    """The native stub itself, ``stub()(nr, a1, ..., a6)`` (all seven required): the sweep's
    exhaustive groups make thousands of calls, and each layer of Python around one costs
    more than the syscall."""
    return _native()


def call(nr: int, *args: int) -> int:
    """The kernel's raw answer to syscall ``nr``: >= 0, or -errno."""
    padded = [*args, 0, 0, 0, 0, 0, 0][:6]
    return int(_native()(nr, *padded))


def call_i386(nr: int, *args: int) -> int:
    """A syscall through the 32-bit ABI (int 0x80); x86_64 only. Arguments are truncated to
    32 bits by the kernel, so pass numbers, never pointers."""
    if syscalls.machine() != "x86_64":
        raise OSError(errno.ENOSYS, "int 0x80 exists on x86_64 only")
    if "i386" not in _stubs:
        _stubs["i386"] = _stub(_I386, _SIG4)
    return int(_stubs["i386"](nr, *[*args, 0, 0, 0][:3]))


def errno_name(ret: int) -> str | None:
    """The errno name of a raw answer, or None when it is not an error."""
    if -MAX_ERRNO <= ret < 0:
        return errno.errorcode.get(-ret, f"E{-ret}")
    return None


def result(ret: int) -> dict[str, object]:
    """A raw answer as it goes into an observation."""
    return {"ret": ret, "errno": errno_name(ret)}
