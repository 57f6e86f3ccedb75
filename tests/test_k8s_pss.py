"""The Pod Security Standards' restricted profile (``k8s_pss``): one test per control, each
flagging a manifest that breaks it and passing the rendered one (kubernetes.io/docs/concepts/
security/pod-security-standards)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from sandproof import k8s_pss
from sandproof import profile as profiles
from sandproof.render import k8s

Edit = Callable[[dict[str, Any], dict[str, Any]], None]
"""Changes a rendered pod: (its metadata, its spec)."""


def _rendered(kind: k8s.Kind = "job") -> dict[str, Any]:
    return copy.deepcopy(k8s.render(profiles.load("default"), kind=kind, run_date="2026-01-02").workload)


def _pod(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if doc["kind"] == "Pod":
        return doc["metadata"], doc["spec"]
    return doc["spec"]["template"]["metadata"], doc["spec"]["template"]["spec"]


def _container(spec: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = spec["containers"][0]
    return c


def _set_ctx(**values: Any) -> Edit:
    def edit(_meta: dict[str, Any], spec: dict[str, Any]) -> None:
        _container(spec)["securityContext"].update(values)

    return edit


def _pod_ctx(**values: Any) -> Edit:
    def edit(_meta: dict[str, Any], spec: dict[str, Any]) -> None:
        spec["securityContext"].update(values)

    return edit


def _spec(**values: Any) -> Edit:
    def edit(_meta: dict[str, Any], spec: dict[str, Any]) -> None:
        spec.update(values)

    return edit


def _volume(volume: dict[str, Any]) -> Edit:
    def edit(_meta: dict[str, Any], spec: dict[str, Any]) -> None:
        spec["volumes"].append({"name": "extra", **volume})

    return edit


def _host_port(_meta: dict[str, Any], spec: dict[str, Any]) -> None:
    _container(spec)["ports"] = [{"containerPort": 80, "hostPort": 8080}]


def _apparmor_annotation(meta: dict[str, Any], _spec: dict[str, Any]) -> None:
    meta.setdefault("annotations", {})["container.apparmor.security.beta.kubernetes.io/harness"] = "unconfined"


def _no_drop(_meta: dict[str, Any], spec: dict[str, Any]) -> None:
    _container(spec)["securityContext"]["capabilities"] = {}


def _no_seccomp(_meta: dict[str, Any], spec: dict[str, Any]) -> None:
    del spec["securityContext"]["seccompProfile"]


def _no_escalation_field(_meta: dict[str, Any], spec: dict[str, Any]) -> None:
    del _container(spec)["securityContext"]["allowPrivilegeEscalation"]


def _no_nonroot_anywhere(_meta: dict[str, Any], spec: dict[str, Any]) -> None:
    del spec["securityContext"]["runAsNonRoot"]
    del _container(spec)["securityContext"]["runAsNonRoot"]


# control -> manifests that break it (each alone), as edits of the rendered pod
VIOLATIONS: dict[str, list[Edit]] = {
    "HostProcess": [_set_ctx(windowsOptions={"hostProcess": True})],
    "Host Namespaces": [_spec(hostNetwork=True), _spec(hostPID=True), _spec(hostIPC=True)],
    "Privileged Containers": [_set_ctx(privileged=True)],
    "Capabilities": [_no_drop, _set_ctx(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]})],
    "HostPath Volumes": [_volume({"hostPath": {"path": "/"}})],
    "Host Ports": [_host_port],
    "AppArmor": [_apparmor_annotation, _set_ctx(appArmorProfile={"type": "Unconfined"})],
    "SELinux": [_set_ctx(seLinuxOptions={"type": "spc_t"}), _pod_ctx(seLinuxOptions={"user": "system_u"})],
    "/proc Mount Type": [_set_ctx(procMount="Unmasked")],
    "Seccomp": [_pod_ctx(seccompProfile={"type": "Unconfined"}), _no_seccomp],
    "Sysctls": [_pod_ctx(sysctls=[{"name": "kernel.msgmax", "value": "1"}])],
    "Volume Types": [_volume({"nfs": {"server": "x", "path": "/"}}), _volume({"gitRepo": {"repository": "x"}})],
    "Privilege Escalation": [_set_ctx(allowPrivilegeEscalation=True), _no_escalation_field],
    "Running as Non-root": [_set_ctx(runAsNonRoot=False), _no_nonroot_anywhere],
    "Running as Non-root user": [_set_ctx(runAsUser=0), _pod_ctx(runAsUser=0)],
}


ALSO = {"HostPath Volumes": {"Volume Types"}}
"""A hostPath volume is not among Restricted's volume types either: both controls flag it."""


def test_every_control_has_violating_manifests() -> None:
    assert set(VIOLATIONS) == set(k8s_pss.RULES)


@pytest.mark.parametrize("kind", k8s.KINDS)
def test_the_rendered_manifests_hold_every_control(kind: k8s.Kind) -> None:
    assert k8s_pss.check(_rendered(kind)) == []
    for doc in k8s.render(profiles.load("default"), kind=kind, run_date="2026-01-02").documents:
        assert k8s_pss.check(doc) == []  # the ConfigMaps and the policy are no pods


@pytest.mark.parametrize(
    ("rule", "edit"),
    [(rule, edit) for rule, edits in VIOLATIONS.items() for edit in edits],
    ids=[f"{rule}-{i}" for rule, edits in VIOLATIONS.items() for i in range(len(edits))],
)
def test_each_control_flags_the_manifest_that_breaks_it(rule: str, edit: Edit) -> None:
    assert k8s_pss.RULES[rule](k8s_pss.PodTemplate(*_pod(_rendered()))) == []  # the rendered one passes
    for kind in k8s.KINDS:
        doc = _rendered(kind)
        edit(*_pod(doc))
        flagged = k8s_pss.check(doc)
        assert flagged, f"{rule}: nothing flagged in the {kind}"
        assert {v.rule for v in flagged} == {rule, *ALSO.get(rule, ())}, flagged  # that control alone


def test_the_safe_sysctls_pass_and_ephemeral_containers_count() -> None:
    doc = _rendered("pod")
    _pod_ctx(sysctls=[{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}])(*_pod(doc))
    assert k8s_pss.check(doc) == []
    doc["spec"]["ephemeralContainers"] = [{"name": "debug", "image": "x", "securityContext": {"privileged": True}}]
    rules = {v.rule for v in k8s_pss.check(doc)}
    assert "Privileged Containers" in rules
    assert "Privilege Escalation" in rules


def test_a_profile_that_breaks_the_standard_is_told_in_the_render() -> None:
    seed = profiles.load("b4-prime-seed")
    m = k8s.render(seed, run_date="2026-01-02")
    assert m.pss == tuple(f"{v.rule}: {v.field} {v.message}" for v in k8s_pss.check(m.workload))
    privileged = profiles.load("default")
    weak = dataclasses.replace(privileged, security=dataclasses.replace(privileged.security, privileged=True))
    m = k8s.render(weak, run_date="2026-01-02")
    assert any(line.startswith("Privileged Containers:") for line in m.pss)
    assert "# Pod Security Standards, restricted: " in k8s.dumps_yaml(m)
    assert k8s_pss.pod_template({"kind": "Service"}) is None
