"""The ``docker run`` argv for a profile (the seed's §5 command, derived)."""

from __future__ import annotations

import hashlib
import shlex

from sandproof import runtime_defaults
from sandproof.errors import ProfileError
from sandproof.inspector.judges.limits import UNLIMITED
from sandproof.plan import harness_args
from sandproof.profile import Profile
from sandproof.workload import carried
from sandproof.workload.carried import Workload


def _cpus(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _security(p: Profile, seccomp_file: str) -> list[str]:
    args = ["--privileged"] if p.security.privileged else []
    if p.security.cap_drop_all:
        args += ["--cap-drop", "ALL"]
    for cap in p.security.capabilities:
        args += ["--cap-add", cap]
    if p.security.no_new_privileges:
        args += ["--security-opt", "no-new-privileges"]
    return [*args, "--security-opt", f"seccomp={seccomp_file if p.seccomp.enabled else 'unconfined'}"]


def _resources(p: Profile) -> list[str]:
    args = []
    # 0 means no limit: the flag is left out and the engine's default (none) applies
    if p.resources.pids:
        args += ["--pids-limit", str(p.resources.pids)]
    if p.resources.memory.bytes:
        args += ["--memory", p.resources.memory.text, "--memory-swap", p.resources.memory_swap.text]
    if p.resources.cpus:
        args += ["--cpus", _cpus(p.resources.cpus)]
    if p.ipc.mode != "engine-default":
        args += ["--ipc", p.ipc.mode]
    for flag, mode in (("--pid", p.namespaces.pid), ("--uts", p.namespaces.uts)):
        if mode == "host":
            args += [flag, "host"]
    return args + _limits(p)


def _limits(p: Profile) -> list[str]:
    args = []
    if p.namespaces.cgroup != "engine-default":
        args += ["--cgroupns", p.namespaces.cgroup]
    if p.namespaces.user == "host":  # opts out of a daemon's --userns-remap, the only user namespace Docker makes
        args += ["--userns", "host"]
    if p.resources.cpu_shares:
        args += ["--cpu-shares", str(p.resources.cpu_shares)]
    if p.resources.oom_kill_disable:
        args.append("--oom-kill-disable")
    for name, (soft, hard) in sorted(p.resources.ulimits.items()):
        if name == "as":  # docker/go-units has no "as"; the engine's own limit is inherited
            if soft != UNLIMITED or hard != UNLIMITED:
                raise ProfileError(f"profile {p.source}: resources.ulimits.as: docker run cannot set it, only runc")
            continue
        args += ["--ulimit", f"{name}={_limit(soft)}:{_limit(hard)}"]
    for name, value in sorted(p.sysctls.items()):
        args += ["--sysctl", f"{name}={value}"]
    return args


def _limit(value: int) -> str:
    return "-1" if value == UNLIMITED else str(value)  # go-units ParseUlimit: -1 is unlimited


def container_name(p: Profile, in_dir: str, out_dir: str) -> str:
    """The profile's name, else one unique to this run's directories (attest makes them with
    mkdtemp): the container can then be found, killed and removed after a timeout, and the
    recorded argv still re-renders from the profile and the recorded paths."""
    if p.image.container_name:
        return p.image.container_name
    return "sandproof-" + hashlib.sha256(f"{in_dir}\0{out_dir}".encode()).hexdigest()[:16]


def argv(
    profile: Profile,
    *,
    in_dir: str,
    out_dir: str,
    seccomp_file: str,
    run_date: str,
    docker: str = "docker",
    image_ref: str | None = None,
    extra: tuple[str, ...] = (),
    workload: Workload | None = None,
    resolv: bool = True,
) -> list[str]:
    """``resolv``: Docker's resolv.conf flags (``runtime_defaults.DOCKER_RESOLV_FLAGS``), which
    podman has no need of and refuses with ``--network none``.

    ``workload``: the harness carried into a user's image (``image_ref`` its ID): its tree
    bound read-only, the mounted loader as the entrypoint (--entrypoint takes one word; the
    rest of the loader's argv goes after the image, before the harness's arguments)."""
    p = profile
    # the attached streams still work without a log driver; json-file would keep a copy of
    # everything the sandbox prints on the host's disk, unbounded (a 400 MB flood: 376 MB)
    args = [docker, "run", "--rm", "--log-driver", "none", "--name", container_name(p, in_dir, out_dir)]
    args += ["--network", p.network.mode]
    if resolv and p.network.mode == "none":  # else the host's nameservers, even with no network
        args += runtime_defaults.DOCKER_RESOLV_FLAGS
    args += ["--user", f"{p.user.uid}:{p.user.gid}"]
    if p.filesystem.read_only_rootfs:
        args.append("--read-only")
    for t in p.filesystem.tmpfs:
        args += ["--tmpfs", f"{t.path}:{','.join(t.options)}"]
    args += _security(p, seccomp_file) + _resources(p)
    if p.environment.env_file:
        args += ["--env-file", p.environment.env_file]
    for key in sorted(p.environment.variables):
        # name only: docker takes the value from its own environment (see env()), so
        # the argv recorded in the evidence never carries a value
        args += ["--env", key]
    args += ["-v", f"{in_dir}:{p.filesystem.input}:ro", "-v", f"{out_dir}:{p.filesystem.output}:rw"]
    for b in p.filesystem.binds:
        args += ["-v", f"{b.source}:{b.target}:{b.mode}"]
    # the image's ENTRYPOINT comes from the same profile; these are its arguments
    # image_ref pins the run to an exact image ID; a tag could move between build and run
    if workload is not None:
        loader, *rest = carried.harness_argv(*harness_args(p, run_date))
        # a user's image may declare a HEALTHCHECK: a command the engine would run inside the
        # sandbox every interval, beside the workload and outside the profile (sandproof's own
        # image has none, and its engine view requires none)
        mount = [*workload.docker_mount(), *carried.docker_env(p.environment.variables), "--no-healthcheck"]
        return [*args, *mount, *extra, "--entrypoint", loader, image_ref or workload.image_id, *rest]
    return [*args, *extra, image_ref or p.image.name, *harness_args(p, run_date)]


def env(profile: Profile, base: dict[str, str]) -> dict[str, str]:
    """The environment to run the docker CLI with: the profile's variables added."""
    return {**base, **profile.environment.variables}


def shell(args: list[str]) -> str:
    """One copy-pasteable line."""
    return shlex.join(args)
