"""Real containers on the Docker engine and on runc. These never skip: a missing
engine is a failure (the test command installs and starts what it needs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandproof import attest, matrix, plan, profile, runtime_defaults, selftest, weaken
from sandproof.cli import main
from sandproof.inspector import judge
from sandproof.runtime.interface import Mutation
from tests.conftest import RUN_DATE

RUNTIMES = ("docker", "runc")
DEFAULT = profile.load("default")
EVIDENCE = f"sandbox-attestation-evidence-local-{RUN_DATE}.json"

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_default_passes_and_verifies(runtime: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["attest", "--runtime", runtime, "--out", str(out), "--run-date", RUN_DATE]) == 0
    printed = capsys.readouterr().out
    assert f"PASS: {EVIDENCE}" in printed
    inside = json.loads((out / "sandbox-attestation-inside.json").read_text())
    n = len(plan.build(DEFAULT, runtime)["probes"])
    assert inside["summary"] == {"total": n, "pass": n, "fail": 0, "unverified": 0, "error": 0}
    assert inside["guard"]["installed"] is True
    assert inside["raw"]["proc_self_status"]["Seccomp_filters"] == "2"  # runtime filter + L2 guard
    ev = json.loads((out / EVIDENCE).read_text())
    assert ev["runtime"] == runtime
    assert ev["image_digest"].startswith("sha256:")
    assert (out / "report.md").read_text().startswith("# sandproof verdict: **PASS**")
    # the engine's own view was read before removal, and is what the profile says
    assert ev["engine_view"]["runtime"] == runtime
    assert "problem" not in ev["engine_view"], ev["engine_view"]
    assert "| engine-view | PASS |" in (out / "report.md").read_text()
    assert main(["verify", "--require-engine-view", str(out / EVIDENCE)]) == 0


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_seed_profile_reproduces_defect_1_in_one_line(
    runtime: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert (
        main(["attest", "--profile", "b4-prime-seed", "--runtime", runtime, "--out", str(out), "--run-date", RUN_DATE])
        == 1
    )
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("FAIL: the container did not start or wrote no evidence")
    assert "operation not permitted" in first
    assert not (out / "sandbox-attestation-inside.json").exists()
    ev = json.loads((out / EVIDENCE).read_text())
    assert ev["container_started"] is False
    assert ev["container_exit"] != 0


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("weakening", weaken.WEAKENINGS, ids=[w.name for w in weaken.WEAKENINGS])
def test_each_probe_fails_in_a_sandbox_weakened_for_it(
    runtime: str, weakening: weaken.Weakening, tmp_path: Path
) -> None:
    if runtime not in weakening.runtimes:  # not a skip: the weakening has no form on this runtime
        return
    out = tmp_path / "out"
    result = selftest.attempt(weakening, DEFAULT, runtime, out, RUN_DATE)
    # the probe (or the engine-view check) that must FAIL here, named as selftest names it
    aimed_id = weakening.target(runtime)
    aimed = selftest.target(result.report, aimed_id)
    if weakening.no_effect(runtime) is not None:  # honest: shown to change nothing here
        started = result.inside_path is not None
        target = aimed[0] if aimed is not None else judge.ERROR
        assert selftest.shown_inert(target, started), (target, started)
        return
    assert aimed is not None
    assert aimed[0] == judge.FAIL, aimed
    assert result.report.verdict == judge.FAIL
    ev = json.loads(result.evidence_path.read_text())
    # the bundle is still written, complete, and the harness exited non-zero
    assert ev["container_started"] is True
    if aimed_id in matrix.BOUND_CHECKS:
        # seen by the engine's own view alone: every probe inside still PASSes
        assert ev["container_exit"] == 0
        assert ev["summary"]["fail"] == 0, [p.probe_id for p in result.report.probes if p.verdict != judge.PASS]
    else:
        assert ev["container_exit"] != 0
    n = len(plan.build(DEFAULT, runtime)["probes"])
    assert len(ev["probes"]) == n + 1  # the inside probes and the build-time PR-DYNIMPORT
    assert ev["summary"]["total"] == n
    # evidence carries names, never values
    for f in out.iterdir():
        assert "sandproof-canary-value" not in f.read_text()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_selftest_command_prints_the_score(runtime: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["selftest", "--runtime", runtime, "--only", "exec-allowed", "host-pid"]) == 0
    out = capsys.readouterr().out
    assert f"caught 2/2 (100%) single weakenings on {runtime}" in out
    assert "exec-allowed" in out


@pytest.mark.engine("docker")
def test_attest_does_not_pass_the_docker_client_config_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Docker CLI copies ``proxies`` of its config.json into every container: attest must not."""
    config = tmp_path / "docker-config"
    config.mkdir()
    proxy = {"httpProxy": "http://user:sandproof-canary-value@proxy:3128", "noProxy": "localhost"}
    (config / "config.json").write_text(json.dumps({"proxies": {"default": proxy}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    out = tmp_path / "out"
    result = attest.attest(DEFAULT, runtime="docker", out=out, run_date=RUN_DATE)
    env = next(p for p in result.report.probes if p.probe_id == "PR-ENV-1")
    assert env.verdict == judge.PASS, env
    for f in out.iterdir():
        assert "sandproof-canary-value" not in f.read_text()


EDITS = {
    # every section a user edits, each away from the default: identity and a granted capability
    # (Docker records it "CAP_"-prefixed and sorted, podman gives a non-root user it in every set
    # and binds no passwd of its own for a uid the image lacks), limits, a read-only host
    # directory, a variable, and an IPC namespace with its /dev/shm
    'name = "default"': 'name = "edited"',
    "uid = 65532": "uid = 1000",
    "gid = 65532": "gid = 1000",
    "capabilities = []": 'capabilities = ["NET_BIND_SERVICE", "CHOWN"]',
    "pids = 64": "pids = 128",
    'memory = "256m"': 'memory = "512m"',
    'memory_swap = "256m"': 'memory_swap = "1g"',
    "cpus = 1.0": "cpus = 0.5",
    "cpu_shares = 512": "cpu_shares = 256",
    "size=16m": "size=32m",
    "nofile = 1024\n": "nofile = 2048\n",
    "output_files = 1024": 'output_files = 1024\nbinds = [{ source = "HOSTDATA", target = "/data", mode = "ro" }]',
    "variables = {}": 'variables = { FOO = "bar" }',
    '# "none" removes /dev/shm (Docker otherwise mounts it 1777).\nmode = "none"': 'mode = "private"',
}


def _edited(tmp_path: Path) -> Path:
    """The default profile with ``EDITS``, its host directory made."""
    text = (Path(profile.__file__).parent / "profiles" / "default.toml").read_text()
    for old, new in EDITS.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (tmp_path / "data").mkdir()
    path = tmp_path / "edited.toml"
    path.write_text(text.replace("HOSTDATA", str(tmp_path / "data")))
    return path


@pytest.mark.parametrize("runtime", [*RUNTIMES, "podman", "runsc"])
def test_an_edited_profile_passes_as_written(runtime: str, tmp_path: Path) -> None:
    """Expectations derived from the profile, not from the default's values: a profile edited in
    every section still PASSes, engine view included (false FAILs before: Docker's CapAdd
    spelling and order, podman's capability sets, HOME and passwd mounts for a uid the image lacks,
    and its /dev/shm size); on gVisor it FAILs exactly where gVisor differs, as the default does."""
    path = _edited(tmp_path)
    out = tmp_path / "out"
    args = ["attest", "--runtime", runtime, "--profile", str(path), "--out", str(out), "--run-date", RUN_DATE]
    ev_path = out / EVIDENCE
    if runtime == "runsc":
        assert main(args) == 1
        failing = {p["probe_id"] for p in json.loads(ev_path.read_text())["probes"] if p["verdict"] != "PASS"}
        assert failing == runtime_defaults.RUNSC_NOT_PASSING
        return
    assert main(args) == 0
    assert "problem" not in json.loads(ev_path.read_text())["engine_view"]
    assert main(["verify", "--require-engine-view", "--profile", str(path), str(ev_path)]) == 0


@pytest.mark.parametrize("runtime", [*RUNTIMES, "podman"])
def test_an_edited_profiles_capabilities_are_exact(runtime: str, tmp_path: Path) -> None:
    """The edited profile's granted capabilities are expected per runtime (podman: in every set
    of its non-root user); one more granted by the caller FAILs PR-CAP-1, naming the sets."""
    claim = profile.load(str(_edited(tmp_path)))
    extra = Mutation(docker_args=("--cap-add", "SYS_PTRACE"), oci=_one_more_capability)
    got = attest.attest(claim, runtime=runtime, out=tmp_path / "out", run_date=RUN_DATE, mutation=extra)
    failing = {p.probe_id: p.reason for p in got.report.probes if p.verdict != judge.PASS}
    assert set(failing) == {"PR-CAP-1"}, failing
    assert "CapBnd is '0000000000080401', expected '0000000000000401'" in failing["PR-CAP-1"]


def _one_more_capability(cfg: dict[str, Any]) -> None:
    """runc's form of ``--cap-add SYS_PTRACE``: in each set the profile's capabilities are in."""
    for caps in cfg["process"]["capabilities"].values():
        if caps:
            caps.append("CAP_SYS_PTRACE")
