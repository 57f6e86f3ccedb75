"""The mutation suite: single weakenings of a profile, each aimed at the probe that must
catch it, grouped by the part of the sandbox they weaken."""

from __future__ import annotations

import dataclasses

from sandproof.weaken import classic, environment, filesystem, limits, namespaces, seccomp, sharing
from sandproof.weaken.core import Weakening

RUNSC = frozenset(
    {
        # runc's weakenings that gVisor expresses too (the same OCI config edit or profile
        # change) and its probes catch there: each shown to FAIL its probe on runsc 20221219
        *("host-network-sockets-allowed", "host-network", "socket-allowed", "secret-env", "rootfs-rw"),
        *("rootfs-rw-app", "exec-allowed", "ptrace-allowed", "root-user", "no-cap-drop"),
        *("seccomp-unconfined", "setuid-binary", "injected-init", "ulimit-core-raised"),
    }
)
"""Also run on runsc. Not here, measured to change nothing under gVisor: host-pid, host-ipc,
host-uts, cgroupns-host, user-namespace (the sentry never joins a host namespace),
unmasked-paths, proc-sys-writable (gVisor's /proc has none of those paths), the sysctl-*
edits (gVisor applies no linux.sysctl) and no-new-privileges-off (prctl still answers 1);
engine-socket and engine-socket-elsewhere never start (runsc refuses a host socket mount:
--host-uds defaults to none)."""

WEAKENINGS: tuple[Weakening, ...] = tuple(
    dataclasses.replace(w, runtimes=(*w.runtimes, "runsc")) if w.name in RUNSC else w
    for w in (
        *classic.WEAKENINGS,
        *filesystem.WEAKENINGS,
        *environment.WEAKENINGS,
        *seccomp.WEAKENINGS,
        *namespaces.WEAKENINGS,
        *limits.WEAKENINGS,
        *sharing.WEAKENINGS,
    )
)

__all__ = ["WEAKENINGS", "Weakening"]
