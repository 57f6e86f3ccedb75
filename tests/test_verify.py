"""The verifier on real bundles recorded from Docker and runc runs, and on tampered copies."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sandproof import profile, verify
from sandproof.cli import main
from sandproof.errors import BundleError
from sandproof.inspector import judge
from tests.conftest import ASSETS, asset_json

DEFAULT = profile.load("default")


def _verdicts(bundle: dict[str, Any]) -> dict[str, str]:
    return {p.probe_id: p.verdict for p in verify.verify(bundle, DEFAULT).probes}


def test_real_passing_bundles_pass(docker_pass: dict[str, Any], runc_pass: dict[str, Any]) -> None:
    for b in (docker_pass, runc_pass):
        report = verify.verify(b, DEFAULT)
        assert report.verdict == judge.PASS
        assert len(report.probes) == 12
        assert all(c.verdict == judge.PASS for c in report.checks)


def test_real_weakened_bundles_fail() -> None:
    assert _verdicts(asset_json("docker-weak-host-network.json"))["PR-NET-2"] == judge.FAIL
    assert _verdicts(asset_json("runc-weak-exec-allowed.json"))["PR-EXEC-1"] == judge.FAIL
    seed = verify.verify(asset_json("docker-seed-nostart.json"), profile.load("b4-prime-seed"))
    assert seed.verdict == judge.FAIL
    assert any(
        c.name == "container-started" and c.verdict == judge.FAIL and "operation not permitted" in c.reason
        for c in seed.checks
    )


def test_recorded_verdicts_and_summary_are_ignored() -> None:
    weak = asset_json("docker-weak-host-network.json")
    for rec in weak["probes"]:
        rec["verdict"] = "PASS"
        rec["reason"] = "trust me"
    weak["summary"] = {"total": 12, "pass": 12, "fail": 0, "unverified": 0, "error": 0}
    assert verify.verify(weak, DEFAULT).verdict == judge.FAIL


@pytest.mark.parametrize(
    "tamper",
    [
        "drop",
        "duplicate",
        "unknown",
        "contradict-raw",
        "expected-edited",
        "seccomp-hash",
        "digest",
        "date",
        "not-started",
        "observation-missing",
    ],
)
def test_tampering_never_passes(docker_pass: dict[str, Any], tamper: str) -> None:
    b = copy.deepcopy(docker_pass)
    probes = b["probes"]
    if tamper == "drop":
        probes.pop(3)
    elif tamper == "duplicate":
        probes.append(copy.deepcopy(probes[0]))
    elif tamper == "unknown":
        probes.append({**copy.deepcopy(probes[0]), "probe_id": "PR-MADE-UP"})
    elif tamper == "contradict-raw":
        probes[5]["observation"] = {"outcome": "error", "errno": "EACCES"}
    elif tamper == "expected-edited":
        probes[4]["expected"] = {"errno_in": ["EROFS", "EACCES"]}
    elif tamper == "seccomp-hash":
        b["seccomp_sha256"] = "0" * 64
    elif tamper == "digest":
        b["image_digest"] = "sha256:xyz"
    elif tamper == "date":
        b["run_date"] = "2026-02-30"
    elif tamper == "not-started":
        b["container_started"] = False
    elif tamper == "observation-missing":
        del probes[9]["observation"]
    assert verify.verify(b, DEFAULT).verdict == judge.FAIL


def test_seed_v1_bundles_are_read_and_judged_from_raw_fields() -> None:
    v = _verdicts(asset_json("seed-v1-docker-default.json"))
    assert v["PR-EXEC-1"] == judge.PASS
    assert v["PR-NET-2"] == judge.PASS
    # v1 has no writability test and checks one socket path: those claims stay unproven
    assert v["PR-MOUNT-1"] == judge.UNVERIFIED
    assert v["PR-SOCK-DOCKER"] == judge.UNVERIFIED
    weak = asset_json("seed-v1-docker-host-network.json")
    for rec in weak["probes"]:
        rec["verdict"] = "PASS"
    assert _verdicts(weak)["PR-NET-2"] == judge.FAIL  # recomputed from raw.proc_net_dev


def test_seed_v1_errno_or_exit_drives_the_verdict() -> None:
    b = asset_json("seed-v1-docker-default.json")
    for rec in b["probes"]:
        if rec["probe_id"] == "PR-FS-ESC-1":
            rec["errno_or_exit"] = 13  # EACCES: root-owned, not read-only
        if rec["probe_id"] == "PR-EXEC-1":
            rec["errno_or_exit"] = "n/a"
    v = _verdicts(b)
    assert v["PR-FS-ESC-1"] == judge.FAIL
    assert v["PR-EXEC-1"] == judge.ERROR


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\xff\xfe", "not valid UTF-8 JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"schema": "other/v9", "probes": []}', "unknown schema"),
        (b'{"schema": "sandproof/evidence/v1", "probes": {}}', "must be a list"),
        (b'{"schema": "sandproof/evidence/v1", "probes": [], "x": NaN}', "NaN is not allowed"),
        (b"[" * 100_000, "not valid UTF-8 JSON"),
    ],
)
def test_bad_bundles_are_one_line_errors(tmp_path: Path, content: bytes, match: str) -> None:
    f = tmp_path / "b.json"
    f.write_bytes(content)
    with pytest.raises(BundleError, match=match):
        verify.load(f)


def test_cli_verify_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(ASSETS / "bundles" / "docker-default-pass.json")]) == 0
    assert main(["verify", str(ASSETS / "bundles" / "docker-weak-host-network.json")]) == 1
    assert main(["verify", "--format", "markdown", str(ASSETS / "bundles" / "runc-default-pass.json")]) == 0
    assert "| PR-EXEC-1 | #34 | PASS |" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "nope"}))
    assert main(["verify", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("sandproof: error: bundle ")
    assert "unknown schema" in err[0]
    assert main(["verify", str(tmp_path / "missing.json")]) == 2
