"""Single weakenings of a profile, each aimed at the probe that must catch it.

An attestation is only worth the weakenings it can catch: each entry here runs the
sandbox with one claim taken away and is judged against the unweakened profile; the
named probe must then FAIL while the run still writes its bundle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

from sandproof.profile import Bind, Profile, Seccomp, SeccompRule

ENGINE_SOCKET = "/var/run/docker.sock"


class Weakening(NamedTuple):
    name: str
    probe_id: str
    """The probe that must FAIL."""
    apply: Callable[[Profile], Profile]
    note: str


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


def _bind_engine_socket(p: Profile) -> Profile:
    return dataclasses.replace(p, binds=(*p.binds, Bind(ENGINE_SOCKET, ENGINE_SOCKET, "ro")))


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
)
