"""A bundle as typed, frozen values: parsed once, right after the strict JSON read, and
read by the verifier, provenance, cross-checks and reports.

msgspec Structs (frozen, unknown fields refused) state the shipped JSON Schemas
(``schemas/*.json``, the published contract) field for field: the same types, enums,
lengths, patterns and bounds; ``tests/test_model.py`` shows both accept and refuse the
same recorded and forged bundles. One deliberate difference: an integer field refuses
``1.0`` (draft-07 calls it an integer; the verifier compares values, and 1.0 == 1 would
hide an edit). Observations and expectations stay JSON values: the pure judges in
``inspector/`` read them as Mappings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, TypeVar

import msgspec

from sandproof import contract
from sandproof.inspector.wire import Verdict

Json = object
"""A JSON value as parsed (dict, list, str, int, float, bool, None): read, never trusted."""
JsonObject = Mapping[str, object]

# msgspec tests patterns with re.search, where "$" also matches before a final newline: "\Z"
# is the end of the text, as "$" is in the JSON Schema (ECMA-262) the model mirrors
Hex64 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}\Z")]
NonNeg = Annotated[int, msgspec.Meta(ge=0)]
Duration = Annotated[float, msgspec.Meta(ge=0)]


Str64 = Annotated[str, msgspec.Meta(max_length=64)]
Str128 = Annotated[str, msgspec.Meta(max_length=128)]
Str256 = Annotated[str, msgspec.Meta(max_length=256)]
Str1000 = Annotated[str, msgspec.Meta(max_length=1000)]
Str4000 = Annotated[str, msgspec.Meta(max_length=4000)]
Str4096 = Annotated[str, msgspec.Meta(max_length=4096)]


class _Frozen(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Every bundle value: immutable, and a field the schema does not name is refused."""


class Record(_Frozen, frozen=True):
    """One probe's entry (inside-v1.json ``$defs/probe``)."""

    probe_id: Annotated[str, msgspec.Meta(pattern=r"^PR-[A-Z0-9-]{1,40}\Z")]
    operation: Str1000
    expected: dict[str, Json]
    actual_stderr_or_value: Str1000
    errno_or_exit: str | int
    verdict: Verdict
    reason: Str4000
    artifact_path: Str4096
    kind: Str64
    requirement: Str64
    layer: Str128
    observation: dict[str, Json]
    duration_ms: Duration


class Summary(_Frozen, frozen=True):
    total: NonNeg
    # "pass" is a keyword: the field is renamed in Python only
    passed: NonNeg = msgspec.field(name="pass")
    fail: NonNeg
    unverified: NonNeg
    error: NonNeg


class Guard(_Frozen, frozen=True):
    installed: bool
    deny: tuple[str, ...] | msgspec.UnsetType = msgspec.UNSET
    errno: str | msgspec.UnsetType = msgspec.UNSET
    arch: str | msgspec.UnsetType = msgspec.UNSET
    layer: str | msgspec.UnsetType = msgspec.UNSET
    instructions: int | msgspec.UnsetType = msgspec.UNSET
    error: str | msgspec.UnsetType = msgspec.UNSET


class Harness(_Frozen, frozen=True):
    duration_ms: Duration
    python: Str64
    pid: int


class Abis(_Frozen, frozen=True):
    arch: str
    abis: dict[str, Json] | msgspec.UnsetType = msgspec.UNSET
    error: str | msgspec.UnsetType = msgspec.UNSET


class Process(_Frozen, frozen=True):
    ppid: int
    cmdline: tuple[str, ...]


class Prctl(_Frozen, frozen=True):
    """The status facts prctl answered at start (gVisor's /proc/self/status lacks their lines)."""

    NoNewPrivs: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    Seccomp: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    CapAmb: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    Umask: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    """umask(2)'s answer (a harness before it recorded none)."""
    Personality: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    Nice: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    SchedPolicy: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    IoPrio: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    MemoryMerge: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    """personality(2), getpriority(2), sched_getscheduler(2), ioprio_get(2), PR_GET_MEMORY_MERGE
    (PR-SCHED-1; a harness before it recorded none)."""
    TimerSlack: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    SigBlk: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    SigIgn: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    """PR_GET_TIMERSLACK, rt_sigprocmask(2) and rt_sigaction(2) (PR-SCHED-1; a harness before
    it recorded none)."""


class Startup(_Frozen, frozen=True):
    """What the harness noted before any probe ran (probes_system.snapshot)."""

    status: dict[str, str]
    fds: tuple[int, ...]
    fd_targets: dict[str, str]
    stdin: Annotated[str, msgspec.Meta(max_length=40)] | msgspec.UnsetType = msgspec.UNSET
    stdio: dict[str, Annotated[str, msgspec.Meta(max_length=40)]] | msgspec.UnsetType = msgspec.UNSET
    prctl: Prctl | msgspec.UnsetType = msgspec.UNSET
    abis: Abis | msgspec.UnsetType = msgspec.UNSET
    self_pid: int | msgspec.UnsetType = msgspec.UNSET
    processes: dict[str, Process] | msgspec.UnsetType = msgspec.UNSET
    rlimits: dict[str, Annotated[tuple[str, ...], msgspec.Meta(min_length=2, max_length=2)]] | msgspec.UnsetType = (
        msgspec.UNSET
    )


