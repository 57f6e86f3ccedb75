"""runc's weakenings that gVisor (runsc) runs but cannot be weakened by: the sentry is a kernel
of its own, so an OCI field that tells the host's kernel to share or relax something is read
by nobody. Each still runs on runsc (its probe must then PASS: "no effect here", never
"caught"), with the reason, read in google/gvisor at release-20221219.0 (Debian's runsc)."""

from __future__ import annotations

import functools
import re

from sandproof import runtime_defaults
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

_DEVICES = (
    "runsc reads neither linux.devices nor linux.resources.devices (only stripped from the debug "
    "log: runsc/specutils/specutils.go); the sentry's /dev is its own devtmpfs with a fixed set "
    "(runsc/boot/vfs.go registerFilesystems: memdev, ttydev, tundev, fuse) and no devices cgroup"
)
_CALLER = (
    "the sandbox's process is made by the sentry (runsc/boot/loader.go createProcessArgs, "
    "kernel.CreateProcess), not exec'd by runsc's caller: it inherits none of the caller's blocked "
    "signals, timer slack, personality (ADDR_NO_RANDOMIZE), nice value, I/O priority or PR_SET_MEMORY_MERGE"
)
_NO_PRIVILEGED_EXEC = (
    "the sentry implements no privileged executables before release-20250820.0: execve never "
    "gains ids or capabilities from set-user-ID bits or file capabilities "
    "(pkg/sentry/kernel/task_identity.go updateCredsForExecLocked, NOTE(b/30815691))"
)
_MOUNT_FLAGS = (
    "runsc/boot/vfs.go parseMountOptions honours only ro, noatime and noexec (any other flag is "
    "logged 'ignoring unknown mount option' and dropped)"
)

INERT: dict[str, str] = {
    "host-pid": _NAMESPACES.format(ns="PID", ctor="NewRootPIDNamespace"),
    "pid-container": _NAMESPACES.format(ns="PID", ctor="NewRootPIDNamespace"),
    "ipc-container": _NAMESPACES.format(ns="IPC", ctor="NewIPCNamespace"),
    "user-namespace": _NAMESPACES.format(ns="user", ctor="auth.NewRootUserNamespace, identity maps"),
    "cgroupns-host": (
        "the sentry has no cgroup namespace (no CgroupNamespace under pkg/sentry/; /proc/self/ns "
        "lists net, pid, user only: pkg/sentry/fsimpl/proc/task.go) and runsc never joins the "
        "host's for the sandbox (runsc/sandbox/sandbox.go: IPC, mount, UTS, PID, net, user only)"
    ),
    **dict.fromkeys(
        ("network-container", "network-container-tcp"),
        "under --network=none the sentry's netstack has a loopback interface of its own and nothing "
        "else (runsc/sandbox/network.go setupNetwork, NetworkNone): the peer's sockets, abstract or "
        "on 127.0.0.1, are the host kernel's, which no socket of the sandbox reaches",
    ),
    "unmasked-paths": _PATHS,
    "proc-sys-writable": _PATHS,
    "systempaths-unconfined": _PATHS,
    "unmasked-sys-firmware": _PATHS,
    "proc-irq-writable": _PATHS,
    "dev-world-writable": (
        "the sentry's /dev is its own devtmpfs (runsc/boot/vfs.go registerFilesystems), not the "
        "config's tmpfs: its mode= is not applied (run on runsc 20221219: PR-WW-1 finds no "
        "world-writable /dev, PR-MOUNT-1 PASSes)"
    ),
    "engine-sysctl-oci": _SYSCTL,
    "domainname-chosen": _SYSCTL,
    "umask-0000": (
        "runsc/boot/loader.go createProcessArgs gives every process Umask 0022 whatever "
        "process.user.umask says (runtime_defaults.UMASK_FIXED)"
    ),
    "sysctl-ping-group-range": _SYSCTL,
    "sysctl-unprivileged-ports": _SYSCTL,
    "tmp-suid": f"{_MOUNT_FLAGS}, so /tmp is never nosuid under gVisor; and {_NO_PRIVILEGED_EXEC}",
    "tmp-dev": (
        f"{_MOUNT_FLAGS}, so /tmp is never nodev under gVisor; the sentry enforces nodev for FUSE "
        "alone (gvisor#3186), and no process of the sandbox may mknod (no CAP_MKNOD)"
    ),
    "tmp-unlimited-inodes": (
        "runsc passes a tmpfs only mode, size, uid and gid (runsc/boot/vfs.go tmpfsAllowedData): "
        "nr_inodes=0 is dropped, and the sentry's tmpfs has no inode limit to lift"
    ),
    "cgroupfs-rw": (
        "runsc drops every cgroup mount of the spec (runsc/boot/vfs.go: 'Unconditionally drop any "
        "cgroupfs mounts') and adds its own only with --cgroupfs, which sandproof does not pass"
    ),
    "runc-ambient-cap": (
        "runsc sets no ambient capabilities (runsc/specutils/specutils.go Capabilities: "
        "'TODO(gvisor.dev/issue/3166): Support ambient capabilities'), so the non-root harness "
        "drops CAP_NET_RAW at its execve"
    ),
    "caller-time-namespace": (
        "the sentry keeps clocks of its own and has no time namespace (/proc/self/ns lists net, "
        "pid, user only: pkg/sentry/fsimpl/proc/task.go)"
    ),
    "caller-signals-blocked": _CALLER,
    "caller-timer-slack": _CALLER,
    "caller-no-aslr": _CALLER,
    "caller-niced": _CALLER,
    "caller-ioniced": _CALLER,
    "caller-memory-merge": _CALLER,
    **dict.fromkeys(
        (
            *("device-kmsg", "device-fuse", "device-kvm", "device-tun", "device-block"),
            *("device-cgroup-all", "device-cgroup-fuse", "device-node-without-rule"),
        ),
        _DEVICES,
    ),
}
"""Weakening name -> why the sentry ignores it; the ``sysctl-*`` profile edits are added by name
prefix (``inert``). Each was run on runsc 20221219 and its probe PASSed with nothing else
FAILing beyond the unweakened run (/work/notes/runsc-weakenings.md)."""

