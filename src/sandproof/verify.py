"""The verifier: read-only and fail-closed.

Order: strict JSON and schema (``bundle``), then every probe verdict recomputed from the
recorded observations (or, for the seed's ``inside/v1`` bundles, from ``errno_or_exit``
and the raw evidence) against expectations derived from the profile, then cross-checks
(recorded verdicts, summary and raw evidence must agree with the recomputation), then
provenance and venue policy, then the requirement matrix. A verdict, summary,
expectation or hash written in the bundle is never trusted; at most it is compared.
"""

from __future__ import annotations

import errno
import functools
import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from securesystemslib.signer import SSlibKey

from sandproof import bundle as bundles
from sandproof import crosscheck, dynimport, evidence, image, plan, seccomp, signing
from sandproof import matrix as matrices
from sandproof.errors import BundleError
from sandproof.inspector import judge, wire
from sandproof.inspector.catalog import OUTSIDE_PROBES, PROBES
from sandproof.profile import Profile
from sandproof.provenance import Check, Derived, Policy, as_dict, check, outside_checks, run_consistency


@dataclass(frozen=True)
class ProbeResult:
    probe_id: str
    requirement: str
    layer: str
    verdict: str
    reason: str
    expected: Any
    actual: str


@dataclass(frozen=True)
class Report:
    source: str
    schema: str
    profile: str
    matrix: str
    venue: str
    probes: list[ProbeResult] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    rows: list[matrices.RowResult] = field(default_factory=list)
    sha256: str = ""
    """Of the bytes judged (read once): what a signed summary of this verification names."""

    @property
    def verdict(self) -> str:
        results = [p.verdict for p in self.probes] + [c.verdict for c in self.checks]
        results += [r.verdict for r in self.rows if r.verdict != matrices.UNDEFINED]
        return judge.PASS if results and all(v == judge.PASS for v in results) else judge.FAIL

    def counts(self) -> dict[str, int]:
        return dict(Counter(p.verdict for p in self.probes))


__all__ = ["Check", "Policy", "ProbeResult", "Report", "verify", "verify_bytes", "verify_file"]

INTEGRITY = "PR-INTEGRITY-1"
_DERIVED: dict[tuple[str, str], tuple[dict[str, dict[str, Any]], Derived]] = {}


def _derived(profile: Profile, runtime: str) -> tuple[dict[str, dict[str, Any]], Derived]:
    """Expectations and provenance facts from a profile, once per profile and runtime (many bundles)."""
    key = (profile.digest, runtime)
    if key not in _DERIVED:
        built = plan.build(profile, runtime)
        facts = Derived(built["sha256"], seccomp.sha256(profile), image.expected_id(profile))
        _DERIVED[key] = ({p["probe_id"]: p for p in built["probes"]}, facts)
    return _DERIVED[key]


def _runtime(data: Mapping[str, Any], profile: Profile) -> str:
    """The runtime whose defaults the bundle is judged with: the one the evidence names
    (provenance then checks the argv or OCI config it ran), else for an inside bundle the
    one whose plan it ran."""
    named = data.get("runtime")
    if named in plan.RUNTIMES:
        return str(named)
    for rt in plan.RUNTIMES:
        if data.get("plan_sha256") == _derived(profile, rt)[1].plan_sha256:
            return rt
    return plan.RUNTIMES[0]


@functools.cache
def _shipped_inspector() -> str:
    return str(dynimport.scan()["inspector_sha256"])


@functools.cache
def _default_matrix() -> matrices.Matrix:
    return matrices.load("sandproof")


