"""The files of a run's /in and /out as the receipt lists them: every entry by path and
type, every regular file by size and sha256. The walk never follows a symlink (the
workload chose /out's shape: a link to the host's /etc is listed as a link, never read)
and /out's regular files are copied out while they are hashed, so the bytes kept are the
bytes hashed.

The workload chose /out's shape, so the walk is bounded by what the profile allowed, not
by what the tree holds (``Budget``). A bounded /out (a tmpfs of ``output_limit`` bytes and
``output_files`` inodes) still makes far more to read: 1,023 hard links to one 16 MiB file
(tmpfs counts a link as an inode, not as bytes), or 1,023 sparse files of RLIMIT_FSIZE
each, were 16 GiB written to the host's disk by a plain copy; 1,023 nested directories
raised RecursionError in ``os.fwalk`` (Python 3.11 recurses once per level) and names of
255 bytes made paths of 260 KB that no host call takes (ENAMETOOLONG): no receipt at all.
So: one loop, every step relative to an open directory fd (one pair at a time, climbing
back through ``..``), a hard link copied as a link, and every entry past the budget, past
``PATH_MAX`` or not named in UTF-8 (JSON cannot carry it) left out and counted, never listed."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandproof.regular import open_regular

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
CHUNK = 1 << 20
PATH_MAX = 4095
"""Bytes of a relative path the receipt lists (PATH_MAX with its NUL; the schema's maxLength is 4096)."""


@dataclass
class Budget:
    """What the host reads of a tree: at most ``bytes`` of distinct files and ``entries``
    entries; ``left_out`` counts what was not listed (each one with whatever was below it)."""

    bytes: int | None = None
    entries: int | None = None
    left_out: int = 0


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    return "symlink" if stat.S_ISLNK(mode) else "other"


def _open_regular(name: str, dir_fd: int, st: os.stat_result) -> int:
    """``name`` opened for reading only if it is still the regular file ``st`` saw (``regular``)."""
    return open_regular(name, dir_fd=dir_fd, same_as=st)[0]


def _copy_hash(name: str, dir_fd: int, st: os.stat_result, dest_fd: int | None, room: int | None) -> tuple[int, str]:
    """Hash (and copy into ``dest_fd``) the file ``name``, at most ``room`` bytes of it."""
    fd = _open_regular(name, dir_fd, st)
    h, n = hashlib.sha256(), 0
    out = None
    try:
        out = os.open(name, _NEW_FLAGS, 0o666, dir_fd=dest_fd) if dest_fd is not None else None
        while chunk := os.read(fd, CHUNK if room is None else min(CHUNK, room - n)):
            h.update(chunk)
            n += len(chunk)
            if out is not None:
                with memoryview(chunk) as view:
                    done = 0
                    while done < len(chunk):
                        done += os.write(out, view[done:])
    finally:
        os.close(fd)
        if out is not None:
            os.close(out)
    return n, h.hexdigest()


def _names(fd: int) -> list[str]:
    """The entries of ``fd``, last first (popped in order)."""
    with os.scandir(fd) as it:
        return sorted((e.name for e in it), reverse=True)


def _ident(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _encoded(rel: str) -> bytes | None:
    try:
        return rel.encode()
    except UnicodeEncodeError:  # a name that is not UTF-8 (os.fsdecode's surrogates)
        return None


class _Walk:
    """The walk's state: the source and copy directory fds of the current level."""

    def __init__(self, root: Path, copy_to: Path | None, budget: Budget) -> None:
        self.budget = budget
        self.entries: list[dict[str, Any]] = []
        self.seen: dict[tuple[int, int], tuple[str, int, str]] = {}
        self.src = os.open(root, _DIR_FLAGS)
        self.dst: int | None = None
        self.copy_root: int | None = None
        if copy_to is not None:
            copy_to.mkdir(mode=0o755)
            self.dst = os.open(copy_to, _DIR_FLAGS)
            self.copy_root = os.open(copy_to, _DIR_FLAGS)

    def close(self) -> None:
        for fd in (self.src, self.dst, self.copy_root):
            if fd is not None:
                os.close(fd)

    def _full(self) -> bool:
        return self.budget.entries is not None and len(self.entries) >= self.budget.entries

    def file(self, name: str, rel: str, st: os.stat_result) -> bool:
        """List (and copy) one regular file; False when it does not fit the byte budget."""
        key = (st.st_dev, st.st_ino)
        if key in self.seen:  # a hard link: the same bytes, linked on the host too, read once
            first, size, digest = self.seen[key]
            if self.dst is not None:
                os.link(first, name, src_dir_fd=self.copy_root, dst_dir_fd=self.dst, follow_symlinks=False)
            self.entries.append({"path": rel, "type": "file", "bytes": size, "sha256": digest})
            return True
        room = self.budget.bytes
        if room is not None and st.st_size > room:
            return False
        size, digest = _copy_hash(name, self.src, st, self.dst, room)
        if self.budget.bytes is not None:
            self.budget.bytes -= size
        self.seen[key] = (rel, size, digest)
        self.entries.append({"path": rel, "type": "file", "bytes": size, "sha256": digest})
        return True

    def down(self, name: str) -> bool:
        """Into directory ``name`` (made in the copy too); False when it cannot be opened."""
        if self.dst is not None:
            os.mkdir(name, 0o755, dir_fd=self.dst)
        try:
            child = os.open(name, _DIR_FLAGS, dir_fd=self.src)
        except OSError:  # unreadable to us (not root, mode 000): listed, its contents left out
            return False
        os.close(self.src)
        self.src = child
        if self.dst is not None:
            dst = os.open(name, _DIR_FLAGS, dir_fd=self.dst)
            os.close(self.dst)
            self.dst = dst
        return True

    def up(self, src_ident: tuple[int, int]) -> None:
        """Back to the parent, checking it is the directory the walk came from."""
        parent = os.open("..", _DIR_FLAGS, dir_fd=self.src)
        os.close(self.src)
        self.src = parent
        if _ident(parent) != src_ident:
            raise OSError("a directory moved while the output was read; stopped")
        if self.dst is not None:
            dst = os.open("..", _DIR_FLAGS, dir_fd=self.dst)
            os.close(self.dst)
            self.dst = dst

    def run(self) -> None:
        stack: list[tuple[tuple[int, int], str, list[str]]] = [(_ident(self.src), "", _names(self.src))]
        while stack:
            _, prefix, pending = stack[-1]
            if not pending:
                stack.pop()
                if stack:
                    self.up(stack[-1][0])
                continue
            name = pending.pop()
            rel = prefix + name
            encoded = _encoded(rel)
            if encoded is None or len(encoded) > PATH_MAX or self._full():
                self.budget.left_out += 1
                continue
            st = os.stat(name, dir_fd=self.src, follow_symlinks=False)
            kind = _kind(st.st_mode)
            if kind == "file":
                if not self.file(name, rel, st):
                    self.budget.left_out += 1
                continue
            size = len(os.readlink(name, dir_fd=self.src)) if kind == "symlink" else 0
            self.entries.append({"path": rel, "type": kind, "bytes": size, "sha256": None})
            if kind == "dir":
                if self.down(name):
                    stack.append((_ident(self.src), rel + "/", _names(self.src)))
                else:
                    self.budget.left_out += 1


def tree(root: Path, *, copy_to: Path | None = None, budget: Budget | None = None) -> list[dict[str, Any]]:
    """Every entry below ``root`` within ``budget``, sorted by path; regular files copied under ``copy_to``."""
    walk = _Walk(root, copy_to, budget if budget is not None else Budget())
    try:
        walk.run()
    finally:
        walk.close()
    return sorted(walk.entries, key=lambda e: str(e["path"]))
