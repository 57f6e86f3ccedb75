"""A writable view of the unpacked image for one runc run: an overlay mount whose lower
layer is the shared unpacked tree and whose upper layer is the run's own directory.

runc writes into its rootfs where a profile makes the root writable or mounts something at
a path the image lacks (it creates the mountpoint, libcontainer/rootfs_linux.go). The shared
tree must never change, so such a run needed its own copy: 250 ms of CPU per run here, for
39 MiB (measured over the runc weakenings that need one). The overlay is what Docker's
overlay2 driver gives each container: the lower tree is only read, every change lands in
the upper directory (fs/overlayfs: copy-up keeps the owner, mode and times), and unmounting
it (``outdir.detach``) leaves the shared tree as it was. Where the kernel refuses (no overlay, an upper
directory on a filesystem overlay cannot write to, a path the option string cannot carry),
``mount`` says so and the caller copies instead (``copy``: the image exactly, no device of it
ever opened).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from sandproof import outdir, regular

_UNSAFE = frozenset(",:\\")
"""Characters of overlay's option string (fs/overlayfs/params.c splits on "," and lowerdir's
layers on ":"; "\\" escapes): a path holding one is not mounted at all."""


def mount(lower: Path, beside: Path) -> Path | None:
    """``lower`` seen writable at ``beside``/rootfs, changes kept in ``beside``/upper; None
    (nothing mounted, nothing left) when the kernel or the caller's rights refuse it."""
    upper, work, merged = beside / "upper", beside / "work", beside / "rootfs"
    paths = [str(lower), str(upper), str(work)]
    if os.geteuid() != 0 or any(_UNSAFE & set(p) for p in paths):
        return None
    made: list[Path] = []
    try:
        for d in (upper, work, merged):
            d.mkdir(mode=0o700)
            made.append(d)
        # the merged root takes its owner and mode from the upper directory's root: the image's
        st = os.stat(lower)
        os.chown(upper, st.st_uid, st.st_gid)
        os.chmod(upper, st.st_mode & 0o7777)
        options = f"lowerdir={paths[0]},upperdir={paths[1]},workdir={paths[2]}".encode()
        if outdir.libc().mount(b"sandproof-rootfs", str(merged).encode(), b"overlay", 0, options) == 0:
            return merged
    except OSError:
        pass
    for d in reversed(made):  # nothing left for the copy that takes over
        os.rmdir(d)
    return None


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
"""A directory opened as one: O_DIRECTORY fails in the lookup (ENOTDIR) before any driver's
open could run (fs/namei.c do_open), so no device node is ever opened through it."""
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_KEEP_XATTR_ERRORS = frozenset({errno.ENOTSUP, errno.EPERM})
"""A symlink cannot carry a user.* attribute (xattr(7)); unpack.py ignores that too."""


def copy(lower: Path, beside: Path) -> Path:
    """``lower`` copied to ``beside``/rootfs exactly, where ``mount`` is refused: every entry
    of the same type, mode, owner, times, extended attributes and (device nodes) rdev, hard
    links kept. Only regular files are opened for reading (``regular.open_regular``): a device
    node, FIFO or socket of the image is made again with mknod(2), never opened. shutil.copytree
    (copy2) opened and read the image's device nodes: a 0666 node for the host's disk copied
    the host's disk into the run's root, ``c 1 5`` filled the disk (review 12)."""
    merged = beside / "rootfs"
    merged.mkdir(mode=0o700)
    src = os.open(lower, _DIR)
    try:
        dst = os.open(merged, _DIR)
        try:
            _tree(src, dst, merged, {})
            _same(src, dst, None, os.fstat(src))
        finally:
            os.close(dst)
    finally:
        os.close(src)
    return merged


def _tree(src: int, dst: int, at: Path, links: dict[tuple[int, int], Path]) -> None:
    """The entries of the directory ``src`` made in ``dst`` (which is ``at``), depth first."""
    with os.scandir(src) as entries:
        listed = list(entries)
    for e in listed:
        st = e.stat(follow_symlinks=False)
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFDIR:
            os.mkdir(e.name, 0o700, dir_fd=dst)
            s = os.open(e.name, _DIR, dir_fd=src)
            try:
                d = os.open(e.name, _DIR, dir_fd=dst)
                try:
                    _tree(s, d, at / e.name, links)
                    _same(s, d, None, st)  # after its entries: their making moved its mtime
                finally:
                    os.close(d)
            finally:
                os.close(s)
        elif kind == stat.S_IFREG:
            if st.st_nlink > 1 and (st.st_dev, st.st_ino) in links:  # a hard link of the image
                os.link(links[st.st_dev, st.st_ino], e.name, dst_dir_fd=dst, follow_symlinks=False)
                continue
            links[st.st_dev, st.st_ino] = at / e.name
            _file(src, dst, e.name, st)
        else:
            if kind == stat.S_IFLNK:
                os.symlink(os.readlink(e.name, dir_fd=src), e.name, dir_fd=dst)
            else:  # a character or block device, FIFO or socket: made, never opened
                os.mknod(e.name, st.st_mode, st.st_rdev, dir_fd=dst)
            _same(src, dst, e.name, st)


def _file(src: int, dst: int, name: str, st: os.stat_result) -> None:
    fd, _ = regular.open_regular(name, dir_fd=src, same_as=st)
    try:
        out = os.open(name, _NEW, 0o600, dir_fd=dst)
        try:
            while os.sendfile(out, fd, None, 1 << 30):
                pass
            _same(fd, out, None, st)
        finally:
            os.close(out)
    finally:
        os.close(fd)


def _same(src: int, dst: int, name: str | None, st: os.stat_result) -> None:
    """``dst`` (or its entry ``name``) given ``st``'s owner, then its mode, attributes and times,
    in that order: chown clears the setuid and setgid bits and a file capability
    (security.capability) of a non-directory (fs/attr.c, setattr_should_drop_suidgid; fs/xattr.c),
    so the mode and attributes come after it, and the times last (each step moves nothing but
    the ctime then)."""
    link = stat.S_ISLNK(st.st_mode)
    if name is None:
        os.chown(dst, st.st_uid, st.st_gid)
        os.chmod(dst, stat.S_IMODE(st.st_mode))
        _xattrs(src, dst, link=False)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        return
    os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
    if not link:  # a symlink's own mode cannot be set on Linux, and is always 0777
        os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dst)
    # through the directory's fd: the entry's own name, never followed (a device is not opened)
    _xattrs(f"/proc/self/fd/{src}/{name}", f"/proc/self/fd/{dst}/{name}", link=link)
    os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst, follow_symlinks=False)


def _xattrs(src: int | str, dst: int | str, *, link: bool) -> None:
    """Every extended attribute of ``src`` (an fd, or a name not followed) set on ``dst``."""
    follow = isinstance(src, int)  # an fd is itself, and Python refuses follow_symlinks=False with one
    try:
        names = os.listxattr(src, follow_symlinks=follow)
    except OSError as exc:
        if exc.errno != errno.ENOTSUP:
            raise
        return
    for key in names:
        try:
            os.setxattr(dst, key, os.getxattr(src, key, follow_symlinks=follow), follow_symlinks=follow)
        except OSError as exc:
            if not link or exc.errno not in _KEEP_XATTR_ERRORS:
                raise
