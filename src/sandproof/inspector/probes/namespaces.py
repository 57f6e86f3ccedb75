"""Namespace probes: the namespace links, SysV IPC objects in sight, the user-namespace routes
(raw syscalls, each in its own child), the cgroup namespace, the id maps, the namespaced sysctls."""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Callable, Mapping
from typing import Any

from .. import isolate, rawsys, syscalls  # noqa: TID252 - the image names the package "inspector"
from .common import Observation, Probe, read, read_text

CLONE_ARGS_SIZE = 88  # struct clone_args up to cgroup (linux/sched.h, CLONE_ARGS_SIZE_VER2)

SYSVIPC = ("shm", "msg", "sem")


def _link(ns: str) -> str | None:
    """The namespace link, None where the kernel has none to show (gVisor's /proc/self/ns holds
    only net, pid and user: pkg/sentry/fsimpl/proc/task.go)."""
    try:
        return os.readlink(f"/proc/self/ns/{ns}")
    except FileNotFoundError:
        return None


def namespace(params: Mapping[str, Any]) -> Observation:
    obs: Observation = {"link": _link(params["ns"]), "listed": sorted(os.listdir("/proc/self/ns"))}
    if params["ns"] == "ipc":
        # a fresh IPC namespace holds no SysV object; one joined from elsewhere (--ipc
        # container:X) shows the other's, though its inode is no initial one
        obs["sysvipc"] = {}
        for kind in SYSVIPC:
            text = read(f"/proc/sysvipc/{kind}")
            obs["sysvipc"][kind] = None if text is None else len(text.splitlines()) - 1
    if params["ns"] == "time":  # the namespace this process's children get (after unshare(CLONE_NEWTIME))
        obs["children"] = _link("time_for_children")
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
    return rawsys.call(syscalls.number("unshare", syscalls.machine()), syscalls.CLONE_NEWUSER)


def _clone_user() -> int:
    ret = rawsys.call(
        syscalls.number("clone", syscalls.machine()), syscalls.CLONE_NEWUSER | syscalls.SIGCHLD, 0, 0, 0, 0
    )
    if ret == 0:
        os._exit(0)  # the new process, in a new user namespace: leave at once
    return ret


def _clone3_user() -> int:
    args = struct.pack("=11Q", syscalls.CLONE_NEWUSER, 0, 0, 0, syscalls.SIGCHLD, 0, 0, 0, 0, 0, 0)
    buf = ctypes.create_string_buffer(args, CLONE_ARGS_SIZE)
    ret = rawsys.call(syscalls.number("clone3", syscalls.machine()), ctypes.addressof(buf), CLONE_ARGS_SIZE)
    if ret == 0:
        os._exit(0)
    return ret


def userns(params: Mapping[str, Any]) -> Observation:
    routes = {"unshare": _unshare_user, "clone": _clone_user, "clone3": _clone3_user}
    return {"routes": {name: _route(routes[name]) for name in params["routes"]}}


def cgroupns(params: Mapping[str, Any]) -> Observation:
    return {
        "link": _link("cgroup"),
        "listed": sorted(os.listdir("/proc/self/ns")),
        "cgroup": read_text("/proc/self/cgroup"),
    }


def idmap(params: Mapping[str, Any]) -> Observation:
    return {
        "link": os.readlink("/proc/self/ns/user"),
        "uid_map": read_text("/proc/self/uid_map"),
        "gid_map": read_text("/proc/self/gid_map"),
    }


def sysctls(params: Mapping[str, Any]) -> Observation:
    values = {}
    for name in params["names"]:
        text = read_text("/proc/sys/" + name.replace(".", "/"))
        values[name] = None if text is None else " ".join(text.split())
    return {"values": values}


PROBES: dict[str, Probe] = {
    "ns": namespace,
    "userns": userns,
    "cgroupns": cgroupns,
    "idmap": idmap,
    "sysctls": sysctls,
}
