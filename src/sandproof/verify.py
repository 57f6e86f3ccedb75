"""The verifier: read-only and fail-closed.

Order: strict JSON and schema, into typed values (``bundle``, ``model``), then every probe
verdict recomputed from the recorded observations (or, for the seed's ``inside/v1``
bundles, from ``errno_or_exit`` and the raw evidence) against expectations derived from
the profile, then cross-checks (recorded verdicts, summary and raw evidence must agree
with the recomputation), then provenance and venue policy, then the requirement matrix.
A verdict, summary, expectation or hash written in the bundle is never trusted; at most
it is compared.

It loads no runtime, no image builder and no probe: what it needs of the image and of
runc are facts (``imagespec``, ``contract``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import hashlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import msgspec

from sandproof import bundle as bundles
from sandproof import contract, crosscheck, imagespec, model, plan, runfacts, seccomp
from sandproof import matrix as matrices
from sandproof.engineview import check as engine_view
from sandproof.errors import BundleError
from sandproof.inspector import judge
from sandproof.inspector.catalog import OUTSIDE_PROBES, PROBES
from sandproof.inspector.judges import mounts
from sandproof.inspector.wire import BUNDLE_NAME, Judgement, Verdict
from sandproof.model import (
    Bundle,
    EvidenceBundle,
    Guard,
    InsideBundle,
    JsonObject,
    Raw,
    Record,
    SeedBundle,
    SeedRaw,
    SeedRecord,
    SeedSummary,
    Summary,
)

if TYPE_CHECKING:
    from securesystemslib.signer import SSlibKey
from sandproof.profile import Profile
from sandproof.provenance import Cause, Check, Derived, Policy, check, outside_checks, run_consistency
from sandproof.workload import carried
from sandproof.workload.carried import Workload


@dataclass(frozen=True)
class ProbeResult:
    probe_id: str
    requirement: str
    layer: str
    verdict: Verdict
    reason: str
    expected: JsonObject
    actual: str
    cause: Cause = Cause.JUDGED
    """What kind of reason this is: code reads this, never the reason's text."""

    def __init__(  # noqa: PLR0917 - one parameter per field, as the generated __init__ has
        self,
        probe_id: str,
        requirement: str,
        layer: str,
        verdict: Verdict,
        reason: str,
        expected: JsonObject,
        actual: str,
        cause: Cause = Cause.JUDGED,
    ) -> None:
        # what the generated frozen __init__ does, at once: it sets each field through
        # object.__setattr__ (frozen refuses self.x = ...), ~0.9 us a result, 45 a bundle;
        # the instance's dict written in one call holds the same attributes in half the
        # time, and the class stays frozen after (tests/test_verify.py holds the two
        # signatures equal)
        self.__dict__.update(
            probe_id=probe_id,
            requirement=requirement,
            layer=layer,
            verdict=verdict,
            reason=reason,
            expected=expected,
            actual=actual,
            cause=cause,
        )


@dataclass(frozen=True)
class Report:
    """One verification, built once: every field is set at construction and never changed."""

    source: str
    schema: str
    profile: str
    matrix: str
    venue: str
    probes: tuple[ProbeResult, ...] = ()
    checks: tuple[Check, ...] = ()
    rows: tuple[matrices.RowResult, ...] = ()
    sha256: str = ""
    """Of the bytes judged (read once): what a signed summary of this verification names."""
    profile_sha256: str = ""
    """The digest of the profile judged against: a file may take a shipped profile's name."""
    profile_source: str = ""
    runtime: str = "unknown"
    """The runtime the bundle records (a claim it makes; provenance checks the run against it),
    "unknown" when it names none: what the fleet view groups by."""
    node: str = "unknown"
    """The host the evidence says it ran on (``venue_identity.node``), a claim like the venue."""
    runtime_version: str = ""
    """The runtime's own version string as the evidence records it (shown beside the runtime)."""

    @property
    def verdict(self) -> Verdict:
        results = [str(p.verdict) for p in self.probes] + [str(c.verdict) for c in self.checks]
        results += [r.verdict for r in self.rows if r.verdict != matrices.UNDEFINED]
        return Verdict.PASS if results and all(v == Verdict.PASS for v in results) else Verdict.FAIL

    def counts(self) -> dict[str, int]:
        return dict(Counter(str(p.verdict) for p in self.probes))


