"""``sandproof attest``: run the probes inside the sandbox and return a verdict."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from sandproof import attest as attestation
from sandproof import profile as profiles
from sandproof import profilecheck
from sandproof.cli._common import add_profile
from sandproof.report import text


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "attest",
        help="run the probe harness in the sandbox and verify the evidence",
        description="Build or reuse the image, run the probe harness inside the profile's sandbox, merge "
        "the outside facts into an evidence bundle, verify it and write "
        "sandbox-attestation-inside.json, sandbox-attestation-evidence-<venue>-<date>.json and "
        "report.md into --out. Exit 0 PASS, 1 FAIL, 2 error.",
    )
    add_profile(ap)
    ap.add_argument(
        "--runtime",
        choices=("auto", "docker", "runc"),
        default="auto",
        help="auto uses docker when a daemon answers, else runc (default: auto)",
    )
    ap.add_argument(
        "--out", type=Path, default=Path("sandproof-out"), help="output directory (default: ./sandproof-out)"
    )
    ap.add_argument("--run-date", default=dt.date.today().isoformat(), help="date stamp YYYY-MM-DD (default: today)")
    ap.add_argument(
        "--claim",
        metavar="NAME|FILE",
        help="judge against this profile instead of --profile (to test a weakened sandbox)",
    )
    ap.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    prof = profiles.load(args.profile)
    profilecheck.host(prof)  # bind sources: only the machine that runs the sandbox can say
    claim = profiles.load(args.claim) if args.claim else None
    result = attestation.attest(
        prof,
        claim=claim,
        runtime=args.runtime,
        out=args.out,
        run_date=args.run_date,
        progress=lambda msg: print(f"sandproof: {msg}", file=sys.stderr),
    )
    sys.stdout.write(text.render(result.report))
    print(f"evidence: {result.evidence_path}")
    print(f"report:   {result.report_path}")
    return 0 if result.report.verdict == "PASS" else 1
