"""The harness's bundle writer and exit codes, run on the host (it is stdlib-only)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sandproof import plan, profile
from sandproof.capture import EMPTY
from sandproof.inspector import harness, wire


def test_bundle_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    final = tmp_path / wire.BUNDLE_NAME
    final.write_text("previous run\n")

    def broken_dump(*args: Any, **kwargs: Any) -> None:
        args[1].write('{"half": ')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("json.dump", broken_dump)
    with pytest.raises(OSError, match="No space"):
        harness.write_atomic({"x": 1}, str(tmp_path))
    assert final.read_text() == "previous run\n"  # untouched, never half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == [wire.BUNDLE_NAME]


def test_unwritable_out_falls_back_to_stdout_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan_file = tmp_path / "plan.json"
    body = plan.build(profile.load("default"), "runc")
    body["probes"] = [p for p in body["probes"] if p["probe_id"] == "PR-ENV-1"]  # harmless on a host
    plan_file.write_text(json.dumps(body))
    code = harness.main(
        ["--attest", "--run-date", "2026-11-28", "--plan", str(plan_file), "--out", str(tmp_path / "missing-dir")]
    )
    assert code == 2
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(wire.STDOUT_MARKER))
    bundle = json.loads(line[len(wire.STDOUT_MARKER) :])
    assert bundle["probes"][0]["probe_id"] == "PR-ENV-1"


def test_missing_plan_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert harness.main(["--plan", str(tmp_path / "none.json"), "--out", str(tmp_path)]) == 2
    assert "no usable plan" in capsys.readouterr().err
    assert not (tmp_path / wire.BUNDLE_NAME).exists()


def test_host_never_follows_what_the_sandbox_left_in_out(tmp_path: Path) -> None:
    from sandproof import evidence  # noqa: PLC0415 - host side, tested beside the writer

    secret = tmp_path / "host-secret"
    secret.write_text('{"schema": "host file"}')
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / wire.BUNDLE_NAME
    target.symlink_to(secret)
    found = evidence.read_inside(str(tmp_path / "out"), EMPTY)
    assert (found.bundle, found.channel) == (None, "none")
    assert found.problem is not None
    assert "Too many levels of symbolic links" in found.problem
    target.unlink()
    os.mkfifo(target)  # would block an ordinary open() forever
    found = evidence.read_inside(str(tmp_path / "out"), EMPTY)
    assert (found.bundle, found.channel) == (None, "none")
    assert found.problem is not None
    assert "not a regular file" in found.problem


def test_the_harness_reads_its_arguments_as_argparse_did(capsys: pytest.CaptureFixture[str]) -> None:
    """The harness parses its own few arguments (argparse and what it imports cost ~13 ms of
    compiling per run in an image without bytecode)."""
    got = harness.parse_args(["--attest", "--run-date", "2026-11-28", "--guard=execve:EPERM", "--out", "/o"])
    assert got == {
        "--attest": True,
        "--stdout-bundle": False,
        "--run-date": "2026-11-28",
        "--plan": wire.PLAN_PATH,
        "--out": "/o",
        "--guard": "execve:EPERM",
    }
    assert harness.parse_args([])["--run-date"] == "unknown"
    for bad, why in (
        (["--plan"], "--plan needs a value"),
        (["--plan", "--attest"], "--plan needs a value"),  # as argparse: an option is no value
        (["--attest", "-x"], "unknown argument '-x'"),
    ):
        with pytest.raises(ValueError, match=why):
            harness.parse_args(bad)
    assert harness.main(["--nope"]) == 2
    assert "unknown argument '--nope'" in capsys.readouterr().err
