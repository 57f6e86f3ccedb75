"""An image's layers applied to one host directory for runc, as the engine applies them, and
never outside it.

A user's image is untrusted input, and ``docker save`` hands back its layers byte for byte as
they were loaded (moby keeps a tar-split of each so the diff_id still matches): a crafted
layer's ``/etc/x``, its member under a symlink a lower layer made (``a -> /etc``, then
``a/x``), a hard link to such a symlink, or a directory entry a later member of the same
layer replaces with a symlink (tarfile's ``extractall`` sets directory modes last, through
it) would each write or chmod a host file as root. Docker applies a layer into that layer's
own directory, chrooted (moby pkg/chrootarchive, pkg/archive UnpackLayer): nothing a layer
holds resolves through another layer's symlink, and absolute names are cleaned into the
root. Here every parent of every entry must be a real directory of the tree (no symlink
followed), names are cleaned into the tree, a hard link must name a regular file of the
tree, and the OCI rules apply (image-spec layer.md, "Applying changesets"): whiteouts
(``.wh.NAME``, opaque ``.wh..wh..opq``) delete what lower layers hold, and an entry replaces
an existing one unless both are directories. Without this runc attested and ran a tree that
was not the image (a symlink replacing a directory was silently dropped).
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
import tarfile
from pathlib import Path

from sandproof.errors import ImageError

FORMAT = "u5"
"""Names the unpacked tree's cache entry: bumped when unpacking changes what a tree holds, or
where it is kept (u3: ``<entry>/tree`` beside its seal, image.py; no u2 tree is trusted, as a
run with a writable root could write it then, review 11; u4: the seal holds the tree's listing
too, review 12, and no u3 seal, of ctimes alone, is trusted; u5: empty directories listed too,
as no run makes a mountpoint in the tree any more)."""
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
FILTERS = hasattr(tarfile, "fully_trusted_filter")
"""Our checks come first; the member is then extracted as it is (setuid bits, devices,
owners), where tarfile has filters named explicitly (PEP 706), without where it has none."""


def clean(name: str) -> str:
    """A member's name as a path inside the tree ("" for the root), as moby cleans it
    (filepath.Clean, then joined to the root: "/etc/x" is the tree's etc/x); a relative name
    climbing out ("../x") is refused, as moby refuses it (breakoutError)."""
    path = posixpath.normpath(name or ".")
    if not name.startswith("/") and (path == ".." or path.startswith("../")):
        raise ImageError(f"layer member {name!r} leaves the image's root")
    path = posixpath.normpath("/" + path).lstrip("/")
    return "" if path in ("", ".") else path


def real_dir(root: Path, rel: str) -> Path | None:
    """``root/rel`` when every component is a directory and none is a symlink, else None:
    nothing beyond a symlink is the tree's."""
    cur = root
    for part in [p for p in rel.split("/") if p]:
        cur = cur / part
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(st.st_mode):
            return None
    return cur


def _parents(root: Path, rel: str) -> None:
    """Make ``rel``'s parents real directories, component by component, never following a
    symlink: a missing one is made (0755, root's: moby's MkdirAll in UnpackLayer), and a lower
    layer's non-directory there is replaced by one, as overlayfs shows this layer's directory
    over it (Docker applies each layer into a directory of its own)."""
    cur = root
    for part in [p for p in posixpath.dirname(rel).split("/") if p]:
        cur = cur / part
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            os.mkdir(cur, 0o755)
            continue
        if not stat.S_ISDIR(st.st_mode):
            cur.unlink()
            os.mkdir(cur, 0o755)


def _remove(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)  # does not follow symlinks inside
    else:
        path.unlink()


def _whiteouts(members: list[tarfile.TarInfo], root: Path) -> None:
    """Whiteouts delete what the lower layers hold, never this layer's own entries: applied
    before any of them is extracted."""
    for m in members:
        rel = clean(m.name)
        base = posixpath.basename(rel)
        if not base.startswith(WHITEOUT):
            continue
        target = base[len(WHITEOUT) :]
        if base != OPAQUE and target in ("", ".", ".."):  # "" and "." name the directory itself, ".." its parent
            raise ImageError(f"layer member {m.name!r}: a whiteout of {target!r}, which names no entry of the image")
        parent = real_dir(root, posixpath.dirname(rel))
        if parent is None:
            continue
        if base == OPAQUE:
            for child in os.listdir(parent):
                _remove(parent / child)
            continue
        _remove(parent / target)


def _xattrs(member: tarfile.TarInfo, path: Path) -> None:
    """Extended attributes as Docker applies them on load (moby pkg/archive createTarFile):
    tarfile drops them, and a user's image's file capability (security.capability) must
    reach runc's rootfs as it reaches Docker's, or runc would attest an image it did not run."""
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(path, key[13:], value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
            except OSError as exc:
                if not member.issym() or exc.errno not in (errno.EPERM, errno.ENOTSUP):
                    raise  # a link cannot carry a user.* attribute: moby ignores that too (Lsetxattr ENOTSUP)


def _entry(tar: tarfile.TarFile, m: tarfile.TarInfo, root: Path) -> None:
    rel = clean(m.name)
    if posixpath.basename(rel).startswith(WHITEOUT):
        return
    if rel:
        _parents(root, rel)
        target = root / rel
        if os.path.lexists(target) and not (m.isdir() and stat.S_ISDIR(os.lstat(target).st_mode)):
            _remove(target)
    else:
        target = root
    m.name = rel or "."
    if m.islnk():
        m.linkname = clean(m.linkname)
        src = real_dir(root, posixpath.dirname(m.linkname))
        try:
            regular = src is not None and stat.S_ISREG(os.lstat(src / posixpath.basename(m.linkname)).st_mode)
        except FileNotFoundError:
            regular = False
        if not regular:  # os.link follows a symlink (linkat AT_SYMLINK_FOLLOW): the host's file
            raise ImageError(f"layer member {rel!r}: a hard link to {m.linkname!r}, not a regular file of the image")
    if m.ischr() or m.isblk() or m.isfifo() or m.isdir() or m.isreg() or m.issym() or m.islnk():
        if FILTERS:
            tar.extract(m, root, numeric_owner=True, filter="fully_trusted")  # checked above
        else:
            tar.extract(m, root, numeric_owner=True)  # as above, without filters
        _xattrs(m, target)


def apply(layer: Path, root: Path) -> None:
    """Apply one layer tar to ``root``, the lower layers already in it."""
    try:
        with tarfile.open(layer) as tar:
            members = tar.getmembers()
            _whiteouts(members, root)
            for m in members:
                _entry(tar, m, root)
    except tarfile.TarError as exc:  # a crafted layer hashes to its diff_id all the same
        raise ImageError(f"layer {layer.name}: not a readable tar archive ({' '.join(str(exc).split())})") from None


def extract(tar: tarfile.TarFile, root: Path) -> None:
    """Every member of ``tar`` (a stream too) into ``root``, checked as a layer's entries are
    (no whiteout in it): where tarfile has no extraction filters (Debian 12's 3.11.2)."""
    for m in tar:
        _entry(tar, m, root)


def lookup(root: Path, path: str, hops: int = 40) -> Path | None:
    """``path`` as a process whose root directory is ``root`` resolves it: every symlink followed
    inside ``root`` (an absolute target starts again at ``root``, ".." stops there), at most
    ``hops`` of them (the kernel's MAXSYMLINKS, include/linux/namei.h); None if nothing is there."""
    todo = [p for p in path.split("/") if p]
    cur: list[str] = []
    while todo:
        part = todo.pop(0)
        if part in (".", ".."):
            if part == ".." and cur:
                cur.pop()
            continue
        here = root.joinpath(*cur, part)
        try:
            st = os.lstat(here)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISLNK(st.st_mode):
            hops -= 1
            if hops < 0:
                return None
            target = os.readlink(here)
            cur = [] if target.startswith("/") else cur
            todo = [p for p in target.split("/") if p] + todo
            continue
        if todo and not stat.S_ISDIR(st.st_mode):
            return None
        cur.append(part)
    return root.joinpath(*cur)
