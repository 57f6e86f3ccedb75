"""Output a person can act on (issue 13): the last line names what failed, a refused call
shows its errno, a draft bundle is judged by the matrix's rows, an undefined row says so once."""

from __future__ import annotations

import pytest

from sandproof import matrix, profile
from sandproof.cli import main
from sandproof.inspector.wire import Verdict
from sandproof.provenance import Check
from sandproof.report import markdown, text
from sandproof.verify import Report, verify_file
from sandproof.weaken import WEAKENINGS
from tests.conftest import ASSETS

DEFAULT = profile.load("default")


def test_last_line_names_what_failed_bounded() -> None:
    checks = tuple(Check(f"check-{i}", Verdict.FAIL, "x" * 200) for i in range(30))
    report = Report(
        "b.json", "s", "default", "sandproof", "ci", checks=(Check("outside-facts", Verdict.FAIL, "unsigned"), *checks)
    )
    last = text.render(report).splitlines()[-1]
    assert " — outside-facts: unsigned; check-0: " in last
    assert last.endswith("more)")
    assert len(last.split(" — ", 1)[1]) <= text.WHAT_FAILED_CHARS + 20


def test_refused_calls_show_their_errno_and_the_runtime_is_named() -> None:
    report = verify_file(ASSETS / "bundles" / "docker-default-pass.json", DEFAULT)
    actual = {p.probe_id: p.actual for p in report.probes}
    assert actual["PR-EXEC-1"].startswith("error E")
    assert actual["PR-PTRACE-1"].startswith("error E")
    assert report.runtime == "docker"
    assert report.runtime_version.startswith("Docker Engine")
    assert f"(sha256 `{DEFAULT.digest}`)" in markdown.render(report)
    assert f"sha256 {DEFAULT.digest}; runtime: docker" in text.render(report)


def test_draft_bundle_judged_by_the_rev4_rows_only() -> None:
    rev4 = matrix.load("b4-prime-rev4")
    report = verify_file(ASSETS / "bundles" / "seed-v1-docker-default.json", DEFAULT, matrix=rev4)
    named = {p for row in rev4.rows for p in row.probes}
    assert {p.probe_id for p in report.probes} <= named
    assert not any("seed records no" in p.reason or "missing" in p.reason for p in report.probes)
    undefined = [r for r in report.rows if r.verdict == matrix.UNDEFINED]
    assert undefined
    for r in undefined:
        assert f"{r.row.title}: {r.reason}".count("not defined by the source") == 1


def test_selftest_help_lists_weakenings_and_only_refuses_what_cannot_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["selftest", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(w.name in out for w in WEAKENINGS)
    docker_only = next(w for w in WEAKENINGS if "runc" not in w.runtimes)
    assert main(["selftest", "--runtime", "runc", "--only", docker_only.name]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"sandproof: error: --only '{docker_only.name}': cannot be expressed on runc (only on docker)"]
