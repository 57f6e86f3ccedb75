"""``attest --runtime kubernetes``. No cluster is reachable here or in CI, so:

- kubectl's invocation is tested against a fake ``kubectl`` on PATH that records its argv and
  replays a recorded pod log (``_fake_kubectl``);
- the sandbox itself is tested by running the rendered Job's container spec through runc, as a
  stand-in for a node (``tests/k8s_standin.py``): its FAILs must be exactly among those the
  render lists as inexpressible in Kubernetes, and everything the Pod does express must PASS.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from sandproof import attest, bundle, evidence, plan, seccomp
from sandproof import profile as profiles
from sandproof.cli import main
from sandproof.inspector.wire import STDOUT_MARKER
from sandproof.render import k8s
from sandproof.runtime import kubernetes
from sandproof.runtime.kubernetes import Kubernetes
from sandproof.verify import verify
from sandproof.workload import carried
from tests.conftest import asset_json
from tests.k8s_standin import StandIn

RUN_DATE = "2026-01-02"
DEFAULT = profiles.load("default")

FAKE = r'''#!PYTHON
"""A fake kubectl: records argv, answers from files in $FAKE_KUBECTL_DIR."""
import json, os, sys
d = os.environ["FAKE_KUBECTL_DIR"]
args = sys.argv[1:]
with open(os.path.join(d, "calls.jsonl"), "a") as f:
    f.write(json.dumps(args) + "\n")
while args and args[0].startswith("--"):  # --context X, --namespace Y
    args = args[2:]
verb = args[0] if args else ""
if os.path.exists(os.path.join(d, "nocluster")):
    if verb == "version":
        sys.stderr.write("The connection to the server localhost:8080 was refused\n")
        print(json.dumps({"clientVersion": {"gitVersion": "v1.32.4"}}))
        sys.exit(1)
if verb == "version":
    print(json.dumps({"clientVersion": {"gitVersion": "v1.32.4"}, "serverVersion": {"gitVersion": "v1.31.2"}}))
elif verb == "config":
    print("fake-context")
elif verb == "apply":
    path = args[args.index("--filename") + 1]
    with open(path) as src, open(os.path.join(d, "applied.json"), "w") as dst:
        dst.write(src.read())
    print("job.batch/x created")
elif verb == "get" and os.path.exists(os.path.join(d, "get.out")):  # a crafted answer, as given
    sys.stdout.write(open(os.path.join(d, "get.out")).read())
elif verb == "get":
    applied = json.load(open(os.path.join(d, "applied.json")))
    job = applied["items"][-1]["metadata"]["name"]
    print(json.dumps({"items": [{
        "metadata": {"name": job + "-abcde"},
        "spec": {"nodeName": "node-a"},
        "status": {"phase": "Succeeded", "containerStatuses": [{
            "name": "harness", "image": "registry.example/sandproof:default",
            "imageID": "registry.example/sandproof@sha256:" + "ab" * 32,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}]}))
elif verb == "logs":
    sys.stdout.buffer.write(open(os.path.join(d, "pod.log"), "rb").read())
elif verb == "delete":
    print("job.batch deleted")
'''


def _fake_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log: bytes, *, cluster: bool = True) -> Path:
    bin_dir, state = tmp_path / "bin", tmp_path / "kubectl-state"
    bin_dir.mkdir()
    state.mkdir()
    script = bin_dir / "kubectl"
    script.write_text(FAKE.replace("PYTHON", sys.executable, 1))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    (state / "pod.log").write_bytes(log)
    if not cluster:
        (state / "nocluster").write_text("")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KUBECTL_DIR", str(state))
    return state


def _calls(state: Path) -> list[list[str]]:
    return [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]


def _recorded_log() -> bytes:
    """A pod log as the harness writes it: its stderr and stdout lines, the bundle after the marker."""
    ev = asset_json("runc-default-pass.json")
    schema = json.loads((Path(evidence.__file__).parent / "schemas" / "inside-v1.json").read_text())
    inside = {k: ev[k] for k in schema["properties"] if k in ev}
    inside["schema"] = evidence.INSIDE_SCHEMA
    inside["profile"] = ev["profile"]["name"]  # the evidence's merge replaced the harness's own field
    inside["probes"] = [p for p in ev["probes"] if p["probe_id"] != "PR-DYNIMPORT"]  # added outside
    line = STDOUT_MARKER + json.dumps(inside, sort_keys=True)
    return b"some harness noise\n" + line.encode() + b'\n{"total": 43}\n'


def test_no_cluster_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_kubectl(tmp_path, monkeypatch, b"", cluster=False)
    code = main(["attest", "--runtime", "kubernetes", "--out", str(tmp_path / "out"), "--run-date", RUN_DATE])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        "sandproof: error: no Kubernetes cluster answers kubectl (its current context, or --context): "
        "kubectl version got no server"
    ]
    assert not (tmp_path / "out").exists()


def test_kubectl_is_driven_and_the_pod_log_is_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the fake kubectl: the Job applied is the render, the namespace and context go to
    every call, the bundle comes from the replayed pod log, the node and image digest are recorded."""
    state = _fake_kubectl(tmp_path, monkeypatch, _recorded_log())
    rt = Kubernetes(namespace="attest", context="ctx", image_ref="registry.example/sandproof:default")
    a = attest.attest(DEFAULT, runtime=rt, out=tmp_path / "out", run_date=RUN_DATE)
    calls = _calls(state)
    assert all(c[:4] == ["--context", "ctx", "--namespace", "attest"] for c in calls)
    verbs = [c[4] for c in calls]
    assert verbs[:2] == ["version", "config"]
    assert verbs[2:] == ["apply", "get", "logs", "delete"]
    applied = json.loads((state / "applied.json").read_text())
    kinds = [d["kind"] for d in applied["items"]]
    assert kinds == ["ConfigMap", "ConfigMap", "NetworkPolicy", "Job"]
    job = applied["items"][-1]
    assert re.fullmatch(r"sandproof-default-[0-9a-f]{6}", job["metadata"]["name"])
    plan_text = applied["items"][1]["data"][plan.PLAN_NAME].encode()
    assert plan_text == plan.compiled(DEFAULT, "kubernetes").text
    assert calls[-1][4:] == [
        "delete",
        "job",
        job["metadata"]["name"],
        "--cascade=background",
        "--wait=false",
        "--ignore-not-found",
    ]
    ev = json.loads(a.evidence_path.read_text())
    assert ev["runtime"] == "kubernetes"
    assert ev["node"] == "node-a"
    assert ev["bundle_channel"] == "stdout"
    assert ev["runtime_version"] == "kubernetes v1.31.2 (kubectl v1.32.4)"
    assert ev["kubernetes"]["image_id"].endswith("@sha256:" + "ab" * 32)
    assert ev["kubernetes"]["manifest"] == job
    assert ev["seccomp_sha256"] == seccomp.sha256(DEFAULT)
    checks = {c.name: c.verdict for c in a.report.checks}
    assert checks["rendered"] == "PASS"  # the applied Job is the profile's
    assert checks["bundle-written"] == "PASS"  # the log is Kubernetes' channel
    # the recorded bundle is a runc run's: its plan is not the kubernetes plan, so never a PASS
    assert a.report.verdict == "FAIL"