__all__ = ["Cause", "Check", "Policy", "ProbeResult", "Report", "verify", "verify_bytes", "verify_file"]

INTEGRITY = "PR-INTEGRITY-1"


@dataclass(frozen=True)
class Expected:
    """One planned probe as this profile derives it."""

    kind: str
    layer: str
    params: JsonObject
    expect: JsonObject
    artifact: str
    expect_json: bytes
    """``expect`` as canonical JSON, to compare each record's copy with."""
    fields: tuple[str, str, str, str, str]
    """What the record's kind, operation, requirement, layer and artifact_path must be
    (the catalog's and the plan's: ``FIELDS`` less the reason, which the judge gives)."""


@dataclass(frozen=True)
class Derivation:
    """Everything a profile implies for one runtime, derived once (many bundles share it)."""

    probes: Mapping[str, Expected]
    """In plan order; for the evidence schema, the host-run probes after them."""
    inside: Mapping[str, Expected]
    """The plan's probes alone (what the harness ran)."""
    facts: Derived
    rows: Mapping[str, tuple[str, JsonObject]]
    """The plan's probes as the cross-checks read them: probe id -> (kind, params)."""


_DERIVATIONS: dict[tuple[str, str, Workload | None], Derivation] = {}


def _derive(profile: Profile, runtime: str, workload: Workload | None = None) -> Derivation:
    compiled = plan.compiled(profile, runtime, workload)
    built = compiled.plan
    artifact = f"{profile.filesystem.output}/{BUNDLE_NAME}"
    inside = {
        row["probe_id"]: _expected(
            row["probe_id"], PROBES[row["probe_id"]].kind, row["layer"], row["params"], row["expect"], artifact=artifact
        )
        for row in built["probes"]
    }
    static = {
        pid: _expected(
            pid, "static", contract.STATIC_LAYER, {}, contract.STATIC_EXPECT, artifact=contract.STATIC_ARTIFACT
        )
        for pid in OUTSIDE_PROBES
    }
    image_id = workload.image_id if workload else imagespec.expected_id(profile)
    # the harness hashes at most the first MiB of a file it lists (inspector/probes/filesystem.py listing)
    plan_file = hashlib.sha256(compiled.text[: 1 << 20]).hexdigest()
    facts = Derived(built["sha256"], seccomp.sha256(profile), image_id, workload, plan_file)
    rows = {pid: (e.kind, e.params) for pid, e in inside.items()}
    return Derivation({**inside, **static}, inside, facts, rows)


def _expected(pid: str, kind: str, layer: str, params: JsonObject, expect: JsonObject, *, artifact: str) -> Expected:
    info = PROBES[pid]
    fields = (info.kind, info.operation, info.requirement, layer, artifact)
    return Expected(kind, layer, params, expect, artifact, crosscheck.canonical(expect), fields)


def _derived(profile: Profile, runtime: str, workload: Workload | None = None) -> Derivation:
    """Per profile (by digest), runtime and recorded workload: a cache of derivations, never of bundles."""
    key = (profile.digest, runtime, workload)
    if key not in _DERIVATIONS:
        _DERIVATIONS[key] = _derive(profile, runtime, workload)
    return _DERIVATIONS[key]


def prepare(profile: Profile, runtime: str, workload: Workload | None = None) -> None:
    """Derive ahead what judging ``profile``'s bundles from ``runtime`` needs and no bundle
    decides (the expectations, the default matrix): attest calls it while the container runs,
    which took 15-30 ms after the run in a fresh ``sandproof attest`` process; and the typed
    reader's type information (``model.prepare``)."""
    _derived(profile, runtime, workload)
    _default_matrix()
    model.prepare()