AIMED: dict[str, tuple[str, str]] = {
    "host-ipc": (
        "PR-MOUNT-1",
        _NAMESPACES.format(ns="IPC", ctor="NewIPCNamespace")
        + "; but without an IPC namespace the config mounts the engine's 1777 /dev/shm "
        "(render/oci.py), an unplanned mount, as shm-writable",
    ),
    "host-uts": (
        "PR-ENV-1",
        _NAMESPACES.format(ns="UTS", ctor="NewUTSNamespace")
        + "; but without a UTS namespace the config names no hostname (render/oci.py), so the "
        "sentry's is empty, not the profile's (runsc/boot/loader.go: NewUTSNamespace(spec.Hostname))",
    ),
    "host-network-unix": (
        "PR-NET-2",
        "unix sockets are the sentry's own under any --network (pkg/sentry/socket/unix): the host's "
        "abstract sockets stay out of reach; the host network itself shows, as host-network",
    ),
    "file-capability": (
        "PR-MOUNT-1",
        f"the capability is inert ({_NO_PRIVILEGED_EXEC}); the bind that carries it is an unplanned mount",
    ),
    "caller-mount-under-rootfs": (
        "PR-ROOTFS-1",
        "the sentry's root is served by its gofer from the host's view of the bundle's rootfs "
        "(runsc/fsgofer): the caller's bind shows as image content changed, not as a mount of the "
        "sentry's own table",
    ),
}
"""runc's weakenings whose own probe cannot see them under gVisor while another can: the probe
that must FAIL on runsc, and why."""

REFUSED: dict[str, str] = {
    "engine-socket": "runsc refuses a host socket mount (--host-uds defaults to none)",
    "engine-socket-elsewhere": "runsc refuses a host socket mount (--host-uds defaults to none)",
    "privileged": (
        "runsc fails to create the sandbox ('cannot read client sync file: waiting for sandbox to start: EOF')"
    ),
    "out-rshared": (
        "runsc refuses shared propagation: 'mount option \"rshared\" is not supported' "
        "(runsc/specutils/fs.go invalidOptions: the sandbox must be isolated from the host)"
    ),
    "runc-rootfs-shared": (
        "runsc refuses it: 'root mount propagation option must specify private or slave' "
        "(runsc/specutils/fs.go validateRootfsPropagation)"
    ),
    "runc-seccomp-notify-agent": "runsc refuses SCMP_ACT_NOTIFY ('invalid seccomp rules: invalid action')",
    "leaked-host-fd": "runsc run has no --preserve-fds (runtime/runsc.py)",
    **dict.fromkeys(
        (
            *("allowlist-extra-syscall", "allowlist-missing-syscall", "allowlist-clone-unconditional"),
            "allowlist-default-allow",
        ),
        "their claim, the learned-example profile, does not run under runsc unweakened: its harness "
        "stops with EPERM before writing a bundle (measured; the allowlist was learned on runc)",
    ),
}
"""runc's weakenings runsc refuses to run (measured, runsc 20221219): the sandbox never starts."""

MISSED: dict[str, str] = {
    "out-on-host-disk": (
        "/out is a 9p mount of runsc's gofer whatever backs it on the host, so PR-MOUNT-1 inside "
        "cannot tell the bounded tmpfs from the host's disk; only PR-WW-1 FAILs, on the setup's "
        "1777 mode (a gap: reported, not credited)"
    ),
    "in-rslave": (
        "runsc's gofer binds /in's source with the config's propagation in its own mount namespace "
        "and serves what the host mounts there later (review 16: a tmpfs mounted under a shared "
        "source after the start was read inside); the sentry's mountinfo shows no propagation, so "
        "no probe sees it (a gap: reported, not credited)"
    ),
}
"""runc's weakenings that change a gVisor sandbox while no probe sees them (measured): not run
on runsc until a probe does, and said so in every runsc selftest (``unrun``)."""

