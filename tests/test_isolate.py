"""Probe isolation on the real kernel: a probe that hangs, execs or crashes loses
no evidence and cannot take the harness with it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from typing import Any

from sandproof.inspector import isolate


def test_result_comes_back() -> None:
    assert isolate.run(lambda: {"outcome": "ok", "big": "x" * 200_000}, 5)["big"] == "x" * 200_000


def test_blocked_connect_is_killed_at_the_deadline() -> None:
    # a full accept queue: the kernel drops further SYNs, so connect() blocks
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    held = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.connect(srv.getsockname())
        held.append(c)

    def blocked() -> dict[str, Any]:
        s = socket.socket()
        s.connect(srv.getsockname())
        s.recv(1)  # never answered
        return {"outcome": "connected"}

    t0 = time.monotonic()
    obs = isolate.run(blocked, 0.5)
    assert time.monotonic() - t0 < 5
    assert "timed out" in obs["harness_error"]
    for c in held:
        c.close()
    srv.close()


def test_exec_replacing_the_probe_is_reported_not_lost() -> None:
    def replaced() -> dict[str, Any]:
        os.execv(sys.executable, [sys.executable, "-c", "pass"])

    obs = isolate.run(replaced, 10)
    assert "no result" in obs["harness_error"]
    assert "replaced" in obs["harness_error"]


def test_crash_and_exception_become_evidence() -> None:
    def boom() -> dict[str, Any]:
        raise RuntimeError("probe bug")

    assert "RuntimeError: probe bug" in isolate.run(boom, 5)["harness_error"]

    def killed() -> dict[str, Any]:
        os.kill(os.getpid(), signal.SIGKILL)
        return {}

    assert "exit status -9" in isolate.run(killed, 5)["harness_error"]
