"""The fleet view (``verify`` over many bundles): a runtime x probe matrix and a per-venue/per-node
table, in text, markdown and json, on the bundles recorded from Docker and runc runs and on a
copy forged to FAIL one probe (its other fields made consistent, ``tests/forge.py``)."""

from __future__ import annotations

import dataclasses
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from markdown_it import MarkdownIt

from sandproof import evidence, profile, verify
from sandproof.cli import main
from sandproof.inspector.wire import Verdict
from sandproof.report import escaped, fleet, markdown, text
from sandproof.report import json as json_report
from tests.conftest import ASSETS, asset_json
from tests.forge import by_id, make_consistent
from tests.test_doctor import sarif_validator

DEFAULT = profile.load("default")
EVIDENCE = "sandbox-attestation-evidence-local-2026-11-28.json"


def _on(b: dict[str, Any], node: str) -> dict[str, Any]:
    b["venue_identity"] = {**b["venue_identity"], "node": node}
    return b


def _exec_allowed(b: dict[str, Any]) -> dict[str, Any]:
    """PR-EXEC-1 observed to run the binary, every derived field made to agree."""
    by_id(b)["PR-EXEC-1"]["observation"] = {"outcome": "executed", "errno": None, "target": "/usr/bin/python3.11"}
    return make_consistent(b)


def _fleet_bundles() -> dict[str, dict[str, Any]]:
    return {
        "docker-a": _on(asset_json("docker-default-pass.json"), "node-a"),
        "runc-a": _on(asset_json("runc-default-pass.json"), "node-a"),
        "docker-b": _on(_exec_allowed(asset_json("docker-default-pass.json")), "node-b"),
    }


def _reports() -> list[verify.Report]:
    return [escaped(verify.verify(b, DEFAULT, source=name)) for name, b in _fleet_bundles().items()]


def test_the_forged_bundle_fails_only_its_probe() -> None:
    report = verify.verify(_fleet_bundles()["docker-b"], DEFAULT)
    assert [p.probe_id for p in report.probes if p.verdict != Verdict.PASS] == ["PR-EXEC-1"]
    assert report.runtime == "docker"
    assert report.node == "node-b"


def test_matrix_is_runtime_by_probe() -> None:
    reports = _reports()
    many = fleet.build(reports)
    assert many.runtimes == ("docker", "runc")
    assert many.probes == tuple(p.probe_id for p in reports[0].probes)
    assert many.cell("PR-EXEC-1", "docker") == "FAIL 1/2"
    assert many.cell("PR-EXEC-1", "runc") == Verdict.PASS
    assert many.cell("PR-NET-1", "docker") == Verdict.PASS
    assert many.cell(fleet.BUNDLE_ROW, "docker") == "FAIL 1/2"
    assert many.cell(fleet.BUNDLE_ROW, "runc") == Verdict.PASS
    assert many.cell("PR-NOT-RECORDED", "docker") == fleet.ABSENT
    assert many.verdict == Verdict.FAIL
    assert fleet.summary(many) == "FAIL: 3 bundles, 1 failing"


def test_runtimes_are_the_recorded_strings() -> None:
    """A runtime this module never heard of gets its own column (no list of runtimes here)."""
    reports = _reports()
    reports[1] = dataclasses.replace(reports[1], runtime="runsc")
    many = fleet.build(reports)
    assert many.runtimes == ("docker", "runsc")
    assert many.cell("PR-EXEC-1", "runsc") == Verdict.PASS


def test_per_venue_and_node() -> None:
    many = fleet.build(_reports())
    assert [(p.venue, p.node, p.runtimes, p.bundles, p.passed) for p in many.places] == [
        ("local", "node-a", ("docker", "runc"), 2, 2),
        ("local", "node-b", ("docker",), 1, 0),
    ]


def test_fleet_passes_only_when_every_bundle_passes_and_was_read() -> None:
    passing = _reports()[:2]
    assert fleet.build(passing).verdict == Verdict.PASS
    assert fleet.summary(fleet.build(passing)) == "PASS: 2 bundles, 0 failing"
    unread = fleet.build(passing, [fleet.Unreadable("x.json", "not valid JSON")])
    assert unread.verdict == Verdict.FAIL
    assert fleet.summary(unread) == "FAIL: 3 bundles, 0 failing, 1 unreadable"
    assert fleet.build([]).verdict == Verdict.FAIL  # nothing judged is no proof


def test_a_bundle_without_node_or_runtime_is_unknown(docker_pass: dict[str, Any]) -> None:
    assert verify.verify(docker_pass, DEFAULT).node == docker_pass["venue_identity"]["node"]
    older = {**docker_pass, "venue_identity": {k: v for k, v in docker_pass["venue_identity"].items() if k != "node"}}
    report = verify.verify(older, DEFAULT)  # as recorded before the evidence named its node
    assert report.node == "unknown"
    inside = verify.verify(asset_json("seed-v1-docker-default.json"), DEFAULT)
    assert inside.node == "unknown"


