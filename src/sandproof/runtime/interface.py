"""What a runtime does for sandproof: say whether it answers, prepare an image, run
the harness once in the profile's sandbox."""

from __future__ import annotations

import abc
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandproof.image import Image
from sandproof.profile import Profile

RUN_TIMEOUT_S = 120


@dataclass(frozen=True)
class Mutation:
    """Changes to one run that no profile can express: the mutation suite's way to weaken a
    sandbox the way a careless flag, a hostile engine or a runtime bug would. Never set by
    ``attest`` for a user; not part of any profile or its digest."""

    docker_args: tuple[str, ...] = ()
    """Extra ``docker run`` flags, placed before the image reference."""
    docker: Callable[[list[str]], None] | None = None
    """Edits the rendered ``docker run`` argv in place (to replace a flag's value)."""
    oci: Callable[[dict[str, Any]], None] | None = None
    """Edits the rendered OCI config in place before runc runs it."""
    docker_config: str | None = None
    """The Docker client config directory to run the CLI with (attest gives it an empty one)."""
    seccomp: Callable[[dict[str, Any]], None] | None = None
    """Edits the rendered seccomp policy in place before the runtime gets it: a filter tuned to
    arguments or architectures, which no profile can express (test-only)."""
    preserve_host_fd: bool = False
    """Hand the host's ``/`` to the container as fd 3 (runc ``--preserve-fds``; CVE-2024-21626)."""


NO_MUTATION = Mutation()


@dataclass(frozen=True)
class RunRequest:
    profile: Profile
    image: Image
    in_dir: Path
    out_dir: Path
    work_dir: Path
    """Scratch space on the host for the seccomp file or the OCI bundle."""
    run_date: str
    mutation: Mutation = field(default=NO_MUTATION)


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    """The container's exit code, or the runtime's when the container never started."""
    stdout: str
    stderr: str
    argv: list[str]
    """The exact command run, with no environment values in it."""
    wall_s: float
    details: dict[str, Any]
    """Runtime-specific facts for the evidence (e.g. the redacted OCI config)."""


class Runtime(abc.ABC):
    name: str

    @abc.abstractmethod
    def available(self) -> bool:
        """True when the runtime answers on this machine."""

    @abc.abstractmethod
    def version(self) -> str:
        """The runtime's own version string, for the evidence."""

    @abc.abstractmethod
    def prepare(self, image: Image) -> None:
        """Make the image runnable (load it into the engine, unpack a rootfs)."""

    @abc.abstractmethod
    def run(self, request: RunRequest) -> RunResult:
        """Run the harness once; never raises for a container that fails or escapes."""


def first_line(argv: list[str], timeout: float = 15) -> str | None:
    """The first line a command prints, or None when it is missing, fails or hangs."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = proc.stdout.strip().splitlines()
    return lines[0].strip() if proc.returncode == 0 and lines else None
