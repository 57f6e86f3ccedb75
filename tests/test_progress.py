"""Progress on long steps (issue 13): a live line on a terminal (shown through a pty), nothing
but the plain lines when stderr is a pipe."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandproof.progress import ERASE, Display

WAIT_S = 60.0  # an upper bound for output to arrive, never a measured time


def _read_until(fd: int, needle: bytes, *, deadline: float) -> bytes:
    got = b""
    while needle not in got and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the slave side is closed
                break
            if not chunk:
                break
            got += chunk
    return got


def test_a_terminal_gets_a_live_line_erased_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    master, slave = pty.openpty()
    stream = os.fdopen(slave, "w", encoding="utf-8")
    try:
        display = Display.for_stream(stream)
        assert display.live
        with display.step("run: the probes"):
            drawn = _read_until(master, b"run: the probes", deadline=time.monotonic() + WAIT_S)
            display.say("sandproof: a line that stays")
            drawn += _read_until(master, b"stays", deadline=time.monotonic() + WAIT_S)
        stream.close()  # then everything written is read, up to EIO
        drawn += _read_until(master, b"\x00never", deadline=time.monotonic() + WAIT_S)
    finally:
        stream.close()
        os.close(master)
    text = drawn.decode()
    assert text.startswith(ERASE + "sandproof: run: the probes …")
    # a plain line clears the live line, stays, and the live line comes back under it
    assert (ERASE + "sandproof: a line that stays\r\nsandproof: run: the probes") in text
    assert text.endswith(ERASE)


def test_not_a_terminal_gets_the_plain_lines_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    stream = io.StringIO()
    display = Display.for_stream(stream)
    assert not display.live
    with display.step("run: the probes"):
        display.say("sandproof: a line")
    assert stream.getvalue() == "sandproof: a line\n"


def test_a_dumb_terminal_gets_no_live_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as stream:
        assert not Display.for_stream(stream).live
    os.close(master)


def _attest(out: Path, stderr: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TERM": "xterm", "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-m", "sandproof", "attest", "--runtime", "runc", "--out", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, env=env)


@pytest.mark.engine
def test_attest_shows_each_long_step_on_a_terminal_and_none_in_a_pipe(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    proc = _attest(tmp_path / "tty", slave)
    os.close(slave)
    try:
        screen = _read_until(master, b"\x00never", deadline=time.monotonic() + 5 * WAIT_S)
    finally:
        os.close(master)
    assert proc.wait() == 0
    text = screen.decode()
    for step in ("image: assembling", "image: handing it to runc", "run: the probes in the sandbox", "verify:"):
        assert f"{ERASE}sandproof: {step}" in text, step
    assert text.endswith(ERASE)  # nothing of the live line is left on the screen

    piped = _attest(tmp_path / "pipe", subprocess.PIPE)
    _, err = piped.communicate(timeout=5 * WAIT_S)
    assert piped.returncode == 0
    assert b"\r" not in err
    assert b"\x1b" not in err
    assert b"sandproof: run: runc" in err  # the plain lines are still there
