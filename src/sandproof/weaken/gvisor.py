"""runc's weakenings that gVisor (runsc) runs but cannot be weakened by: the sentry is a kernel
of its own, so an OCI field that tells the host's kernel to share or relax something is read
by nobody. Each still runs on runsc (its probe must then PASS: "no effect here", never
"caught"), with the reason, read in google/gvisor at release-20221219.0 (Debian's runsc)."""

from __future__ import annotations

import functools
import re

from sandproof.runtime.runc import version_of

_NAMESPACES = (
    "runsc/boot/loader.go New: the sandbox's root {ns} namespace is always the sentry's own "
    "(kernel.{ctor}), whatever linux.namespaces says; the spec's namespaces only place the "
    "sentry process on the host (runsc/sandbox/sandbox.go createSandboxProcess)"
)
_SYSCTL = (
    "runsc applies no linux.sysctl (no use under runsc/ or pkg/sentry/); the sentry's /proc/sys "
    "files are its own, fixed or per-netstack (pkg/sentry/fsimpl/proc/tasks_sys.go)"
)
_PATHS = (
    "runsc ignores linux.maskedPaths and linux.readonlyPaths (runsc/specutils/specutils.go only "
    "strips them from the debug log); the sentry's /proc is its own procfs, with no /proc/keys or "
    "/proc/timer_list and read-only /proc/sys files (pkg/sentry/fsimpl/proc/tasks.go, tasks_sys.go)"
)

INERT: dict[str, str] = {
    "host-pid": _NAMESPACES.format(ns="PID", ctor="NewRootPIDNamespace"),
    "host-ipc": _NAMESPACES.format(ns="IPC", ctor="NewIPCNamespace"),
    "host-uts": _NAMESPACES.format(ns="UTS", ctor="NewUTSNamespace"),
    "user-namespace": _NAMESPACES.format(ns="user", ctor="auth.NewRootUserNamespace, identity maps"),
    "cgroupns-host": (
        "the sentry has no cgroup namespace (no CgroupNamespace under pkg/sentry/; /proc/self/ns "
        "lists net, pid, user only: pkg/sentry/fsimpl/proc/task.go) and runsc never joins the "
        "host's for the sandbox (runsc/sandbox/sandbox.go: IPC, mount, UTS, PID, net, user only)"
    ),
    "unmasked-paths": _PATHS,
    "proc-sys-writable": _PATHS,
    "engine-sysctl-oci": _SYSCTL,
    "umask-0000": (
        "runsc/boot/loader.go createProcessArgs gives every process Umask 0022 whatever "
        "process.user.umask says (runtime_defaults.UMASK_FIXED)"
    ),
    "sysctl-ping-group-range": _SYSCTL,
    "sysctl-unprivileged-ports": _SYSCTL,
}
"""Weakening name -> why the sentry ignores it; the ``sysctl-*`` profile edits are added by name
prefix (``inert``)."""

NNP_HONOURED_FROM = 20250820
"""google/gvisor 436301196 ("Support privileged executables inside the sandbox", first in
release-20250820.0) made the sentry honour process.noNewPrivileges; before it, no_new_privs
was always on."""
NNP_FORCED = (
    "runsc {version} ignores process.noNewPrivileges: PR_SET_NO_NEW_PRIVS is assumed always set "
    "(runsc/specutils/specutils.go ValidateSpec, only a warning), prctl(PR_GET_NO_NEW_PRIVS) "
    "answers 1 (pkg/sentry/syscalls/linux/sys_prctl.go) and execve never gains ids or "
    "capabilities (pkg/sentry/kernel/task_identity.go updateCredsForExecLocked); honoured only "
    "from release-20250820.0 (gvisor 436301196)"
)


@functools.cache
def _release(binary: str = "runsc") -> int | None:
    """runsc's release date (``runsc version release-20221219.0``; Debian: ``0.0~20221219.0``)."""
    version = version_of(binary)
    m = re.search(r"(?:release-|~)(\d{8})\b", version or "")
    return int(m.group(1)) if m else None


def nnp_forced() -> str | None:
    release = _release()
    if release is None or release >= NNP_HONOURED_FROM:
        return None  # an unknown or newer runsc honours the field: the weakening must be caught
    return NNP_FORCED.format(version=release)


def inert(name: str) -> str | None:
    """Why ``name`` cannot weaken a gVisor sandbox, or None."""
    if name == "no-new-privileges-off":
        return nnp_forced()
    if name.startswith("sysctl-"):
        return _SYSCTL
    return INERT.get(name)
