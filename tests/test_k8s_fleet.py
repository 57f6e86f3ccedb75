"""``attest --runtime kubernetes --kind daemonset``: one pod per schedulable node, one evidence
file per node. No cluster is reachable here or in CI: a fake ``kubectl`` on PATH lists the
nodes and the DaemonSet's pods and replays each pod's log. The logs of the engine test are
made by the runc stand-in for a node (``tests/k8s_standin.py``): NOT a cluster.
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

from sandproof import attest, evidence, fleet, nodename
from sandproof import profile as profiles
from sandproof.cli import main
from sandproof.errors import ProfileError
from sandproof.inspector.wire import STDOUT_MARKER
from sandproof.runtime import k8s_fleet, k8s_pod
from sandproof.runtime.interface import Mutation
from sandproof.runtime.kubernetes import Kubernetes
from tests.k8s_standin import StandIn
from tests.test_k8s_runtime import RUN_DATE, _recorded_log

DEFAULT = profiles.load("default")
DIGEST = "sha256:" + "cd" * 32

FAKE = r'''#!PYTHON
"""A fake kubectl for a DaemonSet: records argv, lists nodes and pods from $FAKE_KUBECTL_DIR."""
import json, os, sys
d = os.environ["FAKE_KUBECTL_DIR"]
args = sys.argv[1:]
with open(os.path.join(d, "calls.jsonl"), "a") as f:
    f.write(json.dumps(args) + "\n")
while args and args[0].startswith("--"):
    args = args[2:]
verb = args[0] if args else ""
if verb == "version":
    print(json.dumps({"clientVersion": {"gitVersion": "v1.32.4"}, "serverVersion": {"gitVersion": "v1.31.2"}}))
elif verb == "config":
    print("fake-context")
elif verb == "apply":
    path = args[args.index("--filename") + 1]
    with open(path) as src, open(os.path.join(d, "applied.json"), "w") as dst:
        dst.write(src.read())
    print("daemonset.apps/x created")
elif verb == "get" and args[1] == "nodes":
    print(open(os.path.join(d, "nodes.json")).read())
elif verb == "get" and args[1] == "pods":
    ds = json.load(open(os.path.join(d, "applied.json")))["items"][-1]["metadata"]["name"]
    if os.path.exists(os.path.join(d, "pods.raw")):  # a crafted answer, the DaemonSet's name put in
        print(open(os.path.join(d, "pods.raw")).read().replace("DSNAME", ds))
        sys.exit(0)
    pods = json.load(open(os.path.join(d, "pods.json")))
    for p in pods:
        p["metadata"]["ownerReferences"] = [{"kind": "DaemonSet", "name": ds}]
    print(json.dumps({"items": pods}))
elif verb == "logs":
    name = "previous" if "--previous" in args else "current"
    path = os.path.join(d, f"{args[1]}.{name}.log")
    if not os.path.exists(path):
        sys.stderr.write("Error from server (BadRequest): previous terminated container not found\n")
        sys.exit(1)
    sys.stdout.buffer.write(open(path, "rb").read())
elif verb == "delete":
    print("deleted")
'''


def _pod(name: str, node: str, state: dict[str, Any], last: dict[str, Any] | None = None) -> dict[str, Any]:
    status = {
        "name": "harness",
        "image": "registry.example/sandproof:default",
        "imageID": f"registry.example/sandproof@{DIGEST}",
        "restartCount": 1 if last else 0,
        "state": state,
        **({"lastState": last} if last else {}),
    }
    return {
        "metadata": {"name": name},
        "spec": {"nodeName": node},
        "status": {"phase": "Running", "containerStatuses": [status]},
    }


def _node(name: str, *taints: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"taints": list(taints)}}


def _nodes() -> dict[str, Any]:
    return {
        "items": [
            _node("node-a"),
            _node("node-b", {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}),  # cordoned
            _node("node-c"),
            _node("cp-1", {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}),
        ]
    }


def fake_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pass_log: bytes, weak_log: bytes) -> Path:
    """node-a: finished, its log current; node-b: finished and restarted, its log --previous;
    node-c: its pod never got past ContainerCreating; cp-1: tainted, no pod."""
    bin_dir, state = tmp_path / "bin", tmp_path / "kubectl-state"
    bin_dir.mkdir()
    state.mkdir()
    script = bin_dir / "kubectl"
    script.write_text(FAKE.replace("PYTHON", sys.executable, 1))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    done = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    pods = [
        _pod("ds-aaaaa", "node-a", done),
        _pod("ds-bbbbb", "node-b", {"running": {}}, {"terminated": {"exitCode": 1, "reason": "Error"}}),
        _pod("ds-ccccc", "node-c", {"waiting": {"reason": "ContainerCreating"}}),
    ]
    (state / "pods.json").write_text(json.dumps(pods))
    (state / "nodes.json").write_text(json.dumps(_nodes()))
    (state / "ds-aaaaa.current.log").write_bytes(pass_log)
    (state / "ds-bbbbb.previous.log").write_bytes(weak_log)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KUBECTL_DIR", str(state))
    monkeypatch.setattr(k8s_fleet, "POLL_S", 0.01)
    return state


def _calls(state: Path) -> list[list[str]]:
    return [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]


def _fleet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], Path]:
    out = tmp_path / "out"
    argv = ["attest", "--runtime", "kubernetes", "--kind", "daemonset", "--timeout", "1"]
    code = main([*argv, "--out", str(out), "--run-date", RUN_DATE])
    return code, capsys.readouterr().out.splitlines(), out


def _evidence(out: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in out.glob("sandbox-attestation-evidence-*.json"):
        ev = json.loads(path.read_text())
        assert path.name == evidence.file_name(ev["venue"], RUN_DATE, ev["node"])
        found[ev["node"]] = ev
    return found


def test_one_evidence_file_per_node_and_the_unfinished_node_fails_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """kubectl driven for a DaemonSet: nodes listed, pods waited for (a timeout for node-c),
    logs read (node-b's --previous), everything applied deleted; one file per node."""
    state = fake_fleet(tmp_path, monkeypatch, _recorded_log(), _recorded_log())
    code, lines, out = _fleet(tmp_path, capsys)
    assert code == 1
    evs = _evidence(out)
    assert set(evs) == {"node-a", "node-b", "node-c"}  # cp-1's taint keeps the daemon pod off
    venue = evs["node-a"]["venue"]
    assert sorted(p.name for p in out.iterdir()) == [
        "report.md",
        *(f"sandbox-attestation-evidence-{venue}-{RUN_DATE}-node-{n}.json" for n in ("node-a", "node-b", "node-c")),
    ]
    verbs = [c[0] if not c[0].startswith("--") else c[2] for c in _calls(state)]
    assert verbs[:4] == ["version", "config", "get", "apply"]
    applied = json.loads((state / "applied.json").read_text())
    assert [d["kind"] for d in applied["items"]] == ["ConfigMap", "ConfigMap", "NetworkPolicy", "DaemonSet"]
    logs = [c for c in _calls(state) if c[0] == "logs"]
    assert logs == [
        ["logs", "ds-aaaaa", "--container", "harness"],
        ["logs", "ds-bbbbb", "--container", "harness", "--previous"],
    ]
    assert _calls(state)[-1][0] == "delete"
    assert "--filename" in _calls(state)[-1]
    a, b, c = evs["node-a"], evs["node-b"], evs["node-c"]
    assert a["kubernetes"]["image_id"] == f"registry.example/sandproof@{DIGEST}"
    assert a["kubernetes"]["daemonset"] == applied["items"][-1]["metadata"]["name"]
    assert a["kubernetes"]["manifest"] == applied["items"][-1]
    assert a["container_started"]
    assert b["container_started"]
    assert b["container_exit"] == 1
    assert not c["container_started"]
    assert c["kubernetes"]["not_finished"] == "ContainerCreating"
    assert c["host"]["timed_out"] is True
    assert "node node-c: FAIL (ContainerCreating)" in lines
    assert any(
        line.startswith("node cp-1: not attested (taints node-role.kubernetes.io/control-plane") for line in lines
    )
    assert lines[-2] == "fleet: 0/3 nodes PASS: FAIL"
    # report.md names it too (review 13: only stdout did)
    report = (out / "report.md").read_text()
    assert "| | | | cp-1 | not attested: taints node-role.kubernetes.io/control-plane" in report


def test_verify_over_the_fleets_directory_reads_every_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_fleet(tmp_path, monkeypatch, _recorded_log(), b"no bundle in this log\n")
    code, lines, out = _fleet(tmp_path, capsys)
    assert code == 1
    assert "node node-b: FAIL (the pod's log holds no bundle line)" in lines
    assert main(["verify", str(out), "--format", "json"]) == 1
    reports = json.loads(capsys.readouterr().out)
    sources = sorted(str(r["source"]) for r in reports["bundles"])
    assert [re.sub(r".*?-node-", "", s) for s in sources] == ["node-a.json", "node-b.json", "node-c.json"]


@pytest.mark.long
def test_a_second_run_replaces_the_fleets_own_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_fleet(tmp_path, monkeypatch, _recorded_log(), _recorded_log())
    _fleet(tmp_path, capsys)
    (tmp_path / "out" / f"sandbox-attestation-evidence-local-{RUN_DATE}-node-gone.json").write_text("{}")
    _fleet(tmp_path, capsys)  # no --force needed: every file there is attest's own
    assert not (tmp_path / "out" / f"sandbox-attestation-evidence-local-{RUN_DATE}-node-gone.json").exists()


OWNED = {"ownerReferences": [{"kind": "DaemonSet", "name": "DSNAME"}]}


NAMELESS = "kubectl listed a node whose name is not a Kubernetes name: 'None'"
HOSTILE_POD = {"metadata": {**OWNED, "name": "--previous"}, "status": _pod("x", "n", {"terminated": {}})["status"]}


@pytest.mark.parametrize(
    ("crafted", "line"),
    [
        ({"nodes.json": '{"items": [{"metadata": "node-a"}]}'}, NAMELESS),
        ({"nodes.json": '{"items": "node-a"}'}, "kubectl get nodes: items is not a list of objects"),
        ({"nodes.json": "[]"}, "kubectl get nodes: not a JSON object but list"),
        ({"pods.raw": '{"items": [7]}'}, "kubectl get pods: items is not a list of objects"),
        (  # a pod name kubectl would read as its own flag: never passed to `kubectl logs`
            {"pods.raw": json.dumps({"items": [{**HOSTILE_POD, "spec": {"nodeName": "node-a"}}]})},
            "kubectl listed a pod whose name is not a Kubernetes name: '--previous'",
        ),
    ],
)
def test_a_malformed_kubectl_answer_stops_the_fleet_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    crafted: dict[str, str],
    line: str,
) -> None:
    state = fake_fleet(tmp_path, monkeypatch, _recorded_log(), _recorded_log())
    for name, text in crafted.items():
        (state / name).write_text(text)
    argv = ["attest", "--runtime", "kubernetes", "--kind", "daemonset", "--timeout", "1"]
    code = main([*argv, "--out", str(tmp_path / "out"), "--run-date", RUN_DATE])
    err = capsys.readouterr().err.splitlines()
    assert (code, [e for e in err if "error" in e]) == (2, [f"sandproof: error: {line}"])