def test_recorded_names_are_escaped(docker_pass: dict[str, Any]) -> None:
    report = verify.verify(_on(docker_pass, "evil\x1b[32m"), DEFAULT)
    out = text.render_many([report])
    assert "\x1b" not in out
    assert "evil\\x1b[32m" in out


def test_every_format_shows_the_fleet() -> None:
    reports = [verify.verify(b, DEFAULT, source=n) for n, b in _fleet_bundles().items()]
    out = text.render_many(reports)
    assert "PR-EXEC-1         PASS FAIL 1/2" not in out  # columns are aligned, one cell per runtime
    assert any(line.split()[:4] == ["PR-EXEC-1", "FAIL", "1/2", "PASS"] for line in out.splitlines())
    assert any(line.split()[:6] == ["local", "node-b", "docker", "1", "0", "1"] for line in out.splitlines())
    assert out.endswith("FAIL: 3 bundles, 1 failing\n")
    md = markdown.render_many(reports)
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    # bundles, runtime x probe, venue/node, requirements; then each bundle's three
    assert sum(t.type == "table_open" for t in tokens) == 4 + 3 * len(reports)
    assert "| PR-EXEC-1 | FAIL 1/2 | PASS |" in md
    assert "| local | node-b | docker | 1 | 0 | 1 |" in md
    data = json.loads(json_report.render_many(reports))
    assert data["verdict"] == data["fleet"]["verdict"] == Verdict.FAIL
    assert data["fleet"]["runtimes"] == ["docker", "runc"]
    assert data["fleet"]["matrix"]["PR-EXEC-1"] == {"docker": {"PASS": 1, "FAIL": 1}, "runc": {"PASS": 1}}
    assert data["fleet"]["per_node"][1] == {
        "venue": "local",
        "node": "node-b",
        "runtimes": ["docker"],
        "bundles": 1,
        "pass": 0,
        "fail": 1,
    }
    assert [b["node"] for b in data["bundles"]] == ["node-a", "node-a", "node-b"]


