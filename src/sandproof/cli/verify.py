"""``sandproof verify``: recompute every verdict of one or many evidence bundles."""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandproof import contract
from sandproof.cli import _policy
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
    _policy.add(ap, what="the bundle (a run receipt and its --attestation: both)")
    ap.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (colour on a terminal), json, markdown ($GITHUB_STEP_SUMMARY), junit or sarif (default: text)",
    )
    ap.add_argument(
        "--vsa",
        type=Path,
        metavar="FILE",
        help="also write the result as a signed SLSA verification summary (needs --vsa-key and --key: only "
        "evidence whose signature was checked is summarised; one bundle)",
    )
    ap.add_argument("--vsa-key", type=Path, metavar="KEY", help="ed25519 private key (PEM) to sign the summary")
    ap.add_argument(
        "--attestation",
        type=Path,
        metavar="BUNDLE",
        help="verify a run receipt (sandproof run) against this evidence bundle instead: judged as `verify "
        "BUNDLE` judges it, with the same --profile, --key, --require-venue, --require-engine-view and --matrix",
    )
    ap.set_defaults(func=run)


def _receipt(names: list[str]) -> bool:
    """One file that names the run receipt schema (``sandproof run``'s), not a bundle."""
    if len(names) != 1:
        return False
    from sandproof.regular import open_regular  # a regular file only: a FIFO, never waited on

    try:
        fd, _ = open_regular(names[0], follow=True)
    except OSError:
        return False  # read as a bundle, whose reader says why it cannot
    with os.fdopen(fd, "rb") as f:
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
    raw: bytes | None = None
    """The bytes already read (a signed twin compared with its bare evidence): judged as read."""

    def read(self) -> bytes:
        from sandproof import bundle as bundles

        if self.raw is not None:
            return self.raw
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


def _twins(found: list[Source], *, keyed: bool) -> list[Source]:
    """attest's --out after ``sign`` holds each evidence twice: bare and as the payload of its
    signed twin (X.json, X.dsse.json). One run is judged once: through the twin with --key (the
    bare copy cannot pass a signature check, and is not a second run), through the bare copy
    without (the twin's signature cannot be checked). Only when the twin's payload is exactly the
    bare evidence (the same parsed JSON): any other file named so is judged as always. The kept
    copy is judged from the bytes compared, never from a second read."""
    from sandproof.report import visible

    by_label = {f.label: f for f in found if not f.refused}
    kept: list[Source] = []
    covered: set[str] = set()
    for f in found:
        if f.label in covered or f.refused or f.label.endswith(contract.SIGNED_SUFFIX):
            continue
        twin = by_label.get(f.label.removesuffix(".json") + contract.SIGNED_SUFFIX)
        if twin is None:
            continue
        pair = _same_run(f, twin)
        if pair is None:
            continue
        judged, other = (twin, f) if keyed else (f, twin)
        covered.add(other.label)
        by_label[judged.label] = Source(judged.label, judged.top, judged.relative, raw=pair[judged is twin])
        seen, kept_as = visible(other.label), visible(judged.label)  # file names are anyone's text
        print(f"sandproof: note: {seen} is the same evidence as {kept_as}: judged once, as {kept_as}", file=sys.stderr)
    for f in found:
        if f.label not in covered:
            kept.append(by_label.get(f.label, f))
    return kept


def _same_run(bare: Source, twin: Source) -> tuple[bytes, bytes] | None:
    """(bare bytes, twin bytes) when the twin's DSSE payload is the bare evidence, else None."""
    from sandproof import crosscheck

    try:
        bare_raw, twin_raw = bare.read(), twin.read()
    except (BundleError, OSError):
        return None  # judged on its own, where the error is reported
    signed, evidence = _held(twin_raw, twin.label), _held(bare_raw, bare.label)
    if signed is None or evidence is None or not signed[1] or evidence[1]:
        return None
    # as JSON, not as Python values: 1 == True == 1.0 in Python, and a twin whose payload says 1
    # where the evidence says true is another document (judged on its own: review 12)
    same = crosscheck.canonical(signed[0]) == crosscheck.canonical(evidence[0])
    return (bare_raw, twin_raw) if same else None


