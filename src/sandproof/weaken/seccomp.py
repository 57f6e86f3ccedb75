"""Weakenings of the seccomp layer: filters tuned to the arguments a probe used to pass,
foreign architectures let in, single denied calls allowed.

A tuned filter cannot be written in a profile; it is applied to the rendered policy
(``Mutation.seccomp``), the way a hand-edited seccomp.json or a hostile engine would.
Where the kernel refuses an unprivileged caller before reading any argument, allowing the
call changes nothing that can be seen here: such weakenings say so (``no_effect``).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from sandproof.runtime.interface import Mutation
from sandproof.seccomp import CLONE_NAMESPACE_FLAGS
from sandproof.weaken.core import Weakening, allow_syscalls

NEWUSER = CLONE_NAMESPACE_FLAGS["CLONE_NEWUSER"]
SIGCHLD = 17
Condition = tuple[int, str, int, int]
"""(argument index, libseccomp operator, value, valueTwo)."""


def _u64(v: int) -> int:
    return v % (1 << 64)  # seccomp compares the whole register: -1 is 0xffff...ffff


def tuned(name: str, *alternatives: list[Condition]) -> Mutation:
    """``name`` denied (EPERM) only when one of ``alternatives`` holds; every other rule kept."""

    def edit(policy: dict[str, Any]) -> None:
        rules = [{**r, "names": [n for n in r["names"] if n != name]} for r in policy["syscalls"]]
        policy["syscalls"] = [r for r in rules if r["names"]]
        for conds in alternatives:
            args = [{"index": i, "op": op, "value": _u64(v), "valueTwo": _u64(v2)} for i, op, v, v2 in conds]
            policy["syscalls"].append(
                {"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM, "args": args}
            )

    return Mutation(seccomp=edit)


def tuned_sweep(name: str, note: str, syscall: str, *alternatives: list[Condition]) -> Weakening:
    """The sweep must catch ``syscall`` denied only when one of ``alternatives`` holds (``tuned``)."""
    return Weakening(name, SWEEP, note, mutation=tuned(syscall, *alternatives))


def eq(index: int, value: int) -> list[Condition]:
    return [(index, "SCMP_CMP_EQ", value, 0)]


def ne(index: int, value: int) -> list[Condition]:
    return [(index, "SCMP_CMP_NE", value, 0)]


def masked(index: int, bits: int) -> list[Condition]:
    return [(index, "SCMP_CMP_MASKED_EQ", bits, bits)]


def add_arches(*arches: str) -> Mutation:
    def edit(policy: dict[str, Any]) -> None:
        policy["architectures"] = [*policy["architectures"], *arches]

    return Mutation(seccomp=edit)


def _eperm_first(why: str) -> Callable[[str], str | None]:
    return lambda _runtime: why


def _dmesg_restricted(_runtime: str) -> str | None:
    """Measured: with kernel.dmesg_restrict=1, syslog(2) checks CAP_SYSLOG before its action
    (kernel/printk/printk.c check_syslog_permissions), so the filter changes nothing."""
    try:
        with open("/proc/sys/kernel/dmesg_restrict", encoding="ascii") as f:
            restricted = f.read().strip() == "1"
    except OSError:
        return None
    return "kernel.dmesg_restrict=1 here: syslog(2) is EPERM without CAP_SYSLOG either way" if restricted else None


def _allow_rule(policy: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in policy["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args"))


def allow_also(name: str) -> Mutation:
    """The runtime's filter lets ``name`` through too: one extra name in the allow rule, as a
    hand-edited seccomp.json or an engine that merges its own list would."""

    def edit(policy: dict[str, Any]) -> None:
        rule = _allow_rule(policy)
        rule["names"] = sorted({*rule["names"], name})

    return Mutation(seccomp=edit)


def allow_less(name: str) -> Mutation:
    """The runtime's filter refuses ``name``, which the profile allows."""

    def edit(policy: dict[str, Any]) -> None:
        rule = _allow_rule(policy)
        rule["names"] = [n for n in rule["names"] if n != name]

    return Mutation(seccomp=edit)


