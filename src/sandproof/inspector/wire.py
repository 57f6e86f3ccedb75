"""The contract between the harness inside the sandbox and the host: names, verdicts and the
shapes of the plan, the records and the summary.

A leaf: stdlib only and importing nothing of sandproof, so the distroless inspector, the
attest side and the read-only verifier share one definition without pulling each other in.
The shapes are TypedDicts (they describe JSON as it travels); the verifier turns a bundle
into frozen dataclasses only after its schema check.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from typing import NamedTuple, TypedDict

SCHEMA = "sandproof/inside/v1"
BUNDLE_NAME = "sandbox-attestation-inside.json"
PLAN_NAME = "sandproof-plan.json"
# The host renders the plan from the profile into the read-only input directory.
PLAN_PATH = "/in/" + PLAN_NAME
STDOUT_MARKER = "SANDPROOF-BUNDLE "
STATUS_KEYS = (
    "Uid",
    "Gid",
    "Groups",
    "NoNewPrivs",
    "Seccomp",
    "Seccomp_filters",
    "CapInh",
    "CapPrm",
    "CapEff",
    "CapBnd",
    "CapAmb",
    "Umask",  # Linux 4.7+ (fs/proc/array.c task_state); gVisor may lack it: umask(2) answers instead
)
"""The /proc/self/status fields the harness records as raw evidence."""


class Verdict(enum.StrEnum):
    """A StrEnum: members are the strings written in bundles and reports ("PASS" == Verdict.PASS)."""

    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    """The observation or the expectation was malformed: never a PASS."""
    UNVERIFIED = "UNVERIFIED"
    """The probe could not observe what it claims (e.g. a file the kernel does not expose)."""


class Judgement(NamedTuple):
    verdict: Verdict
    reason: str


class PlanRow(TypedDict):
    probe_id: str
    kind: str
    operation: str
    requirement: str
    layer: str
    params: dict[str, object]
    expect: dict[str, object]


class Plan(TypedDict):
    profile: str
    profile_sha256: str
    runtime: str
    probe_timeout: float
    probes: list[PlanRow]
    sha256: str


class Record(TypedDict):
    """One probe's entry in the inside bundle: the facts (``observation``) and what the harness
    concluded from them (``verdict``, ``reason``), which the verifier recomputes, never trusts."""

    probe_id: str
    operation: str
    expected: dict[str, object]
    actual_stderr_or_value: str
    errno_or_exit: str
    verdict: str
    reason: str
    artifact_path: str
    kind: str
    requirement: str
    layer: str
    observation: dict[str, object]
    duration_ms: float


Summary = TypedDict("Summary", {"total": int, "pass": int, "fail": int, "unverified": int, "error": int})
"""Counts of the records' verdicts (``pass`` is a keyword, hence the functional form)."""


def files_sha256(files: Mapping[str, bytes]) -> str:
    """The ``inspector_sha256`` rule: sha256 over (relative path, bytes) pairs in path order.
    The harness hashes its own sources with it, the host the sources it ships."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name] + b"\0")
    return h.hexdigest()
