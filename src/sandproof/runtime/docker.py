"""Docker through its CLI, as the seed's workflow does."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time

from sandproof import image as images
from sandproof import seccomp
from sandproof.errors import EngineError
from sandproof.image import Image
from sandproof.render import docker as render
from sandproof.runtime.interface import RunRequest, RunResult, Runtime, first_line, supervise


class Docker(Runtime):
    name = "docker"

    def __init__(self, binary: str = "docker") -> None:
        self.binary = binary

    def _server_version(self) -> str | None:
        return first_line([self.binary, "version", "--format", "{{.Server.Version}}"])

    def available(self) -> bool:
        return self._server_version() is not None

    def version(self) -> str:
        v = self._server_version()
        if v is None:
            raise EngineError("the Docker engine does not answer (start dockerd, or use --runtime runc)")
        return f"Docker Engine {v}"

    def prepare(self, image: Image) -> None:
        images.ensure_docker(image, self.binary)

    def run(self, request: RunRequest) -> RunResult:
        profile = request.profile
        sc_file = request.work_dir / profile.seccomp.file_name
        policy = seccomp.policy(profile)
        if request.mutation.seccomp is not None:
            request.mutation.seccomp(policy)
        loaded = seccomp.dump(policy)
        sc_file.write_bytes(loaded)
        # the evidence hashes the file the engine was given, not what the profile would render
        details = {"seccomp_sha256": hashlib.sha256(loaded).hexdigest()}
        argv = render.argv(
            profile,
            in_dir=str(request.in_dir),
            out_dir=str(request.out_dir),
            seccomp_file=str(sc_file),
            run_date=request.run_date,
            docker=self.binary,
            image_ref=request.image.image_id,
            extra=request.mutation.docker_args,
        )
        if request.mutation.docker is not None:
            request.mutation.docker(argv)
        if request.mutation.entrypoint:  # test-only: hostile code instead of the harness
            ref = argv.index(request.image.image_id)
            ep = request.mutation.entrypoint
            argv[ref:] = ["--entrypoint", ep[0], request.image.image_id, *ep[1:]]
        # an empty client config: the CLI would otherwise copy the proxies (and their
        # credentials) of ~/.docker/config.json into the sandbox's environment
        client_config = request.work_dir / "docker-config"
        client_config.mkdir(exist_ok=True)
        config = request.mutation.docker_config or str(client_config)
        env = {**render.env(profile, dict(os.environ)), "DOCKER_CONFIG": config}
        name = argv[argv.index("--name") + 1]
        t0 = time.perf_counter()
        done = supervise(argv, timeout=request.timeout_s, stop=lambda: self.remove(name, env), env=env)
        wall = time.perf_counter() - t0
        if done.timed_out:
            return RunResult(124, done.stdout, done.stderr, argv, wall, details, timed_out=True)
        # docker run: 125 is the daemon's (or the CLI's) own refusal, before the container
        # ran (docker/cli cli/command/container/run.go); 126/127 are the entrypoint's exec
        return RunResult(done.code, done.stdout, done.stderr, argv, wall, details, refused=done.code == 125)

    def remove(self, name: str, env: dict[str, str]) -> None:
        """Kill and remove the container, and wait until the engine no longer lists it."""
        subprocess.run([self.binary, "rm", "--force", name], capture_output=True, env=env, timeout=60, check=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # --rm may still be removing it: "removal already in progress"
            if not alive(self.binary, name, env):
                return
            time.sleep(0.2)
            subprocess.run([self.binary, "rm", "--force", name], capture_output=True, env=env, timeout=60, check=False)


def alive(binary: str, name: str, env: dict[str, str] | None = None) -> bool:
    """True while the engine still has a container of this exact name."""
    proc = subprocess.run(
        [binary, "ps", "--all", "--quiet", "--filter", f"name=^/?{name}$"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    return proc.returncode != 0 or bool(proc.stdout.strip())