def test_ill_shaped_pod_fields_leave_the_node_unfinished_not_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An affinity, owner list or status of the wrong shape reads as absent: node-a is named unfinished."""
    state = fake_fleet(tmp_path, monkeypatch, _recorded_log(), _recorded_log())
    junk = [
        {"metadata": {**OWNED, "name": "ds-1"}, "spec": {"affinity": {"nodeAffinity": ["node-a"]}}},
        {"metadata": {"ownerReferences": "DSNAME", "name": "ds-2"}, "spec": {"nodeName": "node-a"}},
        {"metadata": {**OWNED, "name": "ds-3"}, "spec": {"nodeName": "node-a"}, "status": {"containerStatuses": [
            {"name": "harness", "state": {"waiting": ["x"]}, "lastState": "terminated"}]}},
    ]  # fmt: skip
    (state / "pods.raw").write_text(json.dumps({"items": junk}))
    code, lines, out = _fleet(tmp_path, capsys)
    assert code == 1
    assert "node node-a: FAIL (pod phase unknown)" in lines
    assert _evidence(out)["node-a"]["kubernetes"]["pod"] == "ds-3"


def test_kind_daemonset_needs_kubernetes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attest", "--runtime", "runc", "--kind", "daemonset"]) == 2
    assert "only with --runtime kubernetes" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("node", "safe"),
    [
        ("node-a", "node-a"),
        ("ip-10-0-0-1.ec2.internal", "ip-10-0-0-1.ec2.internal"),
        ("../../etc/passwd", "etc_passwd-"),
        ("Node/A", "node_a-"),
        ("", "-"),
    ],
)
def test_node_names_become_safe_file_names(node: str, safe: str) -> None:
    got = nodename.safe_name(node)
    assert got.startswith(safe)
    assert re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,62}|-[0-9a-f]{8}", got)
    assert got == node or re.search(r"-[0-9a-f]{8}$", got)


def test_only_the_controllers_tolerations_let_a_daemon_pod_on() -> None:
    ok, left = k8s_fleet.schedulable(_nodes())
    assert ok == ["node-a", "node-b", "node-c"]
    assert left == {"cp-1": ["node-role.kubernetes.io/control-plane:NoSchedule"]}


def test_an_unbound_daemon_pod_names_its_node_by_affinity() -> None:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-z"]}]}
    pod = {"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [term]}}}}}  # fmt: skip
    assert k8s_pod.node_of(pod) == "node-z"
    assert k8s_pod.waiting_reason(None) == "no pod was created for this node"


def _pod_log(out: Path) -> bytes:
    inside = json.loads((out / "sandbox-attestation-inside.json").read_text())
    return b"noise\n" + (STDOUT_MARKER + json.dumps(inside, sort_keys=True)).encode() + b"\n"


def _failing(ev: dict[str, Any]) -> set[str]:
    return {p["probe_id"] for p in ev["probes"] if p["verdict"] != "PASS"}


@pytest.mark.engine
def test_standin_logs_three_nodes_each_judged_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """STAND-IN, not a cluster: node-a's log is the runc stand-in's run of the DaemonSet's pod
    spec, node-b's the same with a writable root, node-c's pod never started."""
    rt = StandIn()
    attest.attest(DEFAULT, runtime=rt, out=tmp_path / "a", run_date=RUN_DATE)
    weak = Mutation(oci=lambda cfg: cfg["root"].update(readonly=False))
    attest.attest(DEFAULT, runtime=rt, out=tmp_path / "b", run_date=RUN_DATE, mutation=weak)
    m = rt.last_manifests
    assert m is not None
    predicted = {pid for line in m.gaps for pid in re.findall(r"PR-[A-Z0-9-]+", line)}
    fake_fleet(tmp_path, monkeypatch, _pod_log(tmp_path / "a"), _pod_log(tmp_path / "b"))
    code, lines, out = _fleet(tmp_path, capsys)
    assert code == 1
    evs = _evidence(out)
    a, b, c = (_failing(evs[n]) for n in ("node-a", "node-b", "node-c"))
    # node-a: only what a Pod cannot express (the render's gap lines) FAILs, nothing else
    assert a
    assert a <= predicted
    # node-b: the writable root is caught, on that node alone
    assert {"PR-FS-ESC-1", "PR-FS-ESC-2"} <= b - a
    assert not c  # no probes at all: no bundle
    assert evs["node-c"]["container_started"] is False
    for node in ("node-a", "node-b", "node-c"):
        assert any(line.startswith(f"node {node}: FAIL") for line in lines)


def test_the_clusters_image_is_compared_with_the_evidences_like_with_like(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An image ID the kubelet reports must be the evidence's; a repo digest (a registry
    manifest's) cannot be matched with an image ID offline: UNVERIFIED, never PASS."""
    from sandproof import bundle  # noqa: PLC0415 - only here
    from sandproof.verify import verify  # noqa: PLC0415 - only here

    fake_fleet(tmp_path, monkeypatch, _recorded_log(), _recorded_log())
    _fleet(tmp_path, capsys)
    ev = _evidence(tmp_path / "out")["node-a"]
    ours = ev["image_digest"]

    def cluster_image(image_id: str) -> tuple[str, str]:
        ev["kubernetes"]["image_id"] = image_id
        report = verify(bundle.from_mapping(ev, "e.json"), DEFAULT, source="e.json")
        c = next(c for c in report.checks if c.name == "cluster-image")
        return c.verdict, c.reason

    assert cluster_image(f"registry.example/sandproof@{DIGEST}")[0] == "UNVERIFIED"
    assert cluster_image(ours) == ("PASS", f"the node ran image {ours}, the one the evidence names")
    assert cluster_image(f"docker://{ours}")[0] == "PASS"
    other = "sha256:" + "ee" * 32
    assert cluster_image(other) == ("FAIL", f"the node ran image {other}, the evidence names {ours}")
    # review: deleting the kubelet's report turned the check off (no check, so nothing kept a PASS back)
    del ev["kubernetes"]["image_id"]
    report = verify(bundle.from_mapping(ev, "e.json"), DEFAULT, source="e.json")
    assert next(c for c in report.checks if c.name == "cluster-image").verdict == "UNVERIFIED"


