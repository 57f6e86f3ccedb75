"""The cache's large entries, listed and pruned (``sandproof cache``).

Three kinds of entry grow with use and are never reused once what made them is gone: the
image trees unpacked for runc and runsc (``image.rootfs``, ~40 MB per image ID), the harness
trees mounted into users' images (``workload/harness_mount``, ~40 MB per inspector) and the
``docker save`` copies of users' images (``workload/images.from_docker``). Each use sets its
entry's modification time (``image.mark_used``), so an entry not used for a while is one no run of
this sandproof needs; the next run that does rebuilds it. The image's own packages and
layers (``debs``, ``apt``, ``layers``) are what an offline machine builds from: never pruned.

Removing as root is done through directory fds only (``safedir``; review 18: a cache path
through another user's directory, or a link swapped in during a prune, had root remove
another directory's entries): the cache's path is walked part by part and refused when a
directory on the way is another user's; each area is opened without following a link and
must be this user's alone; each entry is renamed to a hidden name in that fd, so no reader
finds half a tree, then removed without following links. An entry a run holds
(``image.in_use``: its image, or the harness tree it mounts) is left, and so is any entry used
in the last hour (``GRACE_S``), whatever ``older_than_s``: a run marks what it prepares before
it takes the lock. Only names of the cache's own shapes are touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sandproof import image, safedir
from sandproof.errors import OutputError
from sandproof.workload import harness_mount

AREAS: dict[str, tuple[re.Pattern[str], str]] = {
    # u<format>-<image id>, and the per-tree listing files kept beside it
    "rootfs": (image.ROOTFS_ENTRY, "image trees unpacked for runc"),
    "harness": (re.compile(r"(?P<harness>[0-9a-f]{32})"), "harness trees mounted into users' images"),
    "saved": (re.compile(r"(?P<id>[0-9a-f]{64})"), "`docker save` copies of users' images"),
}
LEFTOVER = re.compile(r"\.(?:pruning|unpacking|building|saving)-.+")
"""What an interrupted unpack, build, save or prune leaves (its temporary name)."""
LEFTOVER_AGE_S = 24 * 3600
"""A leftover younger than this may be a build under way in another process: kept."""
GRACE_S = 3600
"""Nothing used this recently is removed: a run marks what it prepares (a saved image, a
harness tree) before it holds the lock that keeps it, and a run lasts its timeout at most."""


@dataclass(frozen=True)
class Entry:
    area: str
    name: str
    path: Path
    """Where it is (shown; every operation goes through the area's fd)."""
    size: int
    """Bytes on disk (allocated blocks), links not followed."""
    used: float
    """When a run last used it (its modification time), seconds since the epoch."""
    lock: str | None
    """The ``image.in_use`` key a run using it holds: its image's ID, or its harness tree's."""
    leftover: bool = False


def _size(top: Path) -> int:
    """Allocated bytes of ``top`` and everything below it; no link followed, no recursion."""
    try:
        st = top.lstat()
    except OSError:
        return 0
    total, pending = st.st_blocks * 512, [top] if stat.S_ISDIR(st.st_mode) else []
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


def _lock_of(found: re.Match[str] | None) -> str | None:
    if found is None:
        return None
    groups = found.groupdict()
    if groups.get("id"):
        return f"sha256:{groups['id']}"
    return harness_mount.lock_key(groups["harness"]) if groups.get("harness") else None


@contextlib.contextmanager
def _areas(root: Path) -> Iterator[list[tuple[str, int]]]:
    """Each area of the cache at ``root`` as an fd: the cache itself walked part by part, every
    directory on the way root's or this user's (``safedir``), and every entry of it sandproof's
    own (``image.refuse_planted``: refused, as every run refuses it). Nothing when it is not there."""
    if not os.path.lexists(root):
        yield []
        return
    top = safedir.walk(root.absolute(), "the cache", create=False)
    fds: list[tuple[str, int]] = []
    try:
        safedir.refuse_shared(top, "the cache", root, sticky_ok=False)
        image.refuse_planted(root)  # an entry another user made: the whole cache refused, as every run does
        for area in AREAS:
            try:  # no link, no other user's: refuse_planted said so, and no one else can change it since
                fds.append((area, os.open(area, safedir.DIR, dir_fd=top)))
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):  # none made yet, or a file of that name
                    continue
                raise OutputError(f"the cache {root / area}: cannot open it ({exc.strerror})") from None
        yield fds
    finally:
        for _, fd in fds:
            os.close(fd)
        os.close(top)


def _listed(root: Path, area: str, fd: int) -> Iterator[Entry]:
    shape = AREAS[area][0]
    for name in sorted(os.listdir(fd)):
        found = shape.fullmatch(name)
        leftover = found is None and LEFTOVER.fullmatch(name) is not None
        if found is None and not leftover:
            continue
        try:
            mtime = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mtime
        except OSError:
            continue
        size = _size(safedir.proc(fd) / name)
        yield Entry(area, name, root / area / name, size, mtime, _lock_of(found), leftover)


def entries(root: Path | None = None) -> list[Entry]:
    """Every entry of the pruned areas, and the leftovers there, by area and name."""
    root = root or image.cache_path()
    with _areas(root) as areas:
        return [e for area, fd in areas for e in _listed(root, area, fd)]


@dataclass(frozen=True)
class Pruned:
    removed: tuple[Entry, ...]
    in_use: tuple[Entry, ...]
    """Old enough, but an image or harness tree a run holds: left."""
    kept: tuple[Entry, ...]
    """Used more recently."""
    building: tuple[Entry, ...]
    """Leftovers younger than a day: maybe a build or save under way."""


@contextlib.contextmanager
def _free(entry: Entry) -> Iterator[bool]:
    if entry.lock is None:
        yield True
        return
    with image.unused(entry.lock) as free:
        yield free


def prune(older_than_s: float, *, dry_run: bool = False, root: Path | None = None, now: float | None = None) -> Pruned:
    """Remove the entries no run used for ``older_than_s`` seconds (an hour at least), but for
    one a run holds meanwhile, and the leftovers older than a day (never reused)."""
    now = time.time() if now is None else now
    root = root or image.cache_path()
    removed: list[Entry] = []
    in_use: list[Entry] = []
    kept: list[Entry] = []
    building: list[Entry] = []
    with _areas(root) as areas:
        for area, fd in areas:
            for entry in _listed(root, area, fd):
                limit = LEFTOVER_AGE_S if entry.leftover else max(older_than_s, GRACE_S)
                if now - entry.used < limit:
                    (building if entry.leftover else kept).append(entry)
                    continue
                with _free(entry) as free:
                    if not free:
                        in_use.append(entry)
                    elif dry_run or image.retire(safedir.proc(fd) / entry.name):  # within the area's fd
                        removed.append(entry)
    return Pruned(tuple(removed), tuple(in_use), tuple(kept), tuple(building))
