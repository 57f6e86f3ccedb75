"""PR-ROOTFS-1's expectation: the sandbox's root filesystem as the image was built, per
top-level entry (``inspector/tree.py`` gives the lines and digests both sides compute).

Pure, as ``imagespec``: the verifier derives it without building anything. The base layer
is reproducible (its diff_id is pinned in the lock), so its lines are pinned beside it
(``lock/debian-bookworm-<arch>-rootfs.json``: every top-level entry's digest and count, and
the lines of the small ones, where mount points and the runtime's own entries land). The
inspector's layer is computed here from the package's file names and sizes, as
``imagespec.app_layer`` lays them out; a test holds the two equal on the built layers.
"""

from __future__ import annotations

import functools
import json
import posixpath
import stat
import tarfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import IO, Any

from sandproof import imagespec
from sandproof.errors import ImageError
from sandproof.inspector import tree

PINNED_LINES_MAX = 200
"""A top-level entry with at most this many lines has them pinned (all but /usr's 927)."""
DIR_MODE = stat.S_IFDIR | 0o755


def _st_mode(info: tarfile.TarInfo) -> int:
    kinds = {
        tarfile.DIRTYPE: stat.S_IFDIR,
        tarfile.SYMTYPE: stat.S_IFLNK,
        tarfile.CHRTYPE: stat.S_IFCHR,
        tarfile.BLKTYPE: stat.S_IFBLK,
        tarfile.FIFOTYPE: stat.S_IFIFO,
    }
    return kinds.get(info.type, stat.S_IFREG) | stat.S_IMODE(info.mode)


def _path(name: str) -> str:
    return posixpath.normpath("/" + name.removeprefix("./").lstrip("/")).replace("//", "/")


def _drop(lines: dict[str, str], path: str) -> None:
    """``path`` and everything below it."""
    below = path.rstrip("/") + "/"
    for p in [p for p in lines if p == path or p.startswith(below)]:
        del lines[p]


def apply_layer(lines: dict[str, str], members: Iterable[tarfile.TarInfo]) -> None:
    """One layer's members over ``lines`` (path -> line) as the engine applies them
    (image-spec layer.md "Applying changesets"; unpack.py does the same to files): a
    whiteout deletes, an entry replaces what was there unless both are directories, and a
    hard link is its target's inode (mode, owners, size, mtime) under its own name."""
    members = list(members)
    for m in members:
        path = _path(m.name)
        base = posixpath.basename(path)
        if base == ".wh..wh..opq":
            parent = posixpath.dirname(path)
            for p in [p for p in lines if p.startswith(parent.rstrip("/") + "/")]:
                del lines[p]
        elif base.startswith(".wh."):
            _drop(lines, posixpath.join(posixpath.dirname(path), base[4:]))
    for m in members:
        path = _path(m.name)
        if posixpath.basename(path).startswith(".wh."):
            continue
        if m.islnk():
            target = lines.get(_path(m.linkname), "")
            fields = target.split("|")
            if len(fields) != 7 or fields[1] != "reg":
                raise ImageError(f"layer member {m.name!r}: a hard link to {m.linkname!r}, not a regular file")
            lines[path] = "|".join([path, *fields[1:]])
            continue
        if path in lines and not (m.isdir() and lines[path].split("|")[1] == "dir"):
            _drop(lines, path)  # replaced, unless a directory over a directory (its entries stay)
        extra = m.linkname if m.issym() else f"{m.devmajor}:{m.devminor}" if m.ischr() or m.isblk() else ""
        lines[path] = tree.line(path, _st_mode(m), m.uid, m.gid, size=m.size, mtime=int(m.mtime), extra=extra)


def tar_lines(layers: Iterable[Path | IO[bytes]]) -> dict[str, str]:
    """The lines of the tree a stack of layer tars makes (lowest first)."""
    lines: dict[str, str] = {}
    for layer in layers:
        with tarfile.open(**({"name": layer} if isinstance(layer, Path) else {"fileobj": layer})) as tar:
            apply_layer(lines, tar.getmembers())
    return lines


