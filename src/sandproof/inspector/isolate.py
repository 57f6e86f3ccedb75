"""Run one probe in a forked child with a deadline, so a probe that succeeds at
something dangerous (exec, a hang on connect, a crash) cannot take the harness
with it. The result comes back over a close-on-exec pipe as JSON."""

from __future__ import annotations

import json
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any

Observation = dict[str, Any]


def run(fn: Callable[[], Observation], timeout: float) -> Observation:  # noqa: PLR0912 - one fork/read/reap cycle
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # child: never returns into the harness
        os.close(r)
        try:
            payload = json.dumps({"observation": fn()}).encode()
        except BaseException as exc:
            payload = json.dumps({"crash": f"{type(exc).__name__}: {exc}"[:500]}).encode()
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(w, view) :]
        finally:
            os._exit(0)
    os.close(w)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([r], [], [], left)
            if not ready:
                continue
            chunk = os.read(r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(r)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if timed_out:
        return {"harness_error": f"timed out after {timeout:.1f}s; probe killed"}
    try:
        result = json.loads(b"".join(chunks) or b"null")
    except ValueError:
        result = None
    if isinstance(result, dict) and isinstance(result.get("observation"), dict):
        return dict(result["observation"])
    if isinstance(result, dict) and "crash" in result:
        return {"harness_error": f"probe raised {result['crash']}"}
    code = os.waitstatus_to_exitcode(status)
    return {"harness_error": f"probe produced no result (exit status {code}); was its process replaced?"}


def inline(fn: Callable[[], Observation]) -> Observation:
    """Run a probe that only reads in this process; the same result shape as ``run``."""
    try:
        return dict(json.loads(json.dumps({"observation": fn()}))["observation"])
    except Exception as exc:
        return {"harness_error": f"probe raised {type(exc).__name__}: {exc}"[:500]}
