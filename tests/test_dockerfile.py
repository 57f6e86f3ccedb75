"""The rendered Dockerfile.sandbox builds offline on the imported base (the legacy
builder of Debian's docker.io) and its image passes the same probes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sandproof import attest, image, outdir, plan, profile
from sandproof import init as layout
from sandproof.inspector import harness, wire
from sandproof.render import dockerfile as render_dockerfile
from sandproof.runtime.docker import Docker
from sandproof.runtime.interface import NO_MUTATION, RunRequest
from tests.conftest import RUN_DATE

pytestmark = pytest.mark.engine("docker")
TAG = "sandproof/inspector:from-dockerfile"


def test_dockerfile_builds_on_the_offline_base_and_passes(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    prof = profile.load("default")
    img = image.build(prof)
    image.ensure_docker(image.base_of(img))
    # the init layout is the build context; its Dockerfile starts FROM the offline base here
    layout.write(prof, tmp_path / "ctx")
    dockerfile = tmp_path / "ctx" / "Dockerfile.sandbox"
    dockerfile.write_text(render_dockerfile.render(prof, image.BASE_NAME))
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # Debian's docker.io ships no buildx
    build = subprocess.run(
        ["docker", "build", "-q", "-f", str(dockerfile), "-t", TAG, str(tmp_path / "ctx")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    request.addfinalizer(lambda: subprocess.run(["docker", "image", "rm", TAG], capture_output=True, check=False))
    built = image.Image(TAG, build.stdout.strip(), (), b"")
    work = tmp_path / "work"
    work.mkdir()
    in_dir, staging = attest.prepare_dirs(
        work, plan.compiled(prof, "docker"), prof, NO_MUTATION
    )  # as attest makes them
    request.addfinalizer(lambda: outdir.remove(staging))
    result = Docker().run(RunRequest(prof, built, in_dir, staging.path, work, RUN_DATE))
    assert result.exit_code == 0, result.stderr
    inside = json.loads((staging.path / wire.BUNDLE_NAME).read_text())
    assert inside["summary"]["pass"] == inside["summary"]["total"] == len(plan.build(prof, "docker")["probes"])
    # the same inspector bytes as the assembled image's
    assert inside["inspector_sha256"] == harness.inspector_sha256()
