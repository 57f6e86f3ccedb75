"""The Pod Security Standards' "restricted" profile as our own checks, one function per rule.

Source: kubernetes.io/docs/concepts/security/pod-security-standards (the Baseline controls,
which Restricted includes, then the Restricted ones), as of Kubernetes 1.32. No API server
runs here to ask its PodSecurity admission, and ``kubernetes-validate`` checks structure
only; these read the same fields the admission reads (k8s.io/pod-security-admission/policy).
Allow-lists, as everywhere in sandproof: a field passes only with a value the standard
names; an unknown volume type or sysctl fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

DOC = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"

SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",  # since 1.27
        "net.ipv4.tcp_keepalive_time",  # these four since 1.29
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
ADDABLE_CAPS = frozenset({"NET_BIND_SERVICE"})
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Violation:
    rule: str
    """The control's name in the standard (e.g. "Host Namespaces")."""
    field: str
    """Where, as a path into the pod spec (``spec.containers[0].securityContext.privileged``)."""
    message: str


@dataclass(frozen=True)
class PodTemplate:
    """What the admission reads: the pod's metadata (annotations) and its spec."""

    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key in CONTAINER_LISTS:
        for i, c in enumerate(spec.get(key) or []):
            yield f"spec.{key}[{i}]", c


def _ctx(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    ctx = obj.get("securityContext")
    return ctx if isinstance(ctx, Mapping) else {}


def _contexts(pod: PodTemplate) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The pod's security context, then each container's."""
    yield "spec.securityContext", _ctx(pod.spec)
    for where, c in _containers(pod.spec):
        yield f"{where}.securityContext", _ctx(c)


def host_process(pod: PodTemplate) -> list[Violation]:
    return [
        Violation("HostProcess", f"{where}.windowsOptions.hostProcess", "must be false or unset")
        for where, ctx in _contexts(pod)
        if (ctx.get("windowsOptions") or {}).get("hostProcess") not in (None, False)
    ]


def host_namespaces(pod: PodTemplate) -> list[Violation]:
    return [
        Violation("Host Namespaces", f"spec.{key}", "must be false or unset")
        for key in ("hostNetwork", "hostPID", "hostIPC")
        if pod.spec.get(key) not in (None, False)
    ]


def privileged(pod: PodTemplate) -> list[Violation]:
    return [
        Violation("Privileged Containers", f"{where}.securityContext.privileged", "must be false or unset")
        for where, c in _containers(pod.spec)
        if _ctx(c).get("privileged") not in (None, False)
    ]


def capabilities(pod: PodTemplate) -> list[Violation]:
    """Restricted: drop ALL, add nothing but NET_BIND_SERVICE (ephemeral containers may
    leave drop unset, as the standard allows; they cannot add either)."""
    out = []
    for where, c in _containers(pod.spec):
        caps = _ctx(c).get("capabilities") or {}
        ephemeral = where.startswith("spec.ephemeralContainers")
        if "ALL" not in (caps.get("drop") or []) and not ephemeral:
            out.append(Violation("Capabilities", f"{where}.securityContext.capabilities.drop", "must include ALL"))
        extra = sorted(set(caps.get("add") or []) - ADDABLE_CAPS)
        if extra:
            out.append(
                Violation(
                    "Capabilities",
                    f"{where}.securityContext.capabilities.add",
                    f"only NET_BIND_SERVICE may be added, not {', '.join(map(str, extra))}",
                )
            )
    return out


def host_path_volumes(pod: PodTemplate) -> list[Violation]:
    return [
        Violation("HostPath Volumes", f"spec.volumes[{i}].hostPath", "must be unset")
        for i, v in enumerate(pod.spec.get("volumes") or [])
        if "hostPath" in v
    ]


def host_ports(pod: PodTemplate) -> list[Violation]:
    return [
        Violation("Host Ports", f"{where}.ports[{i}].hostPort", "must be unset or 0")
        for where, c in _containers(pod.spec)
        for i, port in enumerate(c.get("ports") or [])
        if port.get("hostPort") not in (None, 0)
    ]


def apparmor(pod: PodTemplate) -> list[Violation]:
    out = []
    for key, value in (pod.metadata.get("annotations") or {}).items():
        if key.startswith(APPARMOR_ANNOTATION) and not (value == "runtime/default" or value.startswith("localhost/")):
            out.append(Violation("AppArmor", f"metadata.annotations[{key}]", "must be runtime/default or localhost/*"))
    for where, ctx in _contexts(pod):
        kind = (ctx.get("appArmorProfile") or {}).get("type")
        if kind is not None and kind not in APPARMOR_TYPES:
            out.append(Violation("AppArmor", f"{where}.appArmorProfile.type", "must be RuntimeDefault or Localhost"))
    return out


def selinux(pod: PodTemplate) -> list[Violation]:
    out = []
    for where, ctx in _contexts(pod):
        opts = ctx.get("seLinuxOptions") or {}
        if opts.get("type", "") not in SELINUX_TYPES:
            out.append(Violation("SELinux", f"{where}.seLinuxOptions.type", "must be a container_*_t type or unset"))
        out += [
            Violation("SELinux", f"{where}.seLinuxOptions.{key}", "must be unset")
            for key in ("user", "role")
            if opts.get(key) not in (None, "")
        ]
    return out


def proc_mount(pod: PodTemplate) -> list[Violation]:
    return [
        Violation("/proc Mount Type", f"{where}.securityContext.procMount", "must be Default or unset")
        for where, c in _containers(pod.spec)
        if _ctx(c).get("procMount") not in (None, "Default")
    ]


def seccomp(pod: PodTemplate) -> list[Violation]:
    """Restricted: RuntimeDefault or Localhost on the pod, or on every container; a
    container may not override the pod's with Unconfined."""
    pod_type = (_ctx(pod.spec).get("seccompProfile") or {}).get("type")
    out = []
    if pod_type is not None and pod_type not in SECCOMP_TYPES:
        out.append(
            Violation("Seccomp", "spec.securityContext.seccompProfile.type", "must be RuntimeDefault or Localhost")
        )
    for where, c in _containers(pod.spec):
        kind = (_ctx(c).get("seccompProfile") or {}).get("type")
        if kind is None and pod_type is None:
            out.append(Violation("Seccomp", f"{where}.securityContext.seccompProfile", "must be set (or the pod's)"))
        elif kind is not None and kind not in SECCOMP_TYPES:
            out.append(
                Violation(
                    "Seccomp", f"{where}.securityContext.seccompProfile.type", "must be RuntimeDefault or Localhost"
                )
            )
    return out


def sysctls(pod: PodTemplate) -> list[Violation]:
    return [
        Violation("Sysctls", f"spec.securityContext.sysctls[{i}]", f"{s.get('name')!r} is not in the safe set")
        for i, s in enumerate(_ctx(pod.spec).get("sysctls") or [])
        if s.get("name") not in SAFE_SYSCTLS
    ]


def volume_types(pod: PodTemplate) -> list[Violation]:
    out = []
    for i, v in enumerate(pod.spec.get("volumes") or []):
        sources = sorted(k for k in v if k != "name")
        if len(sources) != 1 or sources[0] not in VOLUME_TYPES:
            out.append(
                Violation("Volume Types", f"spec.volumes[{i}]", f"{'/'.join(sources) or 'no source'} is not allowed")
            )
    return out


def privilege_escalation(pod: PodTemplate) -> list[Violation]:
    return [
        Violation("Privilege Escalation", f"{where}.securityContext.allowPrivilegeEscalation", "must be false")
        for where, c in _containers(pod.spec)
        if _ctx(c).get("allowPrivilegeEscalation") is not False
    ]


def run_as_non_root(pod: PodTemplate) -> list[Violation]:
    pod_value = _ctx(pod.spec).get("runAsNonRoot")
    out = []
    if pod_value is not None and pod_value is not True:
        out.append(Violation("Running as Non-root", "spec.securityContext.runAsNonRoot", "must be true or unset"))
    for where, c in _containers(pod.spec):
        value = _ctx(c).get("runAsNonRoot")
        if value is False or (value is None and pod_value is not True):
            out.append(
                Violation("Running as Non-root", f"{where}.securityContext.runAsNonRoot", "must be true (or the pod's)")
            )
    return out


def run_as_user(pod: PodTemplate) -> list[Violation]:
    return [
        Violation("Running as Non-root user", f"{where}.runAsUser", "must not be 0")
        for where, ctx in _contexts(pod)
        if ctx.get("runAsUser") == 0
    ]


RULES: dict[str, Callable[[PodTemplate], list[Violation]]] = {
    "HostProcess": host_process,
    "Host Namespaces": host_namespaces,
    "Privileged Containers": privileged,
    "Capabilities": capabilities,
    "HostPath Volumes": host_path_volumes,
    "Host Ports": host_ports,
    "AppArmor": apparmor,
    "SELinux": selinux,
    "/proc Mount Type": proc_mount,
    "Seccomp": seccomp,
    "Sysctls": sysctls,
    "Volume Types": volume_types,
    "Privilege Escalation": privilege_escalation,
    "Running as Non-root": run_as_non_root,
    "Running as Non-root user": run_as_user,
}
"""Every control of Baseline and Restricted, in the standard's order."""


def pod_template(doc: Mapping[str, Any]) -> PodTemplate | None:
    """The pod a manifest makes (a Pod, or the template of a Job, DaemonSet, Deployment,
    StatefulSet, ReplicaSet or CronJob); None for any other object."""
    kind = doc.get("kind")
    if kind == "Pod":
        return PodTemplate(doc.get("metadata") or {}, doc.get("spec") or {})
    spec = doc.get("spec") or {}
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    elif kind not in ("Job", "DaemonSet", "Deployment", "StatefulSet", "ReplicaSet"):
        return None
    template = spec.get("template") or {}
    return PodTemplate(template.get("metadata") or {}, template.get("spec") or {})


def check(doc: Mapping[str, Any]) -> list[Violation]:
    """Every violation of the restricted profile in one manifest (none for a non-pod object)."""
    pod = pod_template(doc)
    if pod is None:
        return []
    return [v for rule in RULES.values() for v in rule(pod)]
