"""``attest --runtime kubernetes --kind daemonset``: every schedulable node attests its own
sandbox. The rendered DaemonSet runs the harness once per node (``runtime/k8s_fleet.py``);
each node's pod log is merged with that node's outside facts into one evidence bundle per
node, verified on its own, and written as
``sandbox-attestation-evidence-<venue>-<date>-node-<node>.json`` beside one ``report.md``.

The fleet PASSes only when every node does: a node whose pod never finished, or whose log
holds no bundle, is that node's FAIL (its evidence says which), never a node left out. A node
whose taints the DaemonSet's pods do not tolerate runs no probe and is not in the verdict: it
is named as not attested on the terminal and in report.md (no workload with the same
tolerations lands there either).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandproof import atomic, cleanup, evidence, image, outfiles, plan
from sandproof import progress as steps
from sandproof.attest import judged, no_trace_on_error, preflight
from sandproof.capture import Captured, printable
from sandproof.errors import Error
from sandproof.inspector.wire import Verdict
from sandproof.profile import Profile
from sandproof.render import k8s
from sandproof.report import markdown
from sandproof.runtime import k8s_fleet
from sandproof.runtime.interface import RUN_TIMEOUT_S, RunResult, Seccomp
from sandproof.runtime.kubernetes import Kubernetes
from sandproof.verify import Check, Report

NO_EXIT = 125
"""The exit code recorded for a node whose harness never finished (as runtime/kubernetes.py)."""


@dataclass(frozen=True)
class NodeAttestation:
    node: str
    report: Report
    evidence_path: Path
    problem: str | None
    """Why the node has no bundle (its pod never finished, or its log held none)."""


@dataclass(frozen=True)
class FleetAttestation:
    nodes: tuple[NodeAttestation, ...]
    report_path: Path
    untolerated: dict[str, list[str]]
    """Nodes the DaemonSet's pods cannot land on (taints), named, not attested."""

    @property
    def verdict(self) -> Verdict:
        ok = bool(self.nodes) and all(n.report.verdict == Verdict.PASS for n in self.nodes)
        return Verdict.PASS if ok else Verdict.FAIL


def attest_fleet(
    profile: Profile,
    *,
    runtime: Kubernetes,
    out: Path,
    run_date: str,
    progress: Callable[[str], None] = lambda _: None,
    step: steps.Step = steps.quiet,
    timeout_s: float = RUN_TIMEOUT_S,
    force: bool = False,
) -> FleetAttestation:
    rt, version, created = preflight(profile, runtime, out=out, run_date=run_date, force=force)
    with no_trace_on_error(out, created=created):
        if not isinstance(rt, Kubernetes):  # preflight hands back the runtime it was given
            raise Error(f"a DaemonSet runs only on Kubernetes, not {rt.name}")
        return _fleet(
            profile,
            rt,
            version=version,
            out=out,
            run_date=run_date,
            progress=progress,
            step=step,
            timeout_s=timeout_s,
        )


def _fleet(
    profile: Profile,
    rt: Kubernetes,
    *,
    version: str,
    out: Path,
    run_date: str,
    progress: Callable[[str], None],
    step: steps.Step,
    timeout_s: float,
) -> FleetAttestation:
    with step(f"image: assembling {profile.image.name}"):
        img = image.build(profile)  # its ID is what the evidence names; the nodes pull --image-ref
    compiled = plan.compiled(profile, rt.name)
    policy = Seccomp.render(profile)
    manifests = k8s.render(profile, kind="daemonset", run_date=run_date, image=rt.image_ref, plan_text=compiled.text)
    work = Path(tempfile.mkdtemp(prefix="sandproof-fleet-"))
    try:
        with step(f"run: one pod per node (killed after {timeout_s:g}s)"):
            run = k8s_fleet.Fleet(rt, progress).run(manifests, work, timeout_s)
        (work / "empty").mkdir()
        found = {n.node: evidence.read_inside(str(work / "empty"), Captured(n.log, b"", len(n.log))) for n in run.nodes}
    finally:
        cleanup.remove_tree(work)
    for node, taints in sorted(run.untolerated.items()):
        progress(f"fleet: {node} not attested: the daemon pod does not tolerate {', '.join(taints)}")
    cluster = rt.cluster()
    files: dict[str, bytes] = {}
    nodes: list[NodeAttestation] = []
    for n in run.nodes:
        facts = k8s_fleet.pod_facts(n)
        inside = found[n.node]
        never = n.terminated is None
        code = facts.get("exit_code")
        result = RunResult(
            code if isinstance(code, int) else NO_EXIT,
            Captured(n.log, b"", len(n.log)),
            Captured(b"", b"", 0),
            run.argv,
            run.wall_s,
            {
                "node": n.node,
                "kubernetes": {
                    "server_version": cluster.server_version if cluster else "?",
                    "context": cluster.context if cluster else "?",
                    "namespace": rt.namespace or "(the context's)",
                    "daemonset": run.daemonset["metadata"]["name"],
                    "manifest": run.daemonset,
                    **facts,
                },
            },
            timed_out=never and run.timed_out,
        )
        problem = facts.get("not_finished") if never else inside.problem
        if not never and inside.bundle is None and problem is None:
            problem = "the pod's log holds no bundle line"
        bundle = evidence.merge(
            inside.bundle,
            inside.channel,
            profile=profile,
            claim=profile,
            image=img,
            runtime=rt.name,
            runtime_version=version,
            expected=compiled,
            seccomp_sha256=policy.sha256,
            result=result,
            run_date=run_date,
            problem=problem,
        )
        name = evidence.file_name(bundle["venue"], run_date, n.node)
        text, report = judged(bundle, profile, name)
        if problem is not None:  # say why this node has no verdicts, not just "no evidence"
            why = Check("node-pod", Verdict.FAIL, f"node {printable(n.node)}: {printable(problem)}")
            report = dataclasses.replace(report, checks=(why, *report.checks))
        files[name] = text.encode()
        nodes.append(NodeAttestation(n.node, report, out / name, problem))
    files[outfiles.REPORT_NAME] = markdown.render_many([n.report for n in nodes], unattested=run.untolerated).encode()
    atomic.publish(out, files, what="--out")
    outfiles.clear(out, keep=frozenset(files))
    return FleetAttestation(tuple(nodes), out / outfiles.REPORT_NAME, run.untolerated)