def _workload(data: Bundle) -> Workload | None:
    """The recorded user's image (attest --image), the outside facts its plan derives from;
    provenance's "workload" check says whether the record is there and sound."""
    if not isinstance(data, EvidenceBundle) or not isinstance(data.workload, dict):
        return None
    found = carried.from_record(data.workload)
    return found if isinstance(found, Workload) else None


def _runtime(data: Bundle, profile: Profile) -> str:
    """The runtime whose defaults the bundle is judged with: the one the evidence names
    (provenance then checks the argv or OCI config it ran), else for an inside bundle the
    one whose plan it ran."""
    named = None if isinstance(data, InsideBundle) else data.runtime
    if named in plan.RUNTIMES:
        return str(named)
    for rt in plan.RUNTIMES:
        if data.plan_sha256 == _derived(profile, rt).facts.plan_sha256:
            return rt
    return plan.RUNTIMES[0]


@functools.cache
def _shipped_inspector() -> str:
    from sandproof import dynimport  # noqa: PLC0415 - only with --profile: it reads the image's files

    return str(dynimport.scan()["inspector_sha256"])


@functools.cache
def _default_matrix() -> matrices.Matrix:
    return matrices.load("sandproof")


def _seed_observation(kind: str, rec: SeedRecord, raw: SeedRaw) -> dict[str, object]:  # noqa: PLR0911
    """Rebuild an observation from a seed v1 record: its errno_or_exit and raw fields."""
    code = rec.errno_or_exit
    if kind in ("connect", "socket", "exec", "ptrace", "write"):
        if not isinstance(code, int):
            return {"harness_error": f"errno_or_exit is {code!r}, not a number"}
        if code == 0:
            success = {"write": "wrote", "connect": "connected", "socket": "created", "exec": "executed"}
            return {"outcome": success.get(kind, "traced"), "errno": None}
        return {"outcome": "error", "errno": errno.errorcode.get(code, f"E{code}")}
    if kind == "ifaces":
        return {"proc_net_dev": raw.proc_net_dev}
    if kind == "env":
        return {"keys": list(raw.env_keyset)}
    if kind == "mounts":
        # v1 records no writability test: read-write mounts outside the allowed list stay UNVERIFIED
        return {"mountinfo": raw.mountinfo}
    if kind == "absent":
        value = rec.actual_stderr_or_value
        checked = ["/var/run/docker.sock"]
        return {"checked": checked, "present": checked if value == "True" else [] if value == "False" else None}
    return {"harness_error": f"the seed records no {kind} probe"}


FIELDS = ("kind", "operation", "requirement", "layer", "artifact_path", "reason")
"""The record's fields that must be what the catalog, the plan and the judge give."""


def _inconsistencies(
    rec: Record, want: Expected, v: Judgement, contradiction: str | None, shape: str | None, *, same_expect: bool
) -> list[str]:
    """What the bundle says beside the observation that disagrees with the recomputation."""
    recorded = (rec.kind, rec.operation, rec.requirement, rec.layer, rec.artifact_path)
    problems = (
        []
        if recorded == want.fields and rec.reason == v.reason  # all str: one comparison for the usual record
        else [
            f"recorded {k} {got!r} is not {expected!r}"
            for k, got, expected in zip(FIELDS, (*recorded, rec.reason), (*want.fields, v.reason), strict=True)
            if got != expected
        ]
    )
    if not same_expect:
        problems.append("the recorded expectation is not the profile's (another plan ran)")
    if rec.verdict != v.verdict:
        problems.append(f"recorded verdict {rec.verdict.value!r} disagrees with the recomputed {v.verdict}")
    err = rec.observation.get("errno")
    if rec.errno_or_exit != (err if isinstance(err, str) else "n/a"):
        problems.append("errno_or_exit contradicts the observation")
    if rec.actual_stderr_or_value != judge.actual_text(rec.observation, v.reason):
        problems.append("actual_stderr_or_value contradicts the observation")
    if contradiction:
        problems.append(contradiction)
    if shape is not None:
        problems.append(f"the observation cannot be read as written: {shape}")
    return problems