def by_top(lines: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ln in lines:
        out.setdefault(tree.top(ln.split("|", 1)[0]), []).append(ln)
    return out


def pin(base_layer: Path) -> dict[str, Any]:
    """What the lock pins of the base layer (``scripts`` writes it; a test checks it)."""
    groups = by_top(tar_lines([base_layer]).values())
    return {
        "digests": tree.digests(groups),
        "lines": {top: sorted(g) for top, g in sorted(groups.items()) if len(g) <= PINNED_LINES_MAX},
    }


def pin_name() -> str:
    return imagespec.lock_name().replace(".toml", "-rootfs.json")


@functools.cache
def pinned() -> dict[str, Any]:
    ref = resources.files("sandproof.lock").joinpath(pin_name())
    if not ref.is_file():
        raise ImageError(f"no pinned base tree for this architecture (expected lock/{ref.name})")
    data: dict[str, Any] = json.loads(ref.read_text("utf-8"))
    return data


def app_members(workdir: str, mtime: int, sizes: dict[str, int] | None = None) -> list[tarfile.TarInfo]:
    """The inspector layer's members without its bytes: names, modes and sizes only."""
    layer = imagespec.Layer(mtime)
    root = workdir.strip("/")
    layer.dir(root)
    layer.dir(f"{root}/inspector")
    for rel, size in (imagespec.inspector_sizes() if sizes is None else sizes).items():
        for parent in Path(rel).parents[:-1]:
            layer.dir(f"{root}/{parent.as_posix()}")
        ti = tarfile.TarInfo(f"{root}/{rel}")
        ti.size, ti.mode = size, 0o644
        layer.add(ti, None)
    return [layer.entries[name][0] for name in sorted(layer.entries)]


def expected(workdir: str, mount_points: Iterable[str], own: Iterable[str]) -> dict[str, list[int | str]] | str:
    """``_expected``, remembered per inputs and the inspector's file sizes (2.2 ms of every
    plan otherwise; the sizes, by stat, 0.1 ms)."""
    key = (workdir, tuple(sorted(mount_points)), tuple(own), tuple(imagespec.inspector_sizes().items()))
    if key not in _EXPECTED:
        _EXPECTED[key] = _expected(key[0], key[1], key[2], dict(key[3]))
    got = _EXPECTED[key]
    return got if isinstance(got, str) else {k: list(v) for k, v in got.items()}


_EXPECTED: dict[tuple[object, ...], dict[str, list[int | str]] | str] = {}


def _source_date() -> int:
    return int(imagespec.read_lock()["source_date_epoch"])


def _expected(
    workdir: str, mount_points: Iterable[str], own: Iterable[str], sizes: dict[str, int]
) -> dict[str, list[int | str]] | str:
    """The digests PR-ROOTFS-1 expects: the image's tree, less what is at or below a mount point
    (that filesystem's, not the image's), plus the directories a runtime makes for a mount
    point the image lacks (0755, root's: runc libcontainer/rootfs_linux.go createIfNotExists,
    moby MkdirAll) and the runtime's ``own`` lines. A reason instead when a top-level entry
    that changes has no pinned lines."""
    pin = pinned()
    digests: dict[str, list[int | str]] = pin["digests"]
    lines = {ln.split("|", 1)[0]: ln for group in pin["lines"].values() for ln in group}
    base = dict(lines)
    apply_layer(lines, app_members(workdir, _source_date(), sizes))
    points = sorted({p.rstrip("/") or "/" for p in mount_points if "*" not in p and p != "/"})
    for point in points:
        for parent in [d for d in Path(point).parents if str(d) != "/"][::-1]:
            if str(parent) not in lines:
                lines[str(parent)] = tree.line(str(parent), DIR_MODE, 0, 0)
    for point in points:
        _drop(lines, point)
    for ln in own:
        lines[ln.split("|", 1)[0]] = ln
    changed = {tree.top(p) for p in set(lines) ^ set(base)} | {tree.top(p) for p in lines if base.get(p) != lines[p]}
    unpinned = sorted(t for t in changed if t in digests and t not in pin["lines"])
    if unpinned:
        return f"the image's /{unpinned[0]} changes under this profile and only its digest is pinned"
    out = {t: d for t, d in digests.items() if t not in changed}
    out.update(tree.digests(by_top(ln for ln in lines.values() if tree.top(ln.split("|", 1)[0]) in changed)))
    return dict(sorted(out.items()))
