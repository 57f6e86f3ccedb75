"""A name opened for reading only when it is a regular file, without opening anything else.

An ``open(O_RDONLY)`` of a device node runs its driver's open (a tape rewinds, a tty becomes a
controlling one, a watchdog arms) whatever is checked after it; a FIFO's may block. So the name
is first opened ``O_PATH`` (open(2): no file operation is called), its type read from that fd,
and only a regular file is opened for reading, through ``/proc/self/fd/N``: the very inode the
fd holds, whatever is renamed meanwhile (proc(5)). ``O_NONBLOCK`` on that open too: an open of a
file someone holds a lease on waits out the lease-break time otherwise (fcntl(2) F_SETLEASE).
Used for what a sandbox wrote (/out is a tmpfs without nodev), what a run left, and bundles.
"""

from __future__ import annotations

import errno
import os
import stat

_PATH = os.O_PATH | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC


class NotRegular(OSError):
    """The name is there, and is not a regular file (nor a link, when links are not followed)."""


def open_regular(
    name: str, *, dir_fd: int | None = None, follow: bool = False, same_as: os.stat_result | None = None
) -> tuple[int, os.stat_result]:
    """An fd for reading ``name`` and its stat. OSError (ELOOP) for a symlink unless ``follow``;
    ``NotRegular`` for anything else that is not a regular file; OSError when it is no longer
    the file ``same_as`` describes (replaced since it was listed)."""
    path_fd = os.open(name, _PATH | (0 if follow else os.O_NOFOLLOW), dir_fd=dir_fd)
    try:
        st = os.fstat(path_fd)
        if stat.S_ISLNK(st.st_mode):  # O_PATH | O_NOFOLLOW opens the link itself; as an open would say
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), name)
        if same_as is not None and (
            (st.st_dev, st.st_ino) != (same_as.st_dev, same_as.st_ino) or not stat.S_ISREG(st.st_mode)
        ):  # (an inode number is reused: a device made after an unlink may have the file's)
            raise OSError(f"{name}: replaced while it was read")
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(f"{name} is not a regular file")
        try:
            return os.open(f"/proc/self/fd/{path_fd}", _READ), st
        except FileNotFoundError:  # not "no such file": it is there, and /proc is not
            raise OSError(f"{name}: cannot open it through /proc/self/fd: is /proc mounted?") from None
    finally:
        os.close(path_fd)
