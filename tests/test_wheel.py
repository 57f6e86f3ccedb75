"""The self-contained CI install: `init` writes the wheel of the sandproof it runs from, built
reproducibly; the workflow installs it hash-checked; `init --check` covers the wheel."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml

import sandproof
from sandproof import wheel
from sandproof.cli import main
from sandproof.render import workflow

PACKAGE = Path(sandproof.__file__).resolve().parent


def _fresh(monkeypatch: pytest.MonkeyPatch, epoch: str | None) -> wheel.Wheel:
    if epoch is None:
        monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    else:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    wheel._build.cache_clear()  # build again, not the bytes of the first call
    return wheel.build()


def test_the_same_bytes_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    first = _fresh(monkeypatch, None)
    assert _fresh(monkeypatch, None).data == first.data
    assert _fresh(monkeypatch, "1700000000").data == _fresh(monkeypatch, "1700000000").data
    other = _fresh(monkeypatch, "1700000000")
    assert other.data != first.data  # SOURCE_DATE_EPOCH is the one timestamp inside
    names = zipfile.ZipFile(io.BytesIO(other.data)).namelist()
    assert names == zipfile.ZipFile(io.BytesIO(first.data)).namelist()
    stamps = {i.date_time for i in zipfile.ZipFile(io.BytesIO(other.data)).infolist()}
    assert stamps == {time.gmtime(1700000000)[:6]}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(sandproof.errors.OutputError, match="SOURCE_DATE_EPOCH"):
        wheel.build()


def test_it_is_the_running_sandproof_and_a_valid_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    built = _fresh(monkeypatch, None)
    assert built.file_name == f"sandproof-{sandproof.__version__}-py3-none-any.whl"
    zf = zipfile.ZipFile(io.BytesIO(built.data))
    names = zf.namelist()
    assert names[: len(names) - 4] == sorted(names[: len(names) - 4])
    for rel in ("__init__.py", "cli/__init__.py", "profiles/default.toml", "schemas/inside-v1.json"):
        assert zf.read(f"sandproof/{rel}") == (PACKAGE / rel).read_bytes()
    shipped = sorted(
        p.relative_to(PACKAGE.parent).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix in wheel.SUFFIXES and "__pycache__" not in p.parts
    )
    assert [n for n in names if n.startswith("sandproof/")] == shipped
    info = f"sandproof-{sandproof.__version__}.dist-info"
    record = zf.read(f"{info}/RECORD").decode().splitlines()
    assert record[-1] == f"{info}/RECORD,,"
    for line in record[:-1]:
        name, digest, size = line.split(",")
        data = zf.read(name)
        assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert int(size) == len(data)
    assert b"sandproof = sandproof.cli:main" in zf.read(f"{info}/entry_points.txt")
    assert b"Requires-Dist: msgspec" in zf.read(f"{info}/METADATA")


def test_init_pins_the_wheel_and_check_covers_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    assert main(["init", str(repo)]) == 0
    built = wheel.build()
    path = repo / workflow.WHEEL_DIR / built.file_name
    assert path.read_bytes() == built.data
    text = (repo / workflow.WORKFLOW_PATH).read_text()
    assert f"--hash=sha256:{built.sha256}" in text
    assert "--require-hashes" in text
    assert main(["init", "--check", str(repo)]) == 0
    capsys.readouterr()
    # a changed wheel
    path.write_bytes(built.data[:-1] + bytes([built.data[-1] ^ 1]))
    assert main(["init", "--check", str(repo)]) == 1
    out = capsys.readouterr().out
    assert f"drift: {workflow.WHEEL_DIR}/{built.file_name}: sha256 " in out
    assert f"but this sandproof's wheel is {built.sha256}" in out
    path.write_bytes(built.data)
    # a changed hash
    flow = repo / workflow.WORKFLOW_PATH
    flow.write_text(text.replace(built.sha256, "0" * 64))
    assert main(["init", "--check", str(repo)]) == 1
    assert f"drift: {workflow.WORKFLOW_PATH}:" in capsys.readouterr().out
    flow.write_text(text)
    # the dependencies' pins
    (repo / workflow.DEPENDENCIES).write_text("msgspec\n")
    assert main(["init", "--check", str(repo)]) == 1
    assert f"drift: {workflow.DEPENDENCIES}:" in capsys.readouterr().out


@pytest.mark.long
def test_the_install_step_installs_the_wheel_from_an_init_layout(tmp_path: Path) -> None:
    """The workflow's install step as written, from an init layout, with the runner's
    RUNNER_TEMP faked and this test's virtualenv off PATH: a tampered wheel is refused, the
    one init wrote installs into the step's own venv and `sandproof --help` runs."""
    repo = tmp_path / "repo"
    assert main(["init", str(repo)]) == 0
    doc = yaml.safe_load((repo / workflow.WORKFLOW_PATH).read_text())
    (step,) = [s for s in doc["jobs"]["attest"]["steps"] if s["name"].startswith("Install sandproof")]
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(sys.prefix))
    env["RUNNER_TEMP"] = str(temp)

    def run(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True, check=False
        )

    whl = repo / workflow.WHEEL_DIR / wheel.FILE_NAME
    good = whl.read_bytes()
    whl.write_bytes(good.replace(b"sandproof = sandproof.cli:main", b"sandproof = sandproof.cli:evil", 1))
    refused = run(step["run"])
    assert refused.returncode != 0
    assert "DO NOT MATCH THE HASHES" in refused.stdout + refused.stderr
    whl.write_bytes(good)
    proc = run(step["run"])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    help_ = run(f"{workflow.SANDPROOF} --help")
    assert help_.returncode == 0, help_.stderr
    assert "usage: sandproof" in help_.stdout
    installed = run(f'"{workflow.VENV}/bin/python" -c "import sandproof; print(sandproof.__file__)"')
    assert installed.stdout.startswith(str(temp / "sandproof-venv"))
