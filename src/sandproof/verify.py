"""The verifier: read-only and fail-closed.

Order: strict JSON and schema (``bundle``), then every probe verdict recomputed from the
recorded observations (or, for the seed's ``inside/v1`` bundles, from ``errno_or_exit``
and the raw evidence) against expectations derived from the profile, then cross-checks
(recorded verdicts, summary and raw evidence must agree with the recomputation), then
provenance and venue policy, then the requirement matrix. A verdict, summary,
expectation or hash written in the bundle is never trusted; at most it is compared.
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandproof import bundle as bundles
from sandproof import dynimport, evidence, image, plan, seccomp
from sandproof import matrix as matrices
from sandproof.inspector import harness, judge
from sandproof.inspector.catalog import OUTSIDE_PROBES, PROBES
from sandproof.profile import Profile

VENUES = ("any", "ci", "vps")


@dataclass(frozen=True)
class Policy:
    require_venue: str = "any"
    """``ci``: only a CI venue; ``vps``: only a VPS; ``any``: report the venue, require none."""
    check_inspector: bool = False
    """Require the inspector that ran to be the one this sandproof ships."""


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
class Check:
    """A bundle-level check (provenance, consistency, policy)."""

    name: str
    verdict: str
    reason: str


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

    @property
    def verdict(self) -> str:
        results = [p.verdict for p in self.probes] + [c.verdict for c in self.checks]
        results += [r.verdict for r in self.rows if r.verdict != matrices.UNDEFINED]
        return judge.PASS if results and all(v == judge.PASS for v in results) else judge.FAIL

    def counts(self) -> dict[str, int]:
        return dict(Counter(p.verdict for p in self.probes))


@dataclass(frozen=True)
class _Derived:
    """What the verifier derives from a profile, once per profile (verifying many bundles)."""

    expectations: dict[str, dict[str, Any]]
    plan_sha256: str
    seccomp_sha256: str
    image_id: str


_DERIVED: dict[str, _Derived] = {}


def _derived(profile: Profile) -> _Derived:
    if profile.digest not in _DERIVED:
        _DERIVED[profile.digest] = _Derived(
            plan.expectations(profile),
            plan.build(profile)["sha256"],
            seccomp.sha256(profile),
            image.expected_id(profile),
        )
    return _DERIVED[profile.digest]


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


def _date_ok(value: object) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _check(name: str, ok: bool, good: str, bad: str) -> Check:
    return Check(name, judge.PASS if ok else judge.FAIL, good if ok else bad)


def _raw_contradictions(rec_by_id: Mapping[str, Mapping[str, Any]], raw: Mapping[str, Any]) -> dict[str, str]:
    """The harness reads raw evidence beside each probe; the two must tell the same story."""
    out: dict[str, str] = {}

    def obs(pid: str) -> Mapping[str, Any]:
        o = rec_by_id.get(pid, {}).get("observation")
        return o if isinstance(o, dict) else {}

    if "PR-ENV-1" in rec_by_id and obs("PR-ENV-1").get("keys") != raw.get("env_keyset"):
        out["PR-ENV-1"] = "raw.env_keyset contradicts the probe's observation"
    net, raw_net = obs("PR-NET-2").get("proc_net_dev"), raw.get("proc_net_dev")
    if "PR-NET-2" in rec_by_id and (
        not isinstance(net, str)
        or not isinstance(raw_net, str)
        or set(judge.parse_net_dev(net)) != set(judge.parse_net_dev(raw_net))
    ):
        out["PR-NET-2"] = "raw.proc_net_dev contradicts the probe's observation"
    # one mount namespace read twice by the harness: the two texts must be identical
    if "PR-MOUNT-1" in rec_by_id and obs("PR-MOUNT-1").get("mountinfo") != raw.get("mountinfo"):
        out["PR-MOUNT-1"] = "raw.mountinfo contradicts the probe's observation"
    return out


def _inconsistencies(
    rec: Mapping[str, Any],
    obs: Mapping[str, Any],
    expected: tuple[Any, str],
    v: judge.Verdict,
    contradiction: str | None,
) -> list[str]:
    """What the bundle says beside the observation that disagrees with the recomputation."""
    expect, layer = expected
    info = PROBES[str(rec.get("probe_id"))]
    problems = [
        f"recorded {k} {rec.get(k)!r} is not {want!r}"
        for k, want in (
            ("kind", info.kind),
            ("operation", info.operation),
            ("requirement", info.requirement),
            ("layer", layer),
            ("reason", v.reason),
        )
        if rec.get(k) != want
    ]
    if rec.get("expected") != expect:
        problems.append("the recorded expectation is not the profile's (another plan ran)")
    if rec.get("verdict") != v.verdict:
        problems.append(f"recorded verdict {rec.get('verdict')!r} disagrees with the recomputed {v.verdict}")
    err = obs.get("errno")
    if rec.get("errno_or_exit") != (err if isinstance(err, str) else "n/a"):
        problems.append("errno_or_exit contradicts the observation")
    if rec.get("actual_stderr_or_value") != harness.actual_text(obs, v.reason):
        problems.append("actual_stderr_or_value contradicts the observation")
    if contradiction:
        problems.append(contradiction)
    return problems


def _judge_probes(data: Mapping[str, Any], profile: Profile, seed: bool, report: Report) -> dict[str, str]:
    expected = {pid: (row["expect"], row["layer"]) for pid, row in _derived(profile).expectations.items()}
    if data.get("schema") == evidence.SCHEMA:
        expected.update(dict.fromkeys(OUTSIDE_PROBES, (evidence.STATIC_EXPECT, evidence.STATIC_LAYER)))
    raw = data.get("raw") if isinstance(data.get("raw"), dict) else {}
    assert isinstance(raw, dict)
    records = [r for r in data.get("probes", []) if isinstance(r, dict)]
    ids = Counter(r.get("probe_id") for r in records)
    for pid, n in sorted(ids.items(), key=str):
        if pid not in expected:
            report.checks.append(
                Check("unknown-probe", judge.FAIL, f"probe {pid!r} is not in the plan for this profile")
            )
        elif n > 1:
            report.checks.append(Check("duplicate-probe", judge.FAIL, f"probe {pid} is recorded {n} times"))
    rec_by_id = {r["probe_id"]: r for r in records if ids[r.get("probe_id")] == 1}
    contradictions = {} if seed else _raw_contradictions(rec_by_id, raw)
    verdicts: dict[str, str] = {}
    for pid, (expect, layer) in expected.items():
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
        problems = [] if seed else _inconsistencies(rec, obs, (expect, layer), v, contradictions.get(pid))
        if problems and v.verdict == judge.PASS:
            v = judge.Verdict(judge.FAIL, "; ".join(problems))
        elif problems:
            v = judge.Verdict(v.verdict, f"{v.reason}; also: {'; '.join(problems)}")
        verdicts[pid] = v.verdict
        actual = str(rec.get("actual_stderr_or_value", ""))[:200]
        report.probes.append(ProbeResult(pid, info.requirement, layer, v.verdict, v.reason, expect, actual))
    if not seed and isinstance(data.get("summary"), dict) and records:
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
            _check(
                "summary",
                got == want,
                "the recorded summary matches the recomputed verdicts",
                f"the recorded summary {got} is not the recomputed {want}",
            )
        )
    return verdicts


def _provenance(data: Mapping[str, Any], profile: Profile, policy: Policy, report: Report) -> None:
    c = report.checks
    run_date = data.get("run_date")
    c.append(_check("run-date", _date_ok(run_date), str(run_date), f"{run_date!r} is not a YYYY-MM-DD date"))
    outside = "image_digest" in data or "seccomp_sha256" in data
    if not outside:
        c.append(
            Check(
                "outside-facts",
                judge.UNVERIFIED,
                "an inside bundle alone carries no image digest, seccomp hash or venue: not attested",
            )
        )
        return
    if data.get("schema") == evidence.SCHEMA:
        started = data.get("container_started") is True
        tail = data.get("stderr_tail") or []
        why = tail[-1] if isinstance(tail, list) and tail and isinstance(tail[-1], str) else "no inside bundle"
        c.append(
            _check(
                "container-started",
                started,
                f"inside bundle via {data.get('bundle_channel')}",
                f"the container did not start or wrote no evidence: {why}",
            )
        )
        ran_profile = data.get("profile") if isinstance(data.get("profile"), dict) else {}
        assert isinstance(ran_profile, dict)
        want_profile = profile.digest
        c.append(
            _check(
                "profile",
                ran_profile.get("sha256") == want_profile,
                f"the sandbox ran profile {profile.name!r} itself",
                f"the sandbox ran profile {ran_profile.get('name')!r} ({ran_profile.get('sha256')}), "
                f"not {profile.name!r}: a weakened or different sandbox attests nothing about this one",
            )
        )
        want_plan = _derived(profile).plan_sha256
        ran = data.get("plan_sha256") if started else want_plan
        c.append(
            _check(
                "plan",
                ran == want_plan and data.get("expected_plan_sha256") == want_plan,
                "the harness ran the plan this profile derives",
                "the plan that ran is not the one this profile derives",
            )
        )
        dyn = next(
            (r for r in data.get("probes", []) if isinstance(r, dict) and r.get("probe_id") == "PR-DYNIMPORT"), {}
        )
        scanned = (
            dyn.get("observation", {}).get("inspector_sha256") if isinstance(dyn.get("observation"), dict) else None
        )
        if started:
            c.append(
                _check(
                    "inspector-scanned",
                    scanned == data.get("inspector_sha256"),
                    "the inspector that ran is the one PR-DYNIMPORT scanned",
                    "the inspector that ran is not the one PR-DYNIMPORT scanned",
                )
            )
        if policy.check_inspector:
            shipped = _shipped_inspector()
            c.append(
                _check(
                    "inspector-shipped",
                    data.get("inspector_sha256") == shipped,
                    "the inspector that ran is the one this sandproof ships",
                    f"inspector {data.get('inspector_sha256')!r} is not the shipped {shipped}",
                )
            )
    want = _derived(profile).seccomp_sha256
    got = data.get("seccomp_sha256")
    c.append(
        _check(
            "seccomp-sha256",
            got == want,
            "matches the profile's rendered seccomp",
            f"{got!r} is not the sha256 of the profile's rendered seccomp {want}",
        )
    )
    digest = data.get("image_digest")
    ok = isinstance(digest, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", digest) is not None
    c.append(_check("image-digest", ok, str(digest), f"missing or malformed image digest {digest!r}"))
    if ok and data.get("schema") == evidence.SCHEMA:
        want_image = _derived(profile).image_id
        c.append(
            _check(
                "image",
                digest == want_image,
                "the image this sandproof builds, reproducibly, for the profile",
                f"{digest} is not the image this sandproof builds for the profile ({want_image})",
            )
        )
    _venue(data, policy, report)


def _venue(data: Mapping[str, Any], policy: Policy, report: Report) -> None:
    venue = data.get("venue")
    identity = data.get("venue_identity") if isinstance(data.get("venue_identity"), dict) else {}
    assert isinstance(identity, dict)
    mac = identity.get("not_mac_local") is not True or venue == "mac-local"
    claim = f"venue {venue!r} (read from the environment: a claim, not a proof)"
    if policy.require_venue == "any":
        report.checks.append(Check("venue", judge.PASS, f"{claim}; no venue required"))
    elif mac or venue != policy.require_venue:
        report.checks.append(
            Check(
                "venue",
                judge.FAIL,
                f"{claim}; --require-venue {policy.require_venue} refuses "
                + ("a Mac-local or unknown venue" if mac else "it"),
            )
        )
    else:
        report.checks.append(Check("venue", judge.PASS, f"{claim}; meets --require-venue {policy.require_venue}"))


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
    verdicts = _judge_probes(data, profile, seed, report)
    _provenance(data, profile, policy, report)
    report.rows.extend(matrices.judge_rows(matrix, verdicts))
    return report


def verify_file(
    path: str | Path, profile: Profile, *, matrix: matrices.Matrix | None = None, policy: Policy | None = None
) -> Report:
    """Load (strict JSON, size limit, schema) then judge."""
    return verify(bundles.load(path), profile, source=str(path), matrix=matrix, policy=policy)
