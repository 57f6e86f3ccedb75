"""Docker: the sandbox runs with ``docker run ARGV``, as the seed's workflow does; the calls
around it (version, image inspect, removal after a timeout) go to the Engine API on its unix
socket (``engine_api``), with the CLI as the fallback where no socket answers.

The run itself stays the CLI: its argv is the evidence the verifier re-renders and compares,
and the mutation suite weakens a sandbox by editing exactly that argv. Creating the container
through the API would save the CLI's own start (~15-40 ms) but the evidence would then have to
record, and the verifier re-derive, the HostConfig instead of the command a user can re-run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from sandproof import image as images
from sandproof import runtime_defaults
from sandproof.errors import EngineError, ProfileError
from sandproof.image import Image
from sandproof.profile import Profile
from sandproof.render import docker as render
from sandproof.runtime import watch
from sandproof.runtime.engine_api import EngineAPI, Unreachable
from sandproof.runtime.interface import RunRequest, RunResult, Runtime, Seccomp, first_line, supervise

REMOVE_WAIT_S = 30


def check_umask(profile: Profile, why: str) -> None:
    """Refuse a profile whose umask this runtime cannot give (runtime_defaults.UMASK_FIXED)."""
    if profile.user.umask != runtime_defaults.UMASK:
        raise ProfileError(
            f"profile {profile.source}: user.umask = {profile.user.umask!r} cannot be set here: {why} "
            f"{runtime_defaults.UMASK} (use runc or podman, or leave the key out)"
        )


class Docker(Runtime):
    name = "docker"

    def __init__(self, binary: str = "docker") -> None:
        self.binary = binary
        self.api = EngineAPI.from_environ(os.environ)
        self._answer: tuple[str | None] | None = None
        self.unreachable = ""

    def _server_version(self) -> str | None:
        # asked once per instance: ``available`` then ``version`` cost one request, not two
        if self._answer is None:
            self._answer = (self._ask_version(),)
        return self._answer[0]

    def _ask_version(self) -> str | None:
        if shutil.which(self.binary) is None:
            return None  # an engine on the socket is no use without the CLI that runs the sandbox
        if self.api is not None:
            try:
                return self.api.version()
            except Unreachable as exc:
                self.unreachable = str(exc)  # "PATH: reason", for the one line that says why
                self.api = None  # the socket does not answer: the CLI may still reach an engine
        return first_line([self.binary, "version", "--format", "{{.Server.Version}}"])

    def available(self) -> bool:
        return self._server_version() is not None

    def version(self) -> str:
        v = self._server_version()
        if v is None:
            raise EngineError("the Docker engine does not answer (start dockerd, or use --runtime runc)")
        return f"Docker Engine {v}"

    def prepare(self, image: Image) -> None:
        if self.api is not None:
            try:
                if self.api.image_id(image.name) == image.image_id:
                    return  # already loaded: no ``docker image inspect`` spawn
            except Unreachable:
                self.api = None
        images.ensure_docker(image, self.binary)

    def check(self, profile: Profile) -> None:
        check_umask(profile, "docker run has no flag for it: every container gets dockerd's")

    def run(self, request: RunRequest) -> RunResult:
        profile, mutation = request.profile, request.mutation
        sc_file = profile.seccomp.path_in(request.work_dir)
        # the evidence hashes the file the engine was given, not what the profile would render
        loaded = (request.seccomp or Seccomp.render(profile)).edited(mutation.seccomp)
        sc_file.write_bytes(loaded.text)
        details: dict[str, object] = {"seccomp_sha256": loaded.sha256}
        argv = render.argv(
            profile,
            in_dir=str(request.in_dir),
            out_dir=str(request.out_dir),
            seccomp_file=str(sc_file),
            run_date=request.run_date,
            docker=self.binary,
            image_ref=request.image.image_id,
            extra=mutation.docker_args,
            workload=request.workload,
        )
        if mutation.docker is not None:
            mutation.docker(argv)
        if mutation.entrypoint:  # test-only: hostile code instead of the harness
            ref = argv.index(request.image.image_id)
            ep = mutation.entrypoint
            argv[ref:] = ["--entrypoint", ep[0], request.image.image_id, *ep[1:]]
        # an empty client config: the CLI would otherwise copy the proxies (and their
        # credentials) of ~/.docker/config.json into the sandbox's environment
        client_config = request.work_dir / "docker-config"
        client_config.mkdir(exist_ok=True)
        config = mutation.docker_config or str(client_config)
        env = {**render.env(profile, dict(os.environ)), "DOCKER_CONFIG": config}
        name = argv[argv.index("--name") + 1]
        views: list[watch.Watch] = []

        def started() -> None:
            # from once the client runs, off the path to its spawn (a thread's start waits for it
            # to be scheduled); the events request asks from a second before, so none is missed
            views.append(
                watch.docker_api(self.api, name) if self.api is not None else watch.docker_cli(self.binary, name, env)
            )
            if request.started is not None:
                request.started()

        t0 = time.perf_counter()
        try:
            done = supervise(
                argv, timeout=request.timeout_s, stop=lambda: self.remove(name, env), env=env, started=started
            )
        finally:  # read during the run; this only collects it (and stops a wait for a start that never came)
            if views:
                details["engine_view"] = views[0].finish()
        wall = time.perf_counter() - t0
        if done.timed_out:
            return RunResult(124, done.stdout, done.stderr, argv, wall, details, timed_out=True)
        # docker run: 125 is the daemon's (or the CLI's) own refusal, before the container
        # ran (docker/cli cli/command/container/run.go); 126/127 are the entrypoint's exec.
        # With --rm the CLI returns only once the engine has removed the container
        # (run.go waitExitOrRemoved): nothing is left to inspect or remove here.
        return RunResult(done.code, done.stdout, done.stderr, argv, wall, details, refused=done.code == 125)

    def remove(self, name: str, env: dict[str, str]) -> None:
        """Kill and remove the container with its anonymous volumes, and wait until the engine
        no longer lists it."""
        deadline = time.monotonic() + REMOVE_WAIT_S
        if self.api is not None:
            try:
                self.api.remove_container(name)
                while self.api.container_exists(name) and time.monotonic() < deadline:
                    time.sleep(0.2)  # --rm may still be removing it: "removal already in progress"
                    self.api.remove_container(name)
                return
            except Unreachable:
                self.api = None
        _cli_rm(self.binary, name, env)
        while time.monotonic() < deadline:
            if not alive(self.binary, name, env):
                return
            time.sleep(0.2)
            _cli_rm(self.binary, name, env)


def _cli_rm(binary: str, name: str, env: dict[str, str]) -> None:
    # --volumes: the anonymous volumes of an image's VOLUME go too (EngineAPI.remove_container)
    argv = [binary, "rm", "--force", "--volumes", name]
    subprocess.run(argv, capture_output=True, env=env, timeout=60, check=False)


def alive(binary: str, name: str, env: dict[str, str] | None = None) -> bool:
    """True while the engine still has a container of this exact name."""
    api = EngineAPI.from_environ(os.environ if env is None else env)
    if api is not None:
        try:
            return api.container_exists(name)
        except Unreachable:
            pass
    proc = subprocess.run(
        [binary, "ps", "--all", "--quiet", "--filter", f"name=^/?{name}$"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    return proc.returncode != 0 or bool(proc.stdout.strip())
