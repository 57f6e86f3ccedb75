"""Leak probes: the environment's names, the descriptors held at start, engine sockets by path,
the process table at start and now, and every file mapped into the harness's own process.

A preloaded shim (LD_PRELOAD, /etc/ld.so.preload, a library bound over the image's) can
make libc answer EPERM while the kernel allows everything, so that every probe that goes
through libc sees a sandbox that is not there. Such a library shows in /proc/self/maps."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

from .. import catalog  # noqa: TID252 - the image names the package "inspector"
from .common import STARTUP, Observation, Probe, read_text


def env(params: Mapping[str, Any]) -> Observation:
    """Names only: a value never enters the evidence. The runtime's own variables are compared
    here with what the runtime sets (PATH from the image, HOME from passwd, HOSTNAME the
    container's hostname) and only whether each matches is recorded: a secret hidden in the
    value of an allowed name (HOSTNAME=ghp_...) shows as a mismatch, not as its value."""
    hostname = os.uname().nodename
    want = {k: hostname if v == catalog.HOSTNAME_TOKEN else v for k, v in params.get("runtime_values", {}).items()}
    return {
        "keys": sorted(os.environ),
        "runtime_values": {k: os.environ.get(k) == v for k, v in sorted(want.items()) if k in os.environ},
        "hostname": hostname,
    }


def fds(params: Mapping[str, Any]) -> Observation:
    return {
        "fds": STARTUP.get("fds"),
        "targets": STARTUP.get("fd_targets"),
        "stdin": STARTUP.get("stdin"),
        "stdio": STARTUP.get("stdio"),
    }


def absent(params: Mapping[str, Any]) -> Observation:
    paths = list(params["paths"])
    return {"checked": paths, "present": [p for p in paths if os.path.lexists(p)]}


MAX_PROCESSES = 64  # enough to name what is there; a foreign tree is one process too many


def _process(pid: str) -> dict[str, Any] | None:
    stat, cmdline = read_text(f"/proc/{pid}/stat"), read_text(f"/proc/{pid}/cmdline")
    if stat is None:
        return None  # gone between listdir and read
    # the name in parentheses may hold spaces and ')': the fields after the last ')' are fixed
    ppid = int(stat.rpartition(")")[2].split()[1])
    return {"ppid": ppid, "cmdline": (cmdline or "").split("\0")[:-1][:32]}


def processes() -> dict[str, dict[str, Any]]:
    out = {}
    for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int)[:MAX_PROCESSES]:
        if (info := _process(pid)) is not None:
            out[pid] = info
    return out


def procs(params: Mapping[str, Any]) -> Observation:
    live = {}
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        if (info := _process(pid)) is not None:
            live[pid] = info["ppid"]
    return {
        "startup": {"self": STARTUP.get("self_pid"), "processes": STARTUP.get("processes")},
        "harness": os.getppid(),  # this probe runs in a child the harness forked
        "live": live,
        "cwd": _cwd(),
    }


def _cwd() -> str | None:
    """The harness's working directory (it never changes it; this child inherited it), as the
    kernel names it: a directory outside the container's root reads "(unreachable)/..."
    (fs/d_path.c), which no workdir is (CVE-2024-21626: a process.cwd on a leaked host fd)."""
    try:
        return os.readlink("/proc/self/cwd")
    except OSError:
        return None


def _sha256(path: str) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def maps(params: Mapping[str, Any]) -> dict[str, Any]:
    """Every mapped file with its sha256, and whether the file now at that path is the one
    mapped (device and inode as /proc/self/maps gives them)."""
    with open("/proc/self/maps", encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().splitlines()
    files: dict[str, dict[str, Any]] = {}
    named: set[str] = set()
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) < 6:
            continue  # anonymous memory
        dev, inode, name = fields[3], int(fields[4]), fields[5]
        if inode == 0:
            named.add(name)
            continue
        if name in files:
            continue
        entry: dict[str, Any] = {"maps_device": dev, "maps_inode": inode, "sha256": None, "same_file": False}
        try:
            st = os.stat(name)
            entry["same_file"] = st.st_ino == inode and f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}" == dev
            entry["sha256"] = _sha256(name)
        except (OSError, ValueError):
            pass
        files[name] = entry
    return {"files": dict(sorted(files.items())), "other": sorted(named)}


PROBES: dict[str, Probe] = {
    "env": env,
    "fds": fds,
    "absent": absent,
    "procs": procs,
    "maps": maps,
}