def _seed_observation(kind: str, rec: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:  # noqa: PLR0911
    """Rebuild an observation from a seed v1 record: its errno_or_exit and raw fields."""
    code = rec.get("errno_or_exit")
    if kind in ("connect", "socket", "exec", "ptrace", "write"):
        if isinstance(code, bool) or not isinstance(code, int):
            return {"harness_error": f"errno_or_exit is {code!r}, not a number"}
        if code == 0:
            success = {"write": "wrote", "connect": "connected", "socket": "created", "exec": "executed"}
            return {"outcome": success.get(kind, "traced"), "errno": None}
        return {"outcome": "error", "errno": errno.errorcode.get(code, f"E{code}")}
    if kind == "ifaces":
        return {"proc_net_dev": raw.get("proc_net_dev")}
    if kind == "env":
        return {"keys": raw.get("env_keyset")}
    if kind == "mounts":
        # v1 records no writability test: read-write mounts outside the allowed list stay UNVERIFIED
        return {"mountinfo": raw.get("mountinfo")}
    if kind == "absent":
        value = str(rec.get("actual_stderr_or_value"))
        checked = ["/var/run/docker.sock"]
        return {"checked": checked, "present": checked if value == "True" else [] if value == "False" else None}
    return {"harness_error": f"the seed records no {kind} probe"}


def _inconsistencies(
    rec: Mapping[str, Any],
    obs: Mapping[str, Any],
    expected: tuple[Any, str, str],
    v: judge.Judgement,
    contradiction: str | None,
) -> list[str]:
    """What the bundle says beside the observation that disagrees with the recomputation."""
    expect, layer, artifact = expected
    info = PROBES[str(rec.get("probe_id"))]
    problems = [
        f"recorded {k} {rec.get(k)!r} is not {want!r}"
        for k, want in (
            ("kind", info.kind),
            ("operation", info.operation),
            ("requirement", info.requirement),
            ("layer", layer),
            ("artifact_path", artifact),
            ("reason", v.reason),
        )
        if rec.get(k) != want
    ]
    if not crosscheck.same(rec.get("expected"), expect):
        problems.append("the recorded expectation is not the profile's (another plan ran)")
    if rec.get("verdict") != v.verdict:
        problems.append(f"recorded verdict {rec.get('verdict')!r} disagrees with the recomputed {v.verdict}")
    err = obs.get("errno")
    if rec.get("errno_or_exit") != (err if isinstance(err, str) else "n/a"):
        problems.append("errno_or_exit contradicts the observation")
    if rec.get("actual_stderr_or_value") != judge.actual_text(obs, v.reason):
        problems.append("actual_stderr_or_value contradicts the observation")
    if contradiction:
        problems.append(contradiction)
    if (why := crosscheck.shape_problem(obs)) is not None:
        problems.append(f"the observation cannot be read as written: {why}")
    return problems


def _record_checks(records: list[dict[str, Any]], expected: list[str], seed: bool, report: Report) -> Counter[Any]:
    """Each planned probe recorded once, in plan order, and nothing else: how often each id is."""
    ids = Counter(r.get("probe_id") for r in records)
    for pid, n in sorted(ids.items(), key=str):
        if pid not in expected:
            report.checks.append(
                Check("unknown-probe", judge.FAIL, f"probe {pid!r} is not in the plan for this profile")
            )
        elif n > 1:
            report.checks.append(Check("duplicate-probe", judge.FAIL, f"probe {pid} is recorded {n} times"))
    order = [r.get("probe_id") for r in records]
    if not seed and order != expected and sorted(order, key=str) == sorted(expected):
        report.checks.append(
            Check("probe-order", judge.FAIL, "the probes are not recorded in the order the plan runs them")
        )
    return ids


def _raw_checks(
    data: Mapping[str, Any], profile: Profile, runtime: str, rec_by_id: Mapping[str, Any], report: Report
) -> dict[str, str]:
    """Raw evidence against the observations derived from it; what no probe reports is the "raw" check."""
    rows = {pid: {**row, "kind": PROBES[pid].kind} for pid, row in _derived(profile, runtime)[0].items()}
    known = {pid: r for pid, r in rec_by_id.items() if pid in rows}
    per_probe, general = crosscheck.contradictions(known, rows, as_dict(data.get("raw")), as_dict(data.get("guard")))
    if known and general:
        report.checks.append(Check("raw", judge.FAIL, "; ".join(general)))
    return per_probe


def _judge_probes(
    data: Mapping[str, Any], profile: Profile, runtime: str, seed: bool, report: Report
) -> dict[str, str]:
    bundle_path = f"{profile.output_path}/{wire.BUNDLE_NAME}"
    expected = {pid: (row["expect"], row["layer"], bundle_path) for pid, row in _derived(profile, runtime)[0].items()}
    if data.get("schema") == evidence.SCHEMA:
        expected.update(
            dict.fromkeys(OUTSIDE_PROBES, (evidence.STATIC_EXPECT, evidence.STATIC_LAYER, evidence.STATIC_ARTIFACT))
        )
    raw = as_dict(data.get("raw"))
    records = [r for r in data.get("probes", []) if isinstance(r, dict)]
    ids = _record_checks(records, list(expected), seed, report)
    rec_by_id = {r["probe_id"]: r for r in records if ids[r.get("probe_id")] == 1}
    contradictions = {} if seed else _raw_checks(data, profile, runtime, rec_by_id, report)
    verdicts: dict[str, str] = {}
    for pid, (expect, layer, artifact) in expected.items():
        info = PROBES[pid]
        rec = rec_by_id.get(pid)
        if rec is None:
            why = "missing" if ids[pid] == 0 else f"recorded {ids[pid]} times"
            report.probes.append(
                ProbeResult(pid, info.requirement, layer, judge.FAIL, f"probe {why}: no evidence, no PASS", expect, "-")
            )
            continue
        recorded = rec.get("observation")
        obs = _seed_observation(info.kind, rec, raw) if seed else recorded if isinstance(recorded, dict) else {}
        v = judge.judge(info.kind, expect, obs)
        if seed:  # rebuilt from raw text: its shape is all there is to check
            problems = [
                f"the raw evidence cannot be read as written: {w}" for w in [crosscheck.shape_problem(obs)] if w
            ]
        else:
            problems = _inconsistencies(rec, obs, (expect, layer, artifact), v, contradictions.get(pid))
        if problems and v.verdict == judge.PASS:
            v = judge.Judgement(judge.FAIL, "; ".join(problems))
        elif problems:
            v = judge.Judgement(v.verdict, f"{v.reason}; also: {'; '.join(problems)}")
        verdicts[pid] = v.verdict
        actual = str(rec.get("actual_stderr_or_value", ""))[:200]
        report.probes.append(ProbeResult(pid, info.requirement, layer, v.verdict, v.reason, expect, actual))
    if INTEGRITY in expected and verdicts.get(INTEGRITY) != judge.PASS:
        # a preloaded or replaced library can make every libc-level observation a lie
        report.checks.append(
            Check(
                "process-integrity",
                judge.FAIL,
                f"{INTEGRITY} is {verdicts.get(INTEGRITY, 'missing')}: no other observation of this run is believed",
            )
        )
    if not seed and isinstance(data.get("summary"), dict) and any(r not in OUTSIDE_PROBES for r in rec_by_id):
        inside = Counter(v for pid, v in verdicts.items() if pid not in OUTSIDE_PROBES)
        want = {
            "total": sum(inside.values()),
            "pass": inside[judge.PASS],
            "fail": inside[judge.FAIL],
            "unverified": inside[judge.UNVERIFIED],
            "error": inside[judge.ERROR],
        }
        got = {k: data["summary"].get(k) for k in want}
        report.checks.append(
            check(
                "summary",
                got == want,
                "the recorded summary matches the recomputed verdicts",
                f"the recorded summary {got} is not the recomputed {want}",
            )
        )
    return verdicts


def verify(
    data: Mapping[str, Any],
    profile: Profile,
    *,
    source: str = "<bundle>",
    matrix: matrices.Matrix | None = None,
    policy: Policy | None = None,
) -> Report:
    """Judge an already loaded and schema-checked bundle."""
    policy = policy or Policy()
    matrix = matrix or _default_matrix()
    schema = str(data.get("schema"))
    venue = data.get("venue")
    report = Report(source, schema, profile.name, matrix.name, venue if isinstance(venue, str) else "unknown")
    seed = schema == evidence.SEED_INSIDE_SCHEMA
    runtime = _runtime(data, profile)
    verdicts = _judge_probes(data, profile, runtime, seed, report)
    report.checks.extend(outside_checks(data, profile, _derived(profile, runtime)[1], policy, _shipped_inspector))
    if schema == evidence.SCHEMA:
        inside = [v for pid, v in verdicts.items() if pid not in OUTSIDE_PROBES]
        report.checks.extend(run_consistency(data, profile, inside))
    report.rows.extend(matrices.judge_rows(matrix, verdicts))
    return report


def verify_file(
    path: str | Path,
    profile: Profile,
    *,
    matrix: matrices.Matrix | None = None,
    policy: Policy | None = None,
    key: SSlibKey | None = None,
) -> Report:
    """Read the file once (regular files only, bounded) and judge those bytes."""
    return verify_bytes(bundles.read_bytes(path), str(path), profile, matrix=matrix, policy=policy, key=key)


def verify_bytes(
    raw: bytes,
    source: str,
    profile: Profile,
    *,
    matrix: matrices.Matrix | None = None,
    policy: Policy | None = None,
    key: SSlibKey | None = None,
) -> Report:
    """Parse strictly (size limit, strict JSON), check the signature when a key is given
    (before anything else), check the schema, then judge. The bytes hashed for the report
    are the bytes parsed and verified."""
    digest = hashlib.sha256(raw).hexdigest()
    data = bundles.parse(raw, source)
    first: list[Check] = []
    if key is not None or signing.is_envelope(data):
        if key is None:
            body, reason = signing.unverified_statement(data)
            first.append(Check("signature", judge.UNVERIFIED, f"{reason}; no --key given, so not checked"))
        else:
            body, reason = signing.open_envelope(data, key)
            if body is None:
                return Report(
                    source,
                    "dsse",
                    profile.name,
                    (matrix or _default_matrix()).name,
                    "unknown",
                    checks=[Check("signature", judge.FAIL, reason)],
                    sha256=digest,
                )
            first.append(Check("signature", judge.PASS, reason))
        if body is None:
            raise BundleError(f"bundle {source}: {reason}")
        first.append(
            check(
                "subjects",
                signing.subjects_match(body),
                "the statement's subjects are the evidence's digests",
                "the statement's subjects are not the evidence's own digests",
            )
        )
        data = as_dict(body.get("predicate"))
    bundles.validate(data, source)
    report = verify(data, profile, source=source, matrix=matrix, policy=policy)
    report.checks[0:0] = first
    return replace(report, sha256=digest)