def _same_expectations(records: list[Record], expected: Mapping[str, Expected]) -> frozenset[str]:
    """The records whose ``expected`` is the plan's, as canonical JSON. One encoding of every
    record's copy against the plan's joined in the same order decides the usual bundle: a
    list's compact JSON is its items' joined by commas, and that split is unique, so the two
    texts are equal only when each item is. Otherwise each record is compared alone."""
    want = b"[" + b",".join(expected[r.probe_id].expect_json for r in records) + b"]"
    if crosscheck.canonical([r.expected for r in records]) == want:
        return frozenset(r.probe_id for r in records)
    return frozenset(
        r.probe_id for r in records if crosscheck.canonical(r.expected) == expected[r.probe_id].expect_json
    )


def _record_checks(inputs: Inputs, expected: list[str]) -> tuple[Counter[str], list[Check]]:
    """Each planned probe recorded once, in plan order, and nothing else: how often each id is."""
    ids = Counter(r.probe_id for r in inputs.probes)
    planned = set(expected)
    checks = []
    for pid, n in sorted(ids.items()):
        if pid not in planned:
            checks.append(Check("unknown-probe", Verdict.FAIL, f"probe {pid!r} is not in the plan for this profile"))
        elif n > 1:
            checks.append(Check("duplicate-probe", Verdict.FAIL, f"probe {pid} is recorded {n} times"))
    order = [r.probe_id for r in inputs.probes]
    if inputs.kind is not SeedBundle and order != expected and sorted(order) == sorted(expected):
        checks.append(Check("probe-order", Verdict.FAIL, "the probes are not recorded in the order the plan runs them"))
    return ids, checks


def _summary_check(s: Summary | None, verdicts: Mapping[str, Verdict]) -> Check:
    inside = Counter(v for pid, v in verdicts.items() if pid not in OUTSIDE_PROBES)
    want = {
        "total": sum(inside.values()),
        "pass": inside[Verdict.PASS],
        "fail": inside[Verdict.FAIL],
        "unverified": inside[Verdict.UNVERIFIED],
        "error": inside[Verdict.ERROR],
    }
    got = None if s is None else {"total": s.total, "pass": s.passed, "fail": s.fail, "unverified": s.unverified}
    if s is not None and got is not None:
        got["error"] = s.error
    return check(
        "summary",
        got == want,
        "the recorded summary matches the recomputed verdicts",
        f"the recorded summary {got} is not the recomputed {want}",
    )


@dataclass(frozen=True)
class _Read:
    """What is read once per bundle and shared by every probe's judgement (never across bundles)."""

    table: mounts.Table | None
    """raw.mountinfo, line by line: the inventory judge and the cross-checks share it."""
    contradictions: Mapping[str, str]
    shapes: Mapping[str, str | None]
    """Probe id -> why its observation cannot be read as written (``crosscheck.shape_problem``),
    for every record judged: a record missing here raises, it is never let through unchecked."""
    same_expect: frozenset[str]
    """The records whose ``expected`` is, as canonical JSON, the plan's for their probe."""


def _judge_one(
    rec: Record | SeedRecord, want: Expected, raw: Raw | SeedRaw | None, read: _Read
) -> tuple[Judgement, Cause]:
    if isinstance(rec, SeedRecord):
        assert isinstance(raw, SeedRaw)
        obs = _seed_observation(want.kind, rec, raw)
        v = judge.judge(want.kind, want.expect, obs, mountinfo=read.table)
        # rebuilt from raw text: its shape is all there is to check
        problems = [f"the raw evidence cannot be read as written: {w}" for w in [crosscheck.shape_problem(obs)] if w]
    else:
        obs = rec.observation
        v = judge.judge(want.kind, want.expect, obs, mountinfo=read.table)
        pid = rec.probe_id
        contradiction, shape, same_expect = read.contradictions.get(pid), read.shapes[pid], pid in read.same_expect
        problems = _inconsistencies(rec, want, v, contradiction, shape, same_expect=same_expect)
    if problems and v.verdict == Verdict.PASS:
        return Judgement(Verdict.FAIL, "; ".join(problems)), Cause.CONTRADICTED
    if problems:
        return Judgement(v.verdict, f"{v.reason}; also: {'; '.join(problems)}"), Cause.CONTRADICTED
    return v, Cause.JUDGED


