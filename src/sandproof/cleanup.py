"""Removing a directory a sandbox wrote into. It chose the shape: 5,000 levels deep
(shutil.rmtree recurses once per level on Python 3.11 and raises RecursionError), paths
longer than PATH_MAX, symlinks to host files, directories it made unreadable. So: one
loop, no recursion, every step relative to an open directory fd, never following a
symlink, never building a long path.
"""

from __future__ import annotations

import os
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_dir(name: str, dir_fd: int | None) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:  # a directory the sandbox chmod'ed 000: ours to open again (no CAP_DAC_OVERRIDE)
        os.chmod(name, 0o700, dir_fd=dir_fd, follow_symlinks=False)
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def _empty_files(fd: int) -> list[str]:
    """Unlink every non-directory in ``fd``; return the subdirectory names."""
    subdirs = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                try:
                    os.unlink(entry.name, dir_fd=fd)
                except PermissionError:  # attest's read-only /in (0555), unprivileged (rootless podman)
                    os.chmod(fd, 0o700)
                    os.unlink(entry.name, dir_fd=fd)
    return subdirs


def remove_tree(path: Path) -> None:
    """Delete ``path`` and everything below it; never recurses, never follows a symlink.

    Walks down with one open fd at a time (a deep tree must not exhaust RLIMIT_NOFILE)
    and climbs back through ``..``, checking it is the directory it came from; the writer
    must be gone (a live sandbox could move directories under the walk)."""
    try:
        fd = _open_dir(str(path), None)
    except FileNotFoundError:
        return
    # per level: (device, inode) of the directory and its subdirectories still to remove
    stack: list[tuple[tuple[int, int], list[str]]] = []
    fresh = True
    try:
        while True:
            if fresh:
                st = os.fstat(fd)
                stack.append(((st.st_dev, st.st_ino), _empty_files(fd)))
            pending = stack[-1][1]
            if pending:  # down into the last subdirectory; it is removed on the way back
                child = _open_dir(pending[-1], fd)
                os.close(fd)
                fd, fresh = child, True
                continue
            stack.pop()
            if not stack:
                break
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd, fresh = parent, False
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != stack[-1][0]:
                raise OSError(f"{path}: a directory moved during cleanup; stopped")
            os.rmdir(stack[-1][1].pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(path)
