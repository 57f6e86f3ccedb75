"""What ``selftest`` counts as caught (review 15): the weakening's target FAILs weakened and
PASSed in the same run of the profile without it. A probe that FAILs either way shows nothing
of the weakening: rootless podman, where the cgroup limits never apply, scored 5/5 on FAILs
its unweakened run had too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandproof import attest, profile, selftest, verify
from sandproof.inspector.wire import Verdict
from sandproof.weaken import WEAKENINGS
from tests.conftest import asset_json

DEFAULT = profile.load("default")
MEMORY = next(w for w in WEAKENINGS if w.name == "no-memory-limit")


def _report(memory_fails: bool) -> verify.Report:
    """The recorded runc PASS, judged; its memory probe FAILing when asked (as on rootless podman)."""
    report = verify.verify(asset_json("runc-default-pass.json"), DEFAULT, source="x.json")
    if not memory_fails:
        return report
    probes = tuple(
        verify.ProbeResult(
            p.probe_id, p.requirement, p.layer, Verdict.FAIL, "memory is unlimited", p.expected, p.actual, p.cause
        )
        if p.probe_id == MEMORY.probe_id
        else p
        for p in report.probes
    )
    return verify.Report(report.source, report.schema, report.profile, report.matrix, report.venue, probes=probes)


@pytest.mark.parametrize(("before", "caught"), [(False, True), (True, False)])
def test_a_target_failing_unweakened_too_is_not_caught(
    before: bool, caught: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    inside = tmp_path / "inside.json"
    inside.write_text("{}")

    def attempted(*_: Any) -> attest.Attestation:
        return attest.Attestation(_report(True), tmp_path / "e.json", inside, tmp_path / "r.md", 0.1)

    monkeypatch.setattr(selftest, "attempt", attempted)
    monkeypatch.setattr(selftest, "_unweakened", lambda *_: _report(before))
    (got,) = selftest.run(DEFAULT, "runc", only=[MEMORY.name])
    assert got.verdict == Verdict.FAIL
    assert got.bundle_written
    assert got.caught is caught
    shown = selftest.render([got], "runc")
    if caught:
        assert "caught 1/1 (100%)" in shown
    else:
        assert "FAILs unweakened too, so this shows nothing: memory is unlimited" in shown
        assert "caught 0/1 (0%)" in shown


def test_an_outcome_with_no_unweakened_run_is_judged_as_before() -> None:
    got = selftest.Outcome(MEMORY, Verdict.FAIL, "why", (MEMORY.probe_id,), True, 0.1)
    assert got.caught


def test_a_reason_from_the_sandbox_is_shown_escaped() -> None:
    got = selftest.Outcome(MEMORY, Verdict.FAIL, "saw \x1b[2J ##[error]x", (MEMORY.probe_id,), True, 0.1)
    shown = selftest.render([got], "runc")
    assert "\x1b" not in shown
    assert "\\x1b[2J" in shown
    assert "##[error]" not in shown  # the legacy workflow command, anywhere in a line
