"""The root filesystem as canonical lines, digested per top-level entry (PR-ROOTFS-1).

One module for both sides: the harness digests what it walks, the host what the image's
layers hold, so the two can only agree when the trees do. Stdlib only, imports nothing.

A line is ``path|type|mode|uid|gid`` and, for a regular file, its size and mtime (seconds);
for a symlink its target; for a device its major:minor. Directory and symlink mtimes are left
out: Docker's init layer and runc's mountpoints touch directories at every run, and tarfile
does not set a symlink's time (``TarFile.extract`` skips ``utime`` for links). A regular
file's mtime is the layer's fixed SOURCE_DATE_EPOCH on every runtime (measured: Docker,
runc, Podman, runsc), and an edit in place changes it unless it is set back on purpose.
"""

from __future__ import annotations

import hashlib
import stat

DIGEST_HEX = 32
"""128 bits of sha256: a second preimage stays out of reach, and the walk's observation is
copied into each of its five records (a full 64 would add ~3 KiB to every bundle)."""

FRESH = "-"
ROOT = "/"
"""The top-level key of the root directory's own line."""


def line(path: str, st_mode: int, uid: int, gid: int, *, size: int = 0, mtime: int | str = 0, extra: str = "") -> str:
    """One entry, canonical: ``extra`` is a symlink's target or a device's major:minor;
    ``mtime`` is ``FRESH`` for a file the runtime makes at each run."""
    mode = f"{stat.S_IMODE(st_mode):04o}"
    if stat.S_ISREG(st_mode):
        return f"{path}|reg|{mode}|{uid}|{gid}|{size}|{mtime}"
    if stat.S_ISDIR(st_mode):
        return f"{path}|dir|{mode}|{uid}|{gid}"
    if stat.S_ISLNK(st_mode):
        return f"{path}|lnk|{uid}|{gid}|{extra}"
    kind = "chr" if stat.S_ISCHR(st_mode) else "blk" if stat.S_ISBLK(st_mode) else "fifo"
    if stat.S_ISSOCK(st_mode):
        kind = "sock"
    return f"{path}|{kind}|{mode}|{uid}|{gid}|{extra}"


def top(path: str) -> str:
    """The top-level entry a path belongs to: ``/usr/bin/x`` -> ``usr``, ``/`` -> ``/``."""
    return path[1:].split("/", 1)[0] or ROOT


def digests(lines: dict[str, list[str]]) -> dict[str, list[int | str]]:
    """top-level entry -> [count, digest of its sorted lines]."""
    out: dict[str, list[int | str]] = {}
    for name in sorted(lines):
        group = sorted(lines[name])
        text = "\n".join(group).encode("utf-8", "surrogateescape")
        out[name] = [len(group), hashlib.sha256(text).hexdigest()[:DIGEST_HEX]]
    return out
