"""The profile's cross-field checks, run once its keys and types are known to be right.

Each check refuses with the same one line as a type error ("profile FILE: key 'a.b':
expected ..."), so nothing a profile says reaches the renderer, the plan or the verifier
unchecked: a syscall name runc would silently ignore, a denial the sweep cannot try, an
errno Python does not know, a writable path with nothing writable behind it.
``host`` checks what only the machine that runs the sandbox can know (bind sources).
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, NoReturn

from sandproof import runtime_defaults, sweep
from sandproof.errors import ProfileError
from sandproof.inspector import syscalls
from sandproof.tomldata import hint as _hint

if TYPE_CHECKING:
    from sandproof.profile import Profile

HOW_TO_SWEEP = (
    "add it to BASE_ARGS in src/sandproof/sweep.py with harmless arguments the kernel would answer "
    "with something other than EPERM (and to KERNEL_EPERM_FIRST if it checks a capability first)"
)


def refuse(p: Profile, key: str, expected: str) -> NoReturn:
    raise ProfileError(f"profile {p.source}: key '{key}': expected {expected}")


def _denials(p: Profile) -> list[tuple[str, tuple[str, ...], str]]:
    """(dotted key, the names, the errno) of every deny list: the runtime's rules and the guard."""
    sc = p.seccomp
    out = [(f"seccomp.rules[{i}]", r.names, r.errno) for i, r in enumerate(sc.rules)]
    if sc.inprocess is not None:
        out.append(("seccomp.inprocess", sc.inprocess.deny, sc.inprocess.errno))
    return out


def _names_key(key: str) -> str:
    return f"{key}.deny" if key == "seccomp.inprocess" else f"{key}.names"


def _names(p: Profile) -> None:
    """Every name exists on every listed architecture (runc skips a name libseccomp cannot
    resolve, so a typo would be a denial that silently never happens)."""
    sc = p.seccomp
    known = set().union(*(syscalls.TABLES[a] for a in sc.architectures))
    for i, name in enumerate(sc.arch_specific):
        if name not in known:
            where = " or ".join(sc.architectures)
            refuse(p, f"seccomp.arch_specific[{i}]", f"a syscall of {where}, got {name!r}{_hint(name, known)}")
    for table, names, _ in _denials(p):
        key = _names_key(table)
        for name in names:
            if name not in known:
                where = " or ".join(sc.architectures)
                refuse(p, key, f"syscall names of {where}, got {name!r}{_hint(name, known)}")
            missing = [a for a in sc.architectures if not syscalls.exists(name, a)]
            if missing and name not in sc.arch_specific:
                refuse(
                    p,
                    key,
                    f"syscalls of every listed architecture; {name!r} does not exist on {', '.join(missing)} "
                    "(list it in seccomp.arch_specific to deny it only where it exists)",
                )


def _rules(p: Profile) -> None:
    """One errno per syscall: libseccomp refuses two rules that act differently on one call."""
    seen: dict[str, int] = {}
    for i, rule in enumerate(p.seccomp.rules):
        for name in rule.names:
            if name in seen:
                also = f"{name!r} is also in rules[{seen[name]}]"
                refuse(p, f"seccomp.rules[{i}].names", f"each syscall in one rule; {also}")
            if name == "clone" and p.seccomp.deny_clone_namespaces:
                refuse(
                    p,
                    f"seccomp.rules[{i}].names",
                    "no 'clone' while seccomp.deny_clone_namespaces is true (it already denies clone by flag)",
                )
            seen[name] = i


