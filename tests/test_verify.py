"""The verifier on real bundles recorded from Docker and runc runs, and on tampered copies."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from sandproof import bundle, dynimport, matrix, plan, profile, verify
from sandproof.cli import main
from sandproof.errors import BundleError
from sandproof.inspector import judge
from sandproof.inspector.wire import Verdict
from tests.conftest import ASSETS, asset_json

DEFAULT = profile.load("default")
BUNDLES = ASSETS / "bundles"


def _verdicts(data: dict[str, Any], **kw: Any) -> dict[str, str]:
    return {p.probe_id: p.verdict for p in verify.verify(data, DEFAULT, **kw).probes}


def test_real_passing_bundles_pass(docker_pass: dict[str, Any], runc_pass: dict[str, Any]) -> None:
    for b in (docker_pass, runc_pass):
        report = verify.verify(b, DEFAULT, policy=verify.Policy(check_inspector=True))
        assert report.verdict == judge.PASS, [c for c in report.checks if c.verdict != "PASS"]
        assert len(report.probes) == len(plan.build(DEFAULT, "docker")["probes"]) + 1
        assert all(c.verdict == judge.PASS for c in report.checks)
        assert all(r.verdict == judge.PASS for r in report.rows)


def test_real_weakened_bundles_fail() -> None:
    assert _verdicts(asset_json("docker-weak-host-network.json"))["PR-NET-2"] == judge.FAIL
    assert _verdicts(asset_json("runc-weak-exec-allowed.json"))["PR-EXEC-1"] == judge.FAIL
    seed = verify.verify(asset_json("docker-seed-nostart.json"), profile.load("b4-prime-seed"))
    assert seed.verdict == judge.FAIL
    started = next(c for c in seed.checks if c.name == "container-started")
    assert started.verdict == judge.FAIL
    assert "operation not permitted" in started.reason


def test_recorded_verdicts_and_summary_are_never_trusted() -> None:
    weak = asset_json("docker-weak-host-network.json")
    for rec in weak["probes"]:
        rec["verdict"] = "PASS"
    n = len(plan.build(DEFAULT, "docker")["probes"])
    weak["summary"] = {"total": n, "pass": n, "fail": 0, "unverified": 0, "error": 0}
    report = verify.verify(weak, DEFAULT)
    assert report.verdict == judge.FAIL
    assert next(p for p in report.probes if p.probe_id == "PR-NET-2").verdict == judge.FAIL


def test_a_flipped_verdict_on_a_passing_bundle_is_caught(docker_pass: dict[str, Any]) -> None:
    docker_pass["probes"][2]["verdict"] = "FAIL"
    report = verify.verify(docker_pass, DEFAULT)
    assert report.verdict == judge.FAIL
    assert "disagrees with the recomputed" in report.probes[2].reason


@pytest.mark.parametrize(
    "tamper",
    [
        "drop",
        "duplicate",
        "unknown",
        "observation-edited",
        "expected-edited",
        "seccomp-hash",
        "digest",
        "date",
        "not-started",
        "observation-missing",
        "raw-env",
        "raw-mountinfo",
        "raw-net",
        "errno-field",
        "summary",
        "plan",
        "inspector",
        "dynimport-dropped",
        "argv-flag",
        "other-image",
        "exit-code",
        "guard",
        "claim",
        "channel",
    ],
)
def test_tampering_never_passes(docker_pass: dict[str, Any], tamper: str) -> None:
    b = copy.deepcopy(docker_pass)
    probes = b["probes"]
    by_id = {p["probe_id"]: p for p in probes}
    if tamper == "drop":
        probes.pop(3)
    elif tamper == "duplicate":
        probes.append(copy.deepcopy(probes[0]))
    elif tamper == "unknown":
        probes.append({**copy.deepcopy(probes[0]), "probe_id": "PR-MADE-UP"})
    elif tamper == "observation-edited":
        by_id["PR-FS-ESC-1"]["observation"] = {"outcome": "error", "errno": "EACCES"}
    elif tamper == "expected-edited":
        by_id["PR-FS-RO-IN"]["expected"] = {"errno_in": ["EROFS", "EACCES"]}
    elif tamper == "seccomp-hash":
        b["seccomp_sha256"] = "0" * 64
    elif tamper == "digest":
        b["image_digest"] = b["seccomp_sha256"]
    elif tamper == "date":
        b["run_date"] = "2026-02-30"
    elif tamper == "not-started":
        b["container_started"] = False
    elif tamper == "observation-missing":
        by_id["PR-MOUNT-1"]["observation"] = {}
    elif tamper == "raw-env":
        b["raw"]["env_keyset"] = ["PATH"]
    elif tamper == "raw-mountinfo":
        b["raw"]["mountinfo"] = b["raw"]["mountinfo"].replace(" / ro,", " / rw,", 1)
    elif tamper == "raw-net":
        b["raw"]["proc_net_dev"] += "  eth0: 0 0\n"
    elif tamper == "errno-field":
        by_id["PR-EXEC-1"]["errno_or_exit"] = "EACCES"
    elif tamper == "summary":
        b["summary"]["pass"] = 11
    elif tamper == "plan":
        b["plan_sha256"] = "1" * 64
    elif tamper == "inspector":
        b["inspector_sha256"] = "2" * 64
    elif tamper == "dynimport-dropped":
        probes.remove(by_id["PR-DYNIMPORT"])
    elif tamper == "argv-flag":  # the command that ran is not the one the profile renders
        b["argv"].insert(2, "--privileged")
    elif tamper == "other-image":  # well-formed, but not the image this sandproof builds
        b["image_digest"] = "sha256:" + "ab" * 32
    elif tamper == "exit-code":
        b["container_exit"] = 1
    elif tamper == "guard":
        b["guard"] = {"installed": False}
    elif tamper == "claim":
        b["claim_profile"] = "b4-prime-seed"
    elif tamper == "channel":
        b["bundle_channel"] = "none"
    report = verify.verify(b, DEFAULT)
    assert report.verdict == judge.FAIL
    named = {
        "argv-flag": "rendered",
        "other-image": "image",
        "exit-code": "exit-code",
        "guard": "guard",
        "claim": "claim",
        "channel": "channel",
    }
    if tamper in named:  # the check made for it is the one that fails
        assert next(c for c in report.checks if c.name == named[tamper]).verdict == judge.FAIL


def test_runc_oci_config_must_be_the_rendered_one(runc_pass: dict[str, Any]) -> None:
    runc_pass["oci_config"]["linux"]["seccomp"]["syscalls"].pop()
    report = verify.verify(runc_pass, DEFAULT)
    assert next(c for c in report.checks if c.name == "rendered").verdict == judge.FAIL


def test_runc_cgroup_must_be_under_sandproofs_parent(runc_pass: dict[str, Any]) -> None:
    """Only the container ID in cgroupsPath is the run's: another parent is another's limits."""
    linux = runc_pass["oci_config"]["linux"]
    linux["cgroupsPath"] = "/elsewhere/" + linux["cgroupsPath"].rsplit("/", 1)[-1]
    report = verify.verify(runc_pass, DEFAULT)
    assert next(c for c in report.checks if c.name == "rendered").verdict == judge.FAIL


def test_seed_v1_bundles_are_read_and_judged_from_raw_fields() -> None:
    v = _verdicts(asset_json("seed-v1-docker-default.json"))
    assert v["PR-EXEC-1"] == judge.PASS
    # v1 records the interfaces, not the namespace's sockets: that stays unproven
    assert v["PR-NET-2"] == judge.UNVERIFIED
    # the mount inventory needs only raw.mountinfo; v1 checks one socket path: that stays unproven
    assert v["PR-MOUNT-1"] == judge.PASS
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


def test_rev4_matrix_keeps_undefined_rows_and_never_passes_them(docker_pass: dict[str, Any]) -> None:
    report = verify.verify(docker_pass, DEFAULT, matrix=matrix.load("b4-prime-rev4"))
    rows = {r.row.id: r.verdict for r in report.rows}
    assert list(rows) == [f"#{n}" for n in range(24, 38)]
    assert {k for k, v in rows.items() if v == matrix.UNDEFINED} == {"#24", "#26", "#30", "#31", "#32"}
    assert all(v == judge.PASS for k, v in rows.items() if v != matrix.UNDEFINED)
    assert rows["#35"] == judge.PASS  # PR-DYNIMPORT, the build-time L2 check


def test_rev4_row_fails_when_its_probe_is_missing() -> None:
    seed = verify.verify(asset_json("seed-v1-docker-default.json"), DEFAULT, matrix=matrix.load("b4-prime-rev4"))
    row = next(r for r in seed.rows if r.row.id == "#35")
    assert row.verdict == judge.FAIL
    assert "no evidence for PR-DYNIMPORT" in row.reason


def test_every_catalog_probe_is_bound_in_the_project_matrix() -> None:
    from sandproof.inspector.catalog import PROBES  # noqa: PLC0415

    bound = {p for r in matrix.load("sandproof").rows for p in r.probes}
    assert bound == set(PROBES)
    assert all(r.probes or r.checks for r in matrix.load("sandproof").rows)


def test_user_matrix_file(tmp_path: Path, docker_pass: dict[str, Any]) -> None:
    f = tmp_path / "m.toml"
    f.write_text(
        'name = "mine"\n[[row]]\nid = "R1"\ntitle = "exec"\nprobes = ["PR-EXEC-1"]\n'
        '[[row]]\nid = "R2"\ndefined = false\n'
    )
    report = verify.verify(docker_pass, DEFAULT, matrix=matrix.load(str(f)))
    assert [(r.row.id, r.verdict) for r in report.rows] == [("R1", "PASS"), ("R2", matrix.UNDEFINED)]
    f.write_text('name = "bad"\n[[row]]\nid = "R1"\nprobes = ["PR-NOPE"]\n')
    with pytest.raises(matrix.MatrixError, match="unknown probe"):
        matrix.load(str(f))


@pytest.mark.parametrize(
    ("venue", "identity", "require", "ok"),
    [
        ("local", {"not_mac_local": True}, "any", True),
        ("local", {"not_mac_local": True}, "ci", False),
        ("ci", {"not_mac_local": True}, "ci", True),
        ("ci", {"not_mac_local": False}, "ci", False),
        ("mac-local", {"not_mac_local": False}, "vps", False),
        ("vps", {"not_mac_local": True}, "vps", True),
        ("unknown", {}, "ci", False),
    ],
)
def test_venue_policy(
    docker_pass: dict[str, Any], venue: str, identity: dict[str, Any], require: str, ok: bool
) -> None:
    docker_pass["venue"] = venue
    docker_pass["venue_identity"] = identity
    report = verify.verify(docker_pass, DEFAULT, policy=verify.Policy(require_venue=require))
    check = next(c for c in report.checks if c.name == "venue")
    assert (check.verdict == judge.PASS) is ok
    assert "a claim, not a proof" in check.reason


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "JSON object"),
        (b'{"schema": "other/v9", "probes": []}', "unknown schema"),
        (b'{"schema": "sandproof/evidence/v1", "probes": {}}', "does not match schema"),
        (b'{"schema": "sandproof/evidence/v1", "x": NaN}', "NaN is not allowed"),
        (b'{"schema": "sandproof/evidence/v1", "x": 1e999}', "out of range"),
        (b'{"schema": "a", "schema": "b"}', "duplicate key 'schema'"),
        (b'{"x": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b"[" * 100_000, "nested too deeply|not valid JSON"),
    ],
)
def test_bad_bundles_are_one_line_errors(tmp_path: Path, content: bytes, match: str) -> None:
    f = tmp_path / "b.json"
    f.write_bytes(content)
    with pytest.raises(BundleError, match=match) as err:
        bundle.load(f)
    assert "\n" not in err.value.message


def test_size_limit(tmp_path: Path) -> None:
    f = tmp_path / "big.json"
    with f.open("wb") as out:
        out.write(b'{"pad": "')
        out.write(b"x" * (bundle.MAX_BYTES + 10))
        out.write(b'"}')
    with pytest.raises(BundleError, match="byte limit"):
        bundle.load(f)


@pytest.mark.parametrize("value", [512.0, True, "512", [512]])
def test_an_expectation_retyped_is_not_the_profiles(docker_pass: dict[str, Any], value: object) -> None:
    """Every record's expectation is compared in one encoding: the record whose copy differs
    as JSON (512.0, true, "512" are not 512) is the one contradicted, and only it; its keys'
    order is no difference."""
    b = copy.deepcopy(docker_pass)
    records = {r["probe_id"]: r for r in b["probes"]}
    records["PR-CG-SHARES"]["expected"] = {"shares": value}
    records["PR-ID-1"]["expected"] = dict(reversed(records["PR-ID-1"]["expected"].items()))
    report = verify.verify(b, DEFAULT)
    contradicted = [p for p in report.probes if p.cause == verify.Cause.CONTRADICTED]
    assert [p.probe_id for p in contradicted] == ["PR-CG-SHARES"]
    assert contradicted[0].verdict == Verdict.FAIL
    assert "the recorded expectation is not the profile's" in contradicted[0].reason


def test_a_file_that_grew_after_fstat_is_read_to_the_bound_only(tmp_path: Path) -> None:
    """read_bytes asks for fstat's size + 1: a file longer than fstat said (it grew between the
    two calls) is read on, but never past MAX_BYTES + 1, which the parser then refuses."""
    f = tmp_path / "grown.json"
    f.write_bytes(b"x" * (bundle.MAX_BYTES + 10))
    fd = os.open(f, os.O_RDONLY)
    try:
        got = bundle._read_bounded(fd, 10)  # as if fstat had seen 10 bytes
    finally:
        os.close(fd)
    assert len(got) == bundle.MAX_BYTES + 1
    with pytest.raises(BundleError, match="byte limit"):
        bundle.parse(got, str(f))
    f.write_bytes(b"{}")
    assert bundle.read_bytes(f) == b"{}"


def test_schema_rejects_retyped_fields(docker_pass: dict[str, Any]) -> None:
    for path, value in (
        (("probes", 0, "verdict"), "MAYBE"),
        (("container_exit",), "0"),
        (("probes", 1, "observation"), []),
        (("runtime",), "rkt"),  # no such runtime
    ):
        b = copy.deepcopy(docker_pass)
        target: Any = b
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        with pytest.raises(BundleError, match="does not match schema"):
            bundle.validate(b, "t")


def test_cli_verify_exit_codes_and_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(BUNDLES / "docker-default-pass.json")]) == 0
    assert main(["verify", str(BUNDLES / "docker-weak-host-network.json")]) == 1
    capsys.readouterr()
    assert main(["verify", "--format", "json", str(BUNDLES / "runc-default-pass.json")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "PASS"
    assert {p["probe_id"] for p in out["probes"]} >= {"PR-EXEC-1", "PR-DYNIMPORT"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "nope"}))
    assert main(["verify", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("sandproof: error: bundle ")
    assert main(["verify", str(tmp_path / "missing.json")]) == 2
    assert main(["schema", "evidence-v1"]) == 0
    assert json.loads(capsys.readouterr().out)["properties"]["schema"] == {"const": "sandproof/evidence/v1"}


def test_cli_many_bundles_and_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i, name in enumerate(("docker-default-pass", "runc-default-pass")):
        d = tmp_path / f"run{i}"
        d.mkdir()
        (d / "sandbox-attestation-evidence-local-2026-11-28.json").write_bytes((BUNDLES / f"{name}.json").read_bytes())
    assert main(["verify", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PASS: 2 bundles, 0 failing" in out
    assert "SP-EXEC" in out
    assert main(["verify", str(tmp_path), str(BUNDLES / "docker-weak-host-network.json")]) == 1
    assert "FAIL: 3 bundles, 1 failing" in capsys.readouterr().out
    (tmp_path / "run0" / "sandbox-attestation-evidence-x.json").write_text("{")
    assert main(["verify", str(tmp_path)]) == 2


def test_the_dynimport_scan_ignores_an_unreadable_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDPROOF_CACHE", str(tmp_path))
    first = dynimport.scan()  # computed, then kept
    kept = list((tmp_path / "dynimport").iterdir())
    assert len(kept) == 1
    kept[0].write_text('{"findings": 5}')  # not a list of findings: computed again
    assert dynimport.scan() == first
    kept[0].write_text("not json")
    assert dynimport.scan() == first


def test_a_bundle_that_came_on_stdout_never_passes(docker_pass: dict[str, Any]) -> None:
    docker_pass["bundle_channel"], docker_pass["container_exit"] = "stdout", 2
    report = verify.verify(docker_pass, DEFAULT)
    written = next(c for c in report.checks if c.name == "bundle-written")
    assert written.verdict == judge.FAIL
    assert report.verdict == judge.FAIL


def test_reasons_carry_their_cause(docker_pass: dict[str, Any]) -> None:
    # selftest reads the cause (a record missing from the bundle), never the reason's text
    b = copy.deepcopy(docker_pass)
    by_id = {r["probe_id"]: r for r in b["probes"]}
    b["probes"].remove(by_id["PR-NET-1"])
    b["probes"].append(copy.deepcopy(by_id["PR-ENV-1"]))
    by_id["PR-EXEC-1"]["verdict"] = "FAIL"
    report = verify.verify(b, DEFAULT)
    causes = {p.probe_id: p.cause for p in report.probes}
    assert causes["PR-NET-1"] is verify.Cause.MISSING
    assert causes["PR-ENV-1"] is verify.Cause.DUPLICATE
    assert causes["PR-EXEC-1"] is verify.Cause.CONTRADICTED
    assert causes["PR-MOUNT-1"] is verify.Cause.JUDGED
    assert all(p.verdict in set(Verdict) for p in report.probes)
    assert isinstance(report.probes, tuple)
    assert isinstance(report.checks, tuple)


def test_probe_result_init_sets_every_field_as_a_dataclass_would() -> None:
    """ProbeResult writes its fields itself (speed): the same parameters, defaults and values
    as the generated __init__, and still frozen."""
    import dataclasses  # noqa: PLC0415
    import inspect  # noqa: PLC0415

    fields = dataclasses.fields(verify.ProbeResult)
    params = list(inspect.signature(verify.ProbeResult.__init__).parameters.values())[1:]
    assert [(f.name, f.default) for f in fields] == [
        (p.name, p.default if p.default is not p.empty else dataclasses.MISSING) for p in params
    ]
    r = verify.ProbeResult("PR-X-1", "R", "L", Verdict.PASS, "why", {"a": 1}, "ok")
    assert r == verify.ProbeResult(*[getattr(r, f.name) for f in fields])
    assert r.cause == verify.Cause.JUDGED
    assert dataclasses.replace(r, reason="other").reason == "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.reason = "edited"  # type: ignore[misc]


@pytest.mark.parametrize("cls", [verify.Check, matrix.RowResult])
def test_check_and_row_result_init_as_a_dataclass_would(cls: type[object]) -> None:
    """Check and RowResult write their fields themselves too (ProbeResult's reason)."""
    import dataclasses  # noqa: PLC0415
    import inspect  # noqa: PLC0415

    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [(f.name, f.default) for f in fields] == [
        (p.name, p.default if p.default is not p.empty else dataclasses.MISSING) for p in params
    ]
    values = ["a", Verdict.PASS, "why"]
    made = cls(*values)
    assert [getattr(made, f.name) for f in fields] == values
    assert made == cls(*values)
    assert hash(made) == hash(cls(*values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.reason = "edited"  # type: ignore[attr-defined]