class Raw(_Frozen, frozen=True):
    """The raw evidence the harness read again at the end (harness.run_plan)."""

    mountinfo: Annotated[str, msgspec.Meta(max_length=1 << 20)]
    env_keyset: tuple[str, ...]
    proc_net_dev: str
    proc_self_status: dict[str, str]
    startup: Startup


class RanProfile(_Frozen, frozen=True):
    name: Str256
    sha256: Hex64
    source: Str4096


class Output(_Frozen, frozen=True):
    limit_bytes: NonNeg
    limit_files: NonNeg
    bounded: bool


class Host(_Frozen, frozen=True):
    """What the host saw of the run."""

    stdout_bytes: NonNeg
    stderr_bytes: NonNeg
    timed_out: bool
    inside_problem: Str1000 | msgspec.UnsetType = msgspec.UNSET
    output: Output | msgspec.UnsetType = msgspec.UNSET


Records = Annotated[tuple[Record, ...], msgspec.Meta(max_length=4096)]


class InsideBundle(_Frozen, frozen=True):
    """What the harness wrote inside the sandbox (schema ``sandproof/inside/v1``)."""

    schema: Literal["sandproof/inside/v1"]
    run_date: Str64
    profile: Str256 | None
    plan_sha256: Hex64
    inspector_sha256: Hex64
    guard: Guard
    probes: Records
    raw: Raw
    summary: Summary
    harness: Harness


class EngineView(_Frozen, frozen=True):
    """The engine's own record of the sandbox it made (``engineview``): the compared fields of
    its document (names only, never an environment value), or why it could not be read."""

    runtime: Str64
    source: Str256
    fields: dict[str, Json] | msgspec.UnsetType = msgspec.UNSET
    problem: Str1000 | msgspec.UnsetType = msgspec.UNSET


class EvidenceBundle(_Frozen, frozen=True):
    """The inside bundle merged with the outside facts (schema ``sandproof/evidence/v1``).
    ``raw`` and ``summary`` are only constrained when the container started (the schema's
    if/then): otherwise they are None unless they happen to have the inside shape."""

    schema: Literal["sandproof/evidence/v1"]
    argv: Annotated[tuple[Annotated[str, msgspec.Meta(max_length=8192)], ...], msgspec.Meta(max_length=512)]
    bundle_channel: Literal["file", "stdout", "none"]
    claim_profile: Str256
    container_exit: int
    container_started: bool
    expected_plan_sha256: Hex64
    image_digest: Str128
    image_name: Str256
    inside_schema: Literal["sandproof/inside/v1"] | None
    probes: Records
    profile: RanProfile
    run_date: Str64
    runtime: Literal["docker", "runc", "runsc", "podman", "kubernetes"]
    runtime_version: Str256
    sandproof_version: Str64
    seccomp_sha256: Hex64
    stderr_tail: tuple[str, ...]
    venue: Str64
    venue_identity: dict[str, str | bool | None]
    wall_s: Duration
    raw: Raw | None = None
    summary: Summary | None = None
    # present when the container started (the schema's "then"); never null
    plan_sha256: Hex64 | msgspec.UnsetType = msgspec.UNSET
    inspector_sha256: Hex64 | msgspec.UnsetType = msgspec.UNSET
    guard: Guard | msgspec.UnsetType = msgspec.UNSET
    harness: Harness | msgspec.UnsetType = msgspec.UNSET
    oci_config: dict[str, Json] | msgspec.UnsetType = msgspec.UNSET
    runtime_platform: Literal["ptrace", "systrap", "kvm"] | msgspec.UnsetType = msgspec.UNSET
    """runsc: the gVisor platform the sentry ran on (its argv's --platform says the same)."""
    node: Annotated[str, msgspec.Meta(max_length=253)] | msgspec.UnsetType = msgspec.UNSET
    """attest --runtime kubernetes: the pod's node (fleet verify groups by it)."""
    kubernetes: dict[str, Json] | msgspec.UnsetType = msgspec.UNSET
    """attest --runtime kubernetes: the server version, context, namespace, pod and image digest kubectl gave."""
    host: Host | msgspec.UnsetType = msgspec.UNSET
    rootless: bool | msgspec.UnsetType = msgspec.UNSET
    """podman: the engine ran as an unprivileged user (recorded by the runtime, never judged by it)."""
    workload: dict[str, str] | msgspec.UnsetType = msgspec.UNSET
    """attest --image: the user's image and the carried harness (workload/carried.py reads it)."""
    engine_view: EngineView | msgspec.UnsetType = msgspec.UNSET
    """What the engine applied, read before the container was removed (absent in older bundles)."""


