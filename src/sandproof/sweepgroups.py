"""PR-SECCOMP-SWEEP's exhaustive groups: every combination of the arguments that are small
enumerable sets, tried in full on each run.

A filter tuned to one exact argument vector (socket(AF_VSOCK, SOCK_STREAM|SOCK_CLOEXEC, 0),
unshare of one flag set) slips past fixed classes and, almost always, past random draws; it
cannot slip past the whole set. The plan carries each group as data, never as code (the
harness cannot import this package): ``blocks``, each a list of arguments (those left out
are 0), each argument a list of axes whose chosen values are OR-ed together; an axis is a
list of values or ``{"range": [lo, hi]}``. A block stands for the product of its arguments'
values, a group for its blocks one after another, in that order (``inspector/probes/sweep.py:
expand``). Values are numbers or the sweep's markers (``sandproof/sweep.py``); markers only
in one-axis arguments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sandproof.inspector.syscalls import CLONE_NAMESPACE_FLAGS, SIGCHLD, UNSHARE_OTHER
from sandproof.sweep import FAMILIES, PAIR_FAMILIES

Axis = list[Any] | dict[str, list[int]]
Block = list[list[Axis]]

# include/linux/net.h: enum sock_type (STREAM, DGRAM, RAW, RDM, SEQPACKET, DCCP, PACKET)
TYPES = [1, 2, 3, 4, 5, 6, 10]
TYPE_FLAGS = [0, 0x800, 0x80000, 0x80800]  # 0, SOCK_NONBLOCK, SOCK_CLOEXEC, both
TYPE_AXES: list[Axis] = [TYPES, TYPE_FLAGS]
# The protocols each family's create() accepts besides 0 (include/uapi/linux/in.h, netlink.h,
# if_ether.h in network order, can.h, bluetooth.h, if_pppox.h, rxrpc.h, phonet.h, caif_socket.h,
# smc.h, nfc.h, atm.h). net/unix/af_unix.c takes PF_UNIX; net/rxrpc/af_rxrpc.c its transport family.
INET_PROTOCOLS = [1, 2, 6, 17, 58, 132, 136, 255, 262]  # ICMP IGMP TCP UDP ICMPV6 SCTP UDPLITE RAW MPTCP
PROTOCOLS: dict[tuple[str, ...], list[int]] = {
    ("AF_UNIX",): [1],
    ("AF_INET", "AF_INET6"): INET_PROTOCOLS,
    ("AF_NETLINK",): list(range(1, 23)),  # NETLINK_ROUTE is 0 .. NETLINK_SMC 22
    ("AF_PACKET",): [0x0300, 0x0008, 0x0608, 0xDD86],  # htons(ETH_P_ALL, _IP, _ARP, _IPV6)
    ("AF_CAN",): list(range(1, 8)),  # CAN_RAW .. CAN_J1939
    ("AF_BLUETOOTH",): list(range(1, 9)),  # BTPROTO_HCI .. BTPROTO_ISO
    ("AF_PPPOX",): [1, 2],  # PX_PROTO_OL2TP, PX_PROTO_PPTP
    ("AF_RXRPC",): [2, 10],
    ("AF_PHONET",): [1, 2],  # PN_PROTO_PHONET, PN_PROTO_PIPE
    ("AF_CAIF",): list(range(1, 6)),
    ("AF_SMC",): [1],  # SMCPROTO_SMC6
    ("AF_NFC",): [1],  # NFC_SOCKPROTO_LLCP
    ("AF_ATMPVC", "AF_ATMSVC"): [5, 13],  # ATM_AAL5, ATM_AAL0
}
ADDRESS_LENGTHS = [0, 12, 16, 28, 110, 128]  # sockaddr_nl, _in/_vm, _in6, _un, _storage
# Real addresses as 32-bit words (little-endian) at byte offsets: the family and what follows
SOCKADDRS: list[Any] = [
    0,
    {"u32": {"0": 0x002F0001}},  # AF_UNIX "/"
    {"u32": {"0": 0x09000002, "4": 0x0100007F}},  # AF_INET 127.0.0.1:9
    {"u32": {"0": 0x0900000A, "20": 0x01000000}},  # AF_INET6 [::1]:9
    {"u32": {"0": 40, "4": 9999, "8": 1}},  # AF_VSOCK cid 1 (VMADDR_CID_LOCAL) port 9999
    {"u32": {"0": 16}},  # AF_NETLINK, the kernel
]
FDS = ["fd", -1]  # nothing here holds a socket: a call let through says ENOTSOCK or EBADF
ADDRESSED = ("connect", "bind", "sendto")


def _bits(values: list[int]) -> list[Axis]:
    return [[0, v] for v in values]


def _nonempty(bits: list[int], rest: list[Axis]) -> list[Block]:
    """One-argument blocks: every non-empty subset of ``bits`` (by its highest bit), OR-ed with ``rest``."""
    return [[[[b], *_bits(bits[:i]), *rest]] for i, b in enumerate(bits)]


def _socket() -> list[Block]:
    blocks: list[Block] = [[[{"range": [0, len(FAMILIES)]}], TYPE_AXES, [[0]]]]
    for families, protocols in PROTOCOLS.items():
        blocks.append([[[FAMILIES.index(f) for f in families]], TYPE_AXES, [protocols]])
    return blocks


def _socketpair() -> list[Block]:
    pairs = [FAMILIES.index(f) for f in PAIR_FAMILIES]
    return [[[pairs], TYPE_AXES, [[0]], [["buf"]]], [[[1]], TYPE_AXES, [[1]], [["buf"]]]]


def _addressed(name: str) -> list[Block]:
    if name == "sendto":
        return [[[FDS], [["buf"]], [[1]], [[0]], [SOCKADDRS], [ADDRESS_LENGTHS]]]
    return [[[FDS], [SOCKADDRS], [ADDRESS_LENGTHS]]]


def _all() -> dict[str, tuple[str, list[Block]]]:
    ns = list(CLONE_NAMESPACE_FLAGS.values())
    other = _bits(list(UNSHARE_OTHER.values()))
    # unshare: every subset of the namespace flags, each with every subset of FILES, FS, SYSVSEM.
    # clone: the same without the empty namespace set (the profile allows a plain fork) and
    # never CLONE_VM, CLONE_THREAD or anything that shares memory; with and without an exit signal.
    return {
        "socket:all": ("socket", _socket()),
        "socketpair:all": ("socketpair", _socketpair()),
        "unshare:all": ("unshare", [[[*_bits(ns), *other]]]),
        "clone:namespaces": ("clone", _nonempty(ns, [*other, [0, SIGCHLD]])),
        **{f"{n}:addresses": (n, _addressed(n)) for n in ADDRESSED},
    }


def _size(axis: Axis) -> int:
    if isinstance(axis, dict):
        lo, hi = axis["range"]
        return max(0, hi - lo)
    return len(axis)


def count(blocks: list[Block]) -> int:
    """How many argument vectors the blocks stand for (the harness must try exactly these)."""
    return sum(math.prod(_size(axis) for arg in block for axis in arg) for block in blocks)


def groups(want: Mapping[str, str]) -> list[dict[str, Any]]:
    """The groups for the denied calls in ``want`` (name: errno), as the plan carries them."""
    return [
        {"group": g, "name": n, "errno": want[n], "count": count(blocks), "blocks": blocks}
        for g, (n, blocks) in _all().items()
        if n in want
    ]
