"""The host directory bind-mounted as the sandbox's /out, bounded in bytes and files.

As root it is a tmpfs of its own with ``size=`` and ``nr_inodes=`` (mm/shmem.c refuses a
write past them with ENOSPC), so hostile code fills its own small filesystem and never
the host's disk; unmounting it drops everything at once. Without the right to mount
(rootless, or a container without CAP_SYS_ADMIN) it is a plain directory and the bound
is not enforced: ``Staging.bounded`` says which, and the evidence records it.
"""

from __future__ import annotations

import ctypes
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sandproof import cleanup

if TYPE_CHECKING:
    from sandproof.profile import Profile

MNT_DETACH = 2  # <sys/mount.h>
UMOUNT_NOFOLLOW = 8  # <sys/mount.h>: never unmount through a symlink


@functools.cache
def libc() -> ctypes.CDLL:
    """libc's mount and umount2, found among the interpreter's own symbols (dlopen(NULL)).
    ``ctypes.util.find_library("c")`` ran ``ldconfig -p`` in a subprocess at import: ~20 ms
    of CPU in every process that imported this module, ``sandproof attest`` among them."""
    own = ctypes.CDLL(None, use_errno=True)
    return own if hasattr(own, "umount2") else ctypes.CDLL("libc.so.6", use_errno=True)


@dataclass(frozen=True)
class Staging:
    path: Path
    limit_bytes: int
    limit_files: int
    bounded: bool
    """True when the kernel enforces the limits (a tmpfs of its own)."""

    def facts(self) -> dict[str, object]:
        return {"limit_bytes": self.limit_bytes, "limit_files": self.limit_files, "bounded": self.bounded}


def _mount_tmpfs(path: Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    # no nosuid/nodev/noexec: the sandbox sees the bind with the flags of this mount, and
    # PR-MOUNT-1 expects /out's flags to be exactly the profile's (none)
    rc: int = libc().mount(b"sandproof-out", str(path).encode(), b"tmpfs", 0, options.encode())
    return rc == 0


def for_profile(path: Path, profile: Profile) -> Staging:
    """``create`` with the bounds and the owner ``profile`` says (its ``filesystem.output_*`` and user)."""
    fs, user = profile.filesystem, profile.user
    return create(path, uid=user.uid, gid=user.gid, limit_bytes=fs.output_limit.bytes, limit_files=fs.output_files)


def create(path: Path, *, uid: int, gid: int, limit_bytes: int, limit_files: int) -> Staging:
    """Make ``path`` (it must not exist) the bounded output directory, owned by the sandbox user."""
    path.mkdir(mode=0o700)
    # nr_inodes counts the root directory too, and the harness's temporary file before its rename
    options = f"size={limit_bytes},nr_inodes={limit_files + 1},mode=0700,uid={uid},gid={gid}"
    if _mount_tmpfs(path, options):
        return Staging(path, limit_bytes, limit_files, bounded=True)
    try:
        os.chown(path, uid, gid)
    except PermissionError:
        path.chmod(0o777)  # not root: let the sandbox user in all the same
    return Staging(path, limit_bytes, limit_files, bounded=False)


def remove(staging: Staging) -> None:
    """Unmount (lazily if a dying container still holds it) and delete; never recurses."""
    if staging.bounded:
        detach(staging.path)
    cleanup.remove_tree(staging.path)


def detach(path: Path) -> None:
    """Unmount what is mounted at ``path``, lazily if a dying process still holds it; nothing
    when nothing is mounted there."""
    if libc().umount2(str(path).encode(), UMOUNT_NOFOLLOW) != 0:
        libc().umount2(str(path).encode(), UMOUNT_NOFOLLOW | MNT_DETACH)
