"""Docker through its CLI, as the seed's workflow does."""

from __future__ import annotations

import os
import subprocess
import time

from sandproof import image as images
from sandproof import seccomp
from sandproof.errors import EngineError
from sandproof.image import Image
from sandproof.render import docker as render
from sandproof.runtime.interface import RUN_TIMEOUT_S, RunRequest, RunResult, Runtime, first_line


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
        sc_file.write_bytes(seccomp.dump(policy))
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
        # an empty client config: the CLI would otherwise copy the proxies (and their
        # credentials) of ~/.docker/config.json into the sandbox's environment
        client_config = request.work_dir / "docker-config"
        client_config.mkdir(exist_ok=True)
        config = request.mutation.docker_config or str(client_config)
        env = {**render.env(profile, dict(os.environ)), "DOCKER_CONFIG": config}
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env, check=False)
        except subprocess.TimeoutExpired as exc:
            if profile.container_name:
                subprocess.run([self.binary, "rm", "-f", profile.container_name], capture_output=True, check=False)
            return RunResult(
                124,
                _text(exc.stdout),
                _text(exc.stderr) + f"\ntimed out after {RUN_TIMEOUT_S}s",
                argv,
                time.perf_counter() - t0,
                {},
            )
        return RunResult(proc.returncode, proc.stdout, proc.stderr, argv, time.perf_counter() - t0, {})


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""
