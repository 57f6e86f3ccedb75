"""Kubernetes manifests for a profile: the harness as a Job (or a Pod, or a DaemonSet to
attest every node), a deny-all NetworkPolicy, the input ConfigMap (the packet and the plan
compiled for the ``kubernetes`` runtime) and the node's seccomp profile.

The output is a YAML stream whose documents are JSON (JSON is YAML's flow style): no YAML
emitter is needed, ``kubectl apply -f`` reads it, and the profile lines Kubernetes cannot
express stand above the documents as ``#`` comments, one line each (``render/k8s_gaps.py``).
``dumps_json`` gives the same objects as a ``v1 List`` for tools that want plain JSON.

The seccomp profile is a Localhost profile: the kubelet reads it from
``/var/lib/kubelet/seccomp/<localhostProfile>`` on every node (kubernetes.io/docs/tutorials/
security/seccomp). Its bytes are exactly ``seccomp.render``'s, carried in a ConfigMap for
whoever installs it on the nodes, so the sha256 the evidence records is the file's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from sandproof import caps as caps_
from sandproof import contract, k8s_pss, plan, runtime_defaults, seccomp
from sandproof.capture import printable
from sandproof.errors import Error
from sandproof.plan import effective_caps
from sandproof.profile import Profile, Tmpfs, pinned
from sandproof.render import k8s_gaps

Kind = Literal["job", "pod", "daemonset"]
KINDS: tuple[Kind, ...] = ("job", "pod", "daemonset")
RUNTIME = "kubernetes"
CONTAINER = "harness"
NODE_SECCOMP_ROOT = "/var/lib/kubelet/seccomp"
"""The kubelet's --seccomp-profile-root (its default): Localhost profiles are relative to it."""
LABEL = "app.kubernetes.io/name"
APP = "sandproof"
ANNOTATION = "sandproof.dev"
IN_VOLUME, OUT_VOLUME = "sandproof-in", "sandproof-out"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True)
class Manifests:
    """What ``render k8s`` prints and ``attest --runtime kubernetes`` applies."""

    documents: tuple[dict[str, Any], ...]
    """ConfigMaps, NetworkPolicy, then the workload (Job, Pod or DaemonSet), in apply order."""
    gaps: tuple[str, ...]
    """One line per profile setting Kubernetes cannot express (never silently dropped)."""
    seccomp_text: bytes
    """The node's seccomp profile: ``seccomp.render``'s very bytes."""
    localhost_profile: str
    """``seccompProfile.localhostProfile``: the file's path under ``NODE_SECCOMP_ROOT``."""
    pss: tuple[str, ...] = ()
    """The workload's violations of the Pod Security Standards' restricted profile (k8s_pss)."""

    @property
    def seccomp_sha256(self) -> str:
        return hashlib.sha256(self.seccomp_text).hexdigest()

    @property
    def workload(self) -> dict[str, Any]:
        return self.documents[-1]


def check_image_ref(ref: str) -> str:
    """``--image-ref``: the profile's image reference grammar, pinned by digest, since every
    node pulls it and a tag alone can name other bytes on each of them (a newline, a NUL or
    a ``${{ }}`` is no reference either)."""
    if not pinned(ref):
        raise Error(
            f"--image-ref {ref!r}: expected an image reference pinned by digest, "
            "[HOST[:PORT]/]PATH[:TAG]@sha256:<64 hex> (every node pulls it; a tag alone can name other bytes)"
        )
    return ref


def name_of(profile: Profile) -> str:
    """A DNS-1123 label from the profile's name (object names, the label value)."""
    raw = "".join(c if c in _NAME_CHARS else "-" for c in profile.name.lower()).strip("-")
    return f"sandproof-{raw}"[:52].rstrip("-")  # a Job's pods get a suffix: room for it under 63


def quantity(n_bytes: int) -> str:
    """Bytes as a Kubernetes quantity, in the largest binary unit that divides them."""
    for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if n_bytes and n_bytes % size == 0:
            return f"{n_bytes // size}{unit}"
    return str(n_bytes)


