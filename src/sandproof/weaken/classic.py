"""The first suite: one weakening per claim of the profile, by profile changes."""

from __future__ import annotations

from typing import Any

from sandproof.profile import Size
from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import (
    ENGINE_SOCKET,
    Weakening,
    allow_syscalls,
    bind,
    bind_engine_socket,
    bind_mode,
    chain,
    clone3_eperm,
    extra_tmpfs,
    no_guard,
    seccomp_fields,
    set_fields,
    tmp_exec,
    tmp_size,
)


def _umask_0000(cfg: dict[str, Any]) -> None:
    cfg["process"]["user"]["umask"] = 0


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "host-network-sockets-allowed",
        "PR-NET-1",
        "host network and socket/connect allowed: the probe target is reachable",
        apply=chain(set_fields("network", mode="host"), allow_syscalls("socket", "connect")),
    ),
    Weakening(
        "host-network",
        "PR-NET-2",
        "--network host: the host's interfaces show",
        apply=set_fields("network", mode="host"),
    ),
    Weakening("socket-allowed", "PR-SOCK-1", "socket() no longer denied by seccomp", apply=allow_syscalls("socket")),
    Weakening(
        "secret-env",
        "PR-ENV-1",
        "a CI token variable passed in",
        apply=set_fields("environment", variables={"GITHUB_TOKEN": "sandproof-canary-value"}),
    ),
    Weakening(
        "input-rw",
        "PR-FS-RO-IN",
        "/in mounted read-write: a root-owned dir answers EACCES, not EROFS",
        mutation=bind_mode("/in", "rw"),
    ),
    Weakening(
        "rootfs-rw",
        "PR-FS-ESC-1",
        "no --read-only: /etc is merely root-owned (EACCES)",
        apply=set_fields("filesystem", read_only_rootfs=False),
    ),
    Weakening(
        "rootfs-rw-app",
        "PR-FS-ESC-2",
        "no --read-only: /app is merely root-owned (EACCES)",
        apply=set_fields("filesystem", read_only_rootfs=False),
    ),
    Weakening(
        "output-ro",
        "PR-FS-OUT-OK",
        "/out read-only: the positive control fails; the bundle comes back on stdout",
        mutation=bind_mode("/out", "ro"),
    ),
    Weakening("exec-allowed", "PR-EXEC-1", "no in-process exec guard: execve succeeds", apply=no_guard),
    Weakening(
        "shm-writable",
        "PR-MOUNT-1",
        "the engine's default IPC: /dev/shm mounted 1777",
        apply=set_fields("ipc", mode="engine-default"),
    ),
    Weakening("engine-socket", "PR-SOCK-DOCKER", "the Docker socket bind-mounted in", apply=bind_engine_socket),
    Weakening("ptrace-allowed", "PR-PTRACE-1", "ptrace no longer denied by seccomp", apply=allow_syscalls("ptrace")),
    Weakening("root-user", "PR-ID-1", "running as root", apply=set_fields("user", uid=0, gid=0)),
    Weakening(
        "umask-0000",
        "PR-ID-1",
        "umask 0000: every file the sandbox creates is world-writable (Docker has no flag for it)",
        # runc: the config's process.user.umask; podman: a later --umask wins over the rendered one
        mutation=Mutation(docker_args=("--umask", "0000"), oci=_umask_0000),
        runtimes=("runc", "podman"),
    ),
    Weakening(
        "no-cap-drop",
        "PR-CAP-1",
        "no --cap-drop ALL: the engine's default set",
        apply=set_fields("security", cap_drop_all=False),
    ),
    Weakening(
        "cap-add-sys-admin",
        "PR-CAP-1",
        "--cap-add SYS_ADMIN",
        apply=set_fields("security", capabilities=("SYS_ADMIN",)),
    ),
    Weakening(
        "cap-add-sys-ptrace",
        "PR-CAP-1",
        "--cap-add SYS_PTRACE",
        apply=set_fields("security", capabilities=("SYS_PTRACE",)),
    ),
    Weakening("privileged", "PR-CAP-1", "--privileged", apply=set_fields("security", privileged=True)),
    Weakening(
        "no-new-privileges-off",
        "PR-NNP-1",
        "no no-new-privileges",
        apply=set_fields("security", no_new_privileges=False),
    ),
    Weakening("seccomp-unconfined", "PR-SECCOMP-1", "seccomp=unconfined", apply=seccomp_fields(enabled=False)),
    Weakening(
        "io-uring-allowed",
        "PR-SECCOMP-SWEEP",
        "io_uring allowed: connect and openat without those syscalls",
        apply=allow_syscalls("io_uring_setup", "io_uring_enter", "io_uring_register"),
    ),
    Weakening("clone3-eperm", "PR-THREAD-1", "the seed's clone3 rule: threads cannot start", apply=clone3_eperm),
    Weakening(
        "clone-namespaces-allowed",
        "PR-USERNS-1",
        "clone(CLONE_NEWUSER) no longer filtered by argument",
        apply=seccomp_fields(deny_clone_namespaces=False),
    ),
    Weakening("host-pid", "PR-NS-PID", "--pid host", apply=set_fields("namespaces", pid="host")),
    Weakening("host-ipc", "PR-NS-IPC", "--ipc host", apply=set_fields("ipc", mode="host")),
    Weakening("host-uts", "PR-NS-UTS", "--uts host", apply=set_fields("namespaces", uts="host")),
    Weakening("tmp-exec", "PR-TMP-NOEXEC", "/tmp mounted exec", apply=tmp_exec),
    Weakening("tmp-oversized", "PR-MOUNT-1", "/tmp sized 1 GiB instead of the profile's", apply=tmp_size("1g")),
    Weakening("extra-writable-tmpfs", "PR-MOUNT-1", "an extra writable tmpfs at /data", apply=extra_tmpfs),
    Weakening("host-path-rw", "PR-MOUNT-1", "a host path mounted read-write", apply=bind("/var/tmp", "/data", "rw")),
    Weakening(
        "setuid-binary",
        "PR-SUID-1",
        "a setuid-root binary of the host bind-mounted in",
        apply=bind("/usr/bin/su", "/usr/bin/su", "ro"),
    ),
    Weakening(
        "engine-socket-elsewhere",
        "PR-SOCK-ANY",
        "the Docker socket under a name no fixed list knows",
        apply=bind(ENGINE_SOCKET, "/var/tmp/engine.sock", "ro"),
    ),
    Weakening("no-pids-limit", "PR-CG-PIDS", "no --pids-limit", apply=set_fields("resources", pids=0)),
    Weakening(
        "no-memory-limit",
        "PR-CG-MEM",
        "no --memory / --memory-swap",
        apply=set_fields("resources", memory=Size.of("0"), memory_swap=Size.of("0")),
    ),
    Weakening("no-cpu-limit", "PR-CG-CPU", "no --cpus", apply=set_fields("resources", cpus=0.0)),
    Weakening(
        "leaked-host-fd",
        "PR-FD-1",
        "the host's / handed in as fd 3 (runc/podman --preserve-fds; runc CVE-2024-21626)",
        mutation=Mutation(preserve_host_fd=True),
        runtimes=("runc", "podman"),
    ),
    Weakening(
        "aws-secret-env",
        "PR-ENV-1",
        "a cloud credential variable passed in",
        apply=set_fields("environment", variables={"AWS_SECRET_ACCESS_KEY": "sandproof-canary-value"}),
    ),
)
