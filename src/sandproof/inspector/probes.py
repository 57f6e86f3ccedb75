"""Probe functions. Each runs in its own forked child (see ``isolate``) and returns an
observation: facts only (outcome, errno name, raw text), never a verdict."""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import sys
from collections.abc import Callable, Mapping
from typing import Any

from . import catalog, devices, integrity, mounts, probes_system, rawsys, syscalls

Observation = dict[str, Any]


def _err(exc: OSError) -> Observation:
    return {"outcome": "error", "errno": errno.errorcode.get(exc.errno or 0, str(exc.errno)), "message": str(exc)[:300]}


def connect(params: Mapping[str, Any]) -> Observation:
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        return {**_err(exc), "stage": "socket"}
    with s:
        s.settimeout(float(params["timeout"]))
        try:
            s.connect((params["host"], int(params["port"])))
        except TimeoutError:
            return {"outcome": "timed-out", "errno": None, "stage": "connect"}
        except OSError as exc:
            return {**_err(exc), "stage": "connect"}
    return {"outcome": "connected", "errno": None, "stage": "connect"}


def ifaces(params: Mapping[str, Any]) -> Observation:
    with open("/proc/net/dev", encoding="utf-8") as f:
        return {"proc_net_dev": f.read()}


def _raw(name: str, *args: int) -> tuple[int, str | None]:
    """A syscall straight to the kernel (rawsys), so a preloaded libc cannot answer for it."""
    ret = rawsys.call(syscalls.number(name, rawsys.machine()), *args)
    return ret, rawsys.errno_name(ret)


def sock(params: Mapping[str, Any]) -> Observation:
    fd, err = _raw("socket", socket.AF_INET, socket.SOCK_STREAM, 0)
    if err is not None:
        return {"outcome": "error", "errno": err}
    os.close(fd)
    return {"outcome": "created", "errno": None}


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


def write(params: Mapping[str, Any]) -> Observation:
    path = params["path"]
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        return _err(exc)
    os.write(fd, b"sandproof probe\n")
    os.close(fd)
    os.unlink(path)  # leave nothing behind where the write should not have worked
    return {"outcome": "wrote", "errno": None}


def execute(params: Mapping[str, Any]) -> Observation:
    """execve in a grandchild; a close-on-exec pipe tells a real exec (EOF, no data)
    from a denied one (the errno written back) without trusting the exit status."""
    argv = [sys.executable, "-S", "-c", "pass"]
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.execv(argv[0], argv)
        except OSError as exc:
            os.write(w, errno.errorcode.get(exc.errno or 0, "E?").encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if data:
        return {"outcome": "error", "errno": data.decode(), "target": argv[0]}
    return {"outcome": "executed", "errno": None, "target": argv[0], "exit_status": os.waitstatus_to_exitcode(status)}


def listing(params: Mapping[str, Any]) -> Observation:
    """Every entry of a directory with its type, and a regular file's sha256: /in must be the
    directory attest made, not a host directory with other data beside a copy of the plan."""
    entries: dict[str, Any] = {}
    with os.scandir(params["dir"]) as it:
        for e in it:
            if e.is_file(follow_symlinks=False):
                with open(e.path, "rb") as f:
                    entries[e.name] = {"type": "file", "sha256": hashlib.sha256(f.read(1 << 20)).hexdigest()}
            else:
                entries[e.name] = {"type": "dir" if e.is_dir(follow_symlinks=False) else "other"}
    return {"entries": dict(sorted(entries.items()))}


def read_mounts(params: Mapping[str, Any]) -> Observation:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return {"mountinfo": f.read()}


def absent(params: Mapping[str, Any]) -> Observation:
    paths = list(params["paths"])
    return {"checked": paths, "present": [p for p in paths if os.path.lexists(p)]}


def ptrace(params: Mapping[str, Any]) -> Observation:
    ptrace_traceme = 0
    _, err = _raw("ptrace", ptrace_traceme, 0, 0, 0)
    if err is None:
        return {"outcome": "traced", "errno": None}
    return {"outcome": "error", "errno": err}


PROBE_FUNCTIONS: dict[str, Callable[[Mapping[str, Any]], Observation]] = {
    "connect": connect,
    "ifaces": ifaces,
    "socket": sock,
    "env": env,
    "write": write,
    "exec": execute,
    "mounts": read_mounts,
    "kpaths": mounts.kernel_paths,
    "listing": listing,
    "devices": devices.inventory,
    "maps": integrity.maps,
    "absent": absent,
    "ptrace": ptrace,
    **probes_system.PROBE_FUNCTIONS,
}
