"""A name's arrival in a directory, as the kernel reports it (inotify(7)).

attest watches the run's /out for the harness's bundle: the harness renames it into place
and exits, and the engine's client returns some milliseconds later (~11 ms on runc here,
measured from the IN_MOVED_TO to the client's exit), once the sandbox is torn down. What
attest reads on the event is only a head start: after the run it reads the file again and
uses the early work only for the very same bytes (``attest._Ahead``).

inotify watches an inode, so a write through the sandbox's bind mount is seen at the host's
path. Where no event comes (no inotify, the watch limit reached, a runtime that copies /out
out after the run), nothing is read early and nothing else changes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import struct
import threading

from sandproof.outdir import libc

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_Q_OVERFLOW = 0x00004000
"""<sys/inotify.h>: written and closed; renamed into the directory; events were dropped."""
_HEADER = struct.Struct("iIII")
"""struct inotify_event: wd, mask, cookie, len; then ``len`` bytes of NUL-padded name."""
_BUFFER = 64 * 1024


class Arrival:
    """Watches ``directory`` for ``name`` written and closed in it, or renamed into it.
    Raises OSError when the kernel refuses the watch."""

    def __init__(self, directory: str, name: str) -> None:
        self._name = os.fsencode(name)
        fd: int = libc().inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        self._fd = fd
        self._closer: threading.Thread | None = None
        try:
            if libc().inotify_add_watch(fd, os.fsencode(directory), IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
                err = ctypes.get_errno()
                raise OSError(err, f"inotify_add_watch {directory}: {os.strerror(err)}")
            self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        except BaseException:
            os.close(fd)
            raise

    def wait(self, timeout: float | None = None) -> bool:
        """True once the name has arrived (or the kernel dropped events, so it may have);
        False when ``stop`` was called or ``timeout`` seconds passed first. Call it from one
        thread, and only until it returns True."""
        while True:
            ready, _, _ = select.select([self._fd, self._stop_r], [], [], timeout)
            if not ready or self._stop_r in ready:
                return False
            try:
                events = os.read(self._fd, _BUFFER)
            except BlockingIOError:
                continue
            if self._arrived(events):
                self._release()
                return True

    def _arrived(self, events: bytes) -> bool:
        at = 0
        while at + _HEADER.size <= len(events):
            _wd, mask, _cookie, length = _HEADER.unpack_from(events, at)
            name = events[at + _HEADER.size : at + _HEADER.size + length].rstrip(b"\0")
            if mask & IN_Q_OVERFLOW or name == self._name:
                return True
            at += _HEADER.size + length
        return False

    def _release(self) -> None:
        """The watch is done with: its fd closed in a thread of its own. The kernel's release
        of an inotify instance waits for an SRCU grace period (fsnotify's mark reaper), 6-8 ms
        here, and the name arrives while there is still time to wait for it."""
        if self._closer is None:
            self._closer = threading.Thread(target=os.close, args=(self._fd,), name="sandproof-unwatch", daemon=True)
            self._closer.start()

    def stop(self) -> None:
        """Wake a ``wait`` in another thread: it returns False."""
        with contextlib.suppress(BlockingIOError):  # already woken
            os.write(self._stop_w, b"x")

    def close(self) -> None:
        """Let go of everything (the watch's fd too, unless the name arrived: then it is
        being released already, and this waits for that)."""
        if self._closer is None:
            os.close(self._fd)
        else:
            self._closer.join()
        os.close(self._stop_r)
        os.close(self._stop_w)
