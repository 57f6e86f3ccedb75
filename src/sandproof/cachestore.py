"""The cache's large entries, listed and pruned (``sandproof cache``).

Three kinds of entry grow with use and are never reused once what made them is gone: the
image trees unpacked for runc and runsc (``image.rootfs``, ~40 MB per image ID), the harness
trees mounted into users' images (``workload/harness_mount``, ~40 MB per inspector) and the
``docker save`` copies of users' images (``workload/images.from_docker``). Each use sets its
entry's modification time (``image.mark_used``), so an entry not used for a while is one no run of
this sandproof needs; the next run that does rebuilds it. The image's own packages and
layers (``debs``, ``apt``, ``layers``) are what an offline machine builds from: never pruned.

Pruning renames an entry to a hidden name first (no reader finds half a tree), then removes
it without following links (``image.retire``); an entry of an image a run holds
(``image.in_use``) is left alone. Only names of the cache's own shapes are touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sandproof import image

AREAS: dict[str, tuple[re.Pattern[str], str]] = {
    # u<format>-<image id>, and the per-tree listing files kept beside it
    "rootfs": (re.compile(r"u[0-9]+-(?P<id>[0-9a-f]{64})(?:\.lines-[0-9]+\.json)?"), "image trees unpacked for runc"),
    "harness": (re.compile(r"[0-9a-f]{32}"), "harness trees mounted into users' images"),
    "saved": (re.compile(r"(?P<id>[0-9a-f]{64})"), "`docker save` copies of users' images"),
}
LEFTOVER = re.compile(r"\.(?:pruning|unpacking|building|saving)-.+")
"""What an interrupted unpack, build, save or prune leaves (its temporary name)."""
LEFTOVER_AGE_S = 24 * 3600
"""A leftover younger than this may be a build under way in another process: kept."""


@dataclass(frozen=True)
class Entry:
    area: str
    name: str
    path: Path
    size: int
    """Bytes on disk (allocated blocks), links not followed."""
    used: float
    """When a run last used it (its modification time), seconds since the epoch."""
    image_id: str | None
    """The image it belongs to (``image.in_use`` locks that): rootfs and saved entries."""
    leftover: bool = False


def _size(path: Path) -> int:
    """Allocated bytes of ``path`` and everything below it; no link followed, no recursion."""
    try:
        st = path.lstat()
    except OSError:
        return 0
    total, pending = st.st_blocks * 512, [path] if path.is_dir() and not path.is_symlink() else []
    while pending:
        try:
            with os.scandir(pending.pop()) as found:
                for e in found:
                    try:
                        total += e.stat(follow_symlinks=False).st_blocks * 512
                        if e.is_dir(follow_symlinks=False):
                            pending.append(Path(e.path))
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def _own_directory(top: Path) -> bool:
    """Whether ``top`` is a directory of the cache's own: not a link (pruning would remove
    entries wherever it points), owned by this user and writable by no other."""
    try:
        st = top.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def entries(root: Path | None = None) -> list[Entry]:
    """Every entry of the pruned areas, and the leftovers there, by area and name."""
    root = root or image.cache_dir()
    out = []
    for area, (shape, _) in AREAS.items():
        top = root / area
        if not _own_directory(top):
            continue
        try:
            names = sorted(os.listdir(top))
        except OSError:
            continue
        for name in names:
            path = top / name
            found = shape.fullmatch(name)
            leftover = found is None and LEFTOVER.fullmatch(name) is not None
            if found is None and not leftover:
                continue
            try:
                mtime = path.lstat().st_mtime
            except OSError:
                continue
            ident = found.groupdict().get("id") if found is not None else None
            out.append(Entry(area, name, path, _size(path), mtime, f"sha256:{ident}" if ident else None, leftover))
    return out


@dataclass(frozen=True)
class Pruned:
    removed: tuple[Entry, ...]
    in_use: tuple[Entry, ...]
    """Old enough, but an image a run holds: left."""
    kept: tuple[Entry, ...]


@contextlib.contextmanager
def _free(entry: Entry) -> Iterator[bool]:
    if entry.image_id is None:
        yield True
        return
    with image.unused(entry.image_id) as free:
        yield free


def prune(older_than_s: float, *, dry_run: bool = False, root: Path | None = None, now: float | None = None) -> Pruned:
    """Remove the entries no run used for ``older_than_s`` seconds, but for an image a run holds
    meanwhile, and the leftovers older than a day (never reused, whatever ``older_than_s``)."""
    now = time.time() if now is None else now
    removed, in_use, kept = [], [], []
    for entry in entries(root):
        limit = LEFTOVER_AGE_S if entry.leftover else older_than_s
        if now - entry.used < limit:
            kept.append(entry)
            continue
        with _free(entry) as free:
            if not free:
                in_use.append(entry)
            elif dry_run or image.retire(entry.path):
                removed.append(entry)
    return Pruned(tuple(removed), tuple(in_use), tuple(kept))
