"""Progress on long steps, for a person at a terminal (issue 13): one status line on stderr,
redrawn in place with ``\\r`` while a step runs (the image build, its load, the run, the
verification) and erased when it ends. Not a terminal (a pipe, a CI log, a file): nothing
but the plain lines, so logs and tests read the same as before.

Stdlib only and imported by commands when they run, never by ``sandproof --help``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

INTERVAL_S = 0.2
"""How often the elapsed time is redrawn."""
ERASE = "\r\x1b[K"  # back to column 0, erase to the end of the line (ECMA-48 EL)

Step = Callable[[str], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def quiet(_what: str) -> Iterator[None]:
    """A step with no display (not a terminal, or a caller that shows nothing)."""
    yield


class Display:
    """Plain lines (``say``) and, on a terminal, a live line for each long ``step``."""

    def __init__(self, stream: TextIO, *, live: bool) -> None:
        self._stream = stream
        self._live = live
        self._lock = threading.Lock()
        self._shown = ""  # the live line on screen now, "" when none

    @classmethod
    def for_stream(cls, stream: TextIO) -> Display:
        try:
            tty = stream.isatty() and os.environ.get("TERM") != "dumb"
        except ValueError:  # closed
            tty = False
        return cls(stream, live=tty)

    @property
    def live(self) -> bool:
        return self._live

    def say(self, line: str) -> None:
        """A line that stays (above the live line, which is redrawn under it)."""
        with self._lock:
            self._write((ERASE if self._shown else "") + line + "\n" + self._shown)

    @contextlib.contextmanager
    def step(self, what: str) -> Iterator[None]:
        if not self._live:
            yield
            return
        done = threading.Event()
        start = time.monotonic()
        self._draw(f"sandproof: {what} …")  # at once: a short step is drawn and erased, never missed

        def tick() -> None:
            while not done.wait(INTERVAL_S):
                self._draw(f"sandproof: {what} … {time.monotonic() - start:.1f}s")

        ticker = threading.Thread(target=tick, name="sandproof-progress", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()
            self._draw("")

    def _draw(self, text: str) -> None:
        with self._lock:
            if text:
                text = text[: max(self._width() - 1, 10)]
            if text != self._shown:
                self._write(ERASE + text)
                self._shown = text

    def _width(self) -> int:
        try:
            columns = os.get_terminal_size(self._stream.fileno()).columns
        except (OSError, ValueError):
            columns = 0
        return columns or 80  # 0: a terminal that never said (a fresh pty, a serial line)

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # a terminal gone away is no reason to fail the run
            self._stream.write(text)
            self._stream.flush()