class Inputs(NamedTuple):
    """All that judging a bundle's probes reads of it (``_judge_probes`` is given nothing
    else): two bundles with equal inputs, judged for the same derivation and matrix, get the
    same judgement."""

    kind: type[Bundle]
    probes: tuple[Record, ...] | tuple[SeedRecord, ...]
    raw: Raw | SeedRaw | None
    guard: Guard | None
    summary: Summary | SeedSummary | None

    @classmethod
    def of(cls, data: Bundle) -> Inputs:
        guard = None if isinstance(data, SeedBundle) else _guard(data)
        return cls(type(data), data.probes, data.raw, guard, data.summary)


@dataclass(frozen=True)
class Judged:
    """One bundle's probes judged (``judge_ahead``), with what was judged: ``verify`` takes
    the results instead of judging again only when its bundle's ``Inputs`` are the same (of
    the same kind, and every record, the raw evidence, the guard and the summary the same
    JSON: ``_as_json``), for the very same derivation and matrix."""

    inputs: Inputs
    json: bytes
    """``_as_json(inputs)``, made where the judging was (attest's thread, off the critical path)."""
    derivation: Derivation
    matrix: matrices.Matrix
    probes: tuple[ProbeResult, ...]
    checks: tuple[Check, ...]
    verdicts: Mapping[str, Verdict]


def judge_ahead(
    inside: InsideBundle, static: Record, profile: Profile, runtime: str, workload: Workload | None = None
) -> Judged:
    """The probes of the evidence that will be merged from ``inside`` and the host's own
    ``static`` record, judged now: attest calls it once the harness's bundle is there and
    while the engine still tears the sandbox down, and hands it to ``verify`` of the merged
    evidence, which uses it only if that evidence has exactly these inputs."""
    inputs = Inputs(EvidenceBundle, (*inside.probes, static), inside.raw, inside.guard, inside.summary)
    derivation = _derived(profile, runtime, workload)
    matrix = _default_matrix()
    probes, checks, verdicts = _judge_probes(inputs, derivation, matrix)
    return Judged(inputs, _as_json(inputs), derivation, matrix, tuple(probes), tuple(checks), verdicts)


_INPUTS_JSON = msgspec.json.Encoder()


def _as_json(inputs: Inputs) -> bytes:
    """The inputs as JSON, where Python's ``==`` is not enough: 1 == 1.0 == True there, and a
    judge tells them apart (a flag recorded as 1 is not ``true``: review 12). msgspec writes
    the typed values in field order and each dict in its own order (~70 us for a bundle):
    equal bytes are the same values of the same types; a dict in another order only costs
    judging again."""
    return _INPUTS_JSON.encode((inputs.probes, inputs.raw, inputs.guard, inputs.summary))


