"""``sandproof run``: the workload in the profile's attested sandbox, and a receipt."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from sandproof.cli import _policy
from sandproof.cli._common import Formatter, add_profile, examples, terminate_as_interrupt

INSPECTOR = "inspector"
TIMED_OUT = 124
ENGINE_FAILED = 125
EXIT_CODES = (
    "Exit code: the workload's own, passed through. sandproof's own outcomes: 2 nothing was run (bad "
    "input, no engine, no matching PASS for --require-attested; no receipt written); 124 the workload "
    "timed out and was killed; 125 the engine refused the sandbox before the workload ran. A receipt is "
    "written whenever the container was started; its exit_code, timed_out and refused fields tell a "
    "workload's own 2, 124 or 125 from sandproof's."
)


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="run a workload in the profile's sandbox and write a run receipt",
        description="Run IMAGE's entrypoint (or -- CMD...) with exactly the flags attest proves for the "
        "profile: the same renderer and the same seccomp bytes; only the image and its command differ. "
        "Input is DIR bound read-only at the profile's input path (default: an empty directory); the "
        "profile's bounded output directory is copied to OUT/out/ and every file hashed into "
        "OUT/receipt.json (schema sandproof/receipt/v1: `sandproof schema receipt-v1`). REF: 'inspector' (the "
        "profile's own probe image, which a plain attest proves), 'busybox', 'example' (sandproof's "
        "workload images) or an image of the local Docker engine. Note: the workload gets the runtime's "
        "seccomp filter, not the harness's in-process exec guard. " + EXIT_CODES,
        epilog=examples(
            "sandproof run --image busybox --out ran -- echo hello",
            "sandproof run --profile learned.toml --image example --in examples/packet-inspector/in --out ran \\",
            "              --require-attested att/sandbox-attestation-evidence-local-2026-11-29.json",
            "sandproof run --image busybox --require-attested evidence.dsse.json --key sandproof-key.pub.pem \\",
            "              --require-venue ci -- echo hello",
        ),
        formatter_class=Formatter,
    )
    add_profile(ap)
    ap.add_argument("--image", required=True, metavar="REF", help="the workload's image")
    ap.add_argument(
        "--entrypoint", metavar="PATH", help="replace the image's ENTRYPOINT (as docker run --entrypoint does)"
    )
    ap.add_argument(
        "--runtime",
        choices=("docker", "runc", "podman"),
        default="docker",
        help="the engine that runs it (default: docker)",
    )
    ap.add_argument(
        "--in",
        dest="in_dir",
        type=Path,
        metavar="DIR",
        help="the directory bound read-only as /in (default: an empty one)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=Path("sandproof-run"),
        metavar="DIR",
        help="where receipt.json and out/ go, a new directory (default: ./sandproof-run)",
    )
    ap.add_argument(
        "--timeout", type=_seconds, default=600.0, metavar="S", help="kill the workload after S seconds (default: 600)"
    )
    ap.add_argument(
        "--require-attested",
        type=Path,
        metavar="BUNDLE",
        help="refuse to start unless BUNDLE verifies PASS for this profile, image, seccomp policy and runtime, "
        "judged as `sandproof verify BUNDLE` judges it with the options below; the receipt then names it by "
        "sha256. A signed BUNDLE (sandproof sign's .dsse.json) needs --key",
    )
    _policy.add(ap, what="the --require-attested bundle")
    ap.add_argument("cmd", nargs="*", metavar="-- CMD", help="the command instead of the image's CMD")
    ap.set_defaults(func=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"expected seconds above 0 and at most 86400, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from sandproof import attest, image
    from sandproof import bundle as bundles
    from sandproof import profile as profiles
    from sandproof.capture import relayed
    from sandproof.errors import Error
    from sandproof.inspector.wire import Verdict
    from sandproof.receipt import workload_ref
    from sandproof.runtime.interface import Seccomp
    from sandproof.workload import images
    from sandproof.workload import run as workrun

    # the sandbox ``attest --image REF`` proved: the profile with ``[image] workload = REF``
    prof = profiles.with_workload(profiles.load(args.profile), workload_ref(args.image))
    judged = None
    if args.require_attested is None:
        if options := _policy.given(args):
            raise Error(f"{options[0]}: judges the --require-attested bundle; give --require-attested BUNDLE too")
    else:
        from sandproof import receipt_check  # the verifier: imported only when it is asked for

        # judged first, as `verify BUNDLE` with the same options: a bundle that does not verify
        # (unsigned or wrongly signed with --key, another venue) refuses before anything is built
        # or started. The inspector that ran must be the one this sandproof ships, as verify
        # --profile requires: with --image REF the image ID is the user's, which does not hold
        # the carried harness (review 12), so the image check below cannot bind it.
        judging = _policy.resolve(args, check_inspector=True)
        judged = receipt_check.judge_attestation(
            bundles.read_bytes(args.require_attested),
            str(args.require_attested),
            prof,
            policy=judging.policy,
            key=judging.key,
            matrix=judging.matrix,
        )
        if judged.verdict.verdict != Verdict.PASS:
            raise Error(f"--require-attested: refused to start: {judged.verdict.name}: {judged.verdict.reason}")
    # "inspector": the profile's own probe image, the one a plain ``attest`` proves the sandbox with
    img = image.build(prof) if args.image == INSPECTOR else images.resolve(args.image)
    rt = attest.select_runtime(args.runtime)
    attested = None
    if judged is not None:
        checks, attested = receipt_check.binding_checks(
            judged,
            str(args.require_attested),
            prof,
            image_id=img.image_id,
            seccomp_sha256=Seccomp.render(prof).sha256,
            runtime=rt.name,
            ran_on=dt.datetime.now(dt.UTC).date().isoformat(),
        )
        bad = [c for c in checks if c.verdict != Verdict.PASS]
        if bad:
            raise Error(f"--require-attested: refused to start: {bad[0].name}: {bad[0].reason}")
    with terminate_as_interrupt():
        outcome = workrun.run(
            prof,
            img,
            args.cmd,
            runtime=rt,
            out=args.out,
            in_dir=args.in_dir,
            timeout_s=args.timeout,
            attestation=attested,
            image_ref=args.image,
            entrypoint=args.entrypoint,
        )
    sys.stdout.write(relayed(outcome.stdout.text()))
    sys.stderr.write(relayed(outcome.stderr.text()))
    doc = outcome.receipt
    what = "timed out" if doc["timed_out"] else "refused by the engine" if doc["refused"] else "exit"
    if left := doc["output_limit"].get("left_out"):
        print(
            f"sandproof: {left} output entries not copied nor listed (past the profile's output bounds, "
            "PATH_MAX, or not named in UTF-8): output_limit.left_out",
            file=sys.stderr,
        )
    if doc["output_limit"].get("bounded") is False:
        print(
            "sandproof: warning: /out was a plain directory of this machine's, not bounded (mounting a tmpfs "
            "needs root): the workload could fill its disk; output_limit.bounded is false",
            file=sys.stderr,
        )
    print(
        f"sandproof: {what} {outcome.exit_code} after {doc['wall_s']:.2f}s; receipt {outcome.receipt_path}",
        file=sys.stderr,
    )
    return outcome.exit_code
