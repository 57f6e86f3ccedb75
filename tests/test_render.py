from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from sandproof import profile, runtime_defaults
from sandproof.cli import main
from sandproof.render import docker, dockerfile, oci, runnable
from sandproof.weaken.core import replaced
from tests.conftest import RUN_DATE

SEED_COMMAND = (
    "docker run --rm --log-driver none --name tki-sandbox-attest --network none --user 65532:65532 --read-only "
    "--tmpfs /tmp:rw,noexec,nosuid,nodev,size=16m --cap-drop ALL --security-opt no-new-privileges "
    "--security-opt seccomp=seccomp-deny-by-default.json --pids-limit 64 --memory 256m --memory-swap 256m "
    "--cpus 1 --env-file /dev/null -v IN:/in:ro -v OUT:/out:rw tki-inspector:attest --attest --run-date D"
)
SEED_RENDERED = shlex.join(
    [*SEED_COMMAND.split()[:9], *runtime_defaults.DOCKER_RESOLV_FLAGS, *SEED_COMMAND.split()[9:]]
)
"""The seed's command as rendered: its own words, and after ``--network none`` sandproof's
--dns flags, without which Docker copies the host's nameservers into the sandbox."""


def test_seed_argv_is_the_seed_command() -> None:
    argv = docker.argv(
        profile.load("b4-prime-seed"),
        in_dir="IN",
        out_dir="OUT",
        seccomp_file="seccomp-deny-by-default.json",
        run_date="D",
    )
    assert argv == shlex.split(SEED_RENDERED)


def test_default_argv_hardening() -> None:
    argv = docker.argv(profile.load("default"), in_dir="I", out_dir="O", seccomp_file="s.json", run_date="D")
    line = " ".join(argv)
    assert "--ipc none" in line
    assert "--tmpfs /dev/mqueue:ro," in line
    assert argv[-2:] == ["--guard", "execve,execveat:EPERM"]


def test_env_values_never_in_argv() -> None:
    p = replaced(profile.load("default"), "environment", variables={"API_KEY": "s3cr3t"})
    argv = docker.argv(p, in_dir="I", out_dir="O", seccomp_file="s", run_date="D")
    assert "API_KEY" in argv
    assert not any("s3cr3t" in a for a in argv)
    assert docker.env(p, {})["API_KEY"] == "s3cr3t"


def test_oci_config_matches_profile() -> None:
    cfg = oci.config(profile.load("default"), in_dir="/h/in", out_dir="/h/out", run_date="D")
    proc = cfg["process"]
    assert proc["user"] == {"uid": 65532, "gid": 65532, "umask": 0o022}
    assert proc["noNewPrivileges"] is True
    assert all(v == [] for v in proc["capabilities"].values())
    assert cfg["root"]["readonly"] is True
    dests = {m["destination"]: m for m in cfg["mounts"]}
    assert "ro" in dests["/in"]["options"]
    assert "rw" in dests["/out"]["options"]
    assert "/dev/shm" not in dests
    assert "noexec" in dests["/tmp"]["options"]
    assert {"type": "network"} in cfg["linux"]["namespaces"]
    assert cfg["linux"]["resources"]["pids"] == {"limit": 64}
    assert cfg["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"


def test_dockerfile_has_seed_shape() -> None:
    text = dockerfile.render(profile.load("b4-prime-seed"))
    assert "FROM gcr.io/distroless/python3-debian12:nonroot" in text
    assert "COPY --chown=root:root inspector/ /app/" in text
    assert "USER 65532:65532" in text
    assert 'ENTRYPOINT ["python", "/app/main.py"]' in text


def test_cli_render_formats(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --in and --out the command names what render wrote, by absolute path (docker -v
    takes a relative one for a volume name): otherwise the seed's command, word for word."""
    cap = capsys
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runnable, "docker_image", lambda _p: "image not loaded (test)")
    seed = (
        SEED_RENDERED.replace("IN:", f"{tmp_path}/IN:")
        .replace("OUT:", f"{tmp_path}/OUT:")
        .replace("seccomp=", f"seccomp={tmp_path}/")
        .replace("--run-date D", f"--run-date {RUN_DATE}")  # render takes a date only (the seed's D is a blank)
    )
    args = ["render", "docker", "--profile", "b4-prime-seed", "--in", "IN", "--out", "OUT", "--run-date", RUN_DATE]
    try:
        assert main([*args, "--format", "json"]) == 0
        assert json.loads(cap.readouterr().out) == shlex.split(seed)
        assert main(args) == 0
        assert cap.readouterr().out.strip() == seed
    finally:
        if os.path.ismount(tmp_path / "OUT"):
            subprocess.run(["umount", str(tmp_path / "OUT")], check=True)
    for artifact in ("seccomp", "oci"):
        assert main(["render", artifact]) == 0
        assert json.loads(cap.readouterr().out)
    assert main(["render", "dockerfile"]) == 0
    assert cap.readouterr().out.startswith("# Rendered by sandproof")
    assert main(["profile", "show", "default"]) == 0
    assert json.loads(cap.readouterr().out)["name"] == "default"