def _judge_probes(
    inputs: Inputs, derivation: Derivation, matrix: matrices.Matrix
) -> tuple[list[ProbeResult], list[Check], dict[str, Verdict]]:
    expected = derivation.probes if inputs.kind is EvidenceBundle else derivation.inside
    ids, checks = _record_checks(inputs, list(expected))
    if inputs.kind is SeedBundle:  # the draft's bundle is judged by the matrix's rows, not probes it never had
        named = {p for row in matrix.rows for p in row.probes}
        expected = {pid: want for pid, want in expected.items() if pid in named}
    rec_by_id: dict[str, Record | SeedRecord] = {r.probe_id: r for r in inputs.probes if ids[r.probe_id] == 1}
    table = None if inputs.raw is None else crosscheck.mount_table(inputs.raw.mountinfo)
    contradictions: dict[str, str] = {}
    shapes: dict[str, str | None] = {}
    same_expect: frozenset[str] = frozenset()
    if inputs.kind is not SeedBundle:
        assert not isinstance(inputs.raw, SeedRaw)
        judged = [r for pid, r in rec_by_id.items() if pid in expected and isinstance(r, Record)]
        # the observations and the raw evidence read for their shape in one pass
        *found, raw_shape = crosscheck.shape_problems([*(r.observation for r in judged), inputs.raw])
        shapes = dict(zip([r.probe_id for r in judged], found, strict=True))
        known = {pid: r for pid, r in rec_by_id.items() if pid in derivation.inside and isinstance(r, Record)}
        contradictions, general = crosscheck.contradictions(
            known, derivation.rows, inputs.raw, inputs.guard, table, raw_shape=(raw_shape,)
        )
        if known and general:
            checks.append(Check("raw", Verdict.FAIL, "; ".join(general)))
        same_expect = _same_expectations(judged, expected)
    read = _Read(table, contradictions, shapes, same_expect)
    results: list[ProbeResult] = []
    verdicts: dict[str, Verdict] = {}
    for pid, want in expected.items():
        info = PROBES[pid]
        rec = rec_by_id.get(pid)
        if rec is None:
            cause = Cause.MISSING if ids[pid] == 0 else Cause.DUPLICATE
            why = "missing" if ids[pid] == 0 else f"recorded {ids[pid]} times"
            reason = f"probe {why}: no evidence, no PASS"
            results.append(
                ProbeResult(pid, info.requirement, want.layer, Verdict.FAIL, reason, want.expect, "-", cause)
            )
            continue
        v, cause = _judge_one(rec, want, inputs.raw, read)
        verdicts[pid] = v.verdict
        actual = _actual(rec)
        results.append(ProbeResult(pid, info.requirement, want.layer, v.verdict, v.reason, want.expect, actual, cause))
    if INTEGRITY in expected and verdicts.get(INTEGRITY) != Verdict.PASS:
        # a preloaded or replaced library can make every libc-level observation a lie
        seen = verdicts.get(INTEGRITY, "missing")
        reason = f"{INTEGRITY} is {seen}: no other observation of this run is believed"
        checks.append(Check("process-integrity", Verdict.FAIL, reason))
    inside_recorded = any(r not in OUTSIDE_PROBES for r in rec_by_id)
    if inputs.kind is not SeedBundle and inside_recorded:
        assert not isinstance(inputs.summary, SeedSummary)
        checks.append(_summary_check(inputs.summary, verdicts))
    return results, checks, verdicts


def _actual(rec: Record | SeedRecord) -> str:
    """What the record shows as observed. A refused call's record says only "error" (the
    outcome): the errno it observed is the value (issue 13: report.md showed "error")."""
    text = rec.actual_stderr_or_value[:200]
    obs = rec.observation if isinstance(rec, Record) else {}
    got = obs.get("errno")
    if text == "error" and isinstance(got, str) and got:
        return f"error {got[:40]}"
    return text


def _guard(data: EvidenceBundle | InsideBundle) -> Guard | None:
    return data.guard if isinstance(data.guard, Guard) else None


def _venue(data: Bundle) -> str:
    venue = None if isinstance(data, InsideBundle) else data.venue
    return venue if isinstance(venue, str) else "unknown"


def _recorded_runtime(data: Bundle) -> str:
    named = None if isinstance(data, InsideBundle) else data.runtime
    return named if isinstance(named, str) and named else "unknown"


def _node(data: Bundle) -> str:
    """Kubernetes records the pod's node (``node``); every other runtime the host's name."""
    if not isinstance(data, EvidenceBundle):
        return "unknown"
    node = data.node if isinstance(data.node, str) and data.node else data.venue_identity.get("node")
    return node if isinstance(node, str) and node else "unknown"


