"""A hostile harness on the real engines: what it writes reaches attest's own output (the CI
log of the attest step) and report.md only as text, never as a GitHub workflow command."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from sandproof import attest
from sandproof.cli import main
from tests import hostile
from tests.ci_log import runner_commands
from tests.conftest import RUN_DATE

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("runtime", ["docker", "runc"])
def test_a_sandbox_cannot_command_the_ci_runner(
    runtime: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        attest, "attest", functools.partial(attest.attest, mutation=hostile.mutation("workflow-commands"))
    )
    out = tmp_path / "out"
    assert main(["attest", "--runtime", runtime, "--out", str(out), "--run-date", RUN_DATE]) == 1
    printed = capsys.readouterr()
    assert "add-mask]FAIL" in printed.out  # what the sandbox wrote is shown...
    assert runner_commands(printed.out + printed.err) == []  # ...and runs nothing
    assert runner_commands((out / "report.md").read_text()) == []
