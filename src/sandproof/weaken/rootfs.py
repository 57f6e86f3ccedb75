"""A root filesystem that is not the image as built (PR-ROOTFS-1).

- runc: the OCI config's ``root.path`` pointed at a copy of the unpacked image with one file
  added (``/etc/sandproof-extra``): what a file dropped into the shared unpacked tree under
  ``~/.cache/sandproof/rootfs/`` does to every later run, without touching that shared tree
  (parallel runs use it). The image ID, the only thing the ``[image]`` check compares, is the
  same.

Not here: Docker. The same change there is a file added to a layer's ``diff`` directory under
``/var/lib/docker/overlay2`` (or a new layer, which is a new image ID): both change an image
every parallel run of the suite shares, and no ``docker run`` flag adds a file to the root
filesystem that is not a mount point (which PR-MOUNT-1 names, and the walk leaves out).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
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
    source = image.rootfs(image.build(profile.load("default")))
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


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "rootfs-extra-file",
        TARGET,
        "root.path at a copy of the unpacked image with /etc/sandproof-extra added: same image ID",
        runtimes=("runc",),
        setup=_copy_with_extra,
    ),
)
