"""Seccomp rules: the runtime's filter must let the container start, answer clone3 so libc
falls back, cover only 64-bit ABIs, and leave no known route around a deny list."""

from __future__ import annotations

from collections.abc import Iterator

from sandproof import runtime_defaults
from sandproof import seccomp as filters
from sandproof.doctor.core import Hit, Level, Rule, SeccompFile
from sandproof.inspector import syscalls
from sandproof.profile import Profile

NATIVE_ABIS = frozenset(syscalls.SCMP_ARCH[a] for a in syscalls.ARCHES)
"""The 64-bit ABIs a profile can list (x86_64, aarch64): every other one is 32-bit or x32."""

# Each route reaches what a deny list on the obvious calls is meant to stop. Named so a
# finding says which door is open; SPD005 counts everything else a deny list lets through.
ROUTES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("io_uring", ("io_uring_setup", "io_uring_enter", "io_uring_register"),
     "its ring runs connect, openat, sendmsg and more inside the kernel, never as those syscalls"),
    ("the new mount API", ("fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr"),
     "creates, attaches and changes mounts without mount(2)"),
    ("mount", ("mount", "umount2", "pivot_root", "chroot"), "changes what the filesystem shows"),
    ("file handles", ("open_by_handle_at", "name_to_handle_at"),
     "opens any file of a mounted filesystem by handle, outside the container's root (the 'shocker' escape)"),
    ("userfaultfd", ("userfaultfd",), "holds kernel page faults at will: the race primitive of many kernel exploits"),
    ("the kernel keyring", ("keyctl", "add_key", "request_key"), "keys are not namespaced: the host's keys"),
    ("bpf", ("bpf",), "loads programs into the kernel"),
    ("perf_event_open", ("perf_event_open",), "kernel profiling: a long line of kernel CVEs and side channels"),
    ("other processes", ("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp"),
     "reads and writes another process's memory or takes its file descriptors"),
    ("process memory", ("process_madvise", "process_mrelease", "move_pages", "migrate_pages"),
     "pages out, reclaims or moves another process's memory (with a pidfd, CAP_SYS_NICE or its pid)"),
    ("pidfds", ("pidfd_open", "pidfd_send_signal"),
     "a pidfd is the handle process_madvise, process_mrelease and pidfd_getfd act on"),
    ("namespaces", ("unshare", "setns"), "a new user namespace holds every capability inside it"),
    ("kernel modules and kexec", ("init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load"),
     "loads code into, or replaces, the running kernel"),
)  # fmt: skip


def _passes(p: Profile, name: str) -> list[str]:
    """The profile's architectures on which the runtime's filter lets ``name`` through."""
    return [
        a
        for a in p.seccomp.architectures
        if syscalls.exists(name, a) and filters.answers(p, a).get(name, "missing") is None
    ]


def _where(p: Profile, name: str) -> tuple[str, str | None]:
    if any(name in r.names for r in p.seccomp.rules):
        return "seccomp.rules", name
    if p.seccomp.default_action == "errno":
        arch = next((a for a in p.seccomp.architectures if name in p.seccomp.allow.get(a, ())), None)
        return (f"seccomp.allow.{arch}", name) if arch else ("seccomp.default_errno", None)
    return "seccomp.rules", None


def execve_denied(p: Profile) -> Iterator[Hit]:
    if not p.seccomp.enabled:
        return
    answer = filters.runtime_answer(p, "execve")
    if answer is not None:
        yield Hit(
            f"the runtime's filter answers execve with {answer}: runc loads it just before the entrypoint's "
            "execve, so the container never starts",
            "execve",
            *_where(p, "execve"),
        )


def clone3_answer(p: Profile) -> Iterator[Hit]:
    if not p.seccomp.enabled:
        return
    answer = filters.runtime_answer(p, "clone3")
    if answer not in (None, "ENOSYS"):
        yield Hit(
            f"clone3 is answered {answer}: glibc falls back to clone only on ENOSYS, so threads and "
            "subprocesses cannot start",
            "clone3",
            *_where(p, "clone3"),
        )


def abis(f: SeccompFile) -> Iterator[Hit]:
    arches = f.data.get("architectures")
    line = next((n for n, text in enumerate(f.text.splitlines(), 1) if '"architectures"' in text), 1)
    if not isinstance(arches, list) or not arches:
        yield Hit(
            "the filter lists no architectures: which ABIs it covers is left to the runtime",
            "architectures",
            "seccomp.architectures",
            line=line,
        )
        return
    for arch in arches:
        if arch not in NATIVE_ABIS:
            yield Hit(
                f"{arch} is allowed: a 32-bit or x32 ABI numbers its syscalls otherwise (i386 reaches every "
                "socket call through socketcall), so a rule written for the 64-bit names misses them",
                str(arch),
                "seccomp.architectures",
                line=line,
            )


