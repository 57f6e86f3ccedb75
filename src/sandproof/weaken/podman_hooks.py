"""podman's host configuration beyond containers.conf.

- OCI hooks: without --hooks-dir podman runs, as root on the host, every hook in
  /usr/share/containers/oci/hooks.d and /etc/containers/oci/hooks.d whose "when" matches, for
  every container (oci-hooks(5)); sandproof names an empty directory of its own instead
  (``render/podman.py``). Nothing of a hook shows inside the sandbox: the recorded argv does
  (the ``rendered`` check re-renders it, the hooks directory derived from podman's tmpdir).
- mounts.conf: podman reads /usr/share/containers/mounts.conf and /etc/containers/mounts.conf
  (rootless: ~/.config/containers/mounts.conf first) whatever CONTAINERS_CONF says, and copies
  each SRC:DST it names from the host into every container (containers/common
  pkg/subscriptions, podman 4.3.1: ``--default-mounts-file`` replaces them). Measured with a
  real /etc/containers/mounts.conf here: the copy is bound at DST, its inspect's Mounts does
  not list it, the OCI config podman handed runc does (engineview/podman_oci.py). The
  weakening names its file with that flag, so no other podman run on the host reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening

HOST_HOOKS = Path("/etc/containers/oci/hooks.d")
HOOK = "zz-sandproof-selftest.json"


def _host_hooks_dir(argv: list[str]) -> None:
    i = argv.index("--hooks-dir")
    argv[i + 1] = str(HOST_HOOKS)


@contextlib.contextmanager
def _host_hook(_runtime: str) -> Iterator[Mutation]:
    """A prestart hook (/bin/true, always) in the host's hooks directory, and podman told to read it."""
    made = not HOST_HOOKS.exists()
    HOST_HOOKS.mkdir(parents=True, exist_ok=True)
    hook = HOST_HOOKS / HOOK
    spec = {"version": "1.0.0", "hook": {"path": "/bin/true"}, "when": {"always": True}, "stages": ["prestart"]}
    hook.write_text(json.dumps(spec), encoding="utf-8")
    try:
        yield Mutation(docker=_host_hooks_dir)
    finally:
        hook.unlink(missing_ok=True)
        if made:
            with contextlib.suppress(OSError):
                os.rmdir(HOST_HOOKS)


MOUNTED_AT = "/run/secrets/sandproof-selftest"


@contextlib.contextmanager
def _mounts_conf(_runtime: str) -> Iterator[Mutation]:
    """A mounts.conf naming a host directory (one file in it), given to podman as its default."""
    with tempfile.TemporaryDirectory(prefix="sandproof-mounts-conf-") as tmp:
        (Path(tmp) / "host").mkdir()
        (Path(tmp) / "host" / "token").write_text("host file\n", encoding="utf-8")
        conf = Path(tmp) / "mounts.conf"
        conf.write_text(f"{tmp}/host:{MOUNTED_AT}\n", encoding="utf-8")

        def edit(argv: list[str]) -> None:
            argv[argv.index("run") : argv.index("run")] = ["--default-mounts-file", str(conf)]

        yield Mutation(docker=edit)


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "podman-host-hooks",
        "rendered",
        "podman reads the host's hooks directory (a prestart hook placed there), not sandproof's empty one",
        setup=_host_hook,
        runtimes=("podman",),
    ),
    Weakening(
        "podman-mounts-conf",
        "engine-view",
        "a mounts.conf copies a host directory into the sandbox (podman reads the host's, CONTAINERS_CONF or not)",
        setup=_mounts_conf,
        runtimes=("podman",),
    ),
)
