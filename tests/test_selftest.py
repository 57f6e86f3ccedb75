"""What ``selftest`` counts as caught (review 15): the weakening's target FAILs weakened and
PASSed in the same run of the profile without it. A probe that FAILs either way shows nothing
of the weakening: rootless podman, where the cgroup limits never apply, scored 5/5 on FAILs
its unweakened run had too."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from sandproof import attest, profile, selftest, verify
from sandproof.inspector.wire import Verdict
from sandproof.weaken import WEAKENINGS
from sandproof.weaken import unrun as unrun_reason
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


INERT = selftest.Outcome(MEMORY, Verdict.PASS, "own namespace", (), True, 0.1, "the sentry's own", True)
"""A weakening said to have no effect whose target PASSed, as runsc's host-ipc did (review 15)."""


def _inert(failing: tuple[str, ...], before: tuple[str, ...]) -> selftest.Outcome:
    return dataclasses.replace(INERT, failing=failing, unweakened=(Verdict.PASS, ""), unweakened_failing=before)


def test_no_effect_needs_nothing_else_failing_beyond_the_unweakened_run() -> None:
    """runsc's host-ipc was labelled "no effect" though a 1777 /dev/shm made PR-MOUNT-1, PR-DEV-1
    and PR-WW-1 FAIL, which PASS unweakened: that is an effect, counted and not settled."""
    got = _inert(("PR-SECCOMP-ABI", "PR-MOUNT-1", "PR-DEV-1", "PR-WW-1"), ("PR-SECCOMP-ABI",))
    assert got.beyond == ("PR-MOUNT-1", "PR-DEV-1", "PR-WW-1")
    assert not got.settled
    shown = selftest.render([got], "runsc")
    assert "said to have no effect here (the sentry's own), but PR-MOUNT-1, PR-DEV-1, PR-WW-1 FAIL" in shown
    assert "caught 0/1 (0%)" in shown
    assert "no effect on this host" not in shown


def test_a_sandbox_the_engine_refused_is_no_effect_though_every_probe_is_missing() -> None:
    """A host that cannot give what the weakening asks (runc cannot raise the hard nice limit
    without CAP_SYS_RESOURCE: the container never starts) has every probe FAIL as missing: that
    is nothing run, not an effect (the regenerated README showed ulimit-nice-raised NOT settled)."""
    missing = tuple(p.probe_id for p in _report(False).probes)
    got = dataclasses.replace(_inert(missing, ()), verdict=Verdict.FAIL, started=False, bundle_written=False)
    assert got.beyond == ()
    assert got.settled
    assert not got.caught
    assert f"no effect on this host: {MEMORY.name}" in selftest.render([got], "runc")
    ran = dataclasses.replace(got, verdict=Verdict.PASS, started=True)  # the same FAILs from a run that ran
    assert ran.beyond
    assert not ran.settled


def test_no_effect_with_only_the_unweakened_fails_is_settled() -> None:
    got = _inert(("PR-SECCOMP-ABI",), ("PR-SECCOMP-ABI", "PR-CG-MEM"))
    assert got.beyond == ()
    assert got.settled
    shown = selftest.render([got], "runsc")
    assert "no effect here: the sentry's own" in shown
    assert f"no effect on this host: {MEMORY.name}" in shown


def test_a_weakening_is_judged_by_the_probe_aimed_on_its_runtime() -> None:
    """gVisor keeps its own IPC namespace, but the config's 1777 /dev/shm shows: PR-MOUNT-1 on runsc."""
    ipc = next(w for w in WEAKENINGS if w.name == "host-ipc")
    assert ipc.target("runc") == ipc.probe_id == "PR-NS-IPC"
    assert ipc.target("runsc") == "PR-MOUNT-1"
    got = selftest.Outcome(ipc, Verdict.FAIL, "unexpected mount", ("PR-MOUNT-1",), True, 0.1, target_id="PR-MOUNT-1")
    assert got.caught
    assert got.beyond == ()
    assert "host-ipc   PR-MOUNT-1  yes     -  unexpected mount" in selftest.render([got], "runsc")


def test_what_runsc_does_not_run_is_labelled_with_its_reason() -> None:
    """Every runc weakening runs on runsc, or its row says why: refused, or its probe not PASSing
    there unweakened; never "not expressible" by default (review 15)."""
    shown = selftest.render([], "runsc").splitlines()
    refused = next(line for line in shown if line.startswith("refused by runsc: runsc refuses a host socket"))
    assert refused.endswith(": engine-socket, engine-socket-elsewhere")
    sweep = next(line for line in shown if "PR-SECCOMP-SWEEP FAILs unweakened there" in line)
    assert "tuned-socket-af-inet" in sweep.rpartition("): ")[2].split(", ")
    gap = next(line for line in shown if line.startswith("NOT caught on runsc, a gap in the probes: /out is a 9p"))
    assert gap.endswith(": out-on-host-disk")
    unrun = [w for w in WEAKENINGS if "runc" in w.runtimes and "runsc" not in w.runtimes]
    assert unrun
    assert all(unrun_reason(w, "runsc") != "not expressible on runsc" for w in unrun), unrun
    assert unrun_reason(next(w for w in WEAKENINGS if "runc" not in w.runtimes), "runsc") == "not expressible on runsc"
