"""A workload must not fill the host's disk (review 11, findings 4 and 5) on real engines: an image
that declares ``VOLUME`` is refused by ``run`` on Docker and Podman (the engine would give it an
unbounded anonymous volume, which attest FAILs); every forced removal takes an image volume's
anonymous volume along (Docker's API and CLI, Podman, the reaper of a killed run); ``learn``
gives the traced workload the bounded /out tmpfs attest and run give."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandproof import attest, leftover, profile
from sandproof import image as image_mod
from sandproof.cli import main
from sandproof.errors import ImageError
from sandproof.image import Image
from sandproof.runtime.docker import Docker
from sandproof.runtime.podman import Podman
from sandproof.workload import images
from sandproof.workload import run as workrun
from sandproof.workload.learn import learn

DEFAULT = profile.load("default")
MOUNTS = '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}'


@pytest.fixture(scope="module")
def volumed() -> Iterator[Image]:
    """busybox declaring VOLUME /data (``images.configured``), held in Docker while the tests run."""
    img = images.configured("volume")
    with image_mod.in_use(img.image_id):
        yield img


@pytest.mark.engine
@pytest.mark.parametrize("runtime", ["docker", "podman"])
def test_run_refuses_an_image_that_declares_a_volume(runtime: str, volumed: Image, tmp_path: Path) -> None:
    rt = attest.select_runtime(runtime)
    cmd = ("/bin/sh", "-c", "cat /bin/busybox > /data/f")
    with pytest.raises(ImageError, match=r"declares VOLUME /data: .* rebuild the image without VOLUME") as err:
        workrun.run(DEFAULT, volumed, cmd, runtime=rt, out=tmp_path / "o")
    assert "\n" not in err.value.message
    assert not (tmp_path / "o").exists()  # refused before anything ran or was written


@pytest.mark.engine("docker")
def test_run_cli_refuses_a_volume_image_with_one_line(
    volumed: Image, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image_mod.ensure_docker(volumed)  # the CLI finds a user's image in the local Docker engine
    argv = ["run", "--image", volumed.name, "--runtime", "docker", "--out", str(tmp_path / "o"), "--", "true"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "VOLUME /data" in err
    assert "rebuild the image without VOLUME" in err


@pytest.mark.engine("runc")
def test_run_on_runc_runs_a_volume_image(volumed: Image, tmp_path: Path) -> None:
    """runc is given our OCI config alone: /data stays the image's own read-only directory (attest PASSes)."""
    cmd = ("/bin/sh", "-c", "echo x > /data/f")
    got = workrun.run(DEFAULT, volumed, cmd, runtime=attest.select_runtime("runc"), out=tmp_path / "o")
    assert got.exit_code != 0
    assert not got.receipt["refused"]
    assert "Read-only file system" in got.receipt["stderr"]["tail"]


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.engine
@pytest.mark.parametrize("how", ["api", "cli", "reaper"])
def test_docker_forced_removal_takes_the_image_volume_along(how: str, volumed: Image, tmp_path: Path) -> None:
    """As a --timeout or Ctrl-C of a run ends it: the container killed and removed while it runs.
    Before: ``rm --force`` (API ``force=1``) without ``v`` left the anonymous volume on the host."""
    image_mod.ensure_docker(volumed)
    name = f"sandproof-voltest-{uuid.uuid4().hex[:12]}"
    out = tmp_path / "out"
    out.mkdir()
    started = _docker(
        "run", "--detach", "--rm", "--name", name, "--network", "none", "--volume", f"{out}:/out",
        volumed.image_id, "sleep", "60",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    vols = _docker("inspect", "--format", MOUNTS, name).stdout.split()
    try:
        assert len(vols) == 1, vols  # /data's anonymous volume
        if how == "reaper":  # a killed run's container, found by the /out it binds
            leftover._stop_docker(out)
        else:
            rt = Docker()
            if how == "cli":
                rt.api = None
            rt.remove(name, dict(os.environ))
        assert _docker("inspect", name).returncode != 0  # the container is gone
        assert _docker("volume", "inspect", vols[0]).returncode != 0, f"volume {vols[0]} left on the host"
    finally:
        _docker("rm", "--force", "--volumes", name)
        _docker("volume", "rm", "--force", *vols)


@pytest.mark.engine("podman")
@pytest.mark.parametrize("auto", [True, False], ids=["rm", "kept"])
def test_podman_forced_removal_takes_the_image_volume_along(auto: bool, volumed: Image) -> None:
    """Podman 4.3 takes the anonymous volumes of a ``--rm`` container on ``rm --force`` as well
    (measured); ``--volumes`` takes them whatever the container was created with."""
    rt = Podman()
    env = rt.env(dict(os.environ))
    rt.prepare(volumed)
    name = f"sandproof-voltest-{uuid.uuid4().hex[:12]}"
    started = rt._podman(
        "run", "--detach", *(["--rm"] if auto else []), "--name", name, "--network", "none",
        "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",  # within this host's hard limits
        volumed.image_id, "sleep", "60",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    vols = rt._podman("inspect", "--format", MOUNTS, name).stdout.split()
    try:
        assert len(vols) == 1, vols
        rt.remove(name, env)
        assert rt._podman("container", "exists", name).returncode == 1  # gone
        assert rt._podman("volume", "exists", vols[0]).returncode == 1, f"volume {vols[0]} left in the storage"
    finally:
        rt._podman("rm", "--force", "--time", "0", "--volumes", "--ignore", name)
        if vols:
            rt._podman("volume", "rm", "--force", *vols)


@pytest.mark.engine("runc")  # learn traces runc
def test_learn_gives_the_workload_the_bounded_out_of_attest_and_run() -> None:
    """12 copies of the 1.9 MB busybox binary (~24 MB) into /out, whose bound is the profile's
    16 MiB: the tmpfs says ENOSPC (before: a plain directory under the host's /tmp took it all)."""
    assert DEFAULT.filesystem.output_limit.bytes < 12 * 1_900_000
    script = "i=0; while [ $i -lt 12 ]; do cat /bin/busybox > /out/f$i || exit 7; i=$((i+1)); done"
    got = learn(DEFAULT, images.busybox(), ("/bin/sh", "-c", script), runs=1)
    (run,) = got.runs
    assert run.exit_code == 7, run.stderr_tail
    assert "No space left on device" in run.stderr_tail
