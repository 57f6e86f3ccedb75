"""An attacker who edits a bundle and then makes everything derivable agree with the edit:
each record's verdict, reason, actual text and errno field recomputed with the real judges,
the summary recounted and the harness exit code set to match. What is left for the
verifier to catch is only what the evidence itself says."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sandproof.inspector import judge
from sandproof.inspector.catalog import OUTSIDE_PROBES

DERIVED = frozenset({"verdict", "reason", "actual_stderr_or_value", "errno_or_exit"})


def make_consistent(b: dict[str, Any]) -> dict[str, Any]:
    records = [r for r in b.get("probes", []) if isinstance(r, dict)]
    for r in records:
        obs = r.get("observation")
        if not isinstance(obs, dict):
            continue
        v = judge.judge(str(r.get("kind")), r.get("expected"), obs)
        err = obs.get("errno")
        r.update(
            verdict=v.verdict,
            reason=v.reason,
            actual_stderr_or_value=judge.actual_text(obs, v.reason),
            errno_or_exit=err if isinstance(err, str) else "n/a",
        )
    inside = Counter(r.get("verdict") for r in records if r.get("probe_id") not in OUTSIDE_PROBES)
    if isinstance(b.get("summary"), dict):
        b["summary"] = {
            "total": sum(inside.values()),
            "pass": inside["PASS"],
            "fail": inside["FAIL"],
            "unverified": inside["UNVERIFIED"],
            "error": inside["ERROR"],
        }
        if b.get("container_started") is True and b.get("bundle_channel") == "file":
            b["container_exit"] = 0 if inside["PASS"] == sum(inside.values()) else 1
    return b


def by_id(b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["probe_id"]: r for r in b["probes"]}
