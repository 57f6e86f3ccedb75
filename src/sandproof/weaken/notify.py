"""A seccomp agent for the mutation suite: the host process runc hands a filter's notification
fd to (``linux.seccomp.listenerPath``), answering every notified call with "continue", so the
call runs as if the rule allowed it (seccomp_unotify(2), SECCOMP_USER_NOTIF_FLAG_CONTINUE).

runc 1.1 connects to the socket once the filter is loaded and sends the container's process
state (JSON) with the fd as SCM_RIGHTS (libcontainer/process_linux.go sendContainerProcessState).
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import select
import socket
import struct
import threading

# linux/seccomp.h: _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp)
NOTIF_RECV = 0xC0502100
NOTIF_SEND = 0xC0182101
NOTIF_SIZE = 80  # u64 id, u32 pid, u32 flags, struct seccomp_data (int nr, u32 arch, u64 ip, u64 args[6])
FLAG_CONTINUE = 1
STATE_BYTES = 1 << 16
POLL_MS = 100


def _receive_fd(conn: socket.socket) -> int:
    fds = array.array("i")
    _, ancdata, _, _ = conn.recvmsg(STATE_BYTES, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    if not fds:
        raise OSError("runc sent no seccomp fd")
    return fds[0]


def _answer(fd: int) -> None:
    notif = bytearray(NOTIF_SIZE)
    fcntl.ioctl(fd, NOTIF_RECV, notif)
    (call_id,) = struct.unpack_from("=Q", notif)
    fcntl.ioctl(fd, NOTIF_SEND, bytearray(struct.pack("=QqiI", call_id, 0, 0, FLAG_CONTINUE)))


def serve(server: socket.socket, stop: threading.Event) -> None:
    """Accept runc's one connection and let every notified call run, until ``stop`` or the
    filter has no task left (the fd hangs up)."""
    server.settimeout(POLL_MS / 1000)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        with conn:
            fd = _receive_fd(conn)
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            while not stop.is_set():
                events = poller.poll(POLL_MS)
                if any(e & (select.POLLHUP | select.POLLERR) for _, e in events):
                    break
                if events:
                    with contextlib.suppress(OSError):  # ENOENT: the caller died meanwhile
                        _answer(fd)
        finally:
            os.close(fd)
        return
