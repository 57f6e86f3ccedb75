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
``mount`` says so and the caller copies instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from sandproof import outdir

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
