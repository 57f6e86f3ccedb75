"""Seccomp, an allowlist's table sweep: every syscall of this architecture, once, through a
raw syscall (``rawsys``), so the judge can see each one outside the list refused with the
filter's errno and each one inside it let through.

The plan names the calls, the argument vector the kernel refuses (``sandproof/sweep.py``:
TABLE_ARGS), and the hazards: calls that, let through, would end, block or copy this
process. Each hazard runs in a disposable child that reports its answer through a pipe;
a child that dies or blocks instead says the call got through.
"""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Mapping
from typing import Any

from .. import rawsys, syscalls  # noqa: TID252 - the image names the package "inspector"

WALL = 0x40000000  # __WALL: reap a child whatever its exit signal


def _answer(ret: int) -> str:
    return rawsys.errno_name(ret) or "ok"


def _hazard(nr: int, args: list[int], timeout: float) -> str:
    """The answer to one hazardous call, made in a child of its own."""
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # the child: try it, report, leave
        os.close(r)
        me = os.getpid()
        ret = rawsys.call(nr, *args)
        if os.getpid() != me:  # a fork or vfork let through: this is the copy
            os._exit(0)
        os.write(w, _answer(ret).encode())
        os._exit(0)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], timeout)
        said = os.read(r, 64).decode() if ready else ""
    finally:
        os.close(r)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, WALL)
    if said:
        return said
    if not ready:
        return "blocked"
    if os.WIFSIGNALED(status):
        return signal.Signals(os.WTERMSIG(status)).name
    return f"exit {os.WEXITSTATUS(status)}"


def sweep(params: Mapping[str, Any], arch: str) -> dict[str, Any]:
    """Every planned syscall of ``arch``, once: name -> its errno name, "ok", or what became of
    a hazard's child ("exit N", a signal name, "blocked")."""
    names = params["arches"].get(arch)
    if names is None:
        return {"arch": arch, "answers": {}, "harness_error": f"the plan has no table for {arch}"}
    base = [int(a) for a in params["args"]]
    overrides, hazards, timeout = params["overrides"], set(params["hazards"]), float(params["timeout"])
    fn, me = rawsys.stub(), os.getpid()
    answers: dict[str, str] = {}
    for name in names:
        args = [*(int(a) for a in overrides.get(name, base)), 0, 0, 0, 0, 0, 0][:6]
        nr = syscalls.number(name, arch)
        if name in hazards:
            answers[name] = _hazard(nr, args, timeout)
            continue
        ret = fn(nr, *args)
        if os.getpid() != me:  # a clone let through: this is the copy
            os._exit(0)
        if name == "clone" and ret > 0:
            os.waitpid(ret, WALL)
        answers[name] = _answer(ret)
    return {"arch": arch, "answers": answers}
