"""``sandproof verify``: recompute every verdict of one or many evidence bundles."""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandproof import contract
from sandproof.cli._common import Formatter, add_image, examples
from sandproof.errors import BundleError

if TYPE_CHECKING:
    from sandproof import verify as verifier
    from sandproof.report.fleet import Unreadable

FORMATS = ("text", "json", "markdown", "junit", "sarif")
PATTERN = "sandbox-attestation-evidence-*.json"


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "verify",
        help="recompute every verdict of evidence bundles",
        description="Read-only and fail-closed: checks each bundle against its JSON Schema, recomputes every probe "
        "verdict from the recorded observations against expectations derived from the profile (never "
        "trusting a verdict, summary or hash in the file), checks provenance and venue, and binds the "
        "results to a requirement matrix. Reads this tool's bundles and the seed's b4-prime inside/v1 "
        "bundles. A directory means every regular file sandbox-attestation-evidence-*.json below it (no "
        "symlink followed; a FIFO, device or link of that name is not opened and counts as unreadable). "
        "Exit 0 PASS, 1 FAIL (any bundle), 2 invalid input.",
        epilog=examples(
            "sandproof verify out/sandbox-attestation-evidence-local-2026-11-29.json",
            'sandproof verify out/ --format markdown >> "$GITHUB_STEP_SUMMARY"',
            "sandproof verify evidence.dsse.json --key sandproof-key.pub.pem --require-venue ci",
            "sandproof verify ran/receipt.json --attestation out/sandbox-attestation-evidence-local-2026-11-29.json",
        ),
        formatter_class=Formatter,
    )
    ap.add_argument(
        "bundles", nargs="+", metavar="BUNDLE|DIR", help="evidence or inside bundles, DSSE envelopes, or directories"
    )
    ap.add_argument(
        "--profile",
        metavar="NAME|FILE",
        help="judge against this profile (default: default); when given, the inspector that ran must "
        "also be the one this sandproof ships",
    )
    add_image(ap)
    ap.add_argument(
        "--matrix",
        default="sandproof",
        metavar="NAME|FILE",
        help=f"requirement matrix: {', '.join(contract.SHIPPED_MATRICES)} or a TOML file (default: sandproof)",
    )
    ap.add_argument(
        "--require-venue",
        choices=contract.VENUES,
        default="any",
        help="refuse bundles from other venues; Mac-local and unknown venues are refused unless 'any' (default: any)",
    )
    ap.add_argument(
        "--require-engine-view",
        action="store_true",
        help="FAIL a bundle without the engine's own view of the sandbox (bundles before it carry none)",
    )
    ap.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (colour on a terminal), json, markdown ($GITHUB_STEP_SUMMARY), junit or sarif (default: text)",
    )
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
    ap.add_argument(
        "--attestation",
        type=Path,
        metavar="BUNDLE",
        help="verify a run receipt (sandproof run) against this evidence bundle instead",
    )
    ap.set_defaults(func=run)


def _receipt(names: list[str]) -> bool:
    """One file that names the run receipt schema (``sandproof run``'s), not a bundle."""
    if len(names) != 1 or not Path(names[0]).is_file():
        return False
    with open(names[0], "rb") as f:
        return f.read(contract.RECEIPT_SNIFF_BYTES).startswith(contract.RECEIPT_HEAD)


@dataclass(frozen=True)
class Source:
    """One bundle to judge: a file named on the command line, or one found below a directory."""

    label: str
    top: str | None = None
    relative: str = ""
    refused: str = ""
    """Why an entry named like a bundle is not opened (a link, a FIFO, a device): it is counted
    as unreadable, never left out, so a failing node's bundle swapped for a link cannot vanish
    from the fleet's verdict."""

    def read(self) -> bytes:
        from sandproof import bundle as bundles

        if self.refused:
            raise BundleError(f"bundle {self.label}: {self.refused}")
        if self.top is None:
            return bundles.read_bytes(self.label)
        return bundles.read_below(self.top, self.relative)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symlink"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"


MAX_DEPTH = 64
"""How deep ``verify DIR`` looks: attest's --out holds its bundles at the top; a deeper tree is refused."""


