"""Kubernetes through ``kubectl`` against a cluster the user has (its current context, or
``--context``; ``--namespace``): the harness runs as the Job ``render/k8s.py`` renders, its
inside bundle is read from the pod's log (the harness prints it after ``STDOUT_MARKER``), and
the outside facts are what kubectl reports: the node, the image digest the kubelet ran, the
server's version.

The image is the cluster's to pull (``--image-ref``, default the profile's image name): the
local build is not pushed anywhere. The node's seccomp profile must be installed beforehand
(``render k8s`` says where); a pod whose profile is missing never starts, and attest says so.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandproof import plan
from sandproof.capture import Captured
from sandproof.errors import EngineError
from sandproof.image import Image
from sandproof.render import k8s
from sandproof.runtime import k8s_pod
from sandproof.runtime.interface import RunRequest, RunResult, Runtime

KUBECTL_TIMEOUT_S = 30
POLL_S = 1.0
LOG_LIMIT_BYTES = 64 << 20


@dataclass(frozen=True)
class Cluster:
    """What kubectl says of the cluster before anything runs."""

    server_version: str
    client_version: str
    context: str


class Kubernetes(Runtime):
    name = "kubernetes"

    def __init__(
        self,
        binary: str = "kubectl",
        *,
        namespace: str | None = None,
        context: str | None = None,
        image_ref: str | None = None,
    ) -> None:
        self.binary = binary
        self.namespace = namespace
        self.context = context
        self.image_ref = image_ref
        self._cluster: Cluster | None = None
        self._asked = False

    def kubectl(self, *args: str) -> list[str]:
        argv = [self.binary]
        if self.context:
            argv += ["--context", self.context]
        if self.namespace:
            argv += ["--namespace", self.namespace]
        return [*argv, *args]

    def _call(self, *args: str, timeout: float = KUBECTL_TIMEOUT_S) -> subprocess.CompletedProcess[bytes]:
        return self.call(*args, timeout=timeout)

    def call(self, *args: str, timeout: float = KUBECTL_TIMEOUT_S) -> subprocess.CompletedProcess[bytes]:
        """kubectl with the context and namespace; an OSError or timeout is an EngineError."""
        try:
            return subprocess.run(self.kubectl(*args), capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EngineError(f"kubectl {args[0]}: {exc}") from exc

    def cluster(self) -> Cluster | None:
        """The server's and kubectl's versions, or None when no cluster answers (asked once)."""
        if not self._asked:
            self._asked = True
            self._cluster = self._ask()
        return self._cluster

    def _ask(self) -> Cluster | None:
        try:
            got = self._call("version", "--output=json", "--request-timeout=10s", timeout=20)
            info = json.loads(got.stdout or b"{}")
        except (EngineError, ValueError):
            return None
        server = info.get("serverVersion") if isinstance(info, dict) else None
        if got.returncode != 0 or not isinstance(server, dict):
            return None
        client = info.get("clientVersion") or {}
        context = self._call("config", "current-context")
        return Cluster(
            str(server.get("gitVersion", "?")),
            str(client.get("gitVersion", "?")) if isinstance(client, dict) else "?",
            self.context or context.stdout.decode(errors="replace").strip(),
        )

    def available(self) -> bool:
        return self.cluster() is not None

    def version(self) -> str:
        c = self.cluster()
        if c is None:
            raise EngineError(no_cluster(self.binary))
        return f"kubernetes {c.server_version} (kubectl {c.client_version})"

    def prepare(self, image: Image) -> None:
        """Nothing here: the nodes pull ``image_ref`` themselves."""

    def run(self, request: RunRequest) -> RunResult:
        p = request.profile
        manifests = k8s.render(
            p,
            kind="job",
            run_date=request.run_date,
            image=self.image_ref,
            plan_text=(request.in_dir / plan.PLAN_NAME).read_bytes(),
        )
        job = dict(manifests.workload)
        name = f"{job['metadata']['name']}-{uuid.uuid4().hex[:6]}"
        job["metadata"] = {**job["metadata"], "name": name}
        path = request.work_dir / "manifests.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*manifests.documents[:-1], job]}))
        applied = self.kubectl("apply", "--filename", str(path))
        t0 = time.perf_counter()
        done = self._call("apply", "--filename", str(path))
        if done.returncode != 0:
            raise EngineError(f"kubectl apply failed: {k8s_pod.last_line(done.stderr)}")
        if request.started is not None:
            request.started()
        try:
            pod, timed_out = self._wait(name, request.timeout_s)
            log = self._logs(pod) if pod else b""
        finally:
            self._call("delete", "job", name, "--cascade=background", "--wait=false", "--ignore-not-found")
        wall = time.perf_counter() - t0
        facts = _pod_facts(pod)
        c = self.cluster()
        details: dict[str, Any] = {
            "node": facts.pop("node", ""),
            "kubernetes": {
                "server_version": c.server_version if c else "?",
                "context": c.context if c else "?",
                "namespace": self.namespace or "(the context's)",
                "job": name,
                "manifest": job,
                **facts,
            },
        }
        ended = facts.get("exit_code")
        code = 124 if timed_out else ended if isinstance(ended, int) else 125
        stdout = Captured(log[:LOG_LIMIT_BYTES], b"", len(log))
        return RunResult(code, stdout, Captured(b"", b"", 0), applied, wall, details, timed_out=timed_out)

    def _wait(self, job: str, timeout: float) -> tuple[Mapping[str, Any] | None, bool]:
        """Poll the Job's pod until its container has terminated (or the timeout)."""
        deadline = time.monotonic() + timeout
        pod: Mapping[str, Any] | None = None
        while True:
            got = self._call("get", "pods", "--selector", f"job-name={job}", "--output=json")
            listed = k8s_pod.items(k8s_pod.answer(got, "get pods"), "get pods")
            pod = listed[0] if listed else pod
            if pod is not None and k8s_pod.terminated(pod) is not None:
                return pod, False
            if time.monotonic() >= deadline:
                return pod, True
            time.sleep(POLL_S)

    def _logs(self, pod: Mapping[str, Any]) -> bytes:
        # the kubelet joins the CRI log's partial lines (16 KiB each) back into the harness's one line
        got = self._call("logs", k8s_pod.checked_name(pod, "pod"), "--container", k8s.CONTAINER)
        return got.stdout


def _pod_facts(pod: Mapping[str, Any] | None) -> dict[str, Any]:
    """The outside facts of the pod: where it ran, what image the kubelet ran, how it ended."""
    if pod is None:
        return {"pod": None}
    return {"node": k8s_pod.node_of(pod), **k8s_pod.facts(pod, k8s_pod.terminated(pod))}


def no_cluster(binary: str = "kubectl") -> str:
    return f"no Kubernetes cluster answers {binary} (its current context, or --context): kubectl version got no server"
