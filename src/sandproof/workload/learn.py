"""``sandproof learn``: the seccomp allowlist a workload needs (seed §4b: a hardened
default-deny allowlist "cannot be finalized without first running the real inspector").

The workload runs N times on runc in the profile's own sandbox (its filter included),
with runc's whole process tree traced from the host by Debian's ``strace -f``. Counting
starts at the execve of the entrypoint (``trace.parse``): runc's setup is not the
workload's. Names the profile's own rules deny stay denied (with their errno: clone3
must keep ENOSYS, moby#42681) and are left out of the allowlist; so are the names an
allowlist base refuses by its default action: the traced run had that very filter, so
those calls were tried and refused, and learning never turns a refusal into an allow
(the user adds them by hand if the workload needs them). What runc's init makes after
loading the filter is listed apart, as the runtime's floor. Why strace and not a
seccomp log or user-notification listener: it needs no kernel audit setup, sees the
calls a filter allows as well as those it denies, and names them per process.
"""

from __future__ import annotations

import platform
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sandproof import image as images
from sandproof import leftover, outdir, seccomp
from sandproof.errors import EngineError
from sandproof.image import Image
from sandproof.profile import Profile
from sandproof.workload import sandbox, trace

DEFAULT_RUNS = 3
STRACE = ("strace", "-f", "--quiet=attach,exit", "--pidns-translation", "-e", "trace=all")
"""``-qq`` less ``personality``: strace writes its "[ Process PID=N runs in 32 bit mode. ]" line
into the log only when personality messages are not quiet (src/syscall.c update_personality,
QUIET_PERSONALITY; -q and -qq include it, and so does the default with -o FILE), and
``trace.parse`` needs that line to tell a 32-bit or x32 call from a native one."""
ARCH = {"x86_64": "x86_64", "aarch64": "aarch64"}
"""platform.machine() -> the profile's architecture name (seccomp.ARCH maps it to libseccomp's)."""


@dataclass(frozen=True)
class Run:
    """One traced run of the workload."""

    exit_code: int
    wall_s: float
    workload: frozenset[str]
    runtime: frozenset[str]
    stderr_tail: str


@dataclass(frozen=True)
class Learned:
    """What N runs needed, for one architecture."""

    arch: str
    command: tuple[str, ...]
    image_id: str
    runs: tuple[Run, ...]
    denied: frozenset[str]
    """Names the workload (or runc's init after its filter) tried that the profile's own rules
    deny: kept denied, not listed."""
    wall_s: float
    refused: frozenset[str] = frozenset()
    """Names tried that an allowlist base refuses by its default action (outside its list and
    floors): tried and refused in the traced run, left refused, not listed."""

    def allow(self) -> dict[str, list[int]]:
        """name -> the runs (1-based) that made it: workload and runtime floor, minus ``denied``
        and ``refused``."""
        out: dict[str, list[int]] = {}
        for i, run in enumerate(self.runs, start=1):
            for name in (run.workload | run.runtime) - self.denied - self.refused:
                out.setdefault(name, []).append(i)
        return dict(sorted(out.items()))

    def runtime_only(self) -> frozenset[str]:
        """Names only runc's init needed (after its filter, before the exec)."""
        used = frozenset().union(*(r.workload for r in self.runs))
        return frozenset().union(*(r.runtime for r in self.runs)) - used


def denied_by(profile: Profile) -> frozenset[str]:
    """What the profile's own rules deny (the learned profile keeps these rules)."""
    return frozenset(n for rule in profile.seccomp.rules for n in rule.names)


def refused_by(profile: Profile, arch: str, tried: frozenset[str]) -> frozenset[str]:
    """The names of ``tried`` the profile's filter refuses by its default action: for an
    allowlist, everything outside what it lets through (its list and the floors,
    ``seccomp.allowed``) that no rule names; nothing for a deny list (default allow) or
    where no filter is loaded (as render/oci.py: seccomp disabled, or privileged)."""
    sc = profile.seccomp
    if sc.default_action == "allow" or not sc.enabled or profile.security.privileged:
        return frozenset()
    return tried - seccomp.allowed(profile, arch) - denied_by(profile)


def learn(
    profile: Profile,
    image: Image,
    cmd: Sequence[str] = (),
    *,
    runs: int = DEFAULT_RUNS,
    in_dir: Path | None = None,
    timeout_s: float = sandbox.RUN_TIMEOUT_S,
    foreign_abi: bool = False,
) -> Learned:
    """Run the workload ``runs`` times under strace on runc; collect what it made.
    ``foreign_abi``: calls through a 32-bit or x32 ABI are left out instead of refused (the
    harness tries them on purpose, PR-SECCOMP-ABI; a filter without those ABIs refuses them)."""
    if runs < 1:
        raise EngineError("learn needs at least one run")
    if shutil.which("strace") is None:
        raise EngineError("strace is not installed (apt-get install strace)")
    arch = ARCH.get(platform.machine())
    if arch is None:
        raise EngineError(f"learn: no seccomp architecture for {platform.machine()}")
    argv = sandbox.command(image, cmd)
    t0 = time.perf_counter()
    done = tuple(_once(profile, image, argv, in_dir, timeout_s, foreign_abi=foreign_abi) for _ in range(runs))
    tried = frozenset().union(*(r.workload | r.runtime for r in done))
    denied = tried & denied_by(profile)
    refused = refused_by(profile, arch, tried)
    return Learned(arch, tuple(argv), image.image_id, done, denied, time.perf_counter() - t0, refused)


def _once(
    profile: Profile, image: Image, argv: list[str], in_dir: Path | None, timeout_s: float, *, foreign_abi: bool
) -> Run:
    work = leftover.scratch("sandproof-learn-")  # a killed learn's run is stopped and removed by the next
    staging = None
    try:
        if in_dir is None:
            in_dir = work / "in"
            in_dir.mkdir(mode=0o555)
        # /out is the bounded tmpfs attest and run give (outdir.py): the traced workload fills
        # its own output_limit, never the host's disk under /tmp
        staging = outdir.for_profile(work / "out", profile)
        cfg = sandbox.oci_config(
            profile,
            image,
            argv,
            rootfs=images.rootfs(image),
            in_dir=str(in_dir),
            out_dir=str(staging.path),
            cgroup=f"/sandproof/{work.name}",
        )
        log = work / "strace.log"
        ran = sandbox.run_runc(cfg, work, wrap=[*STRACE, "-o", str(log)], timeout_s=timeout_s)
        traced = trace.parse(log.read_text(errors="replace") if log.is_file() else "", argv[0])
    finally:
        try:
            if staging is not None:
                outdir.remove(staging)  # unmounted first: remove_tree never walks into a mount
        finally:
            leftover.remove(work)
    if ran.timed_out:
        raise EngineError(f"learn: the workload did not finish within {timeout_s:g}s")
    if not traced.exec_found:
        last = (ran.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise EngineError(f"learn: the entrypoint {argv[0]} was never executed (runc: {last})")
    if traced.other_abi and not foreign_abi:
        raise EngineError("learn: the workload switched to a 32-bit or x32 ABI; only the native one is learned")
    tail = ran.stderr.decode(errors="replace")[-2000:]
    return Run(ran.code, ran.wall_s, traced.workload, traced.runtime, tail)
