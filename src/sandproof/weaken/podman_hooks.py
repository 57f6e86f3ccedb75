"""podman's host OCI hooks: without --hooks-dir podman runs, as root on the host, every hook
in /usr/share/containers/oci/hooks.d and /etc/containers/oci/hooks.d whose "when" matches, for
every container (oci-hooks(5)); sandproof names an empty directory of its own instead
(``render/podman.py``). Nothing of a hook shows inside the sandbox: the recorded argv does
(the ``rendered`` check re-renders it, the hooks directory derived from podman's tmpdir)."""

from __future__ import annotations

import contextlib
import json
import os
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


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "podman-host-hooks",
        "rendered",
        "podman reads the host's hooks directory (a prestart hook placed there), not sandproof's empty one",
        setup=_host_hook,
        runtimes=("podman",),
    ),
)
