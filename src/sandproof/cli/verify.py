"""``sandproof verify``: recompute every verdict of an evidence bundle."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sandproof import profile as profiles
from sandproof import verify as verifier
from sandproof.cli._common import add_profile
from sandproof.report import markdown, text


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "verify",
        help="recompute every verdict of an evidence bundle",
        description="Read-only: judges each probe's recorded observation against the expectations derived "
        "from the profile, never trusting a verdict or summary in the file. Reads this tool's "
        "bundles and the seed's b4-prime inside/v1 bundles. Exit 0 PASS, 1 FAIL, 2 invalid input.",
    )
    ap.add_argument("bundle", help="an evidence or inside bundle (JSON)")
    add_profile(ap)
    ap.add_argument("--format", choices=("text", "markdown"), default="text")
    ap.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    prof = profiles.load(args.profile)
    bundle = verifier.load(args.bundle)
    report = verifier.verify(bundle, prof, source=args.bundle)
    sys.stdout.write(markdown.render(report) if args.format == "markdown" else text.render(report))
    return 0 if report.verdict == "PASS" else 1
