"""An LD_PRELOAD shim that makes libc's syscall(), ptrace() and socket() answer EPERM while
the kernel allows everything (the adversarial review's trick) fools libc callers, not the
raw stubs the sweep and the user-namespace routes use."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SHIM = r"""
#include <errno.h>
long syscall(long nr, ...) { errno = EPERM; return -1; }
long ptrace(int request, ...) { errno = EPERM; return -1; }
int socket(int domain, int type, int protocol) { errno = EPERM; return -1; }
"""
CHILD = """
import ctypes, os, socket
from sandproof.inspector import rawsys, syscalls
libc = ctypes.CDLL(None, use_errno=True)  # the global namespace, where the preload wins
arch = syscalls.machine()
assert libc.syscall(syscalls.number("unshare", arch), 0) == -1 and ctypes.get_errno() == 1, "shim not loaded"
try:
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raise SystemExit("the shim did not fool libc's socket()")
except PermissionError:
    pass
assert rawsys.call(syscalls.number("unshare", arch), 0) == 0
fd = rawsys.call(syscalls.number("socket", arch), socket.AF_UNIX, socket.SOCK_STREAM, 0)
assert fd >= 0, fd
print("raw path unaffected")
"""


def test_raw_path_sees_through_a_preloaded_libc_shim(tmp_path: Path) -> None:
    assert shutil.which("cc") is not None, "no C compiler: the preload weakenings need one too (gcc)"
    (tmp_path / "shim.c").write_text(SHIM)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(tmp_path / "shim.so"), str(tmp_path / "shim.c")], check=True)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "LD_PRELOAD": str(tmp_path / "shim.so"), "PYTHONPATH": src}
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "raw path unaffected" in proc.stdout
