"""The ``podman run`` argv for a profile: Docker's renderer (``render/docker.py``), with
podman's global options before ``run`` and the one run flag Docker does not have.

Every sandbox flag the profile implies is spelled the same for both engines (podman's CLI
was made to take Docker's); what differs is only how the engine itself is set up:

- ``--root``/``--runroot``/``--tmpdir``/``--storage-driver``: storage and state sandproof
  owns (``Engine``), so a run never reads or changes a user's own podman images,
  containers or locks, and the verifier takes these paths from the recorded argv;
- ``--cgroup-manager cgroupfs --events-backend file``: no systemd or journald needed;
- ``--runtime runc``: Debian's crun 1.8 refuses cgroup v1 hybrid hosts (measured here);
- ``run --read-only-tmpfs=false``: with ``--read-only`` podman otherwise mounts writable
  tmpfs on /run, /tmp and /var/tmp the profile never asked for (podman-run(1));
- ``run --umask``: the profile's (``[user] umask``), which Docker has no flag for;
- ``--hooks-dir``: an empty directory of sandproof's, beside its libpod tmpdir; without it
  podman runs, as root on the host, every OCI hook in /usr/share/containers/oci/hooks.d and
  /etc/containers/oci/hooks.d (oci-hooks(5)) for each container it starts.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from sandproof.profile import Profile
from sandproof.render import docker
from sandproof.workload.carried import Workload

RUN_FLAGS = ("--read-only-tmpfs=false", "--passwd=false", "--http-proxy=false")
"""--passwd=false: a user the image's /etc/passwd lacks is not added to a copy that podman binds
over /etc/passwd and /etc/group (measured, 4.3.1: uid 1000 got both mounts, and HOME the entry's
home), so the sandbox sees the image's own files, as under Docker and runc. --http-proxy=false:
the caller's HTTP_PROXY, https_proxy, NO_PROXY, ... are not copied into the sandbox's environment
(podman's default; a proxy's credentials would be handed to the code under test)."""
DRIVERS = ("overlay", "vfs")


@dataclass(frozen=True)
class Engine:
    """Where podman keeps its state for sandproof: the global options of every call."""

    root: str
    """containers/storage graph root (images, layers)."""
    runroot: str
    """containers/storage run root (mount points, the containers' userdata)."""
    tmpdir: str
    """libpod's own state (its database lock, the events file)."""
    driver: str = "overlay"

    @property
    def hooks_dir(self) -> str:
        """Derived, never recorded apart: a recorded argv naming another hooks directory (the
        host's) then differs from the re-rendered one."""
        return str(PurePosixPath(self.tmpdir).parent / "hooks.d") if self.tmpdir else ""

    @property
    def mounts_file(self) -> str:
        """Derived like ``hooks_dir``: an empty mounts.conf in place of the host's. Podman
        reads /usr/share/containers/mounts.conf and /etc/containers/mounts.conf (rootless also
        ~/.config/containers/mounts.conf) whatever CONTAINERS_CONF says, and copies each
        ``/SRC:/DEST`` it names into every container (containers-mounts.conf(5), containers/common
        pkg/subscriptions): host files beside the profile's mounts, in no inspect field."""
        return str(PurePosixPath(self.tmpdir).parent / "mounts.conf") if self.tmpdir else ""

    def args(self) -> list[str]:
        return [
            "--root",
            self.root,
            "--runroot",
            self.runroot,
            "--tmpdir",
            self.tmpdir,
            "--storage-driver",
            self.driver,
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--runtime",
            "runc",
            "--hooks-dir",
            self.hooks_dir,
            "--default-mounts-file",
            self.mounts_file,
        ]

    @classmethod
    def from_argv(cls, argv: Sequence[str]) -> Engine:
        """The engine a recorded argv names (its global options, before ``run``); what it
        lacks is empty, and the re-rendered argv then differs from the recorded one."""
        head = list(argv[: argv.index("run")] if "run" in argv else argv)
        opts = dict(itertools.pairwise(head))
        root, runroot, tmpdir = (opts.get(k, "") for k in ("--root", "--runroot", "--tmpdir"))
        return cls(root, runroot, tmpdir, opts.get("--storage-driver", ""))


def argv(
    profile: Profile,
    *,
    engine: Engine,
    in_dir: str,
    out_dir: str,
    seccomp_file: str,
    run_date: str,
    podman: str = "podman",
    image_ref: str | None = None,
    extra: tuple[str, ...] = (),
    workload: Workload | None = None,
) -> list[str]:
    """Docker's argv for the same profile, run by podman with its engine options."""
    shared = docker.argv(
        profile,
        in_dir=in_dir,
        out_dir=out_dir,
        seccomp_file=seccomp_file,
        run_date=run_date,
        docker=podman,
        image_ref=image_ref,
        extra=extra,
        workload=workload,
        resolv=False,
    )
    return with_engine(shared, engine, profile)


def run_flags(profile: Profile) -> tuple[str, ...]:
    """The run flags podman takes beyond Docker's."""
    return (*RUN_FLAGS, "--umask", profile.user.umask)


def with_engine(shared: list[str], engine: Engine, profile: Profile) -> list[str]:
    """Docker's rendered argv (``BINARY run FLAGS...``) for ``profile`` as podman runs it."""
    return [shared[0], *engine.args(), "run", *run_flags(profile), *shared[2:]]


env = docker.env
shell = docker.shell
