"""The sandbox of one workload run, rendered from the profile: what ``run`` executes, what
its receipt records and what ``verify`` renders again to compare. Pure (no engine, no
ctypes), so the verifier can import it.

All go through attest's own renderers (``render/docker.py``, ``render/podman.py``, ``render/runc.py``) with the
run's one seccomp policy; only the image's part differs: its ID, its command (given after
``--entrypoint``, as ``workload/sandbox.py`` splices it), and for runc its rootfs and
working directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sandproof.profile import Profile
from sandproof.render import docker as docker_render
from sandproof.render import podman as podman_render
from sandproof.render import runc as runc_render

RUN_DATE = "1970-01-01"
"""Only the harness's arguments carry the run date, and they are cut off or replaced."""


def docker_argv(
    profile: Profile,
    image_id: str,
    command: Sequence[str],
    *,
    in_dir: str,
    out_dir: str,
    seccomp_file: str,
    binary: str = "docker",
    extra: Sequence[str] = (),
    resolv: bool = True,
) -> list[str]:
    """The profile's ``docker run`` with ``command`` as the container's whole command line
    (``extra``: more flags before the image, e.g. a mount; ``resolv``: Docker's --dns* flags,
    render/docker.py)."""
    rendered = docker_render.argv(
        profile,
        in_dir=in_dir,
        out_dir=out_dir,
        seccomp_file=seccomp_file,
        run_date=RUN_DATE,
        docker=binary,
        image_ref=image_id,
        # a user's image: its HEALTHCHECK never runs beside the workload (as attest --image)
        extra=(*extra, "--no-healthcheck", "--entrypoint", command[0]),
        resolv=resolv,
    )
    at = rendered.index(image_id, rendered.index("--entrypoint") + 2)
    return [*rendered[: at + 1], *command[1:]]


def podman_argv(
    profile: Profile,
    image_id: str,
    command: Sequence[str],
    *,
    engine: podman_render.Engine,
    in_dir: str,
    out_dir: str,
    seccomp_file: str,
    binary: str = "podman",
) -> list[str]:
    """The same ``docker run`` flags run by podman with its engine options (``render/podman.py``)."""
    shared = docker_argv(
        profile,
        image_id,
        command,
        in_dir=in_dir,
        out_dir=out_dir,
        seccomp_file=seccomp_file,
        binary=binary,
        resolv=False,
    )
    return podman_render.with_engine(shared, engine, profile)


def oci_config(
    profile: Profile,
    command: Sequence[str],
    *,
    in_dir: str,
    out_dir: str,
    container_id: str,
    rootfs: str,
    cwd: str,
    seccomp_policy: dict[str, Any] | None,
) -> dict[str, Any]:
    """The profile's OCI config, as attest renders it for runc, with the image's command,
    working directory and rootfs."""
    cfg = runc_render.config(
        profile,
        in_dir=in_dir,
        out_dir=out_dir,
        run_date=RUN_DATE,
        container_id=container_id,
        seccomp_policy=seccomp_policy,
    )
    cfg["process"]["args"] = list(command)
    cfg["process"]["cwd"] = cwd
    cfg["root"]["path"] = rootfs
    return cfg
