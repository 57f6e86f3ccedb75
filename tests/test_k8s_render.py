"""``render k8s``: the manifests validate offline against the Kubernetes API schemas
(kubernetes-validate, strict: no unknown field), carry the profile's settings, and list every
setting Kubernetes cannot express. No API server is involved (none installs offline here)."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest
import yaml

from sandproof import plan, seccomp
from sandproof import profile as profiles
from sandproof.cli import main
from sandproof.render import k8s

K8S_VERSIONS = ("1.29.0", "1.32.0")
RUN_DATE = "2026-01-02"


def _render(kind: k8s.Kind = "job", name: str = "default") -> k8s.Manifests:
    return k8s.render(profiles.load(name), kind=kind, run_date=RUN_DATE)


def _container(m: k8s.Manifests) -> dict[str, Any]:
    spec = m.workload["spec"] if m.workload["kind"] == "Pod" else m.workload["spec"]["template"]["spec"]
    c: dict[str, Any] = spec["containers"][0]
    return c


def _pod_spec(m: k8s.Manifests) -> dict[str, Any]:
    w = m.workload
    spec: dict[str, Any] = w["spec"] if w["kind"] == "Pod" else w["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("kind", k8s.KINDS)
@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("name", ["default", "b4-prime-seed"])
def test_every_document_validates_against_the_kubernetes_schemas(kind: k8s.Kind, version: str, name: str) -> None:
    m = _render(kind, name)
    for doc in m.documents:
        kubernetes_validate.validate(doc, version, strict=True)  # raises on any error


@pytest.mark.parametrize("kind", k8s.KINDS)
def test_the_yaml_stream_parses_back_to_the_same_documents_and_json_is_a_v1_list(kind: k8s.Kind) -> None:
    m = _render(kind)
    docs = [d for d in yaml.safe_load_all(k8s.dumps_yaml(m)) if d is not None]
    assert docs == list(m.documents)
    listed = json.loads(k8s.dumps_json(m))
    assert listed["kind"] == "List"
    assert listed["items"] == list(m.documents)
    assert [d["kind"] for d in m.documents][:3] == ["ConfigMap", "ConfigMap", "NetworkPolicy"]
    assert m.workload["kind"] == {"job": "Job", "pod": "Pod", "daemonset": "DaemonSet"}[kind]


def test_the_node_seccomp_profile_is_the_very_bytes_seccomp_renders() -> None:
    p = profiles.load("default")
    m = _render()
    assert m.seccomp_text == seccomp.render(p)
    assert m.seccomp_sha256 == seccomp.sha256(p)
    carried = m.documents[0]["data"][p.seccomp.file_name].encode()
    assert carried == seccomp.render(p)
    assert m.documents[0]["metadata"]["annotations"]["sandproof.dev/seccomp-sha256"] == seccomp.sha256(p)
    ctx = _pod_spec(m)["securityContext"]
    assert ctx["seccompProfile"] == {"type": "Localhost", "localhostProfile": f"sandproof/{p.seccomp.file_name}"}


def test_the_pod_carries_the_profile() -> None:
    p = profiles.load("default")
    m = _render()
    spec, c = _pod_spec(m), _container(m)
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert (spec["hostNetwork"], spec["hostPID"], spec["hostIPC"]) == (False, False, False)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]) == (65532, 65532)
    ctx = c["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["privileged"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    # cpus 1.0 -> limit 1; cpu_shares 512 -> request 500m (shares = milliCPU * 1024 / 1000)
    assert c["resources"] == {"limits": {"cpu": "1", "memory": "256Mi"}, "requests": {"cpu": "500m", "memory": "256Mi"}}
    assert c["command"] == list(p.image.entrypoint)
    assert [*c["command"], *c["args"]] == plan.process_args(p, RUN_DATE, "kubernetes")
    assert c["args"] == [*plan.harness_args(p, RUN_DATE), "--stdout-bundle"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["tmpfs-tmp"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "16Mi"}
    assert volumes[k8s.OUT_VOLUME]["emptyDir"] == {"medium": "Memory", "sizeLimit": "16Mi"}
    mounts = {mnt["mountPath"]: mnt for mnt in c["volumeMounts"]}
    assert mounts["/in/packet.json"]["readOnly"] is True
    assert mounts["/in/sandproof-plan.json"]["readOnly"] is True
    assert mounts["/dev/mqueue"]["readOnly"] is True
    assert "readOnly" not in mounts["/out"]


def test_the_input_configmap_holds_the_kubernetes_plan() -> None:
    p = profiles.load("default")
    m = _render()
    data = m.documents[1]["data"]
    assert data[plan.PLAN_NAME].encode() == plan.compiled(p, "kubernetes").text
    assert json.loads(data[plan.PLAN_NAME])["runtime"] == "kubernetes"


def test_the_network_policy_denies_everything_to_the_harness_pods() -> None:
    m = _render()
    policy = m.documents[2]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy
    assert "egress" not in policy
    assert policy["podSelector"]["matchLabels"].items() <= m.workload["spec"]["template"]["metadata"]["labels"].items()


def test_the_daemonset_selects_its_own_template() -> None:
    ds = _render("daemonset").workload
    assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    assert ds["spec"]["template"]["spec"]["restartPolicy"] == "Always"


def test_every_setting_kubernetes_cannot_express_is_listed_once() -> None:
    p = profiles.load("default")
    m = _render()
    text = k8s.dumps_yaml(m)
    for name in p.resources.ulimits:
        assert sum(f"resources.ulimits.{name} =" in line for line in m.gaps) == 1
        assert f"# - resources.ulimits.{name} =" in text
    for needle in (
        "resources.pids",
        "network.mode = none",
        "ipc.mode = none",
        "filesystem.tmpfs /tmp",
        "KUBERNETES_SERVICE_HOST",
    ):
        assert any(needle in line for line in m.gaps), needle
    assert all("\n" not in line for line in m.gaps)


def test_cli_render_k8s_yaml_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "k8s", "--kind", "daemonset", "--run-date", RUN_DATE]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# sandproof: Kubernetes manifests")
    assert [d["kind"] for d in yaml.safe_load_all(out) if d][-1] == "DaemonSet"
    assert (
        main(["render", "k8s", "--format", "json", "--image-ref", "registry.example/sandproof@sha256:" + "0" * 64]) == 0
    )
    got = capsys.readouterr()
    listed = json.loads(got.out)
    assert listed["items"][-1]["spec"]["template"]["spec"]["containers"][0]["image"].startswith("registry.example/")
    assert "not expressible in Kubernetes: resources.ulimits.nofile = 1024" in got.err


def test_quantities() -> None:
    assert k8s.quantity(256 << 20) == "256Mi"
    assert k8s.quantity(1 << 30) == "1Gi"
    assert k8s.quantity(4096) == "4Ki"
    assert k8s.quantity(1000) == "1000"
    assert k8s.millicpu(1.0) == "1"
    assert k8s.millicpu(0.25) == "250m"
    assert k8s.shares_to_millicpu(1024) == 1000


def _with_resources(**changes: Any) -> profiles.Profile:
    import dataclasses  # noqa: PLC0415 - only here

    p = profiles.load("default")
    return dataclasses.replace(p, resources=dataclasses.replace(p.resources, **changes))


def test_qos_class_follows_the_rendered_requests_and_limits() -> None:
    """pkg/apis/core/v1/helper/qos: a request left out defaults to its limit."""
    assert k8s.qos_class({"limits": {"cpu": "1", "memory": "1Gi"}}) == "Guaranteed"
    assert k8s.qos_class({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}) == "Burstable"
    assert k8s.qos_class({"limits": {"memory": "1Gi"}}) == "Burstable"
    assert k8s.qos_class({}) == "BestEffort"


def test_the_kubernetes_plan_expects_the_kubelets_oom_score_adj_never_zero() -> None:
    """pkg/kubelet/qos/policy.go: Guaranteed -997, Burstable 3..999 (the node's memory decides)."""

    def oom(p: profiles.Profile) -> dict[str, Any]:
        rows = plan.build(p, "kubernetes")["probes"]
        return next(dict(r["expect"]) for r in rows if r["probe_id"] == "PR-CG-OOM")

    default = profiles.load("default")
    assert oom(default)["oom_score_adj_in"] == [3, 999]  # cpu request 500m, limit 1: Burstable
    assert "oom_score_adj" not in oom(default)
    assert any("Burstable" in g and "PR-CG-OOM" in g for g in k8s.render(default, run_date=RUN_DATE).gaps)
    guaranteed = _with_resources(cpu_shares=1024)  # request 1 = limit 1 for cpu, memory already equal
    assert oom(guaranteed) == {"oom_kill_disable": False, "oom_score_adj": -997}
    assert not any("Burstable" in g for g in k8s.render(guaranteed, run_date=RUN_DATE).gaps)
    docker = next(r["expect"] for r in plan.build(default, "docker")["probes"] if r["probe_id"] == "PR-CG-OOM")
    assert docker["oom_score_adj"] == 0


@pytest.mark.parametrize(
    ("adj", "verdict"),
    [("3", "PASS"), ("873", "PASS"), ("999", "PASS"), ("0", "FAIL"), ("-997", "FAIL"), ("1000", "FAIL")],
)
def test_the_oom_judge_takes_the_burstable_range(adj: str, verdict: str) -> None:
    from sandproof.inspector import judge  # noqa: PLC0415 - only here
    from sandproof.inspector.judges import limits  # noqa: PLC0415 - only here

    files = {limits.OOM_SCORE_ADJ: adj, limits.OOM_FILE: "oom_kill_disable 0\nunder_oom 0\n"}
    got = judge.judge("cg_oom", {"oom_kill_disable": False, "oom_score_adj_in": [3, 999]}, {"files": files})
    assert got.verdict == verdict, got.reason
    bad = judge.judge("cg_oom", {"oom_kill_disable": False, "oom_score_adj_in": [3]}, {"files": files})
    assert bad.verdict == "ERROR"
