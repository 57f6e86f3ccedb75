"""``sandproof verify``: recompute every verdict of one or many evidence bundles."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from sandproof import atomic, provenance, signing
from sandproof import matrix as matrices
from sandproof import profile as profiles
from sandproof import verify as verifier
from sandproof.errors import BundleError
from sandproof.report import json as json_report
from sandproof.report import junit, markdown, text

FORMATS = ("text", "json", "markdown", "junit")


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "verify",
        help="recompute every verdict of evidence bundles",
        description="Read-only and fail-closed: checks each bundle against its JSON Schema, recomputes every probe "
        "verdict from the recorded observations against expectations derived from the profile (never "
        "trusting a verdict, summary or hash in the file), checks provenance and venue, and binds the "
        "results to a requirement matrix. Reads this tool's bundles and the seed's b4-prime inside/v1 "
        "bundles. A directory means every sandbox-attestation-evidence-*.json below it. "
        "Exit 0 PASS, 1 FAIL (any bundle), 2 invalid input.",
    )
    ap.add_argument("bundles", nargs="+", metavar="BUNDLE|DIR")
    ap.add_argument(
        "--profile",
        metavar="NAME|FILE",
        help="judge against this profile (default: default); when given, the inspector that ran must "
        "also be the one this sandproof ships",
    )
    ap.add_argument(
        "--matrix",
        default="sandproof",
        metavar="NAME|FILE",
        help=f"requirement matrix: {', '.join(matrices.SHIPPED)} or a TOML file (default: sandproof)",
    )
    ap.add_argument(
        "--require-venue",
        choices=provenance.VENUES,
        default="any",
        help="refuse bundles from other venues; Mac-local and unknown venues are refused unless 'any'",
    )
    ap.add_argument("--format", choices=FORMATS, default="text")
    ap.add_argument(
        "--key",
        type=Path,
        metavar="PUB",
        help="ed25519 public key (PEM): the bundle must be a DSSE envelope signed with it; checked first",
    )
    ap.add_argument(
        "--vsa",
        type=Path,
        metavar="FILE",
        help="also write the result as a signed SLSA verification summary (needs --vsa-key; one bundle)",
    )
    ap.add_argument("--vsa-key", type=Path, metavar="KEY", help="ed25519 private key (PEM) to sign the summary")
    ap.set_defaults(func=run)


def _expand(args: list[str]) -> list[Path]:
    paths: list[Path] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            found = sorted(p.rglob("sandbox-attestation-evidence-*.json"))
            if not found:
                raise BundleError(f"directory {p}: no sandbox-attestation-evidence-*.json below it")
            paths += found
        else:
            paths.append(p)
    return paths


def run(args: argparse.Namespace) -> int:
    prof = profiles.load(args.profile or "default")
    matrix = matrices.load(args.matrix)
    policy = verifier.Policy(require_venue=args.require_venue, check_inspector=args.profile is not None)
    key = signing.public_key(args.key) if args.key else None
    paths = _expand(args.bundles)
    if args.vsa and (not args.vsa_key or len(paths) != 1):
        raise BundleError("--vsa: give --vsa-key KEY and exactly one bundle")
    if len(paths) == 1:  # one bundle: an invalid one is simply an error (exit 2)
        reports = [verifier.verify_file(paths[0], prof, matrix=matrix, policy=policy, key=key)]
        invalid = 0
    else:
        reports, invalid = [], 0
        for p in paths:
            try:
                reports.append(verifier.verify_file(p, prof, matrix=matrix, policy=policy, key=key))
            except BundleError as exc:
                print(f"sandproof: error: {exc.message}", file=sys.stderr)
                invalid += 1
    fmt = args.format
    if fmt == "json":
        out = json_report.render(reports[0]) if len(paths) == 1 else json_report.render_many(reports)
    elif fmt == "junit":
        out = junit.render_many(reports)
    elif fmt == "markdown":
        out = markdown.render(reports[0]) if len(paths) == 1 else markdown.render_many(reports)
    else:
        colour = sys.stdout.isatty()
        out = text.render(reports[0], colour=colour) if len(paths) == 1 else text.render_many(reports, colour=colour)
    sys.stdout.write(out)
    if args.vsa:
        summary = signing.vsa(
            reports[0].verdict, str(paths[0]), hashlib.sha256(paths[0].read_bytes()).hexdigest(), matrix.name
        )
        envelope = json.dumps(signing.sign_statement(summary, args.vsa_key), indent=2) + "\n"
        atomic.publish(args.vsa.parent, {args.vsa.name: envelope.encode()}, what="--vsa")
    if invalid:
        return 2
    return 0 if reports and all(r.verdict == "PASS" for r in reports) else 1
