"""The mutation suite: single weakenings of a profile, each aimed at the probe that must
catch it, grouped by the part of the sandbox they weaken."""

from __future__ import annotations

import dataclasses

from sandproof.weaken import (
    classic,
    engine,
    environment,
    filesystem,
    gvisor,
    hostkernel,
    hunt,
    inherited,
    limits,
    namespaces,
    oci,
    podman_hooks,
    rootfs,
    runtime_files,
    seccomp,
    sharing,
)
from sandproof.weaken.core import Weakening

RUNSC = frozenset(
    {
        # runc's weakenings that gVisor expresses too (the same OCI config edit or profile
        # change) and its probes catch there: each shown to FAIL its probe on runsc 20221219
        *("host-network-sockets-allowed", "host-network", "socket-allowed", "secret-env", "rootfs-rw"),
        *("rootfs-rw-app", "exec-allowed", "ptrace-allowed", "root-user", "no-cap-drop"),
        *("seccomp-unconfined", "setuid-binary", "injected-init", "ulimit-core-raised", "hosts-bound-from-host"),
    }
)
"""Also run on runsc and caught there. engine-socket and engine-socket-elsewhere never start
(runsc refuses a host socket mount: --host-uds defaults to none)."""
RUNSC_INERT = frozenset({*gvisor.INERT, "no-new-privileges-off", *(f"sysctl-{n}" for n in limits.SYSCTLS)})
"""Also run on runsc, where the sentry ignores what they change: each reported "no effect here"
with gvisor.inert's reason (its probe must still PASS), or caught where that gives none."""


def _on_runsc(w: Weakening) -> Weakening:
    """``w`` also run on runsc: caught there (RUNSC), or shown to change nothing under gVisor,
    with the reason (``gvisor.inert``)."""
    if w.name in RUNSC:
        return dataclasses.replace(w, runtimes=(*w.runtimes, "runsc"))
    if "runc" not in w.runtimes or w.name not in RUNSC_INERT:
        return w
    elsewhere = w.no_effect

    def no_effect(runtime: str) -> str | None:
        return gvisor.inert(w.name) if runtime == "runsc" else elsewhere(runtime)

    return dataclasses.replace(w, runtimes=(*w.runtimes, "runsc"), no_effect=no_effect)


WEAKENINGS: tuple[Weakening, ...] = tuple(
    _on_runsc(w)
    for w in (
        *classic.WEAKENINGS,
        *filesystem.WEAKENINGS,
        *environment.WEAKENINGS,
        *seccomp.WEAKENINGS,
        *namespaces.WEAKENINGS,
        *limits.WEAKENINGS,
        *sharing.WEAKENINGS,
        *engine.WEAKENINGS,
        *oci.WEAKENINGS,
        *podman_hooks.WEAKENINGS,
        *inherited.WEAKENINGS,
        *runtime_files.WEAKENINGS,
        *rootfs.WEAKENINGS,
        *hostkernel.WEAKENINGS,
        *hunt.WEAKENINGS,
    )
)

__all__ = ["WEAKENINGS", "Weakening"]