def test_the_applied_job_is_checked_against_the_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = _fake_kubectl(tmp_path, monkeypatch, _recorded_log())
    a = attest.attest(DEFAULT, runtime=Kubernetes(), out=tmp_path / "out", run_date=RUN_DATE)
    ev = json.loads(a.evidence_path.read_text())
    assert _calls(state)[2][0] == "apply"  # no --context/--namespace when not given
    ev["kubernetes"]["manifest"]["spec"]["template"]["spec"]["hostPID"] = True
    (tmp_path / "edited.json").write_text(json.dumps(ev))
    report = verify(bundle.from_mapping(ev, "edited.json"), DEFAULT, source="edited.json")
    assert {c.name: c.verdict for c in report.checks}["rendered"] == "FAIL"


def _terminated_pod(**over: Any) -> dict[str, Any]:
    status = {"name": "harness", "state": {"terminated": {"exitCode": 0}}}
    return {"metadata": {"name": "p-1"}, "status": {"containerStatuses": [status]}, **over}


@pytest.mark.parametrize(
    ("answer", "line"),
    [
        ("not json at all", "kubectl get pods: not JSON (Expecting value: line 1 column 1 (char 0))"),
        ("[1, 2]", "kubectl get pods: not a JSON object but list"),
        ('{"items": {"a": 1}}', "kubectl get pods: items is not a list of objects"),
        ('{"items": [1]}', "kubectl get pods: items is not a list of objects"),
        # a pod name kubectl would read as its own flag: never passed to `kubectl logs`
        (
            json.dumps({"items": [_terminated_pod(metadata={"name": "--kubeconfig=/tmp/x"})]}),
            "kubectl listed a pod whose name is not a Kubernetes name: '--kubeconfig=/tmp/x'",
        ),
        (
            json.dumps({"items": [_terminated_pod(metadata=["p-1"])]}),
            "kubectl listed a pod whose name is not a Kubernetes name: 'None'",
        ),
    ],
)
def test_a_malformed_kubectl_answer_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], answer: str, line: str
) -> None:
    state = _fake_kubectl(tmp_path, monkeypatch, _recorded_log())
    (state / "get.out").write_text(answer)
    code = main(["attest", "--runtime", "kubernetes", "--out", str(tmp_path / "out"), "--run-date", RUN_DATE])
    err = capsys.readouterr().err.splitlines()  # the progress lines, then the one error
    assert (code, [e for e in err if "error" in e]) == (2, [f"sandproof: error: {line}"])
    assert err[-1] == f"sandproof: error: {line}"
    assert _calls(state)[-1][:2] == ["delete", "job"]  # what was applied is still deleted


