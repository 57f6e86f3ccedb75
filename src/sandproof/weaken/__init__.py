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
    runsc,
    runtime_files,
    seccomp,
    sharing,
)
from sandproof.weaken.core import Weakening

RUNSC = frozenset(
    {
        # runc's weakenings gVisor runs too (the same OCI config edit or profile change) and
        # its probes catch there: each run on runsc 20221219 and its probe FAILed, having
        # PASSed unweakened (/work/notes/runsc-weakenings.md has the table)
        *("host-network-sockets-allowed", "host-network", "socket-allowed", "secret-env", "input-rw"),
        *("rootfs-rw", "rootfs-rw-app", "output-ro", "exec-allowed", "shm-writable", "ptrace-allowed"),
        *("root-user", "no-cap-drop", "cap-add-sys-admin", "cap-add-sys-ptrace", "seccomp-unconfined"),
        *("tmp-oversized", "extra-writable-tmpfs", "host-path-rw", "setuid-binary", "aws-secret-env"),
        *("host-etc-ro", "host-log-ro", "host-proc", "host-dir-world-writable", "extra-tmpfs-ro"),
        *("tmpfs-under-tmp", "bind-under-in", "bind-under-out", "bind-under-usr", "bind-over-etc-file"),
        *("tmp-mode-0777", "mqueue-uncovered", "tmp-stacked", "sys-rw", "proc-exec", "socket-in-0711-dir"),
        *("world-writable-dir-ro", "in-device-nodes", "in-host-dir", "env-database-url", "env-gh-pat"),
        *("env-config-value", "env-file", "env-ld-library-path", "ld-preload-shim", "ld-so-preload"),
        *("libc-replaced", "env-hostname-value", "env-path-value", "hostname-chosen", "workdir-elsewhere"),
        *("host-hostname", "injected-init", "group-add-root", "hosts-bound-from-host", "rootfs-extra-file"),
        *(f"ulimit-{r}-raised" for r in limits.RAISED),
        *("ulimit-nofile-hard-raised", "ulimits-undeclared"),
        # found by an audit (weaken/hunt.py; out-prefilled, caller-stdin-data: their probes since)
        *("mqueue-cover-rw", "gid-root", "seccomp-socket-trace", "out-prefilled", "caller-stdin-data"),
        *("caller-stdin-host-file", "caller-stderr-host-file"),  # review 16: runsc hands the host's file on
        # caught by another probe than runc's (gvisor.AIMED: the one that sees them under gVisor)
        *gvisor.AIMED,
    }
)
"""Also run on runsc and caught there (the sentry sets every rlimit itself, so the two a
non-root runc cannot raise here are caught on runsc). The others runc runs are in
RUNSC_INERT, or not run with gvisor.unrun's reason (gvisor.MISSED: a change no probe sees)."""
RUNSC_INERT = frozenset({*gvisor.INERT, "no-new-privileges-off", *(f"sysctl-{n}" for n in limits.SYSCTLS)})
"""Also run on runsc, where the sentry ignores what they change: each reported "no effect here"
with gvisor.inert's reason (its probe must still PASS and nothing else FAIL), or caught where
that gives none."""


def _on_runsc(w: Weakening) -> Weakening:
    """``w`` also run on runsc: caught there (RUNSC, by the probe gvisor.AIMED names if any:
    ``Weakening.target``), or shown to change nothing under gVisor (``gvisor.inert``)."""
    if "runc" not in w.runtimes:
        return w
    elsewhere = w.no_effect
    if w.name in RUNSC:

        def effect(runtime: str) -> str | None:
            return None if runtime == "runsc" else elsewhere(runtime)

        return dataclasses.replace(w, runtimes=(*w.runtimes, "runsc"), no_effect=effect)
    if w.name not in RUNSC_INERT:
        return w

    def no_effect(runtime: str) -> str | None:
        return gvisor.inert(w.name) if runtime == "runsc" else elsewhere(runtime)

    return dataclasses.replace(w, runtimes=(*w.runtimes, "runsc"), no_effect=no_effect)


def unrun(w: Weakening, runtime: str) -> str:
    """Why ``w`` is not run on ``runtime``: refused by it, or not shown there, with the reason
    (runsc: ``gvisor.unrun``), else not expressible there at all."""
    why = gvisor.unrun(w.name, w.probe_id) if runtime == "runsc" and "runc" in w.runtimes else None
    return why or f"not expressible on {runtime}"


WEAKENINGS: tuple[Weakening, ...] = (
    tuple(
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
    + runsc.WEAKENINGS
)

__all__ = ["WEAKENINGS", "Weakening", "unrun"]
