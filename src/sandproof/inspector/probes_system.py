"""Probes of the process's own standing: identity, capabilities, seccomp, namespaces,
cgroup limits, leaked descriptors, the filesystem walk, the syscall sweep. Each runs in
its own forked child and returns facts only."""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import stat
import struct
import tempfile
import threading
from collections.abc import Callable, Mapping
from typing import Any

from . import abi, isolate, limits, mounts, rawsys, sweep, syscalls
from .catalog import PSEUDO_FS

Observation = dict[str, Any]
STARTUP: dict[str, Any] = {}
"""Filled by the harness as its very first act, before its own guard sets no-new-privs
and adds a filter: the status and descriptors exactly as the sandbox handed them over."""
SIGCHLD = 17
CLONE_ARGS_SIZE = 88  # struct clone_args up to cgroup (linux/sched.h, CLONE_ARGS_SIZE_VER2)


def snapshot(status: Mapping[str, str]) -> None:
    targets = {}
    for name in os.listdir("/proc/self/fd"):
        try:  # the descriptor listdir itself used is closed again by now: it drops out here
            targets[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
    STARTUP.update(
        {"status": dict(status), "fds": sorted(targets), "fd_targets": {str(k): v for k, v in sorted(targets.items())}}
    )
    STARTUP.update(limits.snapshot())


def snapshot_abis() -> None:
    STARTUP["abis"] = abi.observe()


def foreign_abis(params: Mapping[str, Any]) -> Observation:
    return dict(STARTUP.get("abis", {"harness_error": "no foreign-ABI observation was taken at startup"}))


def startup_status(params: Mapping[str, Any]) -> Observation:
    status = STARTUP.get("status", {})
    return {"status": {k: status.get(k) for k in params["fields"]}}


def fds(params: Mapping[str, Any]) -> Observation:
    return {"fds": STARTUP.get("fds"), "targets": STARTUP.get("fd_targets")}


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def cgroup(params: Mapping[str, Any]) -> Observation:
    return {"files": {p: _read(p) for p in params["paths"]}}


SYSVIPC = ("shm", "msg", "sem")


def namespace(params: Mapping[str, Any]) -> Observation:
    obs: Observation = {"link": os.readlink(f"/proc/self/ns/{params['ns']}")}
    if params["ns"] == "ipc":
        # a fresh IPC namespace holds no SysV object; one joined from elsewhere (--ipc
        # container:X) shows the other's, though its inode is no initial one
        obs["sysvipc"] = {}
        for kind in SYSVIPC:
            text = _read(f"/proc/sysvipc/{kind}")
            obs["sysvipc"][kind] = None if text is None else len(text.splitlines()) - 1
    return obs


def _route(call: Callable[[], int]) -> Observation:
    """One user-namespace route, in its own child so a success changes nothing here; raw
    syscalls (``rawsys``), so a preloaded libc cannot answer in the kernel's place."""

    def attempt() -> Observation:
        ret = call()
        if ret > 0:  # clone: we are the parent of a process in a new user namespace
            os.waitpid(ret, 0)
        err = rawsys.errno_name(ret)
        return {"outcome": "error" if err else "created", "errno": err, "ret": ret}

    return isolate.run(attempt, 2.0)


def _unshare_user() -> int:
    return rawsys.call(syscalls.number("unshare", rawsys.machine()), syscalls.CLONE_NEWUSER)


def _clone_user() -> int:
    ret = rawsys.call(syscalls.number("clone", rawsys.machine()), syscalls.CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)
    if ret == 0:
        os._exit(0)  # the new process, in a new user namespace: leave at once
    return ret


def _clone3_user() -> int:
    args = struct.pack("=11Q", syscalls.CLONE_NEWUSER, 0, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, 0)
    buf = ctypes.create_string_buffer(args, CLONE_ARGS_SIZE)
    ret = rawsys.call(syscalls.number("clone3", rawsys.machine()), ctypes.addressof(buf), CLONE_ARGS_SIZE)
    if ret == 0:
        os._exit(0)
    return ret


def userns(params: Mapping[str, Any]) -> Observation:
    routes = {"unshare": _unshare_user, "clone": _clone_user, "clone3": _clone3_user}
    return {"routes": {name: _route(routes[name]) for name in params["routes"]}}


def thread(params: Mapping[str, Any]) -> Observation:
    box: list[int] = []
    try:
        t = threading.Thread(target=lambda: box.append(1))
        t.start()
        t.join(2.0)
    except RuntimeError as exc:  # "can't start new thread": clone3 got EPERM, not ENOSYS
        return {"outcome": "error", "errno": None, "message": str(exc)}
    return {"outcome": "started" if box else "error", "errno": None}


def mmap_exec(params: Mapping[str, Any]) -> Observation:
    """noexec proven without execve: mapping a file of the mount PROT_EXEC must fail."""
    fd, path = tempfile.mkstemp(dir=params["dir"])
    try:
        os.unlink(path)
        os.write(fd, b"\0" * mmap.PAGESIZE)
        try:
            m = mmap.mmap(fd, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_EXEC)
        except OSError as exc:
            return {"outcome": "error", "errno": errno.errorcode.get(exc.errno or 0, "E?"), "message": str(exc)}
        m.close()
        return {"outcome": "mapped", "errno": None}
    finally:
        os.close(fd)


def walk(params: Mapping[str, Any]) -> Observation:
    """Every file reachable outside pseudo filesystems: setuid/setgid files and sockets."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        skip = {mp for mp, m in mounts.visible(f.read()).items() if m.fstype in PSEUDO_FS}
    setid, sockets, devices, unreadable, scanned = [], [], [], [], 0
    stack = ["/"]
    while stack and scanned < int(params["limit"]):
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            unreadable.append(d)
            continue
        for e in entries:
            scanned += 1
            if e.is_dir(follow_symlinks=False):
                if e.path not in skip:
                    stack.append(e.path)
                continue
            try:
                mode = e.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISREG(mode) and mode & (stat.S_ISUID | stat.S_ISGID):
                setid.append(e.path)
            elif (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and not e.path.startswith("/dev/"):
                devices.append(e.path)  # a node on a bind without nodev opens the host's device
            elif stat.S_ISSOCK(mode):
                sockets.append(e.path)
    try:  # bound unix sockets of this network namespace, abstract ones included (net/unix/af_unix.c)
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as f:
            sockets += [
                f"unix:{line.split()[-1] if len(line.split()) > 7 else '(unnamed)'}" for line in f.readlines()[1:]
            ]
    except OSError:
        sockets.append("unix:(/proc/net/unix unreadable)")
    return {
        "setid": sorted(setid),
        "sockets": sorted(sockets),
        "devices": sorted(devices),
        "unreadable": sorted(unreadable),
        "scanned": scanned,
        "complete": not stack,
        "skipped": sorted(skip),
    }


PROBE_FUNCTIONS: dict[str, Callable[[Mapping[str, Any]], Observation]] = {
    "status": startup_status,
    "identity": startup_status,
    "fds": fds,
    "cgroup": cgroup,
    "ns": namespace,
    "userns": userns,
    "thread": thread,
    "mmap_exec": mmap_exec,
    "walk": walk,
    "sweep": sweep.sweep,
    "abi": foreign_abis,
    **limits.PROBE_FUNCTIONS,
}
