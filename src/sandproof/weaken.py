"""Single weakenings of a profile, each aimed at the probe that must catch it.

An attestation is only worth the weakenings it can catch: each entry here runs the
sandbox with one claim taken away and is judged against the unweakened profile; the
named probe must then FAIL while the run still writes its bundle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

from sandproof.profile import Bind, Profile, Seccomp, SeccompRule, Tmpfs

ENGINE_SOCKET = "/var/run/docker.sock"


class Weakening(NamedTuple):
    name: str
    probe_id: str
    """The probe that must FAIL."""
    apply: Callable[[Profile], Profile]
    note: str
    runtimes: tuple[str, ...] = ("docker", "runc")
    """Where the weakening can be expressed at all."""


def _allow(*syscalls: str) -> Callable[[Profile], Profile]:
    def apply(p: Profile) -> Profile:
        rules = tuple(SeccompRule(tuple(n for n in r.names if n not in syscalls), r.errno) for r in p.seccomp.rules)
        return dataclasses.replace(p, seccomp=dataclasses.replace(p.seccomp, rules=tuple(r for r in rules if r.names)))

    return apply


def _chain(*steps: Callable[[Profile], Profile]) -> Callable[[Profile], Profile]:
    def apply(p: Profile) -> Profile:
        for step in steps:
            p = step(p)
        return p

    return apply


def _set(**changes: object) -> Callable[[Profile], Profile]:
    return lambda p: dataclasses.replace(p, **changes)  # type: ignore[arg-type]


def _no_guard(p: Profile) -> Profile:
    sc: Seccomp = dataclasses.replace(p.seccomp, inprocess=None)
    return dataclasses.replace(p, seccomp=sc)


def _bind(source: str, target: str, mode: str) -> Callable[[Profile], Profile]:
    return lambda p: dataclasses.replace(p, binds=(*p.binds, Bind(source, target, mode)))


def _seccomp(**changes: object) -> Callable[[Profile], Profile]:
    return lambda p: dataclasses.replace(p, seccomp=dataclasses.replace(p.seccomp, **changes))  # type: ignore[arg-type]


def _clone3_eperm(p: Profile) -> Profile:
    """The seed's rule: clone3 answered EPERM instead of ENOSYS (moby#42681)."""
    rules = tuple(SeccompRule(r.names, "EPERM") if r.names == ("clone3",) else r for r in p.seccomp.rules)
    return dataclasses.replace(p, seccomp=dataclasses.replace(p.seccomp, rules=rules))


def _tmp_exec(p: Profile) -> Profile:
    # "exec", not just no "noexec": Docker's --tmpfs defaults to noexec,nosuid,nodev
    tmpfs = tuple(Tmpfs(t.path, tuple("exec" if o == "noexec" else o for o in t.options)) for t in p.tmpfs)
    return dataclasses.replace(p, tmpfs=tmpfs)


def _tmp_size(size: str) -> Callable[[Profile], Profile]:
    def apply(p: Profile) -> Profile:
        tmpfs = tuple(
            Tmpfs(t.path, tuple(f"size={size}" if o.startswith("size=") else o for o in t.options))
            if t.path == "/tmp"
            else t
            for t in p.tmpfs
        )
        return dataclasses.replace(p, tmpfs=tmpfs)

    return apply


def _extra_tmpfs(p: Profile) -> Profile:
    return dataclasses.replace(p, tmpfs=(*p.tmpfs, Tmpfs("/data", ("rw", "mode=1777", "size=1m"))))


