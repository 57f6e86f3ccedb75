"""One harness run per node: the rendered DaemonSet applied through kubectl, one pod per
schedulable node waited for, each pod's first completed run's log collected, everything
applied deleted again.

The nodes expected are read from the cluster (``kubectl get nodes``), not from the pods that
happen to exist: a node whose pod was never created, never started or never finished is
still named, with what kubectl last said of its pod. A DaemonSet's pods restart after the
harness exits (apps/v1 requires restartPolicy Always), so the log read is the terminated
container's: the current one while it is terminated, else ``--previous``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandproof.errors import EngineError
from sandproof.render import k8s
from sandproof.runtime import k8s_pod
from sandproof.runtime.kubernetes import LOG_LIMIT_BYTES, POLL_S, Kubernetes

# the tolerations the DaemonSet controller adds to every daemon pod
# (pkg/controller/daemon/util/daemonset_util.go AddOrUpdateDaemonPodTolerations); network-
# unavailable only with hostNetwork, which the render never sets for the default profile
DAEMON_TOLERATED = frozenset(
    {
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    }
)


@dataclass(frozen=True)
class NodeRun:
    """What kubectl showed of one node's daemon pod."""

    node: str
    pod: Mapping[str, Any] | None
    """The pod as ``kubectl get pods -o json`` last listed it; None when none was created."""
    log: bytes = b""
    """The terminated harness container's log (empty when it never finished)."""
    terminated: Mapping[str, Any] | None = None
    """The container's ``terminated`` state the log belongs to."""
    previous: bool = False
    """The log is ``--previous``: the container had already been restarted."""


@dataclass(frozen=True)
class FleetRun:
    argv: list[str]
    """The kubectl apply command, as recorded in every node's evidence."""
    daemonset: dict[str, Any]
    """The DaemonSet as applied (the render, its name given a per-run suffix)."""
    nodes: tuple[NodeRun, ...]
    untolerated: dict[str, list[str]] = field(default_factory=dict)
    """Nodes left out, each with the taints its daemon pod does not tolerate."""
    timed_out: bool = False
    wall_s: float = 0.0


def schedulable(nodes: Mapping[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """The nodes a daemon pod with no tolerations of its own lands on, and the others with
    the taints that keep it off (effect NoSchedule or NoExecute, not among the controller's)."""
    ok: list[str] = []
    left: dict[str, list[str]] = {}
    for item in k8s_pod.items(nodes, "get nodes"):
        name = k8s_pod.checked_name(item, "node")
        taints = k8s_pod.obj(item, "spec").get("taints")
        blocking = [
            f"{t.get('key')}:{t.get('effect')}"
            for t in (taints if isinstance(taints, list) else [])
            if isinstance(t, dict)
            and t.get("effect") in ("NoSchedule", "NoExecute")
            and (t.get("key"), t.get("effect")) not in DAEMON_TOLERATED
        ]
        if blocking:
            left[name] = blocking
        else:
            ok.append(name)
    return sorted(ok), left


def _owned_by(pod: Mapping[str, Any], name: str) -> bool:
    refs = k8s_pod.obj(pod, "metadata").get("ownerReferences")
    return isinstance(refs, list) and any(
        isinstance(r, dict) and r.get("kind") == "DaemonSet" and r.get("name") == name for r in refs
    )


class Fleet:
    """The DaemonSet run of ``manifests`` through ``kube``'s kubectl (context, namespace)."""

    def __init__(self, kube: Kubernetes, progress: Callable[[str], None] = lambda _: None) -> None:
        self.kube = kube
        self.progress = progress

    def _json(self, *args: str) -> Mapping[str, Any]:
        return k8s_pod.answer(self.kube.call(*args, "--output=json"), " ".join(args))

    def run(self, manifests: k8s.Manifests, work: Path, timeout_s: float) -> FleetRun:
        ds = dict(manifests.workload)
        name = f"{ds['metadata']['name']}-{uuid.uuid4().hex[:6]}"
        ds["metadata"] = {**ds["metadata"], "name": name}
        path = work / "manifests.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*manifests.documents[:-1], ds]}))
        argv = self.kube.kubectl("apply", "--filename", str(path))
        expected, untolerated = schedulable(self._json("get", "nodes"))
        if not expected:
            raise EngineError("no node a daemon pod can be scheduled on: " + _tainted(untolerated))
        t0 = time.perf_counter()
        done = self.kube.call("apply", "--filename", str(path))
        if done.returncode != 0:
            raise EngineError(f"kubectl apply failed: {k8s_pod.last_line(done.stderr)}")
        try:
            pods, timed_out = self._wait(name, expected, ds, timeout_s)
            runs = tuple(self._collect(node, pods.get(node)) for node in expected)
        finally:  # everything applied: the DaemonSet (its pods with it), the ConfigMaps, the policy
            self.kube.call("delete", "--filename", str(path), "--ignore-not-found", "--wait=false")
        return FleetRun(argv, ds, runs, untolerated, timed_out, time.perf_counter() - t0)

    def _wait(
        self, name: str, expected: list[str], ds: Mapping[str, Any], timeout_s: float
    ) -> tuple[dict[str, Mapping[str, Any]], bool]:
        labels = ds["spec"]["selector"]["matchLabels"]
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        deadline = time.monotonic() + timeout_s
        pods: dict[str, Mapping[str, Any]] = {}
        shown = -1
        while True:
            for pod in k8s_pod.items(self._json("get", "pods", "--selector", selector), "get pods"):
                if _owned_by(pod, name) and k8s_pod.node_of(pod) in expected:
                    pods[k8s_pod.node_of(pod)] = pod
            done = [n for n in expected if n in pods and k8s_pod.finished(pods[n]) is not None]
            if len(done) != shown:
                shown = len(done)
                waiting = [n for n in expected if n not in done]
                self.progress(
                    f"fleet: {len(done)}/{len(expected)} nodes done"
                    + (f", waiting for {', '.join(waiting[:3])}{' ...' if len(waiting) > 3 else ''}" if waiting else "")
                )
            if len(done) == len(expected):
                return pods, False
            if time.monotonic() >= deadline:
                return pods, True
            time.sleep(POLL_S)

    def _collect(self, node: str, pod: Mapping[str, Any] | None) -> NodeRun:
        end = k8s_pod.finished(pod) if pod is not None else None
        if pod is None or end is None:
            return NodeRun(node, pod)
        state, previous = end
        args = [
            "logs",
            k8s_pod.checked_name(pod, "pod"),
            "--container",
            k8s.CONTAINER,
            *(["--previous"] if previous else []),
        ]
        got = self.kube.call(*args)
        log = got.stdout[:LOG_LIMIT_BYTES] if got.returncode == 0 else b""
        return NodeRun(node, pod, log, state, previous)


def pod_facts(run: NodeRun) -> dict[str, Any]:
    """One node's outside facts: its pod, the image the kubelet ran for it, how it ended."""
    facts = k8s_pod.facts(run.pod or {}, run.terminated)
    if run.terminated is not None:
        facts["log"] = "previous" if run.previous else "current"
    else:
        facts["not_finished"] = k8s_pod.waiting_reason(run.pod)
    return facts


def _tainted(untolerated: Mapping[str, list[str]]) -> str:
    if not untolerated:
        return "the cluster lists no nodes"
    return "; ".join(f"{n} ({', '.join(t)})" for n, t in sorted(untolerated.items()))