def test_ill_typed_pod_fields_are_recorded_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fields of the wrong shape read as absent: the run is recorded (a FAIL), never an internal error."""
    status = {"name": "harness", "image": {"x": 1}, "restartCount": "2", "state": {"terminated": {"exitCode": True}}}
    pod = {"metadata": {"name": "p-1"}, "spec": {"nodeName": ["n"]}, "status": {"phase": 7, "containerStatuses": [
        "junk", status]}}  # fmt: skip
    state = _fake_kubectl(tmp_path, monkeypatch, _recorded_log())
    (state / "get.out").write_text(json.dumps({"items": [pod]}))
    out = tmp_path / "out"
    assert main(["attest", "--runtime", "kubernetes", "--out", str(out), "--run-date", RUN_DATE]) == 1
    assert "internal error" not in capsys.readouterr().err
    ev = json.loads(next(out.glob("sandbox-attestation-evidence-*.json")).read_text())
    facts = ev["kubernetes"]
    assert (ev["node"], facts["image"], facts["phase"], facts["restart_count"], facts["exit_code"]) == (
        "",
        None,
        None,
        None,
        None,
    )
    assert ev["container_exit"] == 125  # no exit code kubectl gave is taken for one


def test_a_job_pod_that_never_terminates_times_out_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pod = {"metadata": {"name": "p-1"}, "status": {"containerStatuses": {"harness": "running"}}}
    state = _fake_kubectl(tmp_path, monkeypatch, _recorded_log())
    (state / "get.out").write_text(json.dumps({"items": [pod]}))
    monkeypatch.setattr(kubernetes, "POLL_S", 0.01)
    out = tmp_path / "out"
    argv = ["attest", "--runtime", "kubernetes", "--timeout", "0.05", "--out", str(out), "--run-date", RUN_DATE]
    assert main(argv) == 1
    assert "internal error" not in capsys.readouterr().err
    ev = json.loads(next(out.glob("sandbox-attestation-evidence-*.json")).read_text())
    assert ev["host"]["timed_out"] is True


def _failing(ev: dict[str, Any]) -> dict[str, str]:
    return {p["probe_id"]: p["reason"] for p in ev["probes"] if p["verdict"] != "PASS"}


@pytest.mark.engine
def test_standin_runc_runs_the_jobs_container_spec_and_fails_only_what_kubernetes_cannot_express(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STAND-IN, not a cluster: the rendered Job's container spec, translated to the OCI config
    containerd's CRI would give runc (kubelet files and variables written in), run by runc."""
    rt = StandIn()
    attest.attest(DEFAULT, runtime=rt, out=tmp_path / "warm", run_date=RUN_DATE)  # the verifier's cache
    real, built = plan.build, []

    def counting(*args: Any) -> dict[str, Any]:
        built.append(args[1])
        return real(*args)

    monkeypatch.setattr(plan, "build", counting)
    a = attest.attest(DEFAULT, runtime=rt, out=tmp_path / "out", run_date=RUN_DATE)
    assert built == ["kubernetes"]  # one plan per attest: the ConfigMap's is the one judged by
    ev = json.loads(a.evidence_path.read_text())
    m = rt.last_manifests
    assert m is not None
    assert rt.last_config is not None
    # the node's seccomp profile: the very bytes rendered, loaded as the kubelet loads it
    assert rt.last_config["linux"]["seccomp"] == json.loads(seccomp.render(DEFAULT))
    assert ev["seccomp_sha256"] == m.seccomp_sha256 == seccomp.sha256(DEFAULT)
    assert ev["bundle_channel"] == "stdout"
    failing = _failing(ev)
    predicted = {pid for line in m.gaps for pid in re.findall(r"PR-[A-Z0-9-]+", line)}
    assert set(failing) <= predicted, {k: v for k, v in failing.items() if k not in predicted}
    expressed = (
        "PR-ID-1",
        "PR-CAP-1",
        "PR-NNP-1",
        "PR-SECCOMP-1",
        "PR-SECCOMP-SWEEP",
        "PR-EXEC-1",
        "PR-NET-1",
        "PR-SOCK-1",
        "PR-PTRACE-1",
        "PR-FS-ESC-1",
        "PR-FS-ESC-2",
        "PR-FS-RO-IN",
        "PR-IN-1",
        "PR-FS-OUT-OK",
        "PR-ENV-1",
        "PR-KPATH-1",
        "PR-USERNS-1",
        "PR-CG-CPU",
        "PR-CG-SHARES",
        "PR-NS-PID",
        "PR-NS-IPC",
        "PR-NS-UTS",
        "PR-INTEGRITY-1",
        "PR-FD-1",
        "PR-SYSCTL-1",
    )
    assert not [pid for pid in expressed if pid in failing]
    checks = {c.name: c.verdict for c in a.report.checks}
    assert checks["rendered"] == checks["bundle-written"] == checks["exit-code"] == "PASS"


