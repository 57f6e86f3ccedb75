"""A stand-in for one Kubernetes node, since no cluster is reachable here or in CI: the
rendered Job's pod spec translated to the OCI config containerd's CRI would hand runc, and run
by runc. NOT a cluster: no kubelet, no API server, no CNI (the pod's network namespace has
only lo), no CRI; what they would add is written in from their documented defaults.

The translation reads only the pod spec (and the seccomp ConfigMap's bytes, as the kubelet
reads the node's Localhost file), never the profile: whatever the profile says that the pod
cannot carry is missing here too, as on a real node.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from sandproof import caps, imagespec, runtime_defaults
from sandproof.render import k8s
from sandproof.render import runc as render_runc
from sandproof.runtime.interface import Mutation, RunRequest, RunResult
from sandproof.runtime.runc import Runc

# containerd pkg/cri/opts spec defaults: the capabilities a container keeps unless dropped
CRI_DEFAULT_CAPS = (
    *("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP"),
    *("SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"),
)
# what the kubelet puts in every container for the `kubernetes` Service (values invented here)
KUBELET_ENV = {
    "KUBERNETES_SERVICE_HOST": "10.96.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
    "KUBERNETES_SERVICE_PORT_HTTPS": "443",
    "KUBERNETES_PORT": "tcp://10.96.0.1:443",
    "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
    "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
    "KUBERNETES_PORT_443_TCP_PORT": "443",
    "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
}
UNITS = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}


def parse_bytes(q: str) -> int:
    for unit, size in UNITS.items():
        if q.endswith(unit):
            return int(q[: -len(unit)]) * size
    return int(q)


def parse_milli(q: str) -> int:
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


def node_memory() -> int:
    """The node's memory capacity, as the kubelet reads it (cadvisor: /proc/meminfo MemTotal)."""
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise OSError("no MemTotal in /proc/meminfo")


def _oom_score_adj(res: dict[str, Any]) -> int:
    """What the kubelet hands the CRI for this container (pkg/kubelet/qos/policy.go)."""
    qos = k8s.qos_class(res)
    if qos != "Burstable":
        return runtime_defaults.KUBELET_OOM_SCORE_ADJ[qos][0]
    low, high = runtime_defaults.KUBELET_OOM_SCORE_ADJ[qos]
    request = parse_bytes(res.get("requests", {}).get("memory", "0"))
    adj = 1000 - (1000 * request) // node_memory()
    return low if adj < low else high if adj == high + 1 else adj


def _kernel_mounts() -> list[dict[str, Any]]:
    """containerd's CRI defaults (pkg/cri/opts/spec_linux.go, oci/mounts.go): as Docker's."""
    pseudo = ["nosuid", "noexec", "nodev"]
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": pseudo},
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
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": pseudo},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*pseudo, "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": [*pseudo, "relatime", "ro"]},
        # the pod sandbox's /dev/shm, shared by its containers (CRI: the sandbox's shm bind)
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": [*pseudo, "mode=1777", "size=65536k"]},
    ]


class StandIn(Runc):
    """Runs as the ``kubernetes`` runtime (its plan, its name in the evidence), on runc."""

    name = "kubernetes"

    def __init__(self) -> None:
        super().__init__()
        self.last_config: dict[str, Any] | None = None
        self.last_manifests: k8s.Manifests | None = None

    def version(self) -> str:
        return f"stand-in: runc ({super().version()}), no cluster"

    def run(self, request: RunRequest) -> RunResult:
        plan_text = (request.in_dir / "sandproof-plan.json").read_bytes()
        m = k8s.render(request.profile, kind="job", run_date=request.run_date, plan_text=plan_text)
        self.last_manifests = m
        files = _node_files(request.work_dir, m)

        def as_cri(cfg: dict[str, Any]) -> None:
            cgroup = cfg["linux"]["cgroupsPath"]
            cfg.clear()
            cfg.update(oci_config(m, files, cgroup))
            self.last_config = cfg

        edit = request.mutation.oci
        if edit is not None:  # a weakening on top of the translation

            def both(cfg: dict[str, Any]) -> None:
                as_cri(cfg)
                edit(cfg)

            mutation = replace(request.mutation, oci=both)
        else:
            mutation = Mutation(oci=as_cri)
        try:
            result = super().run(replace(request, mutation=mutation))
        finally:
            unmount(files)
        result.details["node"] = "stand-in-runc"
        result.details.pop("oci_config", None)  # not what a cluster would record
        job = m.workload  # as runtime/kubernetes.py records the Job it applied
        result.details["kubernetes"] = {"server_version": "none (runc stand-in)", "manifest": job}
        return result


def _node_files(work: Path, m: k8s.Manifests) -> dict[str, Path]:
    """The kubelet's files on the node: the input ConfigMap's keys, etc-hosts, hostname,
    resolv.conf, the termination-message file."""
    node = work / "node"
    node.mkdir()
    out: dict[str, Path] = {}
    for key, value in m.documents[1]["data"].items():
        (node / key).write_text(value)
        out[key] = node / key
    pod = f"{m.workload['metadata']['name']}-{uuid.uuid4().hex[:5]}"
    for name, text in (
        ("etc-hosts", f"127.0.0.1\tlocalhost\n10.0.0.2\t{pod}\n"),
        ("hostname", pod + "\n"),
        ("resolv.conf", "nameserver 10.96.0.10\n"),
        ("termination-log", ""),
    ):
        (node / name).write_text(text)
        out[name] = node / name
    (node / "termination-log").chmod(0o666)
    out["pod"] = Path(pod)
    spec = m.workload["spec"]["template"]["spec"]
    for vol in spec["volumes"]:
        if "emptyDir" in vol:  # pkg/volume/emptydir: a 0777 directory, a tmpfs of sizeLimit on it
            d = node / "volumes" / vol["name"]
            d.mkdir(parents=True)
            size = vol["emptyDir"].get("sizeLimit")
            opts = f"size={parse_bytes(size)}" if size else "size=0"
            subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)], check=True)
            d.chmod(0o777)
            out[vol["name"]] = d
    return out


