"""The OCI runtime ``config.json`` for a profile (runc runs it directly).

Mirrors what Docker 20.10 gives the same flags, so the same probes hold the same
expectations on both: its default masked and read-only /proc paths, /dev/mqueue
unless the profile covers it, /dev/shm unless IPC is "none".
"""

from __future__ import annotations

import copy
from typing import Any

from sandproof import imagespec, runtime_defaults, seccomp
from sandproof.plan import effective_caps, process_args
from sandproof.profile import Profile
from sandproof.workload import carried
from sandproof.workload.carried import Workload

CPU_PERIOD = 100_000


def _mounts(p: Profile, in_dir: str, out_dir: str) -> list[dict[str, Any]]:
    sys_mode = "rw" if p.security.privileged else "ro"
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", sys_mode]},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", sys_mode],
        },
    ]
    covered = {t.path for t in p.filesystem.tmpfs}
    if "/dev/mqueue" not in covered:
        mounts.append(
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"],
            }
        )
    if p.ipc.mode != "none" and "/dev/shm" not in covered:
        mounts.append(
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            }
        )
    for t in p.filesystem.tmpfs:
        mounts.append({"destination": t.path, "type": "tmpfs", "source": "tmpfs", "options": list(t.options)})
    binds = [(in_dir, p.filesystem.input, "ro"), (out_dir, p.filesystem.output, "rw")]
    binds += [(b.source, b.target, b.mode) for b in p.filesystem.binds]
    for source, target, mode in binds:
        mounts.append({"destination": target, "type": "bind", "source": source, "options": ["rbind", "rprivate", mode]})
    return mounts


def mounts(p: Profile, in_dir: str, out_dir: str, workload: Workload | None = None) -> list[dict[str, Any]]:
    """The config's ``mounts`` (the engine view derives its expectation from these alone)."""
    return [*_mounts(p, in_dir, out_dir), *([workload.oci_mount()] if workload else [])]


def config(
    profile: Profile,
    *,
    in_dir: str,
    out_dir: str,
    run_date: str,
    cgroup: str = "/sandproof/run",
    seccomp_policy: dict[str, Any] | None = None,
    workload: Workload | None = None,
) -> dict[str, Any]:
    """The config for ``profile``; ``seccomp_policy`` is the profile's policy already rendered
    (attest renders it once per run), copied in, else rendered here. ``workload``: the harness
    carried into a user's image (its tree mounted, its loader the process, the image's cwd)."""
    p = profile
    args = process_args(p, run_date, "runc", workload)
    # the carried harness's own LC_ALL (carried.ENV: the image's locale never read)
    own_env = [f"{k}={v}" for k, v in carried.env(p.environment.variables).items()] if workload else []
    capabilities = [f"CAP_{c}" for c in effective_caps(p)]
    shared = {
        "pid": p.namespaces.pid == "host",
        "ipc": p.ipc.mode == "host",
        "uts": p.namespaces.uts == "host",
        "network": p.network.mode == "host",
        "mount": False,
        # runc has no default: a cgroup namespace only when the config asks for one
        "cgroup": p.namespaces.cgroup != "private",
    }
    # no "user" namespace: the profile's only user mode is the host's (see Profile.namespaces.user)
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network", "cgroup") if not shared[t]]
    resources: dict[str, Any] = {"devices": [{"allow": p.security.privileged, "access": "rwm"}]}
    if p.resources.pids:
        resources["pids"] = {"limit": p.resources.pids}
    if p.resources.memory.bytes:
        resources["memory"] = {"limit": p.resources.memory.bytes, "swap": p.resources.memory_swap.bytes}
    if p.resources.oom_kill_disable:
        resources.setdefault("memory", {})["disableOOMKiller"] = True
    if p.resources.cpus:
        resources["cpu"] = {"quota": int(p.resources.cpus * CPU_PERIOD), "period": CPU_PERIOD}
    if p.resources.cpu_shares:
        resources.setdefault("cpu", {})["shares"] = p.resources.cpu_shares
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "cgroupsPath": cgroup,
        "resources": resources,
        # --privileged: nothing masked or read-only under /proc and /sys, no seccomp (as Docker does)
        "maskedPaths": [] if p.security.privileged else list(runtime_defaults.MASKED_PATHS),
        "readonlyPaths": [] if p.security.privileged else list(runtime_defaults.READONLY_PATHS),
    }
    sysctl = {**(runtime_defaults.SYSCTLS["runc"] if p.network.mode != "host" else {}), **p.sysctls}
    if sysctl:
        linux["sysctl"] = sysctl
    if p.seccomp.enabled and not p.security.privileged:
        linux["seccomp"] = copy.deepcopy(seccomp_policy) if seccomp_policy is not None else seccomp.policy(p)
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "oomScoreAdj": runtime_defaults.OOM_SCORE_ADJ,
            # always stated: without it runc gives its caller's umask (runtime_defaults.UMASK)
            "user": {"uid": p.user.uid, "gid": p.user.gid, "umask": int(p.user.umask, 8)},
            "args": args,
            "env": [imagespec.PATH_ENV, *(f"{k}={v}" for k, v in sorted(p.environment.variables.items())), *own_env],
            "cwd": workload.cwd if workload else p.image.workdir,
            # as Docker does for a non-root user: the capabilities bound the process, not grant it
            "capabilities": {
                "bounding": capabilities,
                **dict.fromkeys(("effective", "inheritable", "permitted"), capabilities if p.user.uid == 0 else []),
            },
            "noNewPrivileges": p.security.no_new_privileges,
            # as docker's --ulimit: soft and hard per name (moby daemon/oci_linux.go WithRlimits)
            "rlimits": [
                {"type": f"RLIMIT_{name.upper()}", "soft": soft, "hard": hard}
                for name, (soft, hard) in sorted(p.resources.ulimits.items())
            ],
        },
        "root": {"path": "rootfs", "readonly": p.filesystem.read_only_rootfs},
        **({"hostname": "sandproof"} if p.namespaces.uts == "private" else {}),
        "mounts": mounts(p, in_dir, out_dir, workload),
        "linux": linux,
    }


def redacted(cfg: dict[str, Any]) -> dict[str, Any]:
    """The config with environment values removed, for the evidence (names only)."""
    process = dict(cfg["process"])
    process["env"] = [e.split("=", 1)[0] for e in process["env"]]
    return {**cfg, "process": process}