_ROOT_NS = (
    "runsc/boot/loader.go New makes the sandbox's {ns} namespace {ctor} whatever linux.namespaces "
    "says ({weakening} run on runsc 20221219: no effect here)"
)
UNWEAKENABLE: dict[str, str] = {
    "PR-NNP-1": (
        "the sentry answers PR_GET_NO_NEW_PRIVS with 1 whatever process.noNewPrivileges says "
        "(pkg/sentry/syscalls/linux/sys_prctl.go) and shows no NoNewPrivs line in /proc/self/status; "
        "no runsc flag changes it (runsc/config/flags.go). Tried: no-new-privileges-off (no effect here); "
        "from release-20250820.0 the field is honoured and that weakening is caught (nnp_forced)"
    ),
    "PR-NS-PID": _ROOT_NS.format(ns="PID", ctor="kernel.NewRootPIDNamespace", weakening="host-pid")
    + "; its link's inode is a sentry inode (fs.NextIno), never the host's initial 0xEFFFFFFC",
    "PR-NS-IPC": _ROOT_NS.format(ns="IPC", ctor="kernel.NewIPCNamespace", weakening="ipc-container")
    + " and /proc/self/ns lists net, pid, user only (pkg/sentry/fsimpl/proc/task.go); host-ipc's /dev/shm "
    "is caught by PR-MOUNT-1 (AIMED)",
    "PR-NS-UTS": _ROOT_NS.format(ns="UTS", ctor="kernel.NewUTSNamespace", weakening="host-uts")
    + " and /proc/self/ns has no uts link; host-uts's missing hostname is caught by PR-ENV-1 (AIMED)",
    "PR-NS-TIME": (
        "the sentry has no time namespace (/proc/self/ns lists net, pid, user: pkg/sentry/fsimpl/proc/"
        "task.go) and keeps clocks of its own: in a fresh sentry monotonic time starts at zero "
        "(pkg/sentry/kernel/timekeeper.go), so a caller's time namespace offsets nothing inside. "
        "Tried: caller-time-namespace (no effect here)"
    ),
    "PR-NS-USER": _ROOT_NS.format(ns="user", ctor="auth.NewRootUserNamespace", weakening="user-namespace")
    + ", whose uid_map and gid_map are the identity 0 0 4294967295; linux.uidMappings only place the "
    "sentry and gofer on the host",
    "PR-FCAP-1": (
        "no filesystem of the sandbox can hold a file capability: runsc's gofer answers every xattr "
        "call EOPNOTSUPP (runsc/fsgofer/lisafs.go GetXattr, ListXattr), the sentry's tmpfs refuses the "
        "security.* namespace (pkg/sentry/fsimpl/tmpfs/tmpfs.go checkXattrName, b/148380782), and "
        f"{_NO_PRIVILEGED_EXEC}. Tried: file-capability (its bind caught by PR-MOUNT-1, AIMED)"
    ),
    "PR-SCHED-1": (
        f"{_CALLER}; of process, runsc reads only args, env, cwd, user, capabilities, rlimits and "
        "terminal (runsc/boot/loader.go), and no runsc flag sets them. Tried: the six caller-* "
        "weakenings (no effect here)"
    ),
}
"""Probes that runsc plans and PASSes unweakened for which no single weakening of a gVisor sandbox
exists at runsc release-20221219.0, and why (read in google/gvisor at that tag); every other such
probe is some weakening's target on runsc (tests/test_weaken.py). A probe here is never a target
of a weakening credited on runsc."""

NO_ENGINE_VIEW = (
    "its target is the engine's view, which runsc has no adapter for (engineview.ADAPTERS); "
    "the rendered check FAILs on it, as on every edited config"
)


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


def unrun(name: str, probe_id: str) -> str | None:
    """Why runc's weakening ``name`` (aimed at ``probe_id``) is not run on runsc, or None."""
    if name in MISSED:
        return f"NOT caught on runsc, a gap in the probes: {MISSED[name]}"
    if name in REFUSED:
        return f"refused by runsc: {REFUSED[name]}"
    if probe_id in runtime_defaults.RUNSC_TRUE_FAILS:
        why = runtime_defaults.RUNSC_TRUE_FAILS[probe_id][1]
        return f"not shown on runsc: {probe_id} FAILs unweakened there ({why})"
    if probe_id in runtime_defaults.RUNSC_UNVERIFIED:
        why = runtime_defaults.RUNSC_UNVERIFIED[probe_id][1]
        return f"not shown on runsc: {probe_id} is UNVERIFIED there unweakened ({why})"
    if probe_id == "engine-view":
        return f"not shown on runsc: {NO_ENGINE_VIEW}"
    return None
