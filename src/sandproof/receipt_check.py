"""Does a run receipt hold, and does the attestation it names cover the run? Every check
with its reason; any FAIL fails the receipt (``verify RECEIPT --attestation BUNDLE``); the
attestation checks alone gate ``run --require-attested``.

Re-derived rather than trusted: the argv or OCI config is rendered again from the profile
and the recorded paths (``workload/rendered.py``), the attestation is judged again by the
verifier itself (``verify.verify_bytes``), and the outputs beside the receipt are hashed again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandproof import bundle, verify
from sandproof import profile as profiles
from sandproof.errors import BundleError, Error
from sandproof.inspector.wire import Verdict
from sandproof.profile import Profile
from sandproof.provenance import Check
from sandproof.receipt import SCHEMA, Attested, digest, digest_holds, parse, shape_problem, workload_ref
from sandproof.render import oci
from sandproof.render import podman as podman_render
from sandproof.render import runc as runc_render
from sandproof.runtime.interface import Seccomp
from sandproof.workload import files, rendered

if TYPE_CHECKING:
    from securesystemslib.signer import SSlibKey

    from sandproof import matrix as matrices

CLOCK_SLACK_S = 1.0


def _ok(name: str, good: bool, yes: str, no: str) -> Check:
    return Check(name, Verdict.PASS if good else Verdict.FAIL, yes if good else no)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10]) if len(text) >= 10 else None
    except ValueError:
        return None


@dataclass(frozen=True)
class JudgedAttestation:
    """The attestation judged by the verifier: its verdict check, the evidence it carries (the
    DSSE payload's predicate for a signed one) and the sha256 of its bytes."""

    verdict: Check
    evidence: Mapping[str, Any]
    sha256: str


def judge_attestation(
    raw: bytes,
    label: str,
    profile: Profile,
    *,
    policy: verify.Policy | None = None,
    key: SSlibKey | None = None,
    matrix: matrices.Matrix | None = None,
) -> JudgedAttestation:
    """Does ``raw`` verify PASS against ``profile``: the verifier itself, with the policy, key
    and matrix ``verify BUNDLE`` would take from the same options (not a default policy). Needs
    no engine: ``run --require-attested`` refuses here before it builds or starts anything."""
    sha = hashlib.sha256(raw).hexdigest()
    try:
        report = verify.verify_bytes(raw, label, profile, matrix=matrix, policy=policy, key=key)
        data = bundle.parse(raw, label)
    except BundleError as exc:
        return JudgedAttestation(Check("attestation-verdict", Verdict.FAIL, exc.message), {}, sha)
    if bundle.is_envelope(data):
        from sandproof import signing  # noqa: PLC0415 - only a signed attestation pays for its imports

        # its facts are the signed payload's (judged above: a failed signature fails the verdict)
        body, _ = signing.unverified_statement(data)
        predicate = (body or {}).get("predicate")
        data = predicate if isinstance(predicate, dict) else {}
    unsigned = [c for c in report.checks if c.name == "signature" and c.verdict != Verdict.PASS]
    failing = [c.name for c in report.checks if c.verdict != Verdict.PASS]
    failing += [p.probe_id for p in report.probes if p.verdict != Verdict.PASS]
    why = (
        f"signature {unsigned[0].verdict}: {unsigned[0].reason}"
        if unsigned
        else f"failing: {', '.join(failing[:8]) or '?'}"
    )
    verdict = _ok(
        "attestation-verdict",
        report.verdict == Verdict.PASS,
        f"{label} verifies PASS against profile {profile.name}",
        f"{label} does not verify PASS against profile {profile.name} ({why})",
    )
    return JudgedAttestation(verdict, data, sha)


def attestation_checks(
    raw: bytes,
    label: str,
    profile: Profile,
    *,
    image_id: str,
    seccomp_sha256: str,
    runtime: str,
    ran_on: str,
    policy: verify.Policy | None = None,
    key: SSlibKey | None = None,
    matrix: matrices.Matrix | None = None,
) -> tuple[list[Check], Attested | None]:
    """Does the attestation ``raw`` cover this run? It must verify PASS against ``profile``
    (``judge_attestation``) and name the same profile digest, image, seccomp sha256 and runtime,
    and be dated no later than the run (``ran_on``, YYYY-MM-DD...)."""
    judged = judge_attestation(raw, label, profile, policy=policy, key=key, matrix=matrix)
    return binding_checks(
        judged, label, profile, image_id=image_id, seccomp_sha256=seccomp_sha256, runtime=runtime, ran_on=ran_on
    )


def binding_checks(
    judged: JudgedAttestation,
    label: str,
    profile: Profile,
    *,
    image_id: str,
    seccomp_sha256: str,
    runtime: str,
    ran_on: str,
) -> tuple[list[Check], Attested | None]:
    """The verdict, then: the judged evidence names this run's profile digest, image, seccomp
    sha256 and runtime, dated no later than the run. None when the attestation could not be read."""
    if not judged.evidence:
        return [judged.verdict], None
    data = judged.evidence
    checks = [judged.verdict]
    got_profile = (data.get("profile") or {}).get("sha256") if isinstance(data.get("profile"), dict) else None
    checks.append(
        _ok(
            "same-profile",
            got_profile == profile.digest,
            f"the attestation's profile is {profile.digest[:16]}...",
            f"the attestation's profile digest {str(got_profile)[:16]}... is not {profile.digest[:16]}...",
        )
    )
    got_image = data.get("image_digest")
    checks.append(
        _ok(
            "same-image",
            got_image == image_id,
            f"the attestation covers image {image_id}",
            f"the attestation covers image {str(got_image)[:80]} ({str(data.get('image_name'))[:80]}), not {image_id}",
        )
    )
    got_sc = data.get("seccomp_sha256")
    checks.append(
        _ok(
            "same-seccomp",
            got_sc == seccomp_sha256,
            f"the same seccomp policy (sha256 {seccomp_sha256[:16]}...)",
            f"the attestation's seccomp sha256 {str(got_sc)[:16]}... is not {seccomp_sha256[:16]}...",
        )
    )
    got_rt = data.get("runtime")
    checks.append(
        _ok(
            "same-runtime",
            got_rt == runtime,
            f"attested on {runtime}",
            f"the attestation ran on {str(got_rt)[:32]}, this run on {runtime}",
        )
    )
    att_date, run_date = _date(str(data.get("run_date", ""))), _date(ran_on)
    checks.append(
        _ok(
            "dates",
            att_date is not None and run_date is not None and att_date <= run_date,
            f"attested {att_date}, run {run_date}",
            f"the attestation's date {str(data.get('run_date'))[:32]!r} is not on or before the run's {ran_on[:10]!r}",
        )
    )
    return checks, Attested(Path(label).name, judged.sha256, str(data.get("run_date", "")))


def _sandbox_check(doc: Mapping[str, Any], profile: Profile) -> Check:  # noqa: PLR0911 - one return per engine and fault
    """The recorded argv or OCI config is exactly what the profile renders for the recorded
    paths and command (attest's renderers, the profile's one seccomp policy)."""
    sb, command, image_id = doc["sandbox"], doc["command"], doc["image"]["id"]
    policy = Seccomp.render(profile)
    if doc["runtime"]["name"] == "docker":
        if not isinstance(sb["seccomp_file"], str):
            return Check("sandbox", Verdict.FAIL, "a docker run with no seccomp file recorded")
        want = rendered.docker_argv(
            profile,
            image_id,
            command,
            in_dir=sb["in_dir"],
            out_dir=sb["out_dir"],
            seccomp_file=sb["seccomp_file"],
            binary=sb["argv"][0],
        )
        same = sb["argv"] == want and sb["oci_config"] is None
        return _ok("sandbox", same, "the docker run argv is the profile's, re-rendered", _diff(sb["argv"], want))
    if doc["runtime"]["name"] == "podman":
        return _podman_check(sb, profile, command, image_id)
    if not all(isinstance(sb[k], str) for k in ("container_id", "rootfs", "cwd")):
        return Check("sandbox", Verdict.FAIL, "a runc run without its container ID, rootfs or working directory")

    cfg = oci.redacted(
        rendered.oci_config(
            profile,
            command,
            in_dir=sb["in_dir"],
            out_dir=sb["out_dir"],
            container_id=sb["container_id"],
            rootfs=sb["rootfs"],
            cwd=sb["cwd"],
            seccomp_policy=policy.policy,
        )
    )
    argv = sb["argv"]
    want_argv = runc_render.argv(argv[5], sb["container_id"], binary=argv[0]) if len(argv) == 7 else None
    if sb["oci_config"] != cfg:
        return Check("sandbox", Verdict.FAIL, "the recorded OCI config is not the profile's, re-rendered")
    if sb["oci_config_sha256"] != digest(cfg):
        return Check("sandbox", Verdict.FAIL, "oci_config_sha256 is not the sha256 of the recorded OCI config")
    return _ok(
        "sandbox",
        argv == want_argv,
        "the OCI config and runc argv are the profile's, re-rendered",
        _diff(argv, want_argv or []),
    )


def _podman_check(sb: Mapping[str, Any], profile: Profile, command: Sequence[str], image_id: str) -> Check:
    """As Docker's, with podman's engine options taken from the recorded argv (its storage
    paths are the machine's): any other flag is not the profile's sandbox."""
    if not isinstance(sb["seccomp_file"], str) or not sb["argv"]:
        return Check("sandbox", Verdict.FAIL, "a podman run with no seccomp file or argv recorded")
    want = rendered.podman_argv(
        profile,
        image_id,
        command,
        engine=podman_render.Engine.from_argv(sb["argv"]),
        in_dir=sb["in_dir"],
        out_dir=sb["out_dir"],
        seccomp_file=sb["seccomp_file"],
        binary=sb["argv"][0],
    )
    same = sb["argv"] == want and sb["oci_config"] is None
    return _ok("sandbox", same, "the podman run argv is the profile's, re-rendered", _diff(sb["argv"], want))


def _diff(got: Sequence[str], want: Sequence[str]) -> str:
    for i, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return f"the recorded argv differs from the profile's at word {i}: {a[:80]!r}, rendered {b[:80]!r}"
    return f"the recorded argv has {len(got)} words, the profile's {len(want)}"


def _consistency(doc: Mapping[str, Any]) -> Check:
    problems = []
    if doc["timed_out"] and doc["exit_code"] != 124:
        problems.append("timed out but exit code is not 124")
    if doc["refused"] and doc["exit_code"] != 125:
        problems.append("refused but exit code is not 125")
    for stream in ("stdout", "stderr"):
        if len(doc[stream]["tail"]) > doc[stream]["bytes"]:
            problems.append(f"{stream} tail is longer than the stream")
    start, end = _instant(doc["started_at"]), _instant(doc["finished_at"])
    if start is None or end is None or end < start:
        problems.append("finished_at is not a time after started_at")
    elif doc["wall_s"] > (end - start).total_seconds() + CLOCK_SLACK_S:
        problems.append("wall_s is longer than started_at..finished_at")
    for key in ("inputs", "outputs"):
        paths = [e["path"] for e in doc[key]]
        if paths != sorted(set(paths)):
            problems.append(f"{key} are not unique and sorted")
        if any((e["type"] == "file") != (e["sha256"] is not None) for e in doc[key]):
            problems.append(f"{key}: a file without a sha256 or a sha256 on a non-file")
    if (
        doc["sandbox"]["argv"]
        and doc["command"][0] not in doc["sandbox"]["argv"]
        and doc["sandbox"]["oci_config"] is None
    ):
        problems.append("the command is not in the argv")
    return _ok(
        "receipt-consistent", not problems, "timings, exit code, streams and file lists agree", "; ".join(problems)
    )


def _instant(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return None


def outputs_check(doc: Mapping[str, Any], outputs_dir: Path) -> Check:
    """The output tree beside the receipt is, entry by entry, the one it records."""

    try:
        found = files.tree(outputs_dir)
    except OSError as exc:
        return Check("outputs", Verdict.FAIL, f"{outputs_dir}: cannot read ({exc.strerror})")
    want = {e["path"]: e for e in doc["outputs"] if e["type"] in ("file", "dir")}
    got = {e["path"]: e for e in found}
    if got == want:
        return Check("outputs", Verdict.PASS, f"{len(want)} output entries in {outputs_dir} hash as recorded")
    changed = sorted(p for p in set(got) | set(want) if got.get(p) != want.get(p))
    return Check("outputs", Verdict.FAIL, f"{outputs_dir}: differs from the receipt at {', '.join(changed[:5])}")


def _opened(doc: Mapping[str, Any], key: SSlibKey | None) -> tuple[dict[str, Any], list[Check]] | Check:
    """The receipt inside a DSSE envelope and its signature's checks, or the refusal. Without a
    key the signature is not checked (UNVERIFIED: the receipt does not PASS)."""
    from sandproof import signing  # noqa: PLC0415 - only a signed receipt pays for its imports

    opened = signing.open_statement(doc, key, (signing.RECEIPT_TYPE,))
    if opened.predicate is None:
        return Check("receipt-signature", Verdict.FAIL, opened.reason)
    subjects = _ok(
        "receipt-subjects",
        opened.subjects_match,
        "the statement's subjects are the receipt's output files and image",
        "the statement's subjects are not the receipt's own output files and image",
    )
    return opened.predicate, [Check("receipt-signature", opened.signature, opened.reason), subjects]


@dataclass(frozen=True)
class ReceiptReport:
    source: str
    checks: tuple[Check, ...]

    @property
    def verdict(self) -> Verdict:
        ok = self.checks and all(c.verdict == Verdict.PASS for c in self.checks)
        return Verdict.PASS if ok else Verdict.FAIL


def verify_receipt(
    raw: bytes,
    source: str,
    *,
    attestation: bytes,
    attestation_source: str,
    profile: Profile | None = None,
    outputs_dir: Path | None = None,
    policy: verify.Policy | None = None,
    key: SSlibKey | None = None,
    matrix: matrices.Matrix | None = None,
) -> ReceiptReport:
    """Every check, each with its reason; any FAIL fails the receipt. ``profile``: the
    receipt's own (by name) when not given; its digest must match either way. A signed receipt
    (``sandproof sign``) is opened first; with ``key``, the receipt must be signed by it, as
    its attestation must."""
    doc = parse(raw, source)
    signed: list[Check] = []
    if key is not None or bundle.is_envelope(doc):
        opened = _opened(doc, key)
        if isinstance(opened, Check):
            return ReceiptReport(source, (opened,))
        doc, signed = opened
    problem = shape_problem(doc)
    if problem is not None:
        return ReceiptReport(source, (*signed, Check("receipt-schema", Verdict.FAIL, f"{source}: {problem}")))
    checks = [
        *signed,
        Check("receipt-schema", Verdict.PASS, f"matches {SCHEMA}"),
        _ok(
            "receipt-digest",
            digest_holds(doc),
            "receipt_sha256 is the digest of every other field",
            "receipt_sha256 is not the digest of the other fields: the receipt was edited",
        ),
        _consistency(doc),
    ]
    named_profile = doc["profile"]
    if profile is None:
        try:  # the receipt's own profile: a shipped one by name, else the file it came from
            prof = profiles.load(str(named_profile["source"]).removeprefix("shipped:"))
        except Error as exc:
            checks.append(Check("profile", Verdict.FAIL, f"the receipt's profile cannot be loaded: {exc.message}"))
            return ReceiptReport(source, tuple(checks))
    else:
        prof = profile
    # a workload image is part of what was attested ([image] workload, as ``run`` sets it)
    prof = profiles.with_workload(prof, workload_ref(str(doc["image"]["ref"])))
    checks.append(
        _ok(
            "profile",
            prof.digest == named_profile["sha256"] and prof.name == named_profile["name"],
            f"profile {prof.name} has the recorded digest",
            f"profile {prof.name} ({prof.source}) has digest {prof.digest[:16]}..., the receipt names "
            f"{str(named_profile['name'])[:64]!r} {named_profile['sha256'][:16]}...",
        )
    )

    checks.append(
        _ok(
            "seccomp",
            Seccomp.render(prof).sha256 == doc["seccomp_sha256"],
            "the recorded seccomp sha256 is the profile's policy",
            "the recorded seccomp sha256 is not the profile's policy",
        )
    )
    checks.append(_sandbox_check(doc, prof))
    named = doc["attestation"]
    sha = hashlib.sha256(attestation).hexdigest()
    if named is None:
        checks.append(
            Check(
                "attestation-digest", Verdict.FAIL, "the receipt names no attestation (run without --require-attested)"
            )
        )
    else:
        checks.append(
            _ok(
                "attestation-digest",
                named["sha256"] == sha,
                f"{attestation_source} is the attestation the receipt names (sha256 {sha[:16]}...)",
                f"{attestation_source} (sha256 {sha[:16]}...) is not the attestation the receipt names "
                f"({named['sha256'][:16]}...)",
            )
        )
    more, _ = attestation_checks(
        attestation,
        attestation_source,
        prof,
        image_id=doc["image"]["id"],
        seccomp_sha256=doc["seccomp_sha256"],
        runtime=doc["runtime"]["name"],
        ran_on=doc["started_at"],
        policy=policy,
        key=key,
        matrix=matrix,
    )
    checks += more
    if outputs_dir is not None:
        checks.append(outputs_check(doc, outputs_dir))
    return ReceiptReport(source, tuple(checks))