def _allowlist(p: Profile) -> None:
    """``default_errno`` and ``allow`` go with default_action "errno" and nothing else; every
    listed architecture has its list; no name is both allowed and denied by a rule."""
    sc = p.seccomp
    if sc.default_action == "allow":
        if sc.default_errno is not None:
            refuse(
                p,
                "seccomp.default_errno",
                'no default errno while default_action is "allow" (nothing is denied by default)',
            )
        if sc.allow:
            refuse(p, "seccomp.allow", 'no allow list while default_action is "allow" (list denials in seccomp.rules)')
        return
    if sc.default_errno is None:
        refuse(p, "seccomp.default_errno", 'an errno name such as "EPERM" (required with default_action = "errno")')
    if not sc.enabled:
        refuse(p, "seccomp.enabled", 'true with default_action = "errno" (an allow list needs a filter)')
    for arch in sc.allow:
        if arch not in sc.architectures:
            refuse(
                p, f"seccomp.allow.{arch}", f"an architecture of seccomp.architectures ({', '.join(sc.architectures)})"
            )
    for arch in sc.architectures:
        if arch not in sc.allow:
            refuse(
                p, f"seccomp.allow.{arch}", f"the syscalls allowed on {arch} (every listed architecture needs its list)"
            )
    _allow_lists(p)


def _allow_lists(p: Profile) -> None:
    sc = p.seccomp
    ruled = {n: i for i, r in enumerate(sc.rules) for n in r.names}
    for arch, names in sc.allow.items():
        for name in names:
            if name in ruled:
                refuse(
                    p,
                    f"seccomp.allow.{arch}",
                    f"each syscall allowed or denied, not both; {name!r} is in rules[{ruled[name]}]",
                )
    # The OCI seccomp object (runc) cannot scope a rule to one architecture: one allow rule
    # names the union, and a name lets through on every architecture that has it.
    for arch, names in sc.allow.items():
        others = {n for a, ns in sc.allow.items() if a != arch for n in ns if syscalls.exists(n, arch)}
        missing = sorted(others - set(names))
        if missing:
            refuse(
                p,
                f"seccomp.allow.{arch}",
                f"every name another architecture allows that {arch} has too (one rule serves all "
                f"architectures); missing: {', '.join(missing)}",
            )


def _one_answer(p: Profile) -> None:
    """A denied call answers alike on every listed architecture: the sweep's expectation for
    it is one errno. Under an allowlist runc answers ENOSYS past the highest syscall the
    filter names (seccomp.answers), which may differ between architectures."""
    if p.seccomp.default_action != "errno" or len(p.seccomp.architectures) < 2:
        return
    from sandproof import seccomp  # noqa: PLC0415 - seccomp imports the profile model

    per_arch = {a: seccomp.answers(p, a) for a in p.seccomp.architectures}
    for i, rule in enumerate(p.seccomp.rules):
        for name in rule.names:
            got = {a: ans[name] for a, ans in per_arch.items() if name in ans}
            if len(set(got.values())) > 1:
                said = ", ".join(f"{e} on {a}" for a, e in got.items())
                refuse(p, f"seccomp.rules[{i}].names", f"one answer for {name!r} on every architecture, got {said}")


def _errnos(p: Profile) -> None:
    known = [n for n in errno.errorcode.values() if n.startswith("E")]
    if p.seccomp.default_errno is not None and not isinstance(getattr(errno, p.seccomp.default_errno, None), int):
        name = p.seccomp.default_errno
        refuse(p, "seccomp.default_errno", f"an errno name Linux has, got {name!r}{_hint(name, known)}")
    for table, _, name in _denials(p):
        if not isinstance(getattr(errno, name, None), int):
            refuse(p, f"{table}.errno", f"an errno name Linux has, got {name!r}{_hint(name, known)}")


def _sweep(p: Profile) -> None:
    """PR-SECCOMP-SWEEP tries every denied call: one it has no arguments for cannot be judged."""
    for table, names, _ in _denials(p):
        for name in names:
            if name not in sweep.BASE_ARGS:
                refuse(p, _names_key(table), f"syscalls the sweep can try; {name!r} has no entry: {HOW_TO_SWEEP}")


def under(path: str, mount: str) -> bool:
    """``path`` is ``mount`` or below it."""
    return path == mount or path.startswith(mount.rstrip("/") + "/")


