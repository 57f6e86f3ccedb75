"""The files of a run's /in and /out as the receipt lists them: every entry by path and
type, every regular file by size and sha256. The walk never follows a symlink (the
workload chose /out's shape: a link to the host's /etc is listed as a link, never read)
and /out's regular files are copied out while they are hashed, so the bytes kept are the
bytes hashed."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CHUNK = 1 << 20


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    return "symlink" if stat.S_ISLNK(mode) else "other"


def _copy_hash(name: str, dir_fd: int, dest: Path | None) -> tuple[int, str]:
    fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    h, n = hashlib.sha256(), 0
    try:
        with open(dest, "xb") if dest is not None else _Null() as sink:
            while chunk := os.read(fd, CHUNK):
                h.update(chunk)
                n += len(chunk)
                sink.write(chunk)
    finally:
        os.close(fd)
    return n, h.hexdigest()


class _Null:
    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def write(self, _data: bytes) -> int:
        return 0


def tree(root: Path, *, copy_to: Path | None = None) -> list[dict[str, Any]]:
    """Every entry below ``root``, sorted by path; regular files copied under ``copy_to``."""
    entries: list[dict[str, Any]] = []
    if copy_to is not None:
        copy_to.mkdir(mode=0o755)
    for dirpath, dirnames, filenames, dirfd in os.fwalk(root, follow_symlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted([*dirnames, *filenames]):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            mode = os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_mode
            kind = _kind(mode)
            size, digest = 0, None
            if kind == "file":
                size, digest = _copy_hash(name, dirfd, copy_to / rel if copy_to is not None else None)
            elif kind == "dir" and copy_to is not None:
                (copy_to / rel).mkdir(mode=0o755)
            elif kind == "symlink":
                size = len(os.readlink(name, dir_fd=dirfd))
            entries.append({"path": rel, "type": kind, "bytes": size, "sha256": digest})
    return sorted(entries, key=lambda e: str(e["path"]))
