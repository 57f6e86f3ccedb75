"""The startup snapshot: taken by the harness before it does anything else, before its own guard
sets no-new-privs, stacks a filter and refuses foreign ABIs itself. The status, descriptors,
process tree, rlimits and foreign-ABI answers exactly as the sandbox handed them over; the
probes of those kinds report from here (``common.STARTUP``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..judges.limits import parse_limits  # noqa: TID252 - the image names the package "inspector"
from . import leaks, seccomp
from .common import STARTUP, read_text


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
    # the process tree as the runtime left it (one process: ours, PID 1) and the rlimits it was handed
    STARTUP.update(
        {
            "self_pid": os.getpid(),
            "processes": leaks.processes(),
            "rlimits": parse_limits(read_text("/proc/self/limits") or ""),
        }
    )


def snapshot_abis() -> None:
    STARTUP["abis"] = seccomp.observe()