def _expand(args: list[str], *, keyed: bool = False) -> list[Source]:
    sources: list[Source] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            found = _below(p)
            if not any(not f.refused for f in found):
                raise BundleError(f"directory {p}: no regular file {PATTERN} below it")
            sources += _twins(found, keyed=keyed)
        else:
            sources.append(Source(a))
    return _each_file_once(sources)


def _each_file_once(sources: list[Source]) -> list[Source]:
    """A file named twice (itself and in its directory, or twice over) is judged once: a fleet of
    three names for one file said "PASS: 3 bundles" (review 13)."""
    from sandproof.report import visible

    seen: dict[str, str] = {}
    kept: list[Source] = []
    for src in sources:
        # a link found in a directory is refused, never followed: resolved, it hid the file it names
        where = os.path.abspath(src.label) if src.refused else os.path.realpath(src.label)
        if where in seen:
            print(
                f"sandproof: note: {visible(src.label)} is {visible(seen[where])} again: judged once", file=sys.stderr
            )
            continue
        seen[where] = src.label
        kept.append(src)
    return kept


def _held(raw: bytes, label: str) -> tuple[object, bool] | None:
    """The evidence a file holds, and whether a DSSE envelope holds it: the parsed JSON, or an
    envelope's payload's predicate (the envelope itself when its payload is no statement). None
    when the file is not JSON: judged, and refused, on its own."""
    from sandproof import bundle as bundles

    try:
        data: object = bundles.parse(raw, label)
    except BundleError:
        return None
    if isinstance(data, dict) and bundles.is_envelope(data):
        from sandproof import signing

        body, _ = signing.unverified_statement(data)
        if body is not None:
            return body.get("predicate", data), True
    return data, False


def _evidence_key(raw: bytes, label: str) -> str:
    """The evidence a file holds (``_held``), as canonical JSON's sha256: the same for the same run
    however it is written (indented or compact, keys in any order) and for a DSSE envelope of it
    (its payload's predicate). A re-indented copy counted as a second run (review 14)."""
    import hashlib

    from sandproof import crosscheck

    held = _held(raw, label)
    return hashlib.sha256(raw if held is None else crosscheck.canonical(held[0])).hexdigest()


def _one_run_each(judged: list[tuple[verifier.Report, str]]) -> list[verifier.Report]:
    """Many bundles stand for as many runs. The same evidence under a second name (a copy, a
    re-indented copy, an envelope of it: ``_evidence_key``) stands for no other run (a copy of
    node A's PASS named for node B hid B's FAIL: review 13), and a file named for a node
    (``evidence.file_name``) must hold that node's evidence: either is a FAIL."""
    from sandproof import nodename
    from sandproof.inspector.wire import Verdict
    from sandproof.provenance import Check

    first: dict[str, str] = {}
    out = []
    for r, key in judged:
        extra = []
        if key in first:
            why = f"the same evidence as {first[key]}: one run's, counted once"
            extra.append(Check("duplicate", Verdict.FAIL, why))
        first.setdefault(key, r.source)
        named = nodename.named_for(os.path.basename(r.source))
        if named is not None and named != nodename.safe_name(r.node):
            why = f"the file is named for node {named!r}, its evidence records node {r.node!r}"
            extra.append(Check("node-name", Verdict.FAIL, why))
        out.append(dataclasses.replace(r, checks=(*r.checks, *extra)) if extra else r)
    return out


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


def _signature(report: verifier.Report) -> str:
    """What the summary says of the evidence's signature (checked with --key: a summary is only of
    signed evidence): verified only if the check passed."""
    checked = [c for c in report.checks if c.name == "signature"]
    return "verified" if checked and all(c.verdict == "PASS" for c in checked) else "failed"