class _Refusing(Kubernetes):
    """A cluster whose runtime cannot express the profile (as podman rootless refuses some)."""

    def check(self, profile: profiles.Profile) -> None:
        raise ProfileError(f"profile {profile.name}: this cluster cannot express it")


def test_a_fleet_refuses_what_a_single_attest_refuses_in_the_same_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = fake_fleet(tmp_path, monkeypatch, _recorded_log(), _recorded_log())
    with pytest.raises(ProfileError) as single:
        attest.attest(DEFAULT, runtime=_Refusing(), out=tmp_path / "one", run_date=RUN_DATE)
    with pytest.raises(ProfileError) as many:
        fleet.attest_fleet(DEFAULT, runtime=_Refusing(), out=tmp_path / "many", run_date=RUN_DATE)
    assert many.value.message == single.value.message == "profile default: this cluster cannot express it"
    assert not (tmp_path / "many").exists()
    assert "apply" not in [c[0] for c in _calls(state) if c]  # refused before anything ran


@pytest.mark.parametrize("node", ["node-b", "a.b", "NODE_x", "-node-x", "n" * 80, "é", "node-2026-11-28-node-x"])
def test_a_fleet_file_name_gives_back_its_nodes_part(node: str) -> None:
    """``verify`` of many bundles holds a file named for a node to that node's evidence."""
    assert nodename.named_for(evidence.file_name("local", "2026-11-28", node)) == nodename.safe_name(node)
