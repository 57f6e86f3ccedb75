"""A root filesystem that is not the image as built (PR-ROOTFS-1).

- runc: the OCI config's ``root.path`` pointed at a copy of the unpacked image with one file
  added (``/etc/sandproof-extra``): what a file dropped into the shared unpacked tree under
  ``~/.cache/sandproof/rootfs/`` does to every later run, without touching that shared tree
  (parallel runs use it). The image ID, the only thing the ``[image]`` check compares, is the
  same.

- podman: a createRuntime hook (oci-hooks(5), in a hooks directory of its own given with
  ``--hooks-dir``) writes the same file into the container's root from the host, before runc
  makes it read-only: it lands in this container's own upper layer, not in the image.

Not here: Docker. The same change there is a file added to a layer's ``diff`` directory under
``/var/lib/docker/overlay2`` (or a new layer, which is a new image ID): both change an image
every parallel run of the suite shares, and no ``docker run`` flag adds a file to the root
filesystem that is not a mount point (which PR-MOUNT-1 names, and the walk leaves out).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sandproof import image, profile
from sandproof.errors import ImageError
from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening

TARGET = "PR-ROOTFS-1"
EXTRA = "etc/sandproof-extra"


@contextlib.contextmanager
def _copy_with_extra(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - runc only
    with copy_with_extra(image.rootfs(image.build(profile.load("default")))) as mutation:
        yield mutation


@contextlib.contextmanager
def copy_with_extra(source: Path) -> Iterator[Mutation]:
    """runc's root.path at a copy of the unpacked tree ``source`` with ``EXTRA`` added (a user's
    image's too: tests/test_rootfs.py)."""
    work = Path(tempfile.mkdtemp(prefix="weaken-rootfs-", dir=image.cache_dir()))
    try:
        copy = work / "rootfs"
        # a real copy (owners, modes, mtimes and xattrs kept): hard links would share the
        # shared tree's inodes with a run that could write them
        proc = subprocess.run(["cp", "-a", str(source), str(copy)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ImageError(f"cannot copy {source}: {proc.stderr.strip()}")
        (copy / EXTRA).write_bytes(b"added on the host\n")
        (copy / EXTRA).chmod(0o644)

        def edit(cfg: dict[str, Any]) -> None:
            cfg["root"]["path"] = str(copy)

        yield Mutation(oci=edit)
    finally:
        shutil.rmtree(work, ignore_errors=True)


HOOK = (
    "import json, os, sys\n"
    "state = json.load(sys.stdin)\n"
    "with open(os.path.join(state['bundle'], 'config.json')) as f:\n"
    "    root = json.load(f)['root']['path']\n"
    "root = os.path.join(state['bundle'], root)\n"  # an absolute root.path stays as it is
    f"with open(os.path.join(root, {EXTRA!r}), 'w') as f:\n"
    "    f.write('added on the host\\n')\n"
)


@contextlib.contextmanager
def _hook_adds_file(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - podman only
    with tempfile.TemporaryDirectory(prefix="sandproof-rootfs-hook-") as tmp:
        spec = {
            "version": "1.0.0",
            "hook": {"path": sys.executable, "args": [sys.executable, "-c", HOOK]},
            "when": {"always": True},
            "stages": ["createRuntime"],
        }
        (Path(tmp) / "extra.json").write_text(json.dumps(spec), encoding="utf-8")

        def edit(argv: list[str]) -> None:
            argv[argv.index("--hooks-dir") + 1] = tmp

        yield Mutation(docker=edit)


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "rootfs-extra-file-hook",
        TARGET,
        "podman: a createRuntime hook writes /etc/sandproof-extra into the container's root from the host",
        runtimes=("podman",),
        setup=_hook_adds_file,
    ),
    Weakening(
        "rootfs-extra-file",
        TARGET,
        "root.path at a copy of the unpacked image with /etc/sandproof-extra added: same image ID",
        runtimes=("runc",),
        setup=_copy_with_extra,
    ),
)