def unmount(files: dict[str, Path]) -> None:
    for path in files.values():
        if path.is_dir() and os.path.ismount(path):
            subprocess.run(["umount", "-l", str(path)], check=False)


def oci_config(m: k8s.Manifests, files: dict[str, Path], cgroup: str) -> dict[str, Any]:
    """The OCI config for the Job's container: the pod spec's fields, CRI's defaults beside them."""
    spec = m.workload["spec"]["template"]["spec"]
    c = spec["containers"][0]
    ctx = {**spec.get("securityContext", {}), **c.get("securityContext", {})}
    pod = str(files["pod"])
    drop = set(ctx.get("capabilities", {}).get("drop", []))
    keep = [] if "ALL" in drop else [x for x in CRI_DEFAULT_CAPS if x not in drop]
    capset = [f"CAP_{x}" for x in sorted({*keep, *ctx.get("capabilities", {}).get("add", [])}, key=caps.ALL.index)]
    env = [imagespec.PATH_ENV, f"HOSTNAME={pod}", *(f"{k}={v}" for k, v in KUBELET_ENV.items())]
    env += [f"{e['name']}={e['value']}" for e in c.get("env", [])]
    # a volume at a default mount's destination replaces it (containerd oci WithMounts)
    taken = {vm["mountPath"] for vm in c["volumeMounts"]}
    mounts = [mnt for mnt in _kernel_mounts() if mnt["destination"] not in taken]
    kubelet = (("/etc/hosts", "etc-hosts"), ("/etc/hostname", "hostname"), ("/etc/resolv.conf", "resolv.conf"))
    mounts += [
        {"destination": d, "type": "bind", "source": str(files[n]), "options": ["rbind", "rprivate", "rw"]}
        for d, n in kubelet
    ]
    mounts.append(
        {
            "destination": c.get("terminationMessagePath", "/dev/termination-log"),
            "type": "bind",
            "source": str(files["termination-log"]),
            "options": ["rbind", "rprivate", "rw"],
        }
    )
    volumes = {v["name"]: v for v in spec["volumes"]}
    for vm in c["volumeMounts"]:
        vol = volumes[vm["name"]]
        mode = "ro" if vm.get("readOnly") else "rw"
        if "configMap" in vol:
            mounts.append(
                {
                    "destination": vm["mountPath"],
                    "type": "bind",
                    "source": str(files[vm["subPath"]]),
                    "options": ["rbind", "rprivate", mode],
                }
            )
        else:  # an emptyDir of medium Memory: the kubelet's tmpfs on the node, bound in
            mounts.append(
                {
                    "destination": vm["mountPath"],
                    "type": "bind",
                    "source": str(files[vm["name"]]),
                    "options": ["rbind", "rprivate", mode],
                }
            )
    res = c.get("resources", {})
    resources: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}]}
    if "cpu" in res.get("limits", {}):
        resources["cpu"] = {"quota": parse_milli(res["limits"]["cpu"]) * 100, "period": 100_000}
    if "cpu" in res.get("requests", {}):
        resources.setdefault("cpu", {})["shares"] = parse_milli(res["requests"]["cpu"]) * 1024 // 1000
    if "memory" in res.get("limits", {}):
        resources["memory"] = {"limit": parse_bytes(res["limits"]["memory"])}
    seccomp_profile = ctx.get("seccompProfile", {})
    adj = _oom_score_adj(res)
    linux: dict[str, Any] = {
        # the pod's namespaces; no cgroup namespace: containerd makes one on cgroup v2 only
        "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
        "cgroupsPath": cgroup,
        "resources": resources,
        "maskedPaths": list(runtime_defaults.MASKED_PATHS),
        "readonlyPaths": list(runtime_defaults.READONLY_PATHS),
        "sysctl": dict(runtime_defaults.SYSCTLS["kubernetes"]),
    }
    if seccomp_profile.get("type") == "Localhost":  # the node's file: the very bytes rendered
        assert seccomp_profile["localhostProfile"] == m.localhost_profile
        linux["seccomp"] = json.loads(m.seccomp_text)
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": ctx["runAsUser"], "gid": ctx["runAsGroup"]},
            "args": [*c["command"], *c["args"]],
            "env": env,
            "cwd": c["workingDir"],
            "capabilities": {"bounding": capset, "effective": [], "inheritable": [], "permitted": []},
            "noNewPrivileges": not ctx.get("allowPrivilegeEscalation", True),
            "oomScoreAdj": adj,
        },
        "root": {"path": "rootfs", "readonly": bool(ctx.get("readOnlyRootFilesystem"))},
        "hostname": pod,
        "mounts": mounts,
        "linux": linux,
    }


def config_bytes(cfg: dict[str, Any]) -> bytes:
    return render_runc.config_bytes(cfg)