def _write(top: Path, bundles: dict[str, dict[str, Any]]) -> None:
    for name, b in bundles.items():
        (top / name).mkdir(parents=True)
        (top / name / EVIDENCE).write_text(json.dumps(b, indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_cli_fleet_exit_codes(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    bundles = _fleet_bundles()
    _write(tmp_path / "good", {k: v for k, v in bundles.items() if k != "docker-b"})
    assert main(["verify", "--format", fmt, str(tmp_path / "good")]) == 0
    assert "PASS: 2 bundles, 0 failing" in capsys.readouterr().out
    _write(tmp_path / "bad", {"docker-b": bundles["docker-b"]})
    assert main(["verify", "--format", fmt, str(tmp_path / "good"), str(tmp_path / "bad")]) == 1
    out = capsys.readouterr().out
    assert "FAIL: 3 bundles, 1 failing" in out
    assert "node-b" in out
    (tmp_path / "good" / "docker-a" / EVIDENCE).write_text("{")
    assert main(["verify", "--format", fmt, str(tmp_path / "good"), str(tmp_path / "bad")]) == 2
    out = capsys.readouterr().out
    assert "FAIL: 3 bundles, 1 failing, 1 unreadable" in out
    # the report itself says which file and why, not only standard error
    if fmt == "json":
        [unread] = json.loads(out)["fleet"]["unreadable"]
        assert unread["source"] == str(tmp_path / "good" / "docker-a" / EVIDENCE)
        assert unread["why"].startswith("not valid JSON")
    elif fmt == "markdown":
        assert f"| `{tmp_path / 'good' / 'docker-a' / EVIDENCE}` | | | | unreadable: not valid JSON" in out
    else:
        line = next(x for x in out.splitlines() if x.startswith("UNREADABLE "))
        assert line.startswith(f"UNREADABLE {tmp_path / 'good' / 'docker-a' / EVIDENCE}: not valid JSON")


def test_one_bundle_shows_no_fleet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, {"one": _fleet_bundles()["docker-a"]})
    assert main(["verify", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "RUNTIMES" not in out
    assert out == text.render(verify.verify_file(tmp_path / "one" / EVIDENCE, DEFAULT))


def test_junit_and_sarif_name_an_unreadable_bundle_and_never_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Many bundles, one of them not JSON: JUnit has an errored case and SARIF an error result for
    that file, each saying why; the exit code is 2, never a pass."""
    bundles = _fleet_bundles()
    _write(tmp_path / "good", {k: v for k, v in bundles.items() if k != "docker-b"})
    broken = tmp_path / "good" / "docker-a" / EVIDENCE
    broken.write_text("{")
    assert main(["verify", "--format", "junit", str(tmp_path / "good")]) == 2
    xml = capsys.readouterr().out
    xmlschema.XMLSchema(str(ASSETS / "junit.xsd")).validate(xml)
    suites = ET.fromstring(xml).findall("testsuite")  # noqa: S314 - our own output
    assert len(suites) == 2
    errored = [c for s in suites for c in s.iter("testcase") if c.find("error") is not None]
    assert [c.get("name") for c in errored] == [str(broken)]
    error = errored[0].find("error")
    assert error is not None
    assert "not valid JSON" in error.get("message", "")
    assert suites[-1].get("errors") == "1"
    assert main(["verify", "--format", "sarif", str(tmp_path / "good")]) == 2
    sarif = json.loads(capsys.readouterr().out)
    sarif_validator()(sarif)
    unread = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "bundle.unreadable"]
    assert len(unread) == 1
    assert unread[0]["level"] == "error"
    assert str(broken) in unread[0]["message"]["text"]
    assert "not valid JSON" in unread[0]["message"]["text"]
    assert unread[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == broken.resolve().as_uri()


PASSING = ASSETS / "bundles" / "docker-default-pass.json"


def test_one_file_named_twice_is_judged_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review 13: the file and the directory holding it said "PASS: 2 bundles" for one run."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "sandbox-attestation-evidence-local-2026-11-28.json").write_bytes(PASSING.read_bytes())
    (tmp_path / "other.json").write_bytes((ASSETS / "bundles" / "runc-default-pass.json").read_bytes())
    file = tmp_path / "d" / "sandbox-attestation-evidence-local-2026-11-28.json"
    assert main(["verify", str(tmp_path / "d"), str(file), str(tmp_path / "other.json")]) == 0
    out, err = capsys.readouterr()
    assert "PASS: 2 bundles, 0 failing" in out
    assert "judged once" in err


def test_the_same_bytes_under_a_second_name_stand_for_no_other_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A copy of node A's PASS named for node B hid node B's FAIL (review 13)."""
    for name in ("a", "b"):
        (tmp_path / f"sandbox-attestation-evidence-local-2026-11-28-{name}.json").write_bytes(PASSING.read_bytes())
    assert main(["verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "the same evidence as" in out
    assert "FAIL: 2 bundles, 1 failing" in out


def test_a_file_named_for_a_node_holds_that_nodes_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docker, runc = asset_json("docker-default-pass.json"), asset_json("runc-default-pass.json")
    node = docker["venue_identity"]["node"]
    (tmp_path / evidence.file_name("local", "2026-11-28", node)).write_bytes(PASSING.read_bytes())
    runc_name = evidence.file_name("local", "2026-11-28", "node-b")
    (tmp_path / runc_name).write_bytes((ASSETS / "bundles" / "runc-default-pass.json").read_bytes())
    assert main(["verify", str(tmp_path), "--format", "json"]) == 1
    reports = json.loads(capsys.readouterr().out)["bundles"]
    failing = {
        os.path.basename(r["source"]): [c["reason"] for c in r["checks"] if c["verdict"] != "PASS"] for r in reports
    }
    named = runc["venue_identity"]["node"]
    assert failing == {
        os.path.basename(evidence.file_name("local", "2026-11-28", node)): [],
        runc_name: [f"the file is named for node 'node-b', its evidence records node {named!r}"],
    }


def test_one_runs_evidence_written_otherwise_is_still_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 14: a compact or re-indented copy of a PASS counted as another run ("PASS: 3 bundles")."""
    doc = json.loads(PASSING.read_bytes())
    (tmp_path / "sandbox-attestation-evidence-local-2026-11-28.json").write_bytes(PASSING.read_bytes())
    (tmp_path / "sandbox-attestation-evidence-local-2026-11-28-compact.json").write_text(json.dumps(doc))
    (tmp_path / "sandbox-attestation-evidence-local-2026-11-28-indented.json").write_text(json.dumps(doc, indent=1))
    assert main(["verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.count("[duplicate]") == 2
    assert "FAIL: 3 bundles, 2 failing" in out


def test_a_link_named_like_a_bundle_hides_no_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review 14: the link, refused, resolved to the real file, which was then dropped as named twice."""
    real = tmp_path / "sandbox-attestation-evidence-local-2026-11-28-b.json"
    real.write_bytes(PASSING.read_bytes())
    (tmp_path / "sandbox-attestation-evidence-local-2026-11-28-a.json").symlink_to(real)
    assert main(["verify", str(tmp_path)]) == 2  # the link: unreadable
    out, err = capsys.readouterr()
    assert "judged once" not in err
    assert f"PASS: {real}" in out  # the real bundle is judged and shown
