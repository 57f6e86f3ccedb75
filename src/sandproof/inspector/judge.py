"""The judges' registry: an observation and an expectation in, a verdict and a reason out.

The harness uses it for its own fail-closed exit code; the verifier outside calls the
same functions on the recorded observations and never trusts a recorded verdict.
Inputs may be hostile (a bundle from elsewhere): anything malformed is ERROR, never PASS.
Pure: this module and ``judges/`` import no probing code (``tests/test_boundary.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .judges import (
    etcfiles,
    filesystem,
    hostkernel,
    identity,
    leaks,
    limits,
    mounts,
    namespaces,
    network,
    seccomp,
)
from .judges.common import ERROR, FAIL, PASS, UNVERIFIED, Judge, Judgement, Verdict

__all__ = ["ERROR", "FAIL", "JUDGES", "PASS", "UNVERIFIED", "Judgement", "Verdict", "actual_text", "judge"]

MAX_REASON = 1000
JUDGES: dict[str, Judge] = {}
for _concept in (network, filesystem, mounts, identity, seccomp, namespaces, limits, leaks, etcfiles, hostkernel):
    if set(JUDGES) & set(_concept.JUDGES):  # one kind, one judge: a clash would silently replace one
        raise RuntimeError(f"kinds judged twice: {sorted(set(JUDGES) & set(_concept.JUDGES))}")
    JUDGES.update(_concept.JUDGES)


def judge(kind: str, expect: object, obs: object, *, mountinfo: mounts.Table | None = None) -> Judgement:
    """Judge one observation; never raises on malformed input. ``mountinfo``: a mount table
    the caller already read (the verifier's, once per bundle); the inventory uses it only
    when it is the very text observed."""
    fn = JUDGES.get(kind)
    if fn is None:
        return Judgement(ERROR, f"unknown probe kind {kind!r}")
    if not isinstance(expect, dict) or not isinstance(obs, dict):
        return Judgement(ERROR, "expectation or observation is not an object")
    if "harness_error" in obs:
        return Judgement(ERROR, f"probe did not complete: {obs['harness_error']}")
    try:
        v = mounts.judge_inventory(expect, obs, mountinfo) if fn is mounts.judge_inventory else fn(expect, obs)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, re.error) as exc:
        return Judgement(ERROR, f"malformed observation: {exc}"[:MAX_REASON])
    # a sandbox with every host device or mount makes long reasons; the bundle caps them
    return v if len(v.reason) <= MAX_REASON else Judgement(v.verdict, v.reason[: MAX_REASON - 20] + " ... (cut)")


def actual_text(obs: Mapping[str, object], reason: str) -> str:
    """A record's ``actual_stderr_or_value`` (the seed's field): the failure, the error text or
    the outcome; the verifier recomputes it from the observation like the verdict."""
    for key in ("harness_error", "message", "outcome"):
        value = obs.get(key)
        if isinstance(value, str) and value:
            return value[:500]
    return reason[:500]