@pytest.mark.engine
def test_standin_pod_log_replayed_through_kubectl_gives_the_same_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STAND-IN: the runc stand-in's stdout is the pod log the fake kubectl replays."""
    rt = StandIn()
    first = attest.attest(DEFAULT, runtime=rt, out=tmp_path / "a", run_date=RUN_DATE)
    ev = json.loads(first.evidence_path.read_text())
    inside = json.loads((tmp_path / "a" / "sandbox-attestation-inside.json").read_text())
    log = b"noise\n" + (STDOUT_MARKER + json.dumps(inside, sort_keys=True)).encode() + b"\n"
    _fake_kubectl(tmp_path, monkeypatch, log)
    second = attest.attest(DEFAULT, runtime=Kubernetes(), out=tmp_path / "b", run_date=RUN_DATE)
    ev2 = json.loads(second.evidence_path.read_text())
    assert _failing(ev2) == _failing(ev)
    assert ev2["node"] == "node-a"
    assert k8s.name_of(DEFAULT) in ev2["kubernetes"]["job"]


def test_kubernetes_cannot_carry_the_harness_into_a_users_image() -> None:
    assert "kubernetes" not in carried.MOUNT_FLAGS
    with pytest.raises(ValueError, match="cannot carry"):
        plan.build(DEFAULT, "kubernetes", workload=object())  # type: ignore[arg-type]