def _default_allow(policy: dict[str, Any]) -> None:
    policy["defaultAction"] = "SCMP_ACT_ALLOW"
    policy.pop("defaultErrnoRet", None)


def _clone_unconditional(policy: dict[str, Any]) -> None:
    policy["syscalls"] = [r for r in policy["syscalls"] if r["names"] != ["clone"]]
    _allow_rule(policy)["names"].append("clone")


LEARNED = "learned-example"
"""The shipped allowlist profile (``sandproof learn`` of examples/packet-inspector)."""
SWEEP = "PR-SECCOMP-SWEEP"
ALLOWLIST: tuple[Weakening, ...] = (
    Weakening(
        "allowlist-extra-syscall",
        SWEEP,
        "the learned allowlist's filter lets memfd_create through too (an anonymous file to "
        "write code into and map), beyond the profile's list",
        mutation=allow_also("memfd_create"),
        base=LEARNED,
    ),
    Weakening(
        "allowlist-default-allow",
        SWEEP,
        "the learned allowlist's default action flipped to SCMP_ACT_ALLOW: every syscall outside the list runs",
        mutation=Mutation(seccomp=_default_allow),
        base=LEARNED,
    ),
    Weakening(
        "allowlist-missing-syscall",
        SWEEP,
        "the learned allowlist's filter refuses getppid, which the profile allows (a list that is not the profile's)",
        mutation=allow_less("getppid"),
        base=LEARNED,
    ),
    Weakening(
        "allowlist-clone-unconditional",
        SWEEP,
        "the learned allowlist allows clone whatever its flags: the namespace-flag condition dropped",
        mutation=Mutation(seccomp=_clone_unconditional),
        base=LEARNED,
    ),
)
WEAKENINGS: tuple[Weakening, ...] = (
    tuned_sweep("tuned-socket-af-inet", "socket denied for AF_INET only (PR-SOCK-1's)", "socket", eq(0, 2)),
    tuned_sweep(
        "tuned-socket-inet-stream",
        "socket denied for AF_INET/SOCK_STREAM only",
        "socket",
        [(0, "SCMP_CMP_EQ", 2, 0), (1, "SCMP_CMP_EQ", 1, 0)],
    ),
    tuned_sweep(
        "tuned-socket-old-args",
        "socket denied for the old sweep's family -1 and for AF_INET only",
        "socket",
        eq(0, -1),
        eq(0, 2),
    ),
    tuned_sweep(
        "tuned-socket-unix-allowed", "socket denied for every family but AF_UNIX", "socket", [(0, "SCMP_CMP_NE", 1, 0)]
    ),
    tuned_sweep(
        "tuned-socket-ip-only",
        "socket denied for AF_INET and AF_INET6 only: AF_NETLINK, AF_VSOCK, AF_PACKET pass",
        "socket",
        eq(0, 2),
        eq(0, 10),
    ),
    tuned_sweep(
        "tuned-socketpair-old-args", "socketpair denied for the old sweep's family -1 only", "socketpair", eq(0, -1)
    ),
    tuned_sweep(
        "tuned-unshare-newuser",
        "unshare denied for exactly CLONE_NEWUSER (PR-USERNS-1's) only",
        "unshare",
        eq(0, NEWUSER),
    ),
    tuned_sweep(
        "tuned-unshare-newuser-bit",
        "unshare denied whenever CLONE_NEWUSER is set, nothing else",
        "unshare",
        masked(0, NEWUSER),
    ),
    tuned_sweep("tuned-unshare-old-args", "unshare denied for the old sweep's 0 only", "unshare", eq(0, 0)),
    tuned_sweep(
        "tuned-clone-newuser-sigchld",
        "clone denied for exactly CLONE_NEWUSER|SIGCHLD (PR-USERNS-1's) only",
        "clone",
        eq(0, NEWUSER | SIGCHLD),
    ),
    tuned_sweep(
        "tuned-clone-newuser-bit",
        "clone filtered on the CLONE_NEWUSER bit only, not the other namespace flags",
        "clone",
        masked(0, NEWUSER),
    ),
    tuned_sweep(
        "tuned-ptrace-traceme",
        "ptrace denied for PTRACE_TRACEME (PR-PTRACE-1's) only: ATTACH and SEIZE pass",
        "ptrace",
        eq(0, 0),
    ),
    tuned_sweep(
        "tuned-ptrace-attach",
        "ptrace denied for TRACEME and ATTACH (the old probes') only: SEIZE passes",
        "ptrace",
        eq(0, 0),
        eq(0, 16),
    ),
    tuned_sweep(
        "tuned-io-uring-setup-old-args",
        "io_uring_setup denied for 0 entries (the old sweep's) only",
        "io_uring_setup",
        eq(0, 0),
    ),
    tuned_sweep(
        "tuned-io-uring-setup-null-params",
        "io_uring_setup denied for a NULL params pointer only",
        "io_uring_setup",
        eq(1, 0),
    ),
    tuned_sweep("tuned-setns-bad-fd", "setns denied for fd -1 only", "setns", eq(0, -1)),
    tuned_sweep("tuned-connect-bad-fd", "connect denied for fd -1 only", "connect", eq(0, -1)),
    tuned_sweep(
        "tuned-open-tree-bad-fd",
        'open_tree denied for fd -1 only: open_tree(AT_FDCWD, "/") passes',
        "open_tree",
        eq(0, -1),
    ),
    tuned_sweep(
        "tuned-userfaultfd-kernel-faults",
        "userfaultfd denied unless UFFD_USER_MODE_ONLY is set",
        "userfaultfd",
        [(0, "SCMP_CMP_MASKED_EQ", 1, 0)],
    ),
    tuned_sweep("tuned-perf-null-attr", "perf_event_open denied for a NULL attr only", "perf_event_open", eq(0, 0)),
    tuned_sweep("tuned-process-vm-pid0", "process_vm_readv denied for pid 0 only", "process_vm_readv", eq(0, 0)),
    tuned_sweep(
        "tuned-socket-low-word",
        "socket denied while the 64-bit family is below 64: the kernel reads an int, so set high bits pass",
        "socket",
        [(0, "SCMP_CMP_LT", 64, 0)],
    ),
    # An adversarial review's filters: each lets exactly one argument vector through, which
    # fixed classes and random draws (about 1 run in 1000) miss; the exhaustive groups cannot.
    tuned_sweep(
        "tuned-socket-vsock-cloexec",
        "socket denied unless it is exactly socket(AF_VSOCK, SOCK_STREAM|SOCK_CLOEXEC, 0): vsock ignores "
        "the network namespace, so --network none is bypassed",
        "socket",
        ne(0, 40),
        ne(1, 0x80001),
        ne(2, 0),
    ),
    tuned_sweep(
        "tuned-unshare-one-set",
        "unshare denied unless its flags are exactly NEWUSER|NEWNS|NEWNET|FILES|SYSVSEM",
        "unshare",
        ne(0, 0x50060400),
    ),
    tuned_sweep(
        "tuned-connect-addrlen-16",
        "connect denied unless addrlen is 16 (sizeof(struct sockaddr_vm), sockaddr_in)",
        "connect",
        ne(2, 16),
    ),
    tuned_sweep("tuned-keyctl-bad-op", "keyctl denied for op -1 only", "keyctl", eq(0, -1)),
    tuned_sweep(
        "tuned-mount-setattr-size-0",
        "mount_setattr denied for a zero attr size only: every call with a real struct mount_attr passes",
        "mount_setattr",
        eq(4, 0),
    ),
    Weakening(
        "arch-i386-added",
        "PR-SECCOMP-ABI",
        "SCMP_ARCH_X86 added to the filter: the 32-bit ABI (int 0x80) reaches the kernel",
        mutation=add_arches("SCMP_ARCH_X86"),
    ),
    Weakening(
        "arch-x32-added",
        "PR-SECCOMP-ABI",
        "SCMP_ARCH_X32 added to the filter: x32 syscall numbers reach the kernel",
        mutation=add_arches("SCMP_ARCH_X32"),
    ),
    Weakening("socketpair-allowed", SWEEP, "socketpair no longer denied", apply=allow_syscalls("socketpair")),
    Weakening("unshare-allowed", SWEEP, "unshare no longer denied", apply=allow_syscalls("unshare")),
    Weakening("setns-allowed", SWEEP, "setns no longer denied", apply=allow_syscalls("setns")),
    Weakening("kcmp-allowed", SWEEP, "kcmp no longer denied", apply=allow_syscalls("kcmp")),
    Weakening("userfaultfd-allowed", SWEEP, "userfaultfd no longer denied", apply=allow_syscalls("userfaultfd")),
    Weakening("bpf-allowed", SWEEP, "bpf no longer denied", apply=allow_syscalls("bpf")),
    Weakening("mount-allowed", SWEEP, "mount no longer denied", apply=allow_syscalls("mount")),
    Weakening(
        "mount-setattr-allowed",
        SWEEP,
        "mount_setattr no longer denied (the new mount API's call that changes a mount's flags and idmap)",
        apply=allow_syscalls("mount_setattr"),
    ),
    Weakening("clone3-allowed", SWEEP, "clone3 no longer answered ENOSYS", apply=allow_syscalls("clone3")),
    Weakening(
        "reboot-allowed",
        SWEEP,
        "reboot no longer denied",
        apply=allow_syscalls("reboot"),
        no_effect=_eperm_first(
            "reboot(2) checks CAP_SYS_BOOT before its magic numbers (kernel/reboot.c): an unprivileged "
            "caller gets EPERM with or without the filter (measured: EPERM)"
        ),
    ),
    Weakening(
        "swapon-allowed",
        SWEEP,
        "swapon no longer denied",
        apply=allow_syscalls("swapon"),
        no_effect=_eperm_first(
            "swapon(2) checks CAP_SYS_ADMIN before reading its path (mm/swapfile.c): EPERM either way (measured)"
        ),
    ),
    Weakening(
        "process-madvise-allowed",
        SWEEP,
        "process_madvise no longer denied (pages another process's memory out through its pidfd)",
        apply=allow_syscalls("process_madvise"),
    ),
    tuned_sweep(
        "tuned-process-madvise-bad-fd",
        "process_madvise denied for pidfd -1 only: a real pidfd (or PIDFD_SELF) passes",
        "process_madvise",
        eq(0, -1),
    ),
    tuned_sweep(
        "tuned-add-key-null-type",
        "add_key denied for a NULL type only: a real add_key reaches uid 65532's keyring, shared host-wide",
        "add_key",
        eq(0, 0),
    ),
    tuned_sweep(
        "tuned-request-key-null-type",
        "request_key denied for a NULL type only: real searches of the keyrings pass",
        "request_key",
        eq(0, 0),
    ),
    tuned_sweep(
        "tuned-mq-unlink-null-name",
        "mq_unlink denied for a NULL name only: a joined IPC namespace's queues can be removed",
        "mq_unlink",
        eq(0, 0),
    ),
    tuned_sweep(
        "tuned-mq-notify-bad-fd", "mq_notify denied for fd -1 only: any real descriptor passes", "mq_notify", eq(0, -1)
    ),
    tuned_sweep(
        "tuned-mq-timedsend-bad-fd",
        "mq_timedsend denied for fd -1 only: an inherited queue descriptor passes",
        "mq_timedsend",
        eq(0, -1),
    ),
    Weakening(
        "mq-open-allowed",
        SWEEP,
        "mq_open no longer denied (a joined IPC namespace's queues)",
        apply=allow_syscalls("mq_open"),
    ),
    Weakening(
        "syslog-allowed",
        SWEEP,
        "syslog no longer denied",
        apply=allow_syscalls("syslog"),
        no_effect=_dmesg_restricted,
    ),
    *ALLOWLIST,
)
