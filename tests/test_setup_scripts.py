"""The setup the README's two commands run (scripts/lib.sh, issue 13): the main job installs only
what attest needs, the test command the test tools too; python3-venv and npm come from Debian
when missing; pip runs again only when pyproject.toml changed. Run with every command stubbed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sandproof import contract, image
from sandproof.cli import main

ROOT = Path(__file__).parent.parent
LOG = "calls.log"

# each stub logs its argv; apt-get "installs" a package's command as another stub; python3 has
# no venv module (Debian without python3-venv) until apt-get ran; the venv's pip installs sandproof
STUB = """#!/bin/bash
echo "$(basename "$0") $*" >> "$SETUP_LOG"
case "$(basename "$0") $*" in
  "apt-get install"*)
    touch "$SETUP_STATE/apt-installed"
    for pkg in "$@"; do
      case "$pkg" in
        docker.io) cmd=dockerd ;; dpkg) cmd=dpkg-deb ;; seccomp) cmd=scmp_sys_resolver ;;
        install | -*) continue ;; *) cmd="$pkg" ;;
      esac
      ln -sf "$0" "$(dirname "$0")/$cmd"
    done ;;
  "python3 -c import ensurepip, venv") [ -e "$SETUP_STATE/apt-installed" ]; exit $? ;;
  "python3 -m venv .venv")
    mkdir -p .venv/bin
    for tool in python pip; do ln -s "$0" .venv/bin/$tool; done ;;
  "pip install"*) ln -sf pip .venv/bin/sandproof; ln -sf pip .venv/bin/pytest ;;
esac
exit 0
"""


def _setup(tmp_path: Path, purpose: str, *, present: tuple[str, ...] = ()) -> list[str]:
    work, stubs, state = tmp_path / "clone", tmp_path / "bin", tmp_path / "state"
    if not work.exists():
        (work / "scripts").mkdir(parents=True)
        shutil.copy(ROOT / "scripts" / "lib.sh", work / "scripts")
        shutil.copy(ROOT / "pyproject.toml", work)
        stubs.mkdir()
        state.mkdir()
        for name in ("apt-get", "python3", *present):
            (stubs / name).write_text(STUB)
            (stubs / name).chmod(0o755)
        for real in ("sha256sum", "cat", "mkdir", "ln", "touch", "basename", "dirname"):
            found = shutil.which(real)
            assert found is not None, real
            (stubs / real).symlink_to(found)
    (tmp_path / LOG).write_text("")
    env = {"PATH": str(stubs), "SETUP_LOG": str(tmp_path / LOG), "SETUP_STATE": str(state), "HOME": str(tmp_path)}
    bash = shutil.which("bash")
    assert bash is not None
    subprocess.run(
        [bash, "-c", f'set -euo pipefail; . scripts/lib.sh; install_deps "{purpose}"'],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    return (tmp_path / LOG).read_text().splitlines()


def _installed(calls: list[str]) -> set[str]:
    return {pkg for c in calls if c.startswith("apt-get install") for pkg in c.split()[2:] if not pkg.startswith("-")}


def test_the_main_job_installs_only_what_attest_needs(tmp_path: Path) -> None:
    calls = _setup(tmp_path, "attest")
    assert _installed(calls) == {"docker.io", "runc", "dpkg", "python3-venv"}
    assert "pip install -q -e ." in calls
    assert not any("[test]" in c for c in calls)
    # a second run: nothing to install, pip not run (pyproject.toml unchanged)
    assert not any(c.startswith(("apt-get", "pip")) for c in _setup(tmp_path, "attest"))


def test_the_test_command_installs_the_test_tools_and_npm(tmp_path: Path) -> None:
    calls = _setup(tmp_path, "test", present=("dockerd", "runc", "dpkg-deb"))
    assert _installed(calls) == {"python3-venv", "seccomp", "strace", "npm", "runsc", "podman", "uidmap"}
    assert "pip install -q -e .[test,k8s]" in calls
    again = _setup(tmp_path, "test", present=("dockerd", "runc", "dpkg-deb"))
    assert not any(c.startswith("pip") for c in again)
    # the test tools' install satisfies the main job's; not the other way round
    assert not any(c.startswith("pip") for c in _setup(tmp_path, "attest"))


def test_a_changed_pyproject_installs_again(tmp_path: Path) -> None:
    _setup(tmp_path, "attest")
    with (tmp_path / "clone" / "pyproject.toml").open("a") as f:
        f.write("\n# a new dependency\n")
    assert "pip install -q -e ." in _setup(tmp_path, "attest")


def test_help_says_where_the_cache_is_and_how_to_move_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"{contract.CACHE_ENV}=DIR" in out
    assert contract.CACHE_DEFAULT in out


def test_the_cache_moves_with_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.CACHE_ENV, str(tmp_path / "moved"))
    assert image.cache_dir() == tmp_path / "moved"
    monkeypatch.setenv(contract.CACHE_ENV, "")  # empty is unset, never the current directory
    monkeypatch.setenv("HOME", str(tmp_path))
    assert image.cache_dir() == tmp_path / ".cache" / "sandproof"
    assert os.path.isdir(tmp_path / ".cache" / "sandproof")