class SeedRecord(msgspec.Struct, frozen=True):
    """A record of the seed draft's inside bundle: other fields are allowed and ignored."""

    probe_id: Str64
    operation: str
    expected: str
    actual_stderr_or_value: str
    errno_or_exit: int | str
    verdict: Literal["PASS", "FAIL", "UNVERIFIED"]
    artifact_path: str


class SeedRaw(msgspec.Struct, frozen=True):
    mountinfo: str
    env_keyset: tuple[str, ...]
    proc_net_dev: str


class SeedSummary(msgspec.Struct, frozen=True):
    total: int
    passed: int = msgspec.field(name="pass")
    fail: int
    unverified: int


class SeedBundle(msgspec.Struct, frozen=True):
    """The B4' draft's inside bundle (schema ``b4-prime-sandbox-attestation/inside/v1``),
    accepted as written: its schema allows any other field. The few others the verifier
    reads are kept as the JSON they are (a claim to be checked, never assumed)."""

    schema: Literal["b4-prime-sandbox-attestation/inside/v1"]
    run_date: Str64
    probes: Annotated[tuple[SeedRecord, ...], msgspec.Meta(max_length=4096)]
    raw: SeedRaw
    summary: SeedSummary
    venue: Json = msgspec.UNSET
    runtime: Json = msgspec.UNSET
    plan_sha256: Json = msgspec.UNSET
    image_digest: Json = msgspec.UNSET
    seccomp_sha256: Json = msgspec.UNSET


Bundle = EvidenceBundle | InsideBundle | SeedBundle
TYPES: dict[str, type[EvidenceBundle] | type[InsideBundle] | type[SeedBundle]] = {
    "sandproof/evidence/v1": EvidenceBundle,
    "sandproof/inside/v1": InsideBundle,
    "b4-prime-sandbox-attestation/inside/v1": SeedBundle,
}
assert set(TYPES) == set(contract.SCHEMA_FILES)


class ShapeError(ValueError):
    """The document does not have its schema's shape; the message names where."""


T = TypeVar("T")


def _optional(value: object, kind: type[T]) -> T | None:
    try:
        return msgspec.convert(value, kind, strict=True)
    except msgspec.ValidationError:
        return None


def prepare() -> None:
    """Build msgspec's type information for every bundle type now: a decoder builds it for the
    whole tree at once, ``convert`` on first use (5-8 ms of the first bundle in a process)."""
    for kind in (*TYPES.values(), Raw, Summary):
        msgspec.json.Decoder(kind)


def record(data: Mapping[str, object]) -> Record:
    """One probe's entry as a bundle holds it (``Record``), or ShapeError."""
    try:
        return msgspec.convert(data, Record, strict=True)
    except msgspec.ValidationError as exc:
        raise ShapeError(str(exc)) from None


def from_json(data: Mapping[str, object]) -> Bundle:
    """The typed bundle, or ShapeError. ``data`` is a parsed JSON object (strict reader)."""
    name = data.get("schema")
    kind = TYPES.get(name) if isinstance(name, str) else None
    if kind is None:
        raise ShapeError(f"unknown schema {data.get('schema')!r}")
    evidence = kind is EvidenceBundle
    body = data
    if evidence:  # raw and summary are typed after, by the schema's if/then on container_started
        body = {k: v for k, v in data.items() if k not in ("raw", "summary")}
        for k in ("raw", "summary"):
            if k not in data:
                raise ShapeError(f"Object missing required field `{k}`")
            if not isinstance(data[k], dict):
                raise ShapeError(f"Expected `object`, got `{type(data[k]).__name__}` - at `$.{k}`")
    try:
        bundle = msgspec.convert(body, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise ShapeError(str(exc)) from None
    if not isinstance(bundle, EvidenceBundle):
        return bundle
    raw: Raw | None
    summary: Summary | None
    if bundle.container_started:
        missing = [
            k for k in ("inspector_sha256", "plan_sha256", "guard", "harness") if getattr(bundle, k) is msgspec.UNSET
        ]
        if missing:
            raise ShapeError(f"a started container's evidence needs {', '.join(missing)}")
        try:
            raw = msgspec.convert(data["raw"], Raw, strict=True)
            summary = msgspec.convert(data["summary"], Summary, strict=True)
        except msgspec.ValidationError as exc:
            raise ShapeError(f"{exc} (raw or summary)") from None
    else:
        raw, summary = _optional(data["raw"], Raw), _optional(data["summary"], Summary)
    return msgspec.structs.replace(bundle, raw=raw, summary=summary)
