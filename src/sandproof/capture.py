"""What a sandbox prints, read in bounded memory: the first and the last bytes of each
stream and the total count, however much it writes (a 400 MB flood must not become
1.2 GiB of host memory). Everything kept is untrusted text until escaped (``printable``).
"""

from __future__ import annotations

import io
import re
import subprocess
import threading
from dataclasses import dataclass
from typing import IO

CHUNK = 1 << 16
HEAD_BYTES = 1 << 16
STDERR_TAIL_BYTES = 1 << 16


@dataclass(frozen=True)
class Captured:
    """One stream, bounded."""

    head: bytes
    """The first bytes, up to the head limit."""
    tail: bytes
    """The last bytes after ``head`` (never overlapping it), up to the tail limit."""
    total: int
    """Every byte the stream carried, counted."""

    @property
    def dropped(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        """Head and tail as text, with a line saying how much was left out between them."""
        gap = f"\n[... {self.dropped} bytes left out ...]\n" if self.dropped else ""
        return self.head.decode(errors="replace") + gap + self.tail.decode(errors="replace")


EMPTY = Captured(b"", b"", 0)


class Pump:
    """Drains one pipe in a thread, keeping ``head`` bytes and the last ``tail`` bytes."""

    def __init__(self, stream: IO[bytes], *, head: int = HEAD_BYTES, tail: int) -> None:
        self._stream, self._head_max, self._tail_max = stream, head, tail
        self._head = bytearray()
        # the tail is one ring of ``tail`` bytes, made when the head is full: no allocation per
        # read, so the heap cannot fragment while other threads allocate (a deque of 64 KiB
        # blocks interleaved with attest's imports after the run peaked at 136 MiB under load)
        self._ring: bytearray | None = None
        self._pos, self._wrapped, self._total = 0, False, 0
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        # read into one fixed block and keep whole blocks: a slow writer gives short reads,
        # and keeping each short read as its own object (allocated at CHUNK, then shrunk)
        # fragments the heap to several times the bytes kept (151 MiB peak seen under load)
        raw = io.FileIO(self._stream.fileno(), "rb", closefd=False)
        block, filled = bytearray(CHUNK), 0
        try:
            with memoryview(block) as view:
                while n := raw.readinto(view[filled:]):
                    self._total += n
                    filled += n
                    if filled == CHUNK:
                        self._take(view)
                        filled = 0
        except OSError:
            pass  # the pipe went away with its writer: what was read is kept
        finally:
            if filled:
                self._take(block[:filled])
            raw.close()
            self._stream.close()

    def _take(self, chunk: bytes | bytearray | memoryview) -> None:
        room = self._head_max - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk or not self._tail_max:
            return
        if self._ring is None:
            self._ring = bytearray(self._tail_max)
        ring, size = self._ring, self._tail_max
        if len(chunk) >= size:
            ring[:] = chunk[len(chunk) - size :]
            self._pos, self._wrapped = 0, True
            return
        end = self._pos + len(chunk)
        if end <= size:
            ring[self._pos : end] = chunk
        else:
            first = size - self._pos
            ring[self._pos :] = chunk[:first]
            ring[: end - size] = chunk[first:]
        self._wrapped = self._wrapped or end >= size
        self._pos = end % size

    def result(self, timeout: float | None = None) -> Captured:
        """What was read; waits for the writer to close (or ``timeout`` seconds)."""
        self._thread.join(timeout)
        ring, pos = self._ring, self._pos
        if ring is None:
            return Captured(bytes(self._head), b"", self._total)
        with memoryview(ring) as view:  # one copy of the kept bytes, none of the parts
            tail = b"".join((view[pos:], view[:pos]) if self._wrapped else (view[:pos],))
        return Captured(bytes(self._head), tail, self._total)


def pumps(proc: subprocess.Popen[bytes], *, stdout_tail: int) -> tuple[Pump, Pump]:
    if proc.stdout is None or proc.stderr is None:
        raise ValueError("both streams must be pipes")
    return Pump(proc.stdout, tail=stdout_tail), Pump(proc.stderr, tail=STDERR_TAIL_BYTES)


def escape(c: str) -> str:
    """One character as Python writes it in a string literal's escape (``\\x1b``, ``\\u200b``)."""
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def inert(text: str) -> str:
    """Untrusted printable text that cannot be a GitHub Actions workflow command wherever a
    report puts it in a log line: the runner runs ``::cmd::data`` when a line starts with it
    after leading white space, and the legacy ``##[cmd]data`` anywhere in a line
    (actions/runner src/Runner.Common/ActionCommand.cs, TryParseV2 and TryParse, both tried by
    ActionCommandManager.TryProcessCommand): ``add-mask`` would hide the word FAIL from the rest
    of the log, ``error``/``notice`` would post an annotation the verifier never wrote. So a
    leading ``:`` and every ``#`` that a ``#`` or ``[`` (or the text's end) follows are shown as
    escapes, like any other character that is not plain text here."""
    if text[:1] == ":" or (text[:1].isspace() and text.lstrip().startswith(":")):
        lead = len(text) - len(text.lstrip())
        text = text[:lead] + "\\x3a" + text[lead + 1 :]
    return _HASH.sub(r"\\x23", text) if "#" in text else text


_HASH = re.compile(r"#(?=[#\[]|\Z)")


def relayed(text: str) -> str:
    """A sandbox's own output passed on to ours (``sandproof run``: the workload's stdout and
    stderr), line by line ``printable`` and ``inert``: a CI log shows what the workload
    printed, and runs none of it as a workflow command. GitHub's ``::stop-commands::`` cannot
    do this: the runner reads stdout and stderr through separate pipes, so a line on one is
    not ordered against the token on the other."""
    return "\n".join(inert(line) for line in printable(text, newlines=True).split("\n"))


def printable(text: str, *, newlines: bool = False) -> str:
    """Untrusted text made safe to echo: every character Python calls unprintable (C0 and
    C1 controls, DEL, format characters such as bidi overrides, CVE-2021-42574, unassigned
    code points, separators but the space) shown as an escape (``\\x1b``), so nothing from
    a sandbox can repaint a terminal or a table. Newlines are kept only when ``newlines``."""
    if text.isprintable():
        return text
    keep = "\n" if newlines else ""
    return "".join(c if c.isprintable() or c in keep else escape(c) for c in text)
