"""Bad input: one clear line naming what and where, exit 2, nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandproof import profile
from sandproof.cli import main
from tests.conftest import RUN_DATE


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("sandproof: image")]
    assert len(err) == 1, err
    assert err[0].startswith("sandproof: error: ")
    return err[0]


def test_profile_with_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text(profile.load("default").text.replace("[ipc]\n", "[ipc]\nmod = 1\n"))
    out = tmp_path / "out"
    assert main(["attest", "--profile", str(bad), "--out", str(out), "--run-date", RUN_DATE]) == 2
    line = _one_error_line(capsys)
    assert str(bad) in line
    assert "ipc.mod" in line
    assert not out.exists()


def test_profile_with_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text(profile.load("default").text.replace("read_only_rootfs = true", 'read_only_rootfs = "yes"'))
    assert main(["render", "docker", "--profile", str(bad)]) == 2
    assert "filesystem.read_only_rootfs" in _one_error_line(capsys)


def test_missing_profile_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "show", "/nope/p.toml"]) == 2
    assert "/nope/p.toml" in _one_error_line(capsys)


def test_bad_run_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attest", "--out", str(tmp_path / "o"), "--run-date", "28/11/2026"]) == 2
    assert "--run-date" in _one_error_line(capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.engine("docker")
def test_no_engine_reachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    out = tmp_path / "out"
    assert main(["attest", "--runtime", "docker", "--out", str(out), "--run-date", RUN_DATE]) == 2
    assert "runtime docker does not answer" in _one_error_line(capsys)
    assert not out.exists()


def test_no_engine_at_all(tmp_path: Path) -> None:
    # neither docker nor runc on PATH: auto has nothing to fall back to
    env = {**os.environ, "PATH": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "sandproof", "attest", "--out", str(tmp_path / "out"), "--run-date", RUN_DATE],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "sandproof: error: no container engine answers: neither a Docker daemon nor runc "
        "(install docker.io or runc, or start dockerd)"
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.engine("runc")
@pytest.mark.parametrize("where", ["file", "proc"])
def test_output_dir_not_writable(tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]) -> None:
    if where == "file":
        out = tmp_path / "taken"
        out.write_text("a file, not a directory")
    else:
        out = Path("/proc/sandproof-out")  # writable by nobody, root included
    assert main(["attest", "--runtime", "runc", "--out", str(out), "--run-date", RUN_DATE]) == 2
    assert f"--out {out}: not a writable directory" in _one_error_line(capsys)
    if where == "file":
        assert out.read_text() == "a file, not a directory"


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = (
        ["attest"],
        ["verify"],
        ["selftest"],
        ["sign"],
        ["keygen"],
        ["init"],
        ["render"],
        ["profile", "show"],
        ["image", "build"],
        ["schema"],
    )
    for cmd in commands:
        with pytest.raises(SystemExit) as exc:
            main([*cmd, "--help"])
        assert exc.value.code == 0
        assert "usage: sandproof" in capsys.readouterr().out


def test_io_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["init", str(blocker / "repo")]) == 2
    assert main(["keygen", str(tmp_path / "missing-dir" / "k")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert all(line.startswith("sandproof: error: ") for line in err)


def test_the_parser_loads_no_machinery() -> None:
    """`sandproof --help` builds every command's parser without the engine, verifier or image code."""
    code = (
        "import sys; from sandproof.cli import parser; parser()\n"
        "heavy = [m for m in ('sandproof.attest', 'sandproof.verify', 'sandproof.image', 'sandproof.evidence',"
        " 'sandproof.selftest', 'sandproof.signing', 'sandproof.report', 'sandproof.weaken') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_an_unknown_weakening_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["selftest", "--runtime", "runc", "--only", "exec-alowed"]) == 2
    err = capsys.readouterr().err
    assert "no such weakening (did you mean 'exec-allowed'?)" in err