def run(args: argparse.Namespace) -> int:
    if args.attestation is not None or _receipt(args.bundles):
        from sandproof.cli import receipt

        return receipt.run(args)
    from sandproof import atomic
    from sandproof import profile as profiles
    from sandproof import verify as verifier
    from sandproof.inspector.wire import Verdict
    from sandproof.report import visible

    if args.vsa_key and not args.vsa:
        raise BundleError("--vsa-key: give --vsa FILE too (the key signs that summary)")
    if args.vsa and (not args.vsa_key or args.key is None):
        # A VSA stands in for the evidence (its consumer "may assume the artifacts met the indicated
        # level without ... access to the attestations", slsa.dev/spec/v1.0/verification_summary):
        # signing PASSED over a bundle whose own signature was never checked would turn a file
        # anyone can write into a signed claim. So a summary is only of evidence checked with --key.
        raise BundleError("--vsa: give --vsa-key KEY and --key PUB (only signed evidence is summarised)")
    vsa_signer = None
    if args.vsa:  # read first: a bad key is said before anything is judged, printed or written
        from sandproof import safedir, signing

        vsa_signer = signing.signer(args.vsa_key, "--vsa-key")
        safedir.check_nearest(args.vsa.absolute().parent, "--vsa")  # and where it goes (review 20)
    prof = profiles.with_workload(profiles.load(args.profile or "default"), args.image)
    judging = _policy.resolve(args, check_inspector=args.profile is not None)
    paths = _expand(args.bundles, keyed=judging.key is not None)
    if args.vsa and len(paths) != 1:
        raise BundleError("--vsa: exactly one bundle")

    def judge(src: Source, raw: bytes | None = None) -> verifier.Report:
        return verifier.verify_bytes(
            src.read() if raw is None else raw,
            src.label,
            prof,
            matrix=judging.matrix,
            policy=judging.policy,
            key=judging.key,
        )

    from sandproof.report.fleet import Unreadable

    failed: list[Unreadable] = []
    if len(paths) == 1:  # one bundle: an invalid one is simply an error (exit 2)
        reports = [judge(paths[0])]
    else:
        reports = []
        keys = []
        for p in paths:
            try:
                raw = p.read()  # once: judged, and keyed as one run's evidence, from the same bytes
                reports.append(judge(p, raw))
                keys.append(_evidence_key(raw, p.label))
            except BundleError as exc:
                print(f"sandproof: error: {visible(exc.message)}", file=sys.stderr)
                # the reports name the file beside the reason: said once
                failed.append(Unreadable(p.label, exc.message.removeprefix(f"bundle {p.label}: ")))
    invalid = len(failed)
    if len(paths) > 1:
        reports = _one_run_each(list(zip(reports, keys, strict=True)))
    # many bundles: each report, then the fleet view (report/fleet.py: runtime x probe, venue and node)
    sys.stdout.write(_render(args.format, reports, single=len(paths) == 1, failed=failed))
    if vsa_signer is not None:
        from sandproof import signing

        assert judging.key is not None  # --vsa requires --key (checked above)
        # the digest of the bytes that were judged, not of a second read of the file
        summary = signing.vsa(
            reports[0].verdict,
            paths[0].label,
            reports[0].sha256,
            judging.matrix.name,
            (reports[0].profile, reports[0].profile_sha256),
            judged=signing.Judged(
                _signature(reports[0]),
                judging.key.keyid,
                judging.policy.require_venue,
                judging.policy.require_engine_view,
                judging.policy.check_inspector,
            ),
        )
        envelope = json.dumps(signing.sign_statement(summary, vsa_signer), indent=2) + "\n"
        atomic.publish(args.vsa.parent, {args.vsa.name: envelope.encode()}, what="--vsa")
    if invalid:
        return 2
    return 0 if reports and all(r.verdict == Verdict.PASS for r in reports) else 1