def millicpu(cpus: float) -> str:
    milli = round(cpus * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def shares_to_millicpu(shares: int) -> int:
    """The CPU request whose shares the kubelet writes are ``shares``: it sets
    shares = milliCPU * 1024 / 1000 (pkg/kubelet/cm/helpers_linux.go MilliCPUToShares)."""
    return round(shares * 1000 / 1024)


def tmpfs_bytes(t: Tmpfs) -> int | None:
    for opt in t.options:
        if opt.startswith("size="):
            value = opt[5:].lower()
            units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
            if value[-1:] in units and value[:-1].isdigit():
                return int(value[:-1]) * units[value[-1]]
            if value.isdigit():
                return int(value)
    return None


def _volume_name(path: str) -> str:
    return "tmpfs" + "".join(c if c in _NAME_CHARS else "-" for c in path.lower()).rstrip("-")[:50]


def _resources(p: Profile) -> dict[str, Any]:
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    if p.resources.cpus:
        limits["cpu"] = millicpu(p.resources.cpus)
    if p.resources.cpu_shares:
        requests["cpu"] = f"{shares_to_millicpu(p.resources.cpu_shares)}m"
    if p.resources.memory.bytes:
        # request = limit: the memory is reserved for the sandbox, as docker's --memory bounds it
        limits["memory"] = requests["memory"] = quantity(p.resources.memory.bytes)
    return {k: v for k, v in (("limits", limits), ("requests", requests)) if v}


def qos_class(resources: dict[str, Any]) -> str:
    """The pod's QoS class for its one container (pkg/apis/core/v1/helper/qos GetPodQOS): a
    request left out defaults to its limit (API defaulting), Guaranteed when cpu and memory
    both have limits equal to their requests, BestEffort with neither, else Burstable."""
    limits, requests = resources.get("limits", {}), resources.get("requests", {})
    if not limits and not requests:
        return "BestEffort"
    both = all(r in limits and _amount(requests.get(r, limits[r])) == _amount(limits[r]) for r in ("cpu", "memory"))
    return "Guaranteed" if both else "Burstable"


def _amount(q: str) -> float:
    """A quantity as this module writes it ("1", "500m", "256Mi"), compared by value: "1000m" is "1"."""
    units = {"m": 1e-3, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
    for unit, size in units.items():
        if q.endswith(unit):
            return float(q[: -len(unit)]) * size
    return float(q)


def oom_score_adj(p: Profile) -> tuple[int, int]:
    """The oom_score_adj range the kubelet gives the harness for the rendered pod's QoS class."""
    return runtime_defaults.KUBELET_OOM_SCORE_ADJ[qos_class(_resources(p))]


def _security_context(p: Profile) -> dict[str, Any]:
    # drop ALL and add back the profile's own; without drop ALL the runtime's defaults stay
    added = effective_caps(p) if p.security.cap_drop_all else sorted({caps_.normal(c) for c in p.security.capabilities})
    caps: dict[str, Any] = {"drop": ["ALL"]} if p.security.cap_drop_all else {}
    if added:
        caps["add"] = added
    ctx: dict[str, Any] = {
        "allowPrivilegeEscalation": not p.security.no_new_privileges,
        "privileged": p.security.privileged,
        "readOnlyRootFilesystem": p.filesystem.read_only_rootfs,
        "runAsNonRoot": p.user.uid != 0,
        "runAsUser": p.user.uid,
        "runAsGroup": p.user.gid,
        "capabilities": caps,
    }
    return ctx


def _seccomp_profile(p: Profile, localhost: str) -> dict[str, str]:
    if not p.seccomp.enabled or p.security.privileged:
        return {"type": "Unconfined"}
    return {"type": "Localhost", "localhostProfile": localhost}


def _volumes(p: Profile, input_map: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pod's volumes and the container's mounts. /in holds exactly the input files: each
    is a read-only subPath mount, since a whole ConfigMap volume adds the kubelet's atomic
    writer's ``..data`` link and timestamped directory (pkg/volume/util/atomic_writer.go)."""
    volumes: list[dict[str, Any]] = [{"name": IN_VOLUME, "configMap": {"name": input_map}}]
    mounts: list[dict[str, Any]] = [
        {"name": IN_VOLUME, "mountPath": f"{p.filesystem.input}/{key}", "subPath": key, "readOnly": True}
        for key in (contract.INPUT_PACKET[0], plan.PLAN_NAME)
    ]
    out = {"medium": "Memory", "sizeLimit": quantity(p.filesystem.output_limit.bytes)}
    volumes.append({"name": OUT_VOLUME, "emptyDir": out})
    mounts.append({"name": OUT_VOLUME, "mountPath": p.filesystem.output})
    for t in p.filesystem.tmpfs:
        size = tmpfs_bytes(t)
        empty: dict[str, Any] = {"medium": "Memory", **({"sizeLimit": quantity(size)} if size else {})}
        volumes.append({"name": _volume_name(t.path), "emptyDir": empty})
        mounts.append(
            {"name": _volume_name(t.path), "mountPath": t.path, **({"readOnly": True} if t.has("ro") else {})}
        )
    return volumes, mounts


def pod_spec(p: Profile, *, run_date: str, image: str, input_map: str, localhost: str, kind: Kind) -> dict[str, Any]:
    volumes, mounts = _volumes(p, input_map)
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": list(p.image.entrypoint),
        "args": plan.process_args(p, run_date, RUNTIME)[len(p.image.entrypoint) :],
        "workingDir": p.image.workdir,
        "securityContext": _security_context(p),
        "resources": _resources(p),
        "volumeMounts": mounts,
    }
    if p.environment.variables:
        container["env"] = [{"name": k, "value": v} for k, v in sorted(p.environment.variables.items())]
    pod_ctx: dict[str, Any] = {
        "runAsNonRoot": p.user.uid != 0,
        "runAsUser": p.user.uid,
        "runAsGroup": p.user.gid,
        "seccompProfile": _seccomp_profile(p, localhost),
    }
    if p.sysctls:
        pod_ctx["sysctls"] = [{"name": k, "value": v} for k, v in sorted(p.sysctls.items())]
    return {
        # a DaemonSet's pods must restart (apps/v1 validation); a run happens once otherwise
        "restartPolicy": "Always" if kind == "daemonset" else "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "hostNetwork": p.network.mode == "host",
        "hostPID": p.namespaces.pid == "host",
        "hostIPC": p.ipc.mode == "host",
        "shareProcessNamespace": False,
        "securityContext": pod_ctx,
        "containers": [container],
        "volumes": volumes,
    }


def _meta(name: str, labels: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def render(
    profile: Profile,
    *,
    kind: Kind = "job",
    run_date: str,
    image: str | None = None,
    plan_text: bytes | None = None,
) -> Manifests:
    """The manifests for ``profile``; ``plan_text`` is the compiled plan (attest passes the one
    it judges by), else compiled here for the ``kubernetes`` runtime."""
    p = profile
    name = name_of(p)
    labels = {LABEL: APP, "app.kubernetes.io/instance": name}
    text = seccomp.render(p)
    localhost = f"sandproof/{p.seccomp.plain_file_name()}"
    body = plan_text if plan_text is not None else plan.compiled(p, RUNTIME).text
    notes = {
        f"{ANNOTATION}/profile-sha256": p.digest,
        f"{ANNOTATION}/seccomp-sha256": hashlib.sha256(text).hexdigest(),
    }
    seccomp_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(
            f"{name}-seccomp", labels, {**notes, f"{ANNOTATION}/node-path": f"{NODE_SECCOMP_ROOT}/{localhost}"}
        ),
        "data": {p.seccomp.plain_file_name(): text.decode()},
    }
    input_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(f"{name}-in", labels),
        "data": {contract.INPUT_PACKET[0]: contract.INPUT_PACKET[1].decode(), plan.PLAN_NAME: body.decode()},
    }
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(f"{name}-deny-all", labels),
        # both directions listed with no rule: nothing in, nothing out (concepts/services-networking/network-policies)
        "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress", "Egress"]},
    }
    spec = pod_spec(
        p, run_date=run_date, image=image or p.image.name, input_map=f"{name}-in", localhost=localhost, kind=kind
    )
    template = {"metadata": {"labels": labels, "annotations": notes}, "spec": spec}
    workload: dict[str, Any]
    if kind == "pod":
        workload = {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(name, labels, notes), "spec": spec}
    elif kind == "job":
        job_spec = {"backoffLimit": 0, "ttlSecondsAfterFinished": 3600, "template": template}
        workload = {"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(name, labels, notes), "spec": job_spec}
    else:
        ds_spec = {"selector": {"matchLabels": labels}, "template": template}
        workload = {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": _meta(name, labels, notes),
            "spec": ds_spec,
        }
    documents = (seccomp_map, input_map, policy, workload)
    pss = tuple(f"{v.rule}: {v.field} {v.message}" for v in k8s_pss.check(workload))
    return Manifests(documents, k8s_gaps.gaps(p, kind), text, localhost, pss)


def comment(text: str) -> str:
    """``text`` as one ``#`` comment line: every character that is not printable escaped
    (``capture.printable``: ``\\x0a``), since YAML ends a comment at any line break (\\n, \\r,
    and for YAML 1.1 readers such as PyYAML also U+0085, U+2028, U+2029) and what follows would
    be read as YAML: another document after a ``---``."""
    return "# " + printable(text)


def dumps_yaml(m: Manifests) -> str:
    """A YAML stream of JSON documents, the gaps as comments above them. Nothing from a value
    reaches the stream raw: the comments are escaped (``comment``), the documents are JSON
    with every control and non-ASCII character escaped (``json.dumps``' ensure_ascii)."""
    lines = [
        "sandproof: Kubernetes manifests rendered from the profile (kubectl apply -f).",
        f"Install the node seccomp profile on every node as {NODE_SECCOMP_ROOT}/{m.localhost_profile}",
        f"(sandproof render seccomp; sha256 {m.seccomp_sha256}).",
        "What the profile says and Kubernetes cannot express:",
        *(f"- {line}" for line in m.gaps),
        *(
            [f"Pod Security Standards, restricted: {len(m.pss)} violation(s):", *(f"- {v}" for v in m.pss)]
            if m.pss
            else ["Pod Security Standards, restricted: every control holds (sandproof k8s_pss)."]
        ),
    ]
    head = [comment(line) for line in lines]
    docs = [json.dumps(doc, indent=2, ensure_ascii=True) for doc in m.documents]
    return "\n".join(head) + "\n---\n" + "\n---\n".join(docs) + "\n"


def dumps_json(m: Manifests) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(m.documents)}, indent=2) + "\n"
