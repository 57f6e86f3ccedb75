"""What a profile says that a Pod cannot: one line each, printed above the manifests and
never silently dropped. Where a run on a real cluster will show the difference, the line
names the probe that reports it."""

from __future__ import annotations

from sandproof.inspector.judges.limits import UNLIMITED
from sandproof.profile import Profile

_TMPFS_FLAGS = ("noexec", "nosuid", "nodev", "exec", "suid", "dev")


def _oom_score_adj(p: Profile) -> tuple[int, int]:
    from sandproof.render import k8s  # noqa: PLC0415 - render/k8s.py imports this module

    return k8s.oom_score_adj(p)


def _limit(value: int) -> str:
    return "unlimited" if value == UNLIMITED else str(value)


def gaps(p: Profile, kind: str) -> tuple[str, ...]:
    return (*_resources(p), *_namespaces(p), *_filesystem(p), *_kubelet(kind))


def _resources(p: Profile) -> list[str]:
    out: list[str] = []
    # k8s.io/api core/v1 has no rlimit field (kubernetes#3595): the container gets the runtime's
    for name, (soft, hard) in sorted(p.resources.ulimits.items()):
        value = _limit(soft) if soft == hard else f"{_limit(soft)}:{_limit(hard)}"
        out.append(
            f"resources.ulimits.{name} = {value}: a Pod has no rlimits; the runtime's defaults apply (PR-RLIMIT-1)"
        )
    if p.resources.pids:
        out.append(
            f"resources.pids = {p.resources.pids}: the pids limit is the kubelet's podPidsLimit, per node (PR-CG-PIDS)"
        )
    if p.resources.memory.bytes and p.resources.memory_swap.bytes == p.resources.memory.bytes:
        out.append(
            "resources.memory_swap = memory: no swap only where the node has none or the kubelet's "
            "swapBehavior gives this pod none (PR-CG-MEM)"
        )
    low, high = _oom_score_adj(p)
    if low != high:  # Burstable: the exact value is the node's to decide
        out.append(
            f"oom_score_adj: the pod's QoS class is Burstable (requests are not its limits), so the kubelet "
            f"sets 1000 - 1000 * memory request / the node's memory, within {low}..{high}, not Docker's 0 "
            "(pkg/kubelet/qos/policy.go); Guaranteed (-997) needs cpu_shares = cpus * 1024 "
            "(PR-CG-OOM expects the range)"
        )
    if p.resources.oom_kill_disable:
        out.append("resources.oom_kill_disable: no Pod field turns the OOM killer off")
    return out


def _namespaces(p: Profile) -> list[str]:
    out: list[str] = []
    if p.network.mode == "none":
        out.append(
            "network.mode = none: a pod always has the CNI's interface beside lo (PR-NET-2); the "
            "NetworkPolicy denies its traffic only where the CNI enforces NetworkPolicies"
        )
    if p.ipc.mode == "none":
        out.append(
            "ipc.mode = none: a pod always has an IPC namespace with /dev/shm from its sandbox "
            "(PR-MOUNT-1, PR-DEV-1, PR-WW-1)"
        )
    elif p.ipc.mode == "private":
        out.append("ipc.mode = private: the container shares the pod's IPC namespace (its other containers')")
    if p.namespaces.uts == "host" and p.network.mode != "host":
        out.append("namespaces.uts = host: a Pod shares the node's UTS namespace only with hostNetwork")
    if p.namespaces.cgroup != "engine-default":
        out.append(
            f"namespaces.cgroup = {p.namespaces.cgroup}: the runtime's choice (containerd: private on cgroup v2 "
            "only) (PR-NS-CGROUP)"
        )
    return out


def _filesystem(p: Profile) -> list[str]:
    out: list[str] = []
    for t in p.filesystem.tmpfs:
        flags = [o for o in t.options if o in _TMPFS_FLAGS]
        other = [o for o in t.options if o not in _TMPFS_FLAGS and o not in ("rw", "ro") and not o.startswith("size=")]
        if flags or other:
            out.append(
                f"filesystem.tmpfs {t.path} {','.join(flags + other)}: an emptyDir (medium Memory) takes only "
                "a size; the kubelet mounts it without these, mode 0777 (PR-MOUNT-1, PR-TMP-NOEXEC, PR-DEV-1)"
            )
    out.append(
        f"filesystem.output_files = {p.filesystem.output_files}: an emptyDir has no inode limit; "
        f"{p.filesystem.output} is bounded by its sizeLimit only, and is world-writable (0777, PR-WW-1)"
    )
    for b in p.filesystem.binds:
        out.append(f"filesystem.binds {b.source} -> {b.target}: not rendered (a hostPath volume breaks PSS restricted)")
    if p.environment.env_file:
        out.append("environment.env_file: not rendered (give the variables in the profile)")
    if p.image.workload:
        out.append("image.workload: the harness carried into a user's image is not rendered for Kubernetes")
    out.append(
        f"filesystem.input {p.filesystem.input}: its files are read-only subPath mounts of a ConfigMap, "
        "the directory itself is the image's (read-only root)"
    )
    return out


def _kubelet(kind: str) -> list[str]:
    # what the kubelet and containerd add to every container, which no field removes
    out: list[str] = []
    out.append(
        "kubelet: the master service's variables KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT, "
        "KUBERNETES_PORT... stay even with enableServiceLinks false (PR-ENV-1 expects them)"
    )
    out.append(
        "kubelet: /etc/hosts, /etc/hostname, /etc/resolv.conf and a writable /dev/termination-log are bound "
        "into every container (PR-MOUNT-1 expects them)"
    )
    if kind == "daemonset":
        out.append(
            "DaemonSet: restartPolicy Always (apps/v1 requires it): the harness runs again after it exits; "
            "collect each node's first log"
        )
    return out