def _below(top: Path) -> list[Source]:
    """Bundles below a directory, found without following a symlink (os.fwalk lists through the
    directory's own descriptor): regular files are read; a FIFO, device or link named like a
    bundle is never opened, and counts as an unreadable bundle."""
    found = []
    for dirpath, dirnames, filenames, dirfd in os.fwalk(top, follow_symlinks=False):
        if dirnames and os.path.relpath(dirpath, top).count(os.sep) + 1 >= MAX_DEPTH:
            # os.fwalk recurses once per level: deeper, it would end in a RecursionError
            raise BundleError(f"directory {top}: more than {MAX_DEPTH} levels of directories below it; not searched")
        dirnames.sort()
        for name in sorted(fnmatch.filter([*filenames, *dirnames], PATTERN)):
            where = os.path.join(dirpath, name)
            mode = os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_mode
            refused = "" if stat.S_ISREG(mode) else f"{_kind(mode)}, not a regular file: not opened"
            found.append(Source(where, str(top), os.path.relpath(where, top), refused))
    return found


def _expand(args: list[str]) -> list[Source]:
    sources: list[Source] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            found = _below(p)
            if not any(not f.refused for f in found):
                raise BundleError(f"directory {p}: no regular file {PATTERN} below it")
            sources += found
        else:
            sources.append(Source(a))
    return sources


def _render(fmt: str, reports: list[verifier.Report], *, single: bool, failed: list[Unreadable]) -> str:
    from sandproof.report import json as json_report
    from sandproof.report import junit, markdown, sarif, text

    if fmt == "json":
        return json_report.render(reports[0]) if single else json_report.render_many(reports, unreadable=failed)
    if fmt == "junit":
        return junit.render_many(reports, unreadable=failed)
    if fmt == "sarif":  # probe and check FAILs located at the profile; none can be waived
        return sarif.verify(reports, unreadable=failed)
    if fmt == "markdown":
        return markdown.render(reports[0]) if single else markdown.render_many(reports, unreadable=failed)
    colour = sys.stdout.isatty()
    if single:
        return text.render(reports[0], colour=colour)
    return text.render_many(reports, colour=colour, unreadable=failed)


def run(args: argparse.Namespace) -> int:
    if args.attestation is not None or _receipt(args.bundles):
        from sandproof.cli import receipt

        return receipt.run(args)
    from sandproof import atomic
    from sandproof import matrix as matrices
    from sandproof import profile as profiles
    from sandproof import verify as verifier
    from sandproof.inspector.wire import Verdict
    from sandproof.report import visible

    prof = profiles.with_workload(profiles.load(args.profile or "default"), args.image)
    matrix = matrices.load(args.matrix)
    policy = verifier.Policy(
        require_venue=args.require_venue,
        check_inspector=args.profile is not None,
        require_engine_view=args.require_engine_view,
    )
    key = None
    if args.key:  # the signing code (securesystemslib, cryptography: ~50 ms of imports) only where it is used
        from sandproof import signing

        key = signing.public_key(args.key)
    paths = _expand(args.bundles)
    if args.vsa and (not args.vsa_key or len(paths) != 1):
        raise BundleError("--vsa: give --vsa-key KEY and exactly one bundle")

    def judge(src: Source) -> verifier.Report:
        return verifier.verify_bytes(src.read(), src.label, prof, matrix=matrix, policy=policy, key=key)

    from sandproof.report.fleet import Unreadable

    failed: list[Unreadable] = []
    if len(paths) == 1:  # one bundle: an invalid one is simply an error (exit 2)
        reports = [judge(paths[0])]
    else:
        reports = []
        for p in paths:
            try:
                reports.append(judge(p))
            except BundleError as exc:
                print(f"sandproof: error: {visible(exc.message)}", file=sys.stderr)
                # the reports name the file beside the reason: said once
                failed.append(Unreadable(p.label, exc.message.removeprefix(f"bundle {p.label}: ")))
    invalid = len(failed)
    # many bundles: each report, then the fleet view (report/fleet.py: runtime x probe, venue and node)
    sys.stdout.write(_render(args.format, reports, single=len(paths) == 1, failed=failed))
    if args.vsa:
        # the digest of the bytes that were judged, not of a second read of the file
        from sandproof import signing

        summary = signing.vsa(
            reports[0].verdict,
            paths[0].label,
            reports[0].sha256,
            matrix.name,
            (reports[0].profile, reports[0].profile_sha256),
        )
        envelope = json.dumps(signing.sign_statement(summary, args.vsa_key), indent=2) + "\n"
        atomic.publish(args.vsa.parent, {args.vsa.name: envelope.encode()}, what="--vsa")
    if invalid:
        return 2
    return 0 if reports and all(r.verdict == Verdict.PASS for r in reports) else 1