def _bind_engine_socket(p: Profile) -> Profile:
    return _bind(ENGINE_SOCKET, ENGINE_SOCKET, "ro")(p)


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "host-network-sockets-allowed",
        "PR-NET-1",
        _chain(_set(network_mode="host"), _allow("socket", "connect")),
        "host network and socket/connect allowed: the probe target is reachable",
    ),
    Weakening("host-network", "PR-NET-2", _set(network_mode="host"), "--network host: the host's interfaces show"),
    Weakening("socket-allowed", "PR-SOCK-1", _allow("socket"), "socket() no longer denied by seccomp"),
    Weakening(
        "secret-env", "PR-ENV-1", _set(env={"GITHUB_TOKEN": "sandproof-canary-value"}), "a CI token variable passed in"
    ),
    Weakening(
        "input-rw",
        "PR-FS-RO-IN",
        _set(input_mode="rw"),
        "/in mounted read-write: a root-owned dir answers EACCES, not EROFS",
    ),
    Weakening(
        "rootfs-rw", "PR-FS-ESC-1", _set(read_only_rootfs=False), "no --read-only: /etc is merely root-owned (EACCES)"
    ),
    Weakening(
        "rootfs-rw-app",
        "PR-FS-ESC-2",
        _set(read_only_rootfs=False),
        "no --read-only: /app is merely root-owned (EACCES)",
    ),
    Weakening(
        "output-ro",
        "PR-FS-OUT-OK",
        _set(output_mode="ro"),
        "/out read-only: the positive control fails; the bundle comes back on stdout",
    ),
    Weakening("exec-allowed", "PR-EXEC-1", _no_guard, "no in-process exec guard: execve succeeds"),
    Weakening(
        "shm-writable", "PR-MOUNT-1", _set(ipc_mode="engine-default"), "the engine's default IPC: /dev/shm mounted 1777"
    ),
    Weakening("engine-socket", "PR-SOCK-DOCKER", _bind_engine_socket, "the Docker socket bind-mounted in"),
    Weakening("ptrace-allowed", "PR-PTRACE-1", _allow("ptrace"), "ptrace no longer denied by seccomp"),
    # identity, privileges
    Weakening("root-user", "PR-ID-1", _set(uid=0, gid=0), "running as root"),
    Weakening("no-cap-drop", "PR-CAP-1", _set(cap_drop_all=False), "no --cap-drop ALL: the engine's default set"),
    Weakening("cap-add-sys-admin", "PR-CAP-1", _set(capabilities=("SYS_ADMIN",)), "--cap-add SYS_ADMIN"),
    Weakening("cap-add-sys-ptrace", "PR-CAP-1", _set(capabilities=("SYS_PTRACE",)), "--cap-add SYS_PTRACE"),
    Weakening("privileged", "PR-CAP-1", _set(privileged=True), "--privileged"),
    Weakening("no-new-privileges-off", "PR-NNP-1", _set(no_new_privileges=False), "no no-new-privileges"),
    # seccomp
    Weakening("seccomp-unconfined", "PR-SECCOMP-1", _seccomp(enabled=False), "seccomp=unconfined"),
    Weakening(
        "io-uring-allowed",
        "PR-SECCOMP-SWEEP",
        _allow("io_uring_setup", "io_uring_enter", "io_uring_register"),
        "io_uring allowed: connect and openat without those syscalls",
    ),
    Weakening("clone3-eperm", "PR-THREAD-1", _clone3_eperm, "the seed's clone3 rule: threads cannot start"),
    Weakening(
        "clone-namespaces-allowed",
        "PR-USERNS-1",
        _seccomp(deny_clone_namespaces=False),
        "clone(CLONE_NEWUSER) no longer filtered by argument",
    ),
    # namespaces
    Weakening("host-pid", "PR-NS-PID", _set(pid_mode="host"), "--pid host"),
    Weakening("host-ipc", "PR-NS-IPC", _set(ipc_mode="host"), "--ipc host"),
    Weakening("host-uts", "PR-NS-UTS", _set(uts_mode="host"), "--uts host"),
    # filesystem
    Weakening("tmp-exec", "PR-TMP-NOEXEC", _tmp_exec, "/tmp mounted exec"),
    Weakening("tmp-oversized", "PR-MOUNT-1", _tmp_size("1g"), "/tmp sized 1 GiB instead of the profile's"),
    Weakening("extra-writable-tmpfs", "PR-MOUNT-1", _extra_tmpfs, "an extra writable tmpfs at /data"),
    Weakening("host-path-rw", "PR-MOUNT-1", _bind("/var/tmp", "/data", "rw"), "a host path mounted read-write"),
    Weakening(
        "setuid-binary",
        "PR-SUID-1",
        _bind("/usr/bin/su", "/usr/bin/su", "ro"),
        "a setuid-root binary of the host bind-mounted in",
    ),
    Weakening(
        "engine-socket-elsewhere",
        "PR-SOCK-ANY",
        _bind(ENGINE_SOCKET, "/var/tmp/engine.sock", "ro"),
        "the Docker socket under a name no fixed list knows",
    ),
    # resources
    Weakening("no-pids-limit", "PR-CG-PIDS", _set(pids=0), "no --pids-limit"),
    Weakening(
        "no-memory-limit",
        "PR-CG-MEM",
        _set(memory_bytes=0, memory_text="0", memory_swap_bytes=0, memory_swap_text="0"),
        "no --memory / --memory-swap",
    ),
    Weakening("no-cpu-limit", "PR-CG-CPU", _set(cpus=0.0), "no --cpus"),
    # leaks
    Weakening(
        "leaked-host-fd",
        "PR-FD-1",
        _set(leak_host_fd=True),
        "the host's / handed in as fd 3 (runc --preserve-fds; runc CVE-2024-21626)",
        ("runc",),
    ),
    Weakening(
        "aws-secret-env",
        "PR-ENV-1",
        _set(env={"AWS_SECRET_ACCESS_KEY": "sandproof-canary-value"}),
        "a cloud credential variable passed in",
    ),
)
