"""``sandproof verify RECEIPT --attestation BUNDLE``: a run receipt checked against the
attestation it names (``receipt_check.verify_receipt``). Reached from ``cli/verify.py``.

The attestation is judged exactly as ``verify BUNDLE`` with the same options judges it: the
same key, venue, engine-view and inspector policy and matrix (``cli/_policy.py``). An option of
``verify`` that cannot apply to a receipt is refused, never ignored."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sandproof.errors import BundleError

FORMATS = ("text", "json")


def run(args: argparse.Namespace) -> int:
    from sandproof import bundle as bundles
    from sandproof import profile as profiles
    from sandproof import receipt_check
    from sandproof.cli import _policy
    from sandproof.receipt import OUTPUT_DIR
    from sandproof.report import visible

    if len(args.bundles) != 1 or args.attestation is None:
        raise BundleError(
            "a run receipt is verified alone, against its attestation: verify RECEIPT --attestation BUNDLE"
        )
    if args.format not in FORMATS:
        raise BundleError(f"a run receipt is reported as {' or '.join(FORMATS)}, not {args.format}")
    if args.vsa is not None or args.vsa_key is not None:
        raise BundleError("--vsa: a verification summary is of an evidence bundle, not of a run receipt")
    if args.image is not None:
        raise BundleError(
            "--image: a run receipt names its own image, and its attestation is judged for that one; drop --image"
        )
    judging = _policy.resolve(args, check_inspector=args.profile is not None)
    path = Path(args.bundles[0])
    beside = path.parent / OUTPUT_DIR
    report = receipt_check.verify_receipt(
        bundles.read_bytes(path),
        str(path),
        attestation=bundles.read_bytes(args.attestation),
        attestation_source=str(args.attestation),
        profile=profiles.load(args.profile) if args.profile else None,
        outputs_dir=beside if beside.is_dir() else None,
        policy=judging.policy,
        key=judging.key,
        matrix=judging.matrix,
    )
    if args.format == "json":
        doc = {
            "source": report.source,
            "verdict": str(report.verdict),
            "checks": [{"name": c.name, "verdict": str(c.verdict), "reason": c.reason} for c in report.checks],
        }
        if not beside.is_dir():  # as the text says it: the verdict covers no output file's bytes
            doc["note"] = f"no {OUTPUT_DIR}/ beside the receipt; output files not re-hashed"
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        lines = [f"receipt {visible(report.source)}: {report.verdict}"]
        lines += [f"  {c.verdict:<5} {c.name}: {visible(c.reason)}" for c in report.checks]
        if not beside.is_dir():
            lines.append(f"  note: no {OUTPUT_DIR}/ beside the receipt; output files not re-hashed")
        sys.stdout.write("\n".join(lines) + "\n")
    return 0 if str(report.verdict) == "PASS" else 1
