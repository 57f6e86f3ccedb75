"""The verifier: read-only and fail-closed.

It recomputes every probe verdict from the recorded observations (or, for the seed's
``inside/v1`` bundles, from ``errno_or_exit`` and the raw evidence) against the
expectations it derives from the profile itself. A verdict, summary, expectation or
hash written in the bundle is never trusted: at most it is compared and, if it
disagrees, reported as a failure.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandproof import evidence, plan, seccomp
from sandproof.errors import BundleError
from sandproof.inspector import judge
from sandproof.inspector.catalog import PROBES
from sandproof.profile import Profile

MAX_BUNDLE_BYTES = 16 << 20
KNOWN_SCHEMAS = (evidence.SCHEMA, evidence.INSIDE_SCHEMA, evidence.SEED_INSIDE_SCHEMA)


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
    """A bundle-level check (provenance, completeness)."""

    name: str
    verdict: str
    reason: str


@dataclass(frozen=True)
class Report:
    source: str
    schema: str
    profile: str
    probes: list[ProbeResult] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        results = [p.verdict for p in self.probes] + [c.verdict for c in self.checks]
        return judge.PASS if results and all(v == judge.PASS for v in results) else judge.FAIL

    def counts(self) -> dict[str, int]:
        return dict(Counter(p.verdict for p in self.probes))


def load(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            raise BundleError(f"bundle {p}: {size} bytes, more than the {MAX_BUNDLE_BYTES} byte limit")
        raw = p.read_bytes()
    except OSError as exc:
        raise BundleError(f"bundle {p}: cannot read: {exc.strerror}") from exc
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BundleError(f"bundle {p}: not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BundleError(f"bundle {p}: expected a JSON object at the top, got {type(data).__name__}")
    if data.get("schema") not in KNOWN_SCHEMAS:
        raise BundleError(
            f"bundle {p}: unknown schema {data.get('schema')!r}; expected one of {', '.join(KNOWN_SCHEMAS)}"
        )
    if not isinstance(data.get("probes"), list):
        raise BundleError(f"bundle {p}: 'probes' must be a list")
    return data


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a bundle")


def _seed_observation(kind: str, rec: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:  # noqa: PLR0911
    """Rebuild an observation from a seed v1 record: its errno_or_exit and raw fields."""
    code = rec.get("errno_or_exit")
    if kind in ("connect", "socket", "exec", "ptrace", "write"):
        if isinstance(code, bool) or not isinstance(code, int):
            return {"harness_error": f"errno_or_exit is {code!r}, not a number"}
        if code == 0:
            return {
                "outcome": {
                    "write": "wrote",
                    "connect": "connected",
                    "socket": "created",
                    "exec": "executed",
                    "ptrace": "traced",
                }[kind],
                "errno": None,
            }
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
    return {"harness_error": f"no seed mapping for {kind}"}


def _date_ok(value: object) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _provenance(bundle: Mapping[str, Any], profile: Profile) -> list[Check]:
    checks = []
    started = bundle.get("container_started")
    if started is not True:
        tail = bundle.get("stderr_tail") or []
        why = tail[-1] if isinstance(tail, list) and tail and isinstance(tail[-1], str) else "no inside bundle"
        checks.append(
            Check("container-started", judge.FAIL, f"the container did not start or wrote no evidence: {why}")
        )
    else:
        checks.append(Check("container-started", judge.PASS, f"inside bundle via {bundle.get('bundle_channel')}"))
    want = seccomp.sha256(profile)
    got = bundle.get("seccomp_sha256")
    checks.append(
        Check(
            "seccomp-sha256",
            judge.PASS if got == want else judge.FAIL,
            "matches the profile's rendered seccomp"
            if got == want
            else f"{got!r} is not the profile's rendered seccomp {want}",
        )
    )
    digest = bundle.get("image_digest")
    ok = isinstance(digest, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", digest) is not None
    checks.append(
        Check(
            "image-digest",
            judge.PASS if ok else judge.FAIL,
            str(digest) if ok else f"missing or malformed image digest {digest!r}",
        )
    )
    run_date = bundle.get("run_date")
    checks.append(
        Check(
            "run-date",
            judge.PASS if _date_ok(run_date) else judge.FAIL,
            str(run_date) if _date_ok(run_date) else f"{run_date!r} is not a YYYY-MM-DD date",
        )
    )
    return checks


def verify(bundle: Mapping[str, Any], profile: Profile, source: str = "<bundle>") -> Report:
    schema = str(bundle.get("schema"))
    seed = schema == evidence.SEED_INSIDE_SCHEMA
    expected = plan.expectations(profile)
    raw = bundle.get("raw") if isinstance(bundle.get("raw"), dict) else {}
    assert isinstance(raw, dict)
    records = [r for r in bundle.get("probes", []) if isinstance(r, dict)]
    ids = Counter(r.get("probe_id") for r in records)
    report = Report(source, schema, profile.name)
    if len(records) != len(bundle.get("probes", [])):
        report.checks.append(Check("probe-records", judge.FAIL, "a probe record is not an object"))
    for pid, n in ids.items():
        if pid not in expected:
            report.checks.append(Check("unknown-probe", judge.FAIL, f"probe {pid!r} is not in the catalog"))
        elif n > 1:
            report.checks.append(Check("duplicate-probe", judge.FAIL, f"probe {pid} is recorded {n} times"))
    for pid, row in expected.items():
        info = PROBES[pid]
        found = [r for r in records if r.get("probe_id") == pid]
        if len(found) != 1:
            why = "missing" if not found else f"recorded {len(found)} times"
            report.probes.append(
                ProbeResult(
                    pid,
                    info.requirement,
                    row["layer"],
                    judge.FAIL,
                    f"probe {why}: no evidence, no PASS",
                    row["expect"],
                    "-",
                )
            )
            continue
        rec = found[0]
        if seed:
            obs = _seed_observation(info.kind, rec, raw)
        else:
            recorded = rec.get("observation")
            obs = recorded if isinstance(recorded, dict) else {}
        v = judge.judge(info.kind, row["expect"], obs)
        if not seed and rec.get("expected") != row["expect"]:
            v = judge.Verdict(
                judge.FAIL,
                "the recorded expectation is not the profile's "
                f"(bundle ran another plan); judged anyway: {v.verdict} {v.reason}",
            )
        actual = str(rec.get("actual_stderr_or_value", ""))[:200]
        report.probes.append(
            ProbeResult(pid, info.requirement, row["layer"], v.verdict, v.reason, row["expect"], actual)
        )
    if schema == evidence.SCHEMA:
        report.checks.extend(_provenance(bundle, profile))
    return report