def _writable(p: Profile) -> None:
    """A path declared writable has a writable mount behind it; on a read-only rootfs
    nothing else can be written (moby daemon/oci_linux.go: --read-only sets root.readonly)."""
    fs = p.filesystem
    if not fs.read_only_rootfs:
        return
    mounts = [t.path for t in fs.tmpfs if not t.has("ro")]
    mounts.append(fs.output)  # the input is always read-only
    mounts += [b.target for b in fs.binds if b.mode == "rw"]
    for i, w in enumerate(fs.writable):
        if not any(under(w.path, m) for m in mounts):
            refuse(
                p,
                f"filesystem.writable[{i}].path",
                f"a path with a writable mount behind it ({', '.join(mounts) or 'none'}: a tmpfs without 'ro', "
                f"the output, or a rw bind), got {w.path!r}",
            )


def _mount_points(p: Profile) -> None:
    """One mount per target: the engines refuse a duplicate (moby daemon/volumes.go
    "Duplicate mount point"), and the mount inventory could not say which one shows."""
    seen: dict[str, str] = {}
    fs = p.filesystem
    targets = [("filesystem.input", fs.input), ("filesystem.output", fs.output)]
    targets += [(f"filesystem.tmpfs[{i}].path", t.path) for i, t in enumerate(fs.tmpfs)]
    targets += [(f"filesystem.binds[{i}].target", b.target) for i, b in enumerate(fs.binds)]
    for key, path in targets:
        norm = path.rstrip("/") or "/"
        if norm == "/":
            refuse(p, key, "a mount point below '/', got '/'")
        if norm in seen:
            refuse(p, key, f"a mount point of its own, got {path!r} (also {seen[norm]})")
        seen[norm] = key


def _tmpfs_values(p: Profile) -> None:
    """Each size=, mode=, uid=, gid= once per tmpfs: the kernel keeps the last, and a reader
    that takes the first (a Kubernetes sizeLimit, the world-writable list) would disagree."""
    for i, t in enumerate(p.filesystem.tmpfs):
        names = [o.partition("=")[0] for o in t.options if "=" in o]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            refuse(p, f"filesystem.tmpfs[{i}].options", f"each of {', '.join(f'{n}=' for n in twice)} once")


def _memory(p: Profile) -> None:
    """docker refuses both (daemon/daemon_unix.go verifyPlatformContainerResources): swap is
    memory+swap, so less than memory is meaningless, and swap alone has nothing to add to."""
    memory, swap = p.resources.memory, p.resources.memory_swap
    if swap.bytes and swap.bytes < memory.bytes:
        refuse(p, "resources.memory_swap", f"at least memory ({memory.text}), got {swap.text!r}")
    if swap.bytes and not memory.bytes:
        refuse(p, "resources.memory_swap", "0 when memory is 0 (a swap limit needs a memory limit)")


def _sysctls(p: Profile) -> None:
    """Only sysctls of a namespace the sandbox owns: runc refuses the rest
    (libcontainer/configs/validate/validator.go sysctl)."""
    shared = {
        "net.": p.network.mode == "host",
        "fs.mqueue.": p.ipc.mode == "host",
        **dict.fromkeys(runtime_defaults.IPC_SYSCTLS, p.ipc.mode == "host"),
        **dict.fromkeys(runtime_defaults.UTS_SYSCTLS, p.namespaces.uts == "host"),
    }
    for name in p.sysctls:
        if any(host and (name == k or (k.endswith(".") and name.startswith(k))) for k, host in shared.items()):
            refuse(p, f"sysctls.{name}", "a sysctl of a namespace the sandbox owns; this one is shared with the host")


def check(p: Profile) -> None:
    """Refuse the first thing in ``p`` that cannot be rendered, run or judged as written."""
    _memory(p)
    _tmpfs_values(p)
    _sysctls(p)
    _mount_points(p)
    _names(p)
    _rules(p)
    _allowlist(p)
    _errnos(p)
    _one_answer(p)
    _sweep(p)
    _writable(p)


def host(p: Profile) -> None:
    """What the machine that runs the sandbox must have; a verifier elsewhere never calls this."""
    for i, b in enumerate(p.filesystem.binds):
        if not os.path.exists(b.source):
            refuse(p, f"filesystem.binds[{i}].source", f"a path that exists on this host, got {b.source!r}")
    env_file = p.environment.env_file
    if env_file is not None and (not os.path.exists(env_file) or os.path.isdir(env_file)):
        refuse(p, "environment.env_file", f"a file that exists on this host, got {env_file!r}")
