"""PR-SECCOMP-SWEEP's attempts: every denied syscall with every argument class that matters.

A filter can match arguments, so one fixed argument vector per syscall proves nothing
against a filter tuned to it. Where an argument is a small enumerable set the sweep is
exhaustive (``sweepgroups.py``): socket and socketpair in every family, type, flag set and
usual protocol, unshare and clone with every subset of the CLONE_NEW* flags, connect, bind
and sendto with real addresses and every usual length. Here are the fixed classes beside
them: ptrace with each request class, io_uring_setup with its setup flags, fd- and
path-taking calls with real descriptors and paths, arguments with bits above 32. The
harness adds draws at random per run (``RANDOM_DRAWS``) and records them.

Arguments are numbers, or markers the harness replaces in its child (``inspector/probes/sweep.py``):
``"buf"`` a zeroed scratch page, ``{"u32": {offset: value}}`` that page with 32-bit words
set, ``"fd"`` an open descriptor of /dev/null, ``"nsfd"`` its own user namespace,
``"path"`` the string "/", ``"target"`` the pid of a sacrificial child of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sandproof.inspector.syscalls import CLONE_NAMESPACE_FLAGS, SIGCHLD

AT_FDCWD = -100
# include/linux/socket.h, AF_UNSPEC..AF_MCTP (AF_MAX is 46)
FAMILIES = [
    "AF_UNSPEC",
    "AF_UNIX",
    "AF_INET",
    "AF_AX25",
    "AF_IPX",
    "AF_APPLETALK",
    "AF_NETROM",
    "AF_BRIDGE",
    "AF_ATMPVC",
    "AF_X25",
    "AF_INET6",
    "AF_ROSE",
    "AF_DECnet",
    "AF_NETBEUI",
    "AF_SECURITY",
    "AF_KEY",
    "AF_NETLINK",
    "AF_PACKET",
    "AF_ASH",
    "AF_ECONET",
    "AF_ATMSVC",
    "AF_RDS",
    "AF_SNA",
    "AF_IRDA",
    "AF_PPPOX",
    "AF_WANPIPE",
    "AF_LLC",
    "AF_IB",
    "AF_MPLS",
    "AF_CAN",
    "AF_TIPC",
    "AF_BLUETOOTH",
    "AF_IUCV",
    "AF_RXRPC",
    "AF_ISDN",
    "AF_PHONET",
    "AF_IEEE802154",
    "AF_CAIF",
    "AF_ALG",
    "AF_NFC",
    "AF_VSOCK",
    "AF_KCM",
    "AF_QIPCRTR",
    "AF_SMC",
    "AF_XDP",
    "AF_MCTP",
]
HIGH = 0x5A5A << 32  # bits above an int argument
# socketpair exists for AF_UNIX (and AF_TIPC); the rest answer EOPNOTSUPP if let through
PAIR_FAMILIES = (
    "AF_UNSPEC",
    "AF_UNIX",
    "AF_INET",
    "AF_INET6",
    "AF_NETLINK",
    "AF_PACKET",
    "AF_TIPC",
    "AF_ALG",
    "AF_VSOCK",
    "AF_XDP",
)
# include/uapi/linux/ptrace.h; TRACEME is run last by the harness (it makes its child a tracee)
PTRACE_REQUESTS = {
    "PEEKTEXT": 1,
    "PEEKDATA": 2,
    "PEEKUSER": 3,
    "POKETEXT": 4,
    "POKEDATA": 5,
    "POKEUSER": 6,
    "CONT": 7,
    "KILL": 8,
    "SINGLESTEP": 9,
    "GETREGS": 12,
    "SETREGS": 13,
    "DETACH": 17,
    "SYSCALL": 24,
    "SETOPTIONS": 0x4200,
    "GETEVENTMSG": 0x4201,
    "GETSIGINFO": 0x4202,
    "GETREGSET": 0x4204,
    "INTERRUPT": 0x4207,
    "LISTEN": 0x4208,
    "PEEKSIGINFO": 0x4209,
    "GET_SYSCALL_INFO": 0x420E,
    "ATTACH": 16,
    "SEIZE": 0x4206,
    "TRACEME": 0,
}
# include/uapi/linux/io_uring.h; flags sit at offset 8 of struct io_uring_params, cq_entries at 4
IORING_SETUP = {"IOPOLL": 0x1, "SQPOLL": 0x2, "CQSIZE": 0x8, "R_DISABLED": 0x40, "SINGLE_ISSUER|DEFER_TASKRUN": 0x3000}

# Arguments that cannot do harm, chosen so the kernel itself would answer something
# other than EPERM (EBADF, EFAULT, EINVAL, ESRCH...) if the call got through.
BASE_ARGS: dict[str, list[int]] = {
    "socket": [-1, 0, 0],
    "socketpair": [-1, 0, 0, 0],
    "connect": [-1, 0, 0],
    "bind": [-1, 0, 0],
    "listen": [-1, 0],
    "accept": [-1, 0, 0],
    "accept4": [-1, 0, 0, 0],
    "sendto": [-1, 0, 0, 0, 0, 0],
    "sendmsg": [-1, 0, 0],
    "recvfrom": [-1, 0, 0, 0, 0, 0],
    "recvmsg": [-1, 0, 0],
    "getpeername": [-1, 0, 0],
    "getsockname": [-1, 0, 0],
    "execve": [0, 0, 0],
    "execveat": [-1, 0, 0, 0, 0],
    "ptrace": [16, 0, 0, 0],
    "process_vm_readv": [0, 0, 0, 0, 0, 0],
    "process_vm_writev": [0, 0, 0, 0, 0, 0],
    "mount": [0, 0, 0, 0, 0],
    "umount2": [0, 0],
    "pivot_root": [0, 0],
    "chroot": [0],
    "setns": [-1, 0],
    "unshare": [0],
    "clone": [SIGCHLD | CLONE_NAMESPACE_FLAGS["CLONE_NEWUSER"], 0, 0, 0, 0],
    "init_module": [0, 0, 0],
    "finit_module": [-1, 0, 0],
    "delete_module": [0, 0],
    "kexec_load": [0, 0, 0, 0],
    "kexec_file_load": [-1, -1, 0, 0, 0],
    "reboot": [0, 0, 0, 0],
    "swapon": [0, 0],
    "swapoff": [0],
    "bpf": [-1, 0, 0],
    "perf_event_open": [0, 0, -1, -1, 0],
    "io_uring_setup": [0, 0],
    "io_uring_enter": [-1, 0, 0, 0, 0, 0],
    "io_uring_register": [-1, 0, 0, 0],
    "fsopen": [0, 0],
    "fsconfig": [-1, 0, 0, 0, 0],
    "fsmount": [-1, 0, 0],
    "fspick": [-1, 0, 0],
    "move_mount": [-1, 0, -1, 0, 0],
    "open_tree": [-1, 0, 0],
    # fs/namespace.c: flags, then usize (E2BIG above a page, EINVAL below MOUNT_ATTR_SIZE_VER0),
    # then may_mount() (EPERM), then the path: size 0 is EINVAL before any capability check
    "mount_setattr": [-1, 0, 0, 0, 0],
    "open_by_handle_at": [-1, 0, 0],
    "name_to_handle_at": [-1, 0, 0, 0, 0],
    "keyctl": [-1, 0, 0, 0, 0],
    "add_key": [0, 0, 0, 0, 0],
    "request_key": [0, 0, 0, 0],
    "userfaultfd": [-1],
    "pidfd_getfd": [-1, -1, 0],
    "kcmp": [0, 0, -1, 0, 0],
    "clone3": [0, 0],
    # More calls a profile may deny, each tried as uid 65532 without capabilities on Linux 6.1 and
    # as root: none changes anything (an invalid clock, pointer, flag, pid or length), and each
    # answers other than EPERM when let through (or is in KERNEL_EPERM_FIRST below).
    "acct": [-1],  # EFAULT with CAP_SYS_PACCT
    "settimeofday": [-1, 0],  # EFAULT: the time is copied in before the capability check
    "clock_settime": [-1, 0],  # EFAULT
    "clock_adjtime": [-1, 0],  # EFAULT
    "adjtimex": [0],  # EFAULT
    "quotactl": [0, 0, 0, 0],  # ENODEV: no block device named
    "personality": [0xFFFFFFFF],  # a query: the current personality, nothing set
    "syslog": [-1, 0, 0],  # EINVAL with CAP_SYSLOG
    "sethostname": [0, -1],  # EINVAL with CAP_SYS_ADMIN (kernel/sys.c checks it first)
    "setdomainname": [0, -1],
    # POSIX message queues reach every queue of the IPC namespace by name, even with
    # /dev/mqueue covered (ipc/mqueue.c uses the namespace's internal mount)
    "mq_open": [0, 0, 0, 0],  # EFAULT: no name
    "mq_unlink": [0],  # EFAULT
    "mq_timedsend": [-1, 0, 0, 0, 0],  # EBADF
    "mq_timedreceive": [-1, 0, 0, 0, 0],  # EBADF
    "mq_notify": [-1, 0],  # EBADF
    "mq_getsetattr": [-1, 0, 0],  # EBADF
    "pidfd_open": [-1, 0],  # EINVAL
    "pidfd_send_signal": [-1, 0, 0, 0],  # EBADF
    "process_madvise": [-1, 0, 0, 0, 0],  # EBADF
    "process_mrelease": [-1, 0],  # EBADF
    "memfd_create": [0, 0],  # EFAULT
    "mbind": [0, 0, -1, 0, 0, 0],  # EINVAL: no such mode
    "set_mempolicy": [-1, 0, 0],
    "get_mempolicy": [0, 0, 0, 0, -1],
    "move_pages": [0, 0, 0, 0, 0, -1],  # EINVAL: flags checked first
    "migrate_pages": [-1, 0, 0, 0],  # ESRCH
    "seccomp": [-1, 0, 0],  # EINVAL: no such operation
    "prctl": [-1, 0, 0, 0, 0],
    "prlimit64": [0, -1, 0, 0],  # EINVAL: no such resource
}
# An unprivileged caller gets EPERM from the kernel for these before any argument is read
# (capability or sysctl checks come first): a denial is consistent but not proven by them.
KERNEL_EPERM_FIRST = frozenset(
    {
        "init_module",
        "finit_module",
        "delete_module",
        "kexec_load",
        "kexec_file_load",
        "reboot",
        "swapon",
        "swapoff",
        "pivot_root",
        "umount2",
        "mount",
        "move_mount",
        "fsmount",
        "fsopen",
        "fspick",
        "open_by_handle_at",
        "bpf",
        "userfaultfd",
        "acct",
        "syslog",
        "sethostname",
        "setdomainname",
    }
)
FD_CALLS: tuple[str, ...] = ("connect", "bind", "listen", "accept", "accept4", "sendto", "sendmsg", "recvfrom")
FD_CALLS += ("recvmsg", "getpeername", "getsockname", "io_uring_enter", "io_uring_register", "fsconfig", "fsmount")
FD_CALLS += ("pidfd_getfd",)
GROUPED_FD_CALLS = ("connect", "bind", "sendto")
"""Calls whose fd classes an exhaustive group of real addresses and lengths replaces (sweepgroups.py)."""
RANDOM_DRAWS = {
    "socket": 8,
    "socketpair": 4,
    "unshare": 4,
    "clone": 4,
    "ptrace": 4,
    "io_uring_setup": 4,
    "setns": 4,
    "mq_open": 4,
}
"""How many attempts the harness draws at random per run for each call (inspector/probes/sweep.py)."""

Attempt = tuple[str, str, list[Any], bool]
"""(syscall, class, arguments, indistinct: an unprivileged kernel would say EPERM anyway)."""


def _sockets() -> list[Attempt]:
    # every family, type, flag set and usual protocol is an exhaustive group (sweepgroups.py);
    # the kernel reads these arguments as int (SYSCALL_DEFINE's __se_sys_ casts): a filter
    # comparing the whole 64-bit register can be passed with high bits set
    return [
        ("socket", "AF_INET/SOCK_STREAM, high bits", [2 | HIGH, 1 | HIGH, 0], False),
        ("socket", "AF_UNIX/SOCK_STREAM, high bits", [1 | HIGH, 1, HIGH], False),
        ("socket", "AF_NETLINK/SOCK_RAW, high bits", [16 | HIGH, 3, 0], False),
        ("socketpair", "AF_UNIX/SOCK_STREAM, high bits", [1 | HIGH, 1 | HIGH, 0, "buf"], False),
    ]


def _namespaces() -> list[Attempt]:
    # every subset of the namespace flags is an exhaustive group (sweepgroups.py);
    # kernel/fork.c: clone() keeps only the low 32 bits of its flags
    newuser = CLONE_NAMESPACE_FLAGS["CLONE_NEWUSER"]
    return [("clone", "CLONE_NEWUSER|SIGCHLD, high bits", [newuser | SIGCHLD | HIGH, 0, 0, 0, 0], False)]


def _mount_setattr() -> list[Attempt]:
    # fs/namespace.c SYSCALL_DEFINE5(mount_setattr): unknown flags are EINVAL, then a usize
    # above PAGE_SIZE is E2BIG and one below MOUNT_ATTR_SIZE_VER0 (32) EINVAL, all before
    # may_mount(); flags is an unsigned int (high bits dropped), usize a size_t (kept)
    at_recursive, at_empty_path, size_ver0 = 0x8000, 0x1000, 32
    return [
        ("mount_setattr", "AT_FDCWD /, size 0", [AT_FDCWD, "path", 0, "buf", 0], False),
        ("mount_setattr", "AT_FDCWD /, flags -1", [AT_FDCWD, "path", 0xFFFFFFFF, "buf", size_ver0], False),
        (
            "mount_setattr",
            "AT_FDCWD /, AT_RECURSIVE, size 1 MiB",
            [AT_FDCWD, "path", at_recursive, "buf", 1 << 20],
            False,
        ),
        ("mount_setattr", "fd /dev/null, AT_EMPTY_PATH, size 0", ["fd", "path", at_empty_path, "buf", 0], False),
        ("mount_setattr", "fd -1", [-1, 0, 0, 0, 0], False),
        ("mount_setattr", "AT_FDCWD /, size 32, high bits", [AT_FDCWD, "path", HIGH, "buf", size_ver0 | HIGH], False),
        # the real call: a zeroed (no-op) attr; may_mount() refuses it without CAP_SYS_ADMIN
        ("mount_setattr", "AT_FDCWD /, zeroed attr", [AT_FDCWD, "path", 0, "buf", size_ver0], True),
    ]


PIDFD_SELF = -10000
"""include/uapi/linux/pidfd.h PIDFD_SELF_THREAD (Linux 6.14+): the caller, with no pidfd_open."""


def _process_memory() -> list[Attempt]:
    # The routes to another process's memory beside ptrace and process_vm_*; each answer
    # measured on Linux 6.18 as uid 65532 without capabilities and without a filter. mm/madvise.c
    # process_madvise: flags, then the vector (UIO_MAXIOV 1024), then the pidfd; on itself with
    # no range it advises nothing (0). mm/oom_kill.c process_mrelease: flags, then the pidfd, then
    # EINVAL for a task that is not exiting. mm/migrate.c move_pages and mm/mempolicy.c
    # migrate_pages: flags and maxnode before the pid; on itself with nothing to move, 0 and EINVAL.
    # kernel/pid.c pidfd_open: flags, then pid > 0; the sacrificial child's pid gives a pidfd.
    # kernel/signal.c pidfd_send_signal: flags, then the pidfd; signal 0 only checks.
    madv_cold, uio_maxiov = 20, 1024
    return [
        ("process_madvise", "fd -1", [-1, 0, 0, 0, 0], False),
        ("process_madvise", "fd /dev/null", ["fd", 0, 0, 0, 0], False),
        ("process_madvise", "flags 1", [-1, 0, 0, 0, 1], False),
        ("process_madvise", "fd -1, high bits", [0xFFFFFFFF | HIGH, 0, 0, 0, 0], False),
        ("process_madvise", "1025 ranges", [-1, "buf", uio_maxiov + 1, 0, 0], False),
        ("process_madvise", "PIDFD_SELF, MADV_COLD, no range", [PIDFD_SELF, 0, 0, madv_cold, 0], False),
        ("process_mrelease", "fd -1", [-1, 0], False),
        ("process_mrelease", "fd /dev/null", ["fd", 0], False),
        ("process_mrelease", "flags 1", [-1, 1], False),
        ("process_mrelease", "PIDFD_SELF", [PIDFD_SELF, 0], False),
        ("move_pages", "flags -1", [0, 0, 0, 0, 0, -1], False),
        ("move_pages", "flags -1, high bits", [0, 0, 0, 0, 0, 0xFFFFFFFF | HIGH], False),
        ("move_pages", "pid -1", [-1, 0, 0, 0, 0, 0], False),
        ("move_pages", "self, no pages", [0, 0, 0, 0, 0, 0], False),
        ("migrate_pages", "pid -1", [-1, 0, 0, 0], False),
        ("migrate_pages", "maxnode 2^40", [0, 1 << 40, 0, 0], False),
        ("migrate_pages", "self, no nodes", [0, 0, 0, 0], False),
        ("pidfd_open", "pid -1", [-1, 0], False),
        ("pidfd_open", "pid 0", [0, 0], False),
        ("pidfd_open", "target, flags -1", ["target", -1], False),
        ("pidfd_open", "target", ["target", 0], False),
        ("pidfd_send_signal", "fd -1", [-1, 0, 0, 0], False),
        ("pidfd_send_signal", "fd /dev/null", ["fd", 0, 0, 0], False),
        ("pidfd_send_signal", "flags -1", [-1, 0, 0, -1], False),
        ("pidfd_send_signal", "PIDFD_SELF, signal 0", [PIDFD_SELF, 0, 0, 0], False),
    ]


USER = {"u32": {"0": int.from_bytes(b"user", "little")}}
"""A scratch page holding the string "user": a key type that exists, a queue name that does not."""
NO_KEY = 0x7FFFFFFF
"""A key serial no keyring of ours has (security/keys/process_keys.c lookup_user_key: ENOKEY)."""


def _keys_and_queues() -> list[Attempt]:
    """Real strings and descriptors where the base vector passes NULL or -1, which a filter tuned to
    it would refuse while every real call goes through (measured: tuned add_key, request_key,
    mq_unlink and mq_notify passed the sweep). Let through, each still changes nothing: the
    target keyring does not exist (ENOKEY, security/keys/keyctl.c reads it before any key is
    made), no queue has that name in a fresh IPC namespace (ENOENT, ipc/mqueue.c), and
    /dev/null is not a queue (EBADF)."""
    out: list[Attempt] = [
        ("add_key", "type user, no such keyring", [USER, USER, 0, 0, NO_KEY], False),
        ("request_key", "type user, no such keyring", [USER, USER, 0, NO_KEY], False),
        ("mq_unlink", "name user", [USER], False),
        *((n, "fd /dev/null", ["fd", *BASE_ARGS[n][1:]], False) for n in MQ_FD_CALLS),
    ]
    # the base vectors stay as classes of their own (a call with classes gets no "base" attempt)
    return out + [(n, "base", BASE_ARGS[n], False) for n in dict.fromkeys(a[0] for a in out)]


MQ_FD_CALLS = ("mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr")


def _others() -> list[Attempt]:
    fd_calls = [n for n in FD_CALLS if n not in GROUPED_FD_CALLS]
    out: list[Attempt] = [(n, "fd /dev/null", ["fd", *BASE_ARGS[n][1:]], n in KERNEL_EPERM_FIRST) for n in fd_calls]
    out += [(n, "fd -1", BASE_ARGS[n], n in KERNEL_EPERM_FIRST) for n in fd_calls]
    for name, value in IORING_SETUP.items():
        words = {"8": value, "4": 64} if name == "CQSIZE" else {"8": value}
        out.append(("io_uring_setup", f"IORING_SETUP_{name}", [8, {"u32": words}], False))
    out += [
        ("io_uring_setup", "entries=1", [1, "buf"], False),
        ("io_uring_setup", "no params", [0, 0], False),
        ("setns", "fd -1", [-1, 0], False),
        ("setns", "own user namespace", ["nsfd", 0], False),
        ("setns", "own user namespace, CLONE_NEWUSER", ["nsfd", CLONE_NAMESPACE_FLAGS["CLONE_NEWUSER"]], False),
        ("setns", "not a namespace", ["fd", 0], False),
        (
            "setns",
            "own user namespace, CLONE_NEWUSER, high bits",
            ["nsfd", CLONE_NAMESPACE_FLAGS["CLONE_NEWUSER"] | HIGH],
            False,
        ),
        ("io_uring_setup", "entries=1, high bits", [1 | HIGH, "buf"], False),
        ("userfaultfd", "UFFD_USER_MODE_ONLY, high bits", [1 | HIGH], False),
        ("keyctl", "GET_KEYRING_ID session, high bits", [HIGH, -3, 0, 0, 0], False),
        ("open_tree", "AT_FDCWD /", [AT_FDCWD, "path", 0], False),
        ("open_tree", "fd -1", [-1, 0, 0], False),
        *_mount_setattr(),
        ("name_to_handle_at", "AT_FDCWD /", [AT_FDCWD, "path", "buf", "buf", 0], False),
        ("name_to_handle_at", "fd -1", [-1, 0, 0, 0, 0], False),
        ("perf_event_open", "zeroed attr, self", ["buf", 0, -1, -1, 0], False),
        ("perf_event_open", "no attr", [0, 0, -1, -1, 0], False),
        ("keyctl", "GET_KEYRING_ID session", [0, -3, 0, 0, 0], False),
        ("keyctl", "op -1", [-1, 0, 0, 0, 0], False),
        ("userfaultfd", "UFFD_USER_MODE_ONLY", [1], False),
        ("userfaultfd", "flags -1", [-1], False),
        ("process_vm_readv", "target", ["target", 0, 0, 0, 0, 0], False),
        ("process_vm_writev", "target", ["target", 0, 0, 0, 0, 0], False),
        *_process_memory(),
        ("kcmp", "target KCMP_VM", ["target", "target", 1, 0, 0], False),
        *_keys_and_queues(),
        ("clone3", "no args", [0, 0], False),
        ("clone3", "zeroed struct", ["buf", 88], False),
    ]
    out += [("ptrace", r, [n, "target", 0, 0], False) for r, n in PTRACE_REQUESTS.items()]
    return out


def attempts(denied: dict[str, str], clone_errno: str | None) -> list[Attempt]:
    """The fixed attempts for the denied calls (and clone when its namespace flags are denied),
    in the order the harness runs them: state-changing calls (unshare, ptrace) last."""
    want = {**denied, **({"clone": clone_errno} if clone_errno else {})}
    classed = [a for a in [*_sockets(), *_others(), *_namespaces()] if a[0] in want]
    covered = {a[0] for a in classed}
    base = [(n, "base", BASE_ARGS[n], n in KERNEL_EPERM_FIRST) for n in sorted(want) if n not in covered]
    order = {"clone": 1, "unshare": 2, "ptrace": 3}
    return sorted([*base, *classed], key=lambda a: order.get(a[0], 0))


Groups = Callable[[Mapping[str, str]], list[dict[str, Any]]]
"""The exhaustive groups for the denied calls (name: errno): ``sweepgroups.groups``."""


def plan_row(denied: dict[str, str], clone_errno: str | None, groups: Groups) -> tuple[dict[str, Any], dict[str, Any]]:
    """(params, expect) of PR-SECCOMP-SWEEP: fixed classes, exhaustive groups, random draws."""
    fixed = attempts(denied, clone_errno)
    want = {**denied, **({"clone": clone_errno} if clone_errno else {})}
    classes: dict[str, list[str]] = {}
    for name, cls, _, _ in fixed:
        classes.setdefault(name, []).append(cls)
    random = {n: k for n, k in RANDOM_DRAWS.items() if n in want}
    specs = groups(want)
    params = {
        "calls": [{"name": n, "class": c, "args": a} for n, c, a, _ in fixed],
        "groups": specs,
        "random": random,
    }
    expect = {
        "errno": dict(sorted(want.items())),
        "classes": classes,
        "groups": {g["group"]: {"name": g["name"], "count": g["count"]} for g in specs},
        "random": random,
        "indistinct": sorted(f"{n}/{c}" for n, c, _, eperm in fixed if eperm and want[n] == "EPERM"),
    }
    return params, expect


# The allowlist's table sweep: every syscall of the architecture, once, with an argument
# vector the kernel refuses (-1 everywhere: a bad fd, pointer, length, flag or id). Measured
# on this kernel (6.1) as uid 65532 without capabilities and without any filter: 362 of
# 362 x86_64 calls answer without changing anything that outlives the probe's own child
# (EINVAL 148, EFAULT 89, EBADF 44, ENOSYS 26, ESRCH 6, E2BIG 4, ENOTSUP 1, EINTR 1; 27 query
# or no-op "ok"; EPERM 16, TABLE_KERNEL_EPERM), once the overrides and hazards below apply.
TABLE_ARGS = [-1, -1, -1, -1, -1, -1]
TABLE_OVERRIDES: dict[str, list[int]] = {
    "msgget": [-1, 0],  # flags -1 hold IPC_CREAT: it would create a queue; without, ENOENT
}
TABLE_HAZARDS = ("exit", "exit_group", "pause", "rt_sigreturn", "vfork", "fork")
"""Calls tried in a disposable child of their own: let through, they end it (exit,
exit_group; rt_sigreturn restores a garbage frame and faults), block it (pause) or run a
copy of it in its memory (vfork, fork)."""
TABLE_KERNEL_EPERM = frozenset(
    {
        *("acct", "fanotify_init", "fsmount", "fsopen", "fspick", "landlock_restrict_self", "move_mount"),
        *("pivot_root", "reboot", "setdomainname", "setgroups", "sethostname", "setsid", "swapoff", "syslog"),
        "vhangup",
    }
)
"""Calls the kernel itself answers EPERM with TABLE_ARGS (a capability or session check comes
first; measured as above): a denial by the filter is consistent for them but not proven,
and an allowed one cannot be told from a denied one."""
TABLE_TIMEOUT_S = 1.0
"""How long a hazard's child may take before it counts as blocked (let through: pause). A
denied call answers at once, so only a weakened filter ever waits this long; generous, so a
busy machine cannot make a slow child look like a call let through."""


def table_row(
    answers: dict[str, dict[str, str | None]], default_errno: str, clone_errno: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(params, expect) of the allowlist's table sweep, from the runtime filter's (and the
    guard's) answer to every syscall of each architecture (``seccomp.answers``): an errno,
    or None when the profile lets it through."""
    arches = {}
    for arch, got in sorted(answers.items()):
        want = dict(sorted(got.items()))
        if clone_errno is not None and "clone" in want and want["clone"] is None:
            want["clone"] = clone_errno  # TABLE_ARGS carry every namespace flag
        arches[arch] = want
    params = {
        "arches": {a: list(w) for a, w in arches.items()},
        "args": TABLE_ARGS,
        "overrides": TABLE_OVERRIDES,
        "hazards": list(TABLE_HAZARDS),
        "timeout": TABLE_TIMEOUT_S,
    }
    expect = {"default": default_errno, "arches": arches, "kernel_eperm": sorted(TABLE_KERNEL_EPERM)}
    return params, expect