def routes(p: Profile) -> Iterator[Hit]:
    sc = p.seccomp
    if not sc.enabled:
        return
    for family, names, why in ROUTES:
        open_ = {n: _passes(p, n) for n in names}
        through = [n for n, arches in open_.items() if arches]
        if through:
            key, token = _where(p, through[0])
            yield Hit(
                f"{family} is open: {', '.join(through)} {'passes' if len(through) == 1 else 'pass'} the "
                f"runtime's filter; {why}",
                family,
                key,
                token if key != "seccomp.rules" else None,
            )
    if _passes(p, "clone") and filters.clone_namespace_errno(p) is None:
        yield Hit(
            "clone with namespace flags passes the runtime's filter (deny_clone_namespaces is off): "
            "a new user, mount or network namespace without unshare",
            "clone namespaces",
            "seccomp.deny_clone_namespaces",
        )
    if _passes(p, "clone3"):
        yield Hit(
            "clone3 passes the runtime's filter: its flags are in a struct no filter can read, so any "
            "namespace flag gets through",
            "clone3",
            *_where(p, "clone3"),
        )


def deny_list(p: Profile) -> Iterator[Hit]:
    sc = p.seccomp
    if not sc.enabled or sc.default_action != "allow":
        return
    arch = sc.architectures[0]
    needed = runtime_defaults.SECCOMP_RUNTIME_FLOOR | runtime_defaults.SECCOMP_HARNESS_FLOOR
    extra = sorted(n for n, answer in filters.answers(p, arch).items() if answer is None and n not in needed)
    yield Hit(
        f"a deny list (default allow) lets through {len(extra)} syscalls of {arch} beyond what runc and the "
        f"harness need (e.g. {', '.join(extra[:6])}): a call nobody thought to deny is allowed",
        "deny list",
        "seccomp.default_action",
    )


def disabled(p: Profile) -> Iterator[Hit]:
    if not p.seccomp.enabled:
        yield Hit(
            "seccomp is off (seccomp=unconfined): every syscall reaches the kernel", "disabled", "seccomp.enabled"
        )


RULES = (
    Rule(
        "SPD001",
        "Runtime seccomp filter denies execve",
        "runc loads the seccomp filter just before the final execve of the entrypoint (libcontainer/"
        "standard_init_linux.go); a filter that denies execve stops every container before it starts.",
        "Remove execve (and execveat) from [seccomp] rules and deny exec from inside the process instead: "
        '[seccomp.inprocess] deny = ["execve", "execveat"] (a filter the harness stacks on itself).',
        Level.ERROR,
        profile=execve_denied,
    ),
    Rule(
        "SPD002",
        "clone3 answered with an errno other than ENOSYS",
        "glibc falls back from clone3 to clone only on ENOSYS (moby#42681); EPERM leaves threads and "
        "subprocesses unable to start, and clone's flags can be filtered where clone3's cannot.",
        'Answer clone3 with ENOSYS: { errno = "ENOSYS", names = ["clone3"] }, and set '
        "deny_clone_namespaces = true to filter clone's namespace flags.",
        Level.ERROR,
        profile=clone3_answer,
    ),
    Rule(
        "SPD003",
        "Seccomp architectures missing, or a 32-bit/x32 ABI allowed",
        "A syscall is a number per ABI: with SCMP_ARCH_X86 or SCMP_ARCH_X32 listed, int 0x80 and x32 "
        "calls reach the kernel under other numbers (i386 multiplexes sockets through socketcall), past "
        "rules written for the 64-bit names.",
        'List only the native 64-bit ABIs: architectures = ["x86_64", "aarch64"] (the rendered JSON then '
        "refuses every other ABI).",
        Level.ERROR,
        seccomp=abis,
    ),
    Rule(
        "SPD004",
        "A known route around the seccomp filter is open",
        "A deny list stops only the calls it names: io_uring, the new mount API, file handles, "
        "userfaultfd, the keyring, bpf, perf, ptrace, namespaces, clone flags and clone3 reach the same "
        "kernel by another door.",
        "Deny the named calls in [seccomp] rules (EPERM), answer clone3 with ENOSYS, set "
        "deny_clone_namespaces = true; better, a default-deny allowlist (`sandproof learn`).",
        Level.ERROR,
        profile=routes,
    ),
    Rule(
        "SPD005",
        "Seccomp filter is a deny list (default allow)",
        "Deny-by-default is checked with allow-lists: a deny list lets through every call it does not "
        "name, including the next kernel's new ones.",
        'Run `sandproof learn` on the workload and use the allowlist it writes (default_action = "errno").',
        Level.NOTE,
        profile=deny_list,
    ),
    Rule(
        "SPD006",
        "No seccomp filter",
        "seccomp=unconfined lets every syscall reach the kernel: the largest attack surface a container has.",
        "Set [seccomp] enabled = true (the default) with a deny list or, better, an allowlist.",
        Level.ERROR,
        profile=disabled,
    ),
)
