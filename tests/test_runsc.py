"""gVisor (runsc) on a real sandbox: the default profile PASSes every probe but the documented
gVisor-true FAILs (runtime_defaults.RUNSC_TRUE_FAILS), each for its documented reason, and the
evidence records the runtime, its version and the platform. ~3-5 s per run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandproof import plan, profile, runtime_defaults, selftest, weaken
from sandproof.cli import main
from sandproof.inspector import judge
from sandproof.weaken import runsc as weaken_runsc
from tests.conftest import RUN_DATE

pytestmark = pytest.mark.engine
DEFAULT = profile.load("default")
EVIDENCE = f"sandbox-attestation-evidence-local-{RUN_DATE}.json"


def test_default_profile_fails_exactly_the_documented_gvisor_list(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["attest", "--runtime", "runsc", "--out", str(out), "--run-date", RUN_DATE]) == 1
    ev = json.loads((out / EVIDENCE).read_text())
    assert ev["runtime"] == "runsc"
    assert ev["runtime_platform"] == "ptrace"
    assert ev["runtime_version"].startswith("runsc version")
    assert "--oci-seccomp" in ev["argv"]
    assert "--network=none" in ev["argv"]
    verdicts = {p["probe_id"]: (p["verdict"], p["reason"]) for p in ev["probes"]}
    failing = {pid for pid, (v, _) in verdicts.items() if v != "PASS"}
    assert failing == runtime_defaults.RUNSC_NOT_PASSING
    for pid, (phrase, _) in runtime_defaults.RUNSC_UNVERIFIED.items():
        verdict, reason = verdicts[pid]
        assert verdict == "UNVERIFIED", (pid, verdict, reason)
        assert phrase in reason, (pid, reason)
    for pid, (phrase, _) in runtime_defaults.RUNSC_TRUE_FAILS.items():
        verdict, reason = verdicts[pid]
        assert verdict == "FAIL", (pid, verdict, reason)
        assert phrase in reason, (pid, reason)
    report = (out / "report.md").read_text()
    for check in ("rendered", "seccomp-sha256", "summary"):
        assert f"| {check} | PASS |" in report, check


RUNSC_WEAKENINGS = [w for w in weaken.WEAKENINGS if "runsc" in w.runtimes]
CAUGHT = [w for w in RUNSC_WEAKENINGS if w.no_effect("runsc") is None]
INERT = [w for w in RUNSC_WEAKENINGS if w.no_effect("runsc") is not None and w.name in weaken.RUNSC_INERT]
OWN = {w.name for w in weaken_runsc.WEAKENINGS}
"""runsc's own weakenings (a runsc flag, a host file the gofer serves): no runc counterpart."""
# CI runs one caught weakening per probe it is aimed at on runsc (so every probe runsc plans,
# PASSes unweakened and some weakening reaches is shown to FAIL there) and one inert weakening
# per reason the sentry ignores them: ~2 s a run, one worker; all of them would add ~2.5 min.
# `sandproof selftest --runtime runsc` runs every one.
CI_CAUGHT = list({w.target("runsc"): w for w in reversed(CAUGHT)}.values())[::-1]
# and PR-FD-1's other part: the kind and access mode of what runsc hands on as stdio (review 16),
# which caller-stdin-data (its first weakening, the stdin part) does not reach
CI_CAUGHT += [w for w in CAUGHT if w.name in ("caller-stdin-host-file", "caller-stderr-host-file")]
CI_INERT = list({w.no_effect("runsc"): w for w in reversed(INERT)}.values())[::-1]


def test_an_inert_weakening_says_why_on_runsc_only() -> None:
    """The gVisor reason is runsc's: on runc the same weakening must still be caught (or have a
    no-effect reason of runc's own on this host, which is not gVisor's)."""
    assert {w.name for w in INERT} <= weaken.RUNSC_INERT
    for w in INERT:
        assert "runsc" in (w.no_effect("runsc") or "") or "sentry" in (w.no_effect("runsc") or ""), w.name
        assert w.no_effect("runc") is None, w.name  # caught on runc: the reason is gVisor's alone


def test_ci_shows_every_probe_a_runsc_weakening_is_aimed_at() -> None:
    assert {w.target("runsc") for w in CI_CAUGHT} == {w.target("runsc") for w in CAUGHT}
    assert {w.no_effect("runsc") for w in CI_INERT} == {w.no_effect("runsc") for w in INERT}
    assert not {w.target("runsc") for w in CAUGHT} & runtime_defaults.RUNSC_NOT_PASSING


@pytest.mark.parametrize("weakening", CI_CAUGHT, ids=[w.name for w in CI_CAUGHT])
def test_weakening_fails_its_probe_on_runsc(weakening: weaken.Weakening, tmp_path: Path) -> None:
    result = selftest.attempt(weakening, DEFAULT, "runsc", tmp_path / "out", RUN_DATE)
    verdicts = {p.probe_id: p for p in result.report.probes}
    aimed = weakening.target("runsc")
    assert verdicts[aimed].verdict == judge.FAIL, verdicts[aimed]
    ev = json.loads(result.evidence_path.read_text())
    assert ev["container_started"] is True
    assert len(ev["probes"]) == len(plan.build(DEFAULT, "runsc")["probes"]) + 1


@pytest.mark.parametrize("weakening", CI_INERT, ids=[w.name for w in CI_INERT])
def test_weakening_the_sentry_ignores_changes_nothing(weakening: weaken.Weakening, tmp_path: Path) -> None:
    """ "No effect here" must be shown, not claimed: the weakened sandbox runs, its probe PASSes
    and nothing FAILs beyond what FAILs unweakened (review 15: host-ipc's 1777 /dev/shm)."""
    result = selftest.attempt(weakening, DEFAULT, "runsc", tmp_path / "out", RUN_DATE)
    verdicts = {p.probe_id: p for p in result.report.probes}
    assert verdicts[weakening.probe_id].verdict == judge.PASS, verdicts[weakening.probe_id]
    failing = {p.probe_id for p in result.report.probes if p.verdict == judge.FAIL}
    assert failing <= set(runtime_defaults.RUNSC_TRUE_FAILS), failing - set(runtime_defaults.RUNSC_TRUE_FAILS)
    assert json.loads(result.evidence_path.read_text())["container_started"] is True