def verify(
    data: Bundle | Mapping[str, object],
    profile: Profile,
    *,
    source: str = "<bundle>",
    matrix: matrices.Matrix | None = None,
    policy: Policy | None = None,
    first: tuple[Check, ...] = (),
    sha256: str = "",
    ahead: Judged | None = None,
) -> Report:
    """Judge a typed bundle (``bundle.decode``). A parsed JSON object is read as its file
    would be (strict JSON, then the schema; BundleError when it fails). ``ahead`` is these
    probes judged before (``judge_ahead``): used only if this bundle's ``Inputs`` are the same
    JSON, for the very same derivation and matrix (``Judged``)."""
    if not isinstance(data, EvidenceBundle | InsideBundle | SeedBundle):
        data = bundles.from_mapping(data, source)
    policy = policy or Policy()
    matrix = matrix or _default_matrix()
    runtime = _runtime(data, profile)
    derivation = _derived(profile, runtime, _workload(data))
    inputs = Inputs.of(data)
    if (
        ahead is not None
        and ahead.inputs.kind is inputs.kind
        and ahead.derivation is derivation  # derived once per profile, runtime and workload (_derived)
        and ahead.matrix is matrix
        and ahead.json == _as_json(inputs)
    ):
        probes, checks, verdicts = list(ahead.probes), list(ahead.checks), dict(ahead.verdicts)
    else:
        probes, checks, verdicts = _judge_probes(inputs, derivation, matrix)
    checks += outside_checks(data, profile, derivation.facts, policy, _shipped_inspector)
    if isinstance(data, EvidenceBundle) and (seen := engine_view.check(data, profile, derivation.facts, policy)):
        checks.append(seen)
    if isinstance(data, EvidenceBundle):
        inside = [v for pid, v in verdicts.items() if pid not in OUTSIDE_PROBES]
        checks += run_consistency(data, profile, inside) + runfacts.checks(data, derivation.facts, profile)
    return Report(
        source,
        data.schema,
        profile.name,
        matrix.name,
        _venue(data),
        probes=tuple(probes),
        checks=(*first, *checks),
        rows=tuple(matrices.judge_rows(matrix, verdicts, {c.name: c.verdict for c in checks})),
        sha256=sha256,
        profile_sha256=profile.digest,
        profile_source=profile.source,
        runtime=_recorded_runtime(data),
        node=_node(data),
        runtime_version=data.runtime_version if isinstance(data, EvidenceBundle) else "",
    )


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


def _signed(
    data: Mapping[str, object], key: SSlibKey | None, source: str
) -> tuple[dict[str, object], tuple[Check, ...]] | Check:
    """The evidence inside a DSSE envelope and the checks to report first, or the refusal."""
    from sandproof import signing  # noqa: PLC0415 - only a signed bundle pays for its imports

    opened = signing.open_statement(data, key, signing.EVIDENCE_TYPES)
    if opened.predicate is None and key is None:
        raise BundleError(f"bundle {source}: {opened.reason}")
    if opened.predicate is None:
        return Check("signature", Verdict.FAIL, opened.reason)
    subjects = check(
        "subjects",
        opened.subjects_match,
        "the statement's subjects are the evidence's digests",
        "the statement's subjects are not the evidence's own digests",
    )
    return opened.predicate, (Check("signature", opened.signature, opened.reason), subjects)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """A bundle's JSON is a tree, built and freed by reference counts within one call, with no
    cycle for the collector to find: left on, it runs every 700 new objects (tens of times per
    bundle), walks them again as they age into the older generations, and now and then the
    whole heap (~7% of a verify, measured on the recorded PASS bundles). Turned back on when
    the bundle is judged (a cycle made meanwhile is found then)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
    with _collector_paused():
        return _verify_bytes(raw, source, profile, matrix=matrix, policy=policy, key=key)


def _verify_bytes(
    raw: bytes,
    source: str,
    profile: Profile,
    *,
    matrix: matrices.Matrix | None,
    policy: Policy | None,
    key: SSlibKey | None,
) -> Report:
    digest = hashlib.sha256(raw).hexdigest()
    data = bundles.parse(raw, source)
    first: tuple[Check, ...] = ()
    if key is not None or bundles.is_envelope(data):
        opened = _signed(data, key, source)
        if isinstance(opened, Check):
            name = (matrix or _default_matrix()).name
            return Report(
                source,
                "dsse",
                profile.name,
                name,
                "unknown",
                checks=(opened,),
                sha256=digest,
                profile_sha256=profile.digest,
                profile_source=profile.source,
            )
        data, first = opened
    typed = bundles.typed(data, source)
    return verify(typed, profile, source=source, matrix=matrix, policy=policy, first=first, sha256=digest)
