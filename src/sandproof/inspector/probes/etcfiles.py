"""The files a runtime writes or binds into the sandbox (/etc/hosts, /etc/resolv.conf,
/etc/hostname, podman's /run/.containerenv): their exact text, bounded.

A runtime fills them from the host (Docker copies the host's nameservers even under
``--network none``; podman's default copies every line of the host's /etc/hosts) and from
flags no other probe sees (``--add-host``, ``--dns``, ``--dns-search``): host names,
addresses and search domains handed to an untrusted sandbox. These files hold no secrets;
the text is still bounded and escaped (undecodable bytes as backslash escapes).

Read in the harness itself (no fork): lstat first, and only a regular file is opened, with
O_NONBLOCK|O_NOFOLLOW|O_NOCTTY and checked again by fstat, so a FIFO, device or link put in
its place is named by its type and never read or waited on."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from typing import Any

from .common import Observation, Probe

MAX_BYTES = 4096
"""Each file's bound: a runtime's own lines are a few hundred bytes; more is named as cut."""

_OPEN = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
_TYPES = ((stat.S_ISLNK, "link"), (stat.S_ISDIR, "dir"), (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _TYPES if test(mode)), "device")


def _errno(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc.errno))


def _one(path: str, limit: int) -> dict[str, Any]:
    try:
        st = os.lstat(path)
    except OSError as exc:
        return {"type": "absent"} if exc.errno == errno.ENOENT else {"type": "error", "errno": _errno(exc)}
    if not stat.S_ISREG(st.st_mode):
        return {"type": _kind(st.st_mode)}
    try:
        fd = os.open(path, _OPEN)
    except OSError as exc:
        return {"type": "error", "errno": _errno(exc)}
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between lstat and open
            return {"type": "error", "errno": "not a regular file when opened"}
        data = b""
        while len(data) <= limit and (chunk := os.read(fd, limit + 1 - len(data))):
            data += chunk
    except OSError as exc:
        return {"type": "error", "errno": _errno(exc)}
    finally:
        os.close(fd)
    return {"type": "file", "text": data[:limit].decode("utf-8", "backslashreplace"), "cut": len(data) > limit}


def etcfiles(params: Mapping[str, Any]) -> Observation:
    """path -> its type and, for a regular file, its text; the hostname its lines may name."""
    limit = int(params.get("max_bytes", MAX_BYTES))
    return {"hostname": os.uname().nodename, "files": {p: _one(p, limit) for p in params["paths"]}}


PROBES: dict[str, Probe] = {"etcfiles": etcfiles}
