"""The space each random draw of PR-SECCOMP-SWEEP comes from (``probes/sweep.py draw`` draws
from these constants), and the test that a recorded vector is one such draw: an attempt
recorded with arguments no draw makes is not the attempt the plan asked for, so its errno
proves nothing about the filter (a forger could record ``socket(0, 0, 0)`` denied and say a
filter that matches only real families was swept)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..syscalls import CLONE_NAMESPACE_FLAGS, SIGCHLD, UNSHARE_OTHER  # noqa: TID252 - the image names the package "inspector"

SOCK_TYPES = (1, 2, 3, 5, 10)  # SOCK_STREAM, DGRAM, RAW, SEQPACKET, PACKET
SOCK_FLAGS = (0, 0x800, 0x80000, 0x80800)  # SOCK_NONBLOCK, SOCK_CLOEXEC
AF_MAX = 46
# ptrace requests without TRACEME (include/uapi/linux/ptrace.h)
PTRACE_RANDOM = (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 24, 0x4200, 0x4201, 0x4202, 0x4204, 0x4206, 0x4207, 0x4208)
IORING_FLAGS = (0x1, 0x2, 0x4, 0x8, 0x10, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800, 0x1000, 0x2000)
NS_FLAGS = tuple(CLONE_NAMESPACE_FLAGS.values())

_NS = sum(NS_FLAGS)
_UNSHARE = _NS | sum(UNSHARE_OTHER.values())
_IORING = sum(IORING_FLAGS)
_SOCK_KINDS = frozenset(t | f for t in SOCK_TYPES for f in SOCK_FLAGS)
_SETNS_FLAGS = frozenset((0, *NS_FLAGS))
_PTRACE = frozenset(PTRACE_RANDOM)
_TOP = 1 << 63  # ``_high`` sets bits 32..62 only: a draw is below this
_INT = int  # ``type(x) is int``: a bool or float is no draw


def _int(v: object, low_below: int) -> bool:
    """An int argument below ``low_below`` with, half the time, random bits 32..62 above it."""
    return type(v) is _INT and 0 <= v < _TOP and v & 0xFFFFFFFF < low_below


def _socket(a: list[Any]) -> bool:
    return len(a) == 3 and _int(a[0], AF_MAX) and type(a[1]) is _INT and a[1] in _SOCK_KINDS and _int(a[2], 256)


def _socketpair(a: list[Any]) -> bool:
    return len(a) == 4 and a[3] == "buf" and _socket(a[:3])


def _unshare(a: list[Any]) -> bool:
    return len(a) == 1 and type(a[0]) is _INT and a[0] > 0 and a[0] & ~_UNSHARE == 0


def _clone(a: list[Any]) -> bool:
    f = a[0] if len(a) == 5 and a[1:] == [0, 0, 0, 0] else None
    return type(f) is _INT and f & _NS != 0 and f & ~_NS in (0, SIGCHLD)


def _ptrace(a: list[Any]) -> bool:
    return len(a) == 4 and type(a[0]) is _INT and a[0] in _PTRACE and a[1:] == ["target", 0, 0]


def _io_uring_setup(a: list[Any]) -> bool:
    if len(a) != 2 or type(a[0]) is not _INT or not 1 <= a[0] <= 4096 or not isinstance(a[1], dict) or len(a[1]) != 1:
        return False
    words = a[1].get("u32")
    if not isinstance(words, dict) or len(words) != 2 or words.get("4") != 4096:
        return False
    flags = words.get("8")
    return type(flags) is _INT and flags > 0 and flags & ~_IORING == 0


def _setns(a: list[Any]) -> bool:
    if len(a) != 2 or not _int(a[1], 1 << 32) or a[1] & 0xFFFFFFFF not in _SETNS_FLAGS:
        return False
    fd = a[0]
    return fd in ("nsfd", "fd") or (type(fd) is _INT and (fd == -1 or 3 <= fd < 64))


def _mq_open(a: list[Any]) -> bool:
    return (
        len(a) == 4 and a[0] == 0 and a[3] == 0 and _int(a[1], 1 << 16) and type(a[2]) is _INT and 0 <= a[2] < 0o10000
    )


SPACES: dict[str, Callable[[list[Any]], bool]] = {
    "socket": _socket,
    "socketpair": _socketpair,
    "unshare": _unshare,
    "clone": _clone,
    "ptrace": _ptrace,
    "io_uring_setup": _io_uring_setup,
    "setns": _setns,
    "mq_open": _mq_open,
}


def drawable(name: str, args: object) -> bool:
    """Could ``probes/sweep.py draw(name, ...)`` have made ``args``?"""
    space = SPACES.get(name)
    return space is not None and type(args) is list and space(args)
