"""What a runtime does for sandproof: say whether it answers, prepare an image, run
the harness once in the profile's sandbox."""

from __future__ import annotations

import abc
import copy
import hashlib
import os
import select
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandproof import capture, contract, seccomp
from sandproof.capture import Captured
from sandproof.image import Image
from sandproof.profile import Profile
from sandproof.workload.carried import Workload

RUN_TIMEOUT_S = contract.RUN_TIMEOUT_S
# the harness falls back to one stdout line holding the whole bundle: the tail must hold it
STDOUT_TAIL_BYTES = contract.BUNDLE_MAX_BYTES + (1 << 16)
READ_GRACE_S = 10


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
    inputs: tuple[tuple[str, bytes], ...] = ()
    """Extra files (name, bytes) for the input directory: a hostile entrypoint's script."""
    entrypoint: tuple[str, ...] = ()
    """Run this instead of the harness (the hostile-sandbox suite); empty: the harness."""
    caller: tuple[str, ...] = ()
    """A command the runtime's client is run under (``unshare --time ...``): the caller's own
    namespaces, which a daemonless runtime's container inherits. Not part of the recorded argv:
    it is where attest was started, not what it ran."""
    runsc_flags: tuple[str, ...] = ()
    """Extra runsc global flags, placed after the rendered ones and before ``run`` (Go's flag
    package keeps a repeated flag's last value): a careless ``--host-uds=open`` or ``--cgroupfs``
    in a wrapper around runsc. runsc only (runc refuses to run a mutation that has them)."""


NO_MUTATION = Mutation()


@dataclass(frozen=True)
class Seccomp:
    """The runtime seccomp policy rendered once per run: ``text`` is what the engine is given
    (Docker's file, runc's ``linux.seccomp``) and ``sha256`` what the evidence records."""

    policy: dict[str, Any]
    """Never edited in place: a mutation edits a copy (``edited``)."""
    text: bytes
    sha256: str

    @classmethod
    def of(cls, policy: dict[str, Any]) -> Seccomp:
        text = seccomp.dump(policy)
        return cls(policy, text, hashlib.sha256(text).hexdigest())

    @classmethod
    def render(cls, profile: Profile) -> Seccomp:
        return cls.of(seccomp.policy(profile))

    def edited(self, edit: Callable[[dict[str, Any]], None] | None) -> Seccomp:
        """The policy after a mutation's edit (itself when there is none)."""
        if edit is None:
            return self
        policy = copy.deepcopy(self.policy)
        edit(policy)
        return Seccomp.of(policy)


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
    timeout_s: float = RUN_TIMEOUT_S
    """After this the container is killed and removed, and the run is exit 124."""
    seccomp: Seccomp | None = None
    """The profile's seccomp policy as attest rendered it once; None: the runtime renders it."""
    started: Callable[[], None] | None = None
    """Called once the runtime's client runs: work that can overlap the run starts then, not
    before (it would hold the GIL while the runtime renders and spawns)."""
    workload: Workload | None = None
    """The harness carried into this user's image (``image``), its tree mounted (issue 11)."""


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    """The container's exit code, or the runtime's when the container never started."""
    stdout: Captured
    stderr: Captured
    argv: list[str]
    """The exact command run, with no environment values in it."""
    wall_s: float
    details: dict[str, Any]
    """Runtime-specific facts for the evidence (e.g. the redacted OCI config)."""
    refused: bool = False
    """The engine refused the configuration before the sandbox's process ran."""
    timed_out: bool = False


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

    def check(self, profile: Profile) -> None:  # noqa: B027 - most runtimes can run any valid profile
        """Refuse (``ProfileError``, one line) a profile this runtime cannot start on this host,
        before anything is built or run, rather than let the engine refuse it opaquely."""

    @abc.abstractmethod
    def run(self, request: RunRequest) -> RunResult:
        """Run the harness once; never raises for a container that fails or escapes."""


@dataclass(frozen=True)
class Finished:
    code: int
    stdout: Captured
    stderr: Captured
    timed_out: bool


def supervise(
    argv: Sequence[str],
    *,
    timeout: float,
    stop: Callable[[], None],
    env: dict[str, str] | None = None,
    leak_fd: int | None = None,
    started: Callable[[], None] | None = None,
) -> Finished:
    """Run the runtime's client with both streams read in bounded memory. On timeout or
    Ctrl-C, ``stop`` kills and removes the container (killing the client alone leaves it
    running and writing), then the client is killed; Ctrl-C is raised again after.
    ``started`` is called once the client runs (it must return at once)."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # in the child only: the host's / becomes its fd 3, kept open through exec
        pass_fds=(3,) if leak_fd is not None else (),
        preexec_fn=(lambda: os.dup2(leak_fd, 3)) if leak_fd is not None else None,  # noqa: PLW1509 - test-only leak
    )
    out, err = capture.pumps(proc, stdout_tail=STDOUT_TAIL_BYTES)
    timed_out = False
    try:
        if started is not None:
            started()
        code = _wait(proc, timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        stop()
        proc.kill()
        code = proc.wait()
    except BaseException:  # Ctrl-C: leave nothing running
        stop()
        proc.kill()
        proc.wait()
        raise
    return Finished(code, out.result(READ_GRACE_S), err.result(READ_GRACE_S), timed_out)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Wake the moment the client exits (a pidfd turns readable), not at Popen.wait's
    polling steps, which grow to 50 ms; falls back to those where pidfds are missing."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return proc.wait(timeout)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    if not ready:
        raise subprocess.TimeoutExpired(proc.args, timeout)
    return proc.wait()


def first_line(argv: list[str], timeout: float = 15) -> str | None:
    """The first line a command prints, or None when it is missing, fails or hangs."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = proc.stdout.strip().splitlines()
    return lines[0].strip() if proc.returncode == 0 and lines else None
