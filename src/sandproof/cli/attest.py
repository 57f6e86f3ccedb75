"""``sandproof attest``: run the probes inside the sandbox and return a verdict."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from sandproof import contract
from sandproof.cli._common import Formatter, add_image, add_profile, examples, terminate_as_interrupt


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "attest",
        help="run the probe harness in the sandbox and verify the evidence",
        description="Build or reuse the image, run the probe harness inside the profile's sandbox, merge "
        "the outside facts into an evidence bundle, verify it and write "
        "sandbox-attestation-inside.json, sandbox-attestation-evidence-<venue>-<date>.json and "
        "report.md into --out, replacing attest's own earlier files there (an evidence file of another date "
        "included); a --out holding other files is refused unless --force. Exit 0 PASS, 1 FAIL, 2 error.",
        epilog=contract.CACHE_HELP
        + "\n\n"
        + examples(
            "sandproof attest --runtime docker --out out",
            "sandproof attest --image busybox --runtime runc --out out-busybox",
            "sandproof attest --profile mine.toml --claim default --out weak   # run mine.toml, judged as default",
        ),
        formatter_class=Formatter,
    )
    add_profile(ap)
    add_image(ap)
    ap.add_argument(
        "--runtime",
        choices=contract.RUNTIME_CHOICES,
        default="auto",
        help="auto uses docker when a daemon answers, else runc; runsc is gVisor; kubernetes runs a Job "
        "through kubectl (default: auto)",
    )
    k8s = ap.add_argument_group("kubernetes", "with --runtime kubernetes (kubectl, a cluster you have)")
    k8s.add_argument("--context", metavar="NAME", help="the kubeconfig context (default: the current one)")
    k8s.add_argument("--namespace", metavar="NAME", help="the namespace the Job runs in (default: the context's)")
    k8s.add_argument("--image-ref", metavar="REF", help="the image the nodes pull (default: the profile's image name)")
    k8s.add_argument(
        "--kind",
        choices=("job", "daemonset"),
        default="job",
        help="job: one pod on a node the scheduler picks; daemonset: one pod per schedulable node, one evidence "
        "file per node (...-node-<node>.json), exit 0 only when every node PASSes (default: job)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=Path("sandproof-out"),
        metavar="DIR",
        help="output directory, new or one attest wrote (default: ./sandproof-out)",
    )
    ap.add_argument(
        "--force",
        action="store_true",
        help="run even when --out holds files attest did not write (they stay; only attest's own are replaced)",
    )
    ap.add_argument(
        "--run-date",
        default=dt.date.today().isoformat(),
        metavar="YYYY-MM-DD",
        help="the date the evidence carries and its file is named by (default: today)",
    )
    ap.add_argument(
        "--claim",
        metavar="NAME|FILE",
        help="judge against this profile instead of --profile (to test a weakened sandbox; default: --profile)",
    )
    ap.add_argument(
        "--timeout",
        type=_seconds,
        default=contract.RUN_TIMEOUT_S,
        metavar="SECONDS",
        help=f"kill and remove the container after this long (default: {contract.RUN_TIMEOUT_S})",
    )
    ap.set_defaults(func=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"expected seconds above 0 and at most 86400, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from sandproof import attest as attestation
    from sandproof import profile as profiles
    from sandproof.capture import inert, printable
    from sandproof.errors import Error
    from sandproof.inspector.wire import Verdict
    from sandproof.progress import Display
    from sandproof.report import text

    prof = profiles.with_workload(profiles.load(args.profile), args.image)
    claim = profiles.with_workload(profiles.load(args.claim), args.image) if args.claim else None
    runtime: Any = args.runtime
    if args.kind != "job" and runtime != "kubernetes":
        raise Error(f"--kind {args.kind}: only with --runtime kubernetes")
    if args.image_ref is not None and profiles.image_reference(args.image_ref) is None:
        # the pod's image, pulled on the node: a reference, never other text (a tag is allowed
        # here, as for the profile's own image; the verifier checks the image digest that ran)
        raise Error(
            f"--image-ref {args.image_ref!r}: expected an image reference, [HOST[:PORT]/]PATH[:TAG][@sha256:<64 hex>]"
        )
    if runtime == "kubernetes":
        from sandproof.runtime.kubernetes import Kubernetes

        runtime = Kubernetes(namespace=args.namespace, context=args.context, image_ref=args.image_ref)
    display = Display.for_stream(sys.stderr)
    if args.kind == "daemonset":
        if args.image or claim is not None:
            raise Error("--kind daemonset: attests the profile's own image and sandbox (no --image, no --claim)")
        return _fleet(args, prof, runtime, display)
    with terminate_as_interrupt():
        result = attestation.attest(
            prof,
            claim=claim,
            runtime=runtime,
            out=args.out,
            run_date=args.run_date,
            progress=lambda msg: display.say(f"sandproof: {inert(printable(msg))}"),
            step=display.step,  # a live line on a terminal only
            timeout_s=args.timeout,
            force=args.force,
        )
    if result.refused is not None:  # nothing ran: an error, not a verdict
        print(f"sandproof: error: the engine refused the sandbox: {inert(result.refused)}", file=sys.stderr)
        print(f"evidence: {result.evidence_path}", file=sys.stderr)
        return 2
    sys.stdout.write(text.render(result.report))
    print(f"evidence: {result.evidence_path}")
    print(f"report:   {result.report_path}")
    return 0 if result.report.verdict == Verdict.PASS else 1


def _fleet(args: argparse.Namespace, prof: Any, runtime: Any, display: Any) -> int:
    """attest --kind daemonset: one line per node, then the fleet's verdict."""
    from sandproof import fleet
    from sandproof.capture import inert, printable
    from sandproof.inspector.wire import Verdict

    with terminate_as_interrupt():
        result = fleet.attest_fleet(
            prof,
            runtime=runtime,
            out=args.out,
            run_date=args.run_date,
            progress=lambda msg: display.say(f"sandproof: {inert(printable(msg))}"),
            step=display.step,
            timeout_s=args.timeout,
            force=args.force,
        )
    for n in result.nodes:
        failing = [c.name for c in n.report.checks if c.verdict != Verdict.PASS]
        failing += [p.probe_id for p in n.report.probes if p.verdict != Verdict.PASS]
        named = inert(printable(", ".join(failing[:8])))  # a node's bundle may name its own probes
        why = f" ({inert(printable(n.problem))})" if n.problem else (f": {named}" if failing else "")
        print(f"node {inert(printable(n.node))}: {n.report.verdict}{why}")
        print(f"  evidence: {n.evidence_path}")
    for node, taints in sorted(result.untolerated.items()):
        print(f"node {inert(printable(node))}: not attested (taints {inert(printable(', '.join(taints)))})")
    passed = sum(n.report.verdict == Verdict.PASS for n in result.nodes)
    print(f"fleet: {passed}/{len(result.nodes)} nodes PASS: {result.verdict}")
    print(f"report:   {result.report_path}")
    return 0 if result.verdict == Verdict.PASS else 1
