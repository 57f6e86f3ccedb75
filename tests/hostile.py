"""Hostile sandboxes: small Python scripts run by the image's interpreter instead of the
harness, through the real host path of ``attest`` (same argv, mounts, limits, cleanup).
Each does one thing a hostile workload would do to the host that reads what it wrote.

    python -m tests.hostile NAME --runtime docker|runc [--timeout S]   # prints attest's peak RSS
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

from sandproof import attest, image, profile
from sandproof.runtime.interface import Mutation
from sandproof.workload import run as workrun

PYTHON = "/usr/bin/python3.11"
RUN_DATE = "2026-11-28"
MIB = 1 << 20

_FILL = """
import os, sys
data, wrote, files = b"x" * (1 << 20), 0, 0
for i in range(400):  # 400 MiB in 1 MiB files (RLIMIT_FSIZE is per file)
    try:
        with open(f"/out/big-{i}", "wb") as f:
            f.write(data); wrote += len(data); files += 1
    except OSError:
        break
for i in range(100_000):
    try:
        with open(f"/out/small-{i}", "wb") as f:
            f.write(b"y"); wrote += 1; files += 1
    except OSError:
        break
print(f"WROTE {wrote} FILES {files}", file=sys.stderr)
"""

_DEEP = """
import os, sys
os.chdir("/out")
depth = 0
for _ in range(5000):
    try:
        os.mkdir("d"); os.chdir("d"); depth += 1
    except OSError:
        break
os.symlink("/etc/passwd", "passwd")
print(f"DEPTH {depth}", file=sys.stderr)
"""

_FLOOD = """
import os
block = b"A" * (1 << 20) + b"\\n"
for _ in range(400):
    os.write(1, block)
"""

_CONTROL = r"""
import sys
paint = "\x1b[2J\x1b[H\x1b]0;owned\x07PASS: everything\r\x1b[32mPASS\x1b[0m \u202e\x9b31m"
print(paint, file=sys.stderr, flush=True)
print(paint, flush=True)
sys.exit(3)
"""

_HANG = """
import os, time
n = 0
while True:
    with open("/out/spin", "wb") as f:
        f.write(b"z" * 4096 * (n % 64))
    n += 1
    time.sleep(0.01)
"""


# what `sandproof run` copies out of /out: shapes that cost the host far more than the bounded
# tmpfs they fit in (workload/files.py)
_AMPLIFY = """
import os, sys
with open("/out/a", "wb") as f:
    f.write(b"L" * (15 << 20))
links = sparse = 0
for i in range(400):  # tmpfs counts each link as an inode, never as bytes
    try:
        os.link("/out/a", f"/out/l{i}"); links += 1
    except OSError:
        break
for i in range(400):  # 16 MiB each (RLIMIT_FSIZE), no block used
    try:
        fd = os.open(f"/out/s{i}", os.O_CREAT | os.O_WRONLY, 0o644)
        os.ftruncate(fd, 16 << 20); os.close(fd); sparse += 1
    except OSError:
        break
print(f"LINKS {links} SPARSE {sparse}", file=sys.stderr)
"""

_NESTED = """
import os, sys
open(b"/out/not-utf8-\\xff", "w").write("x")  # JSON cannot carry the name
os.chdir("/out")
depth = 0
for name in ["d"] * 1000 + ["D" * 250] * 20:  # past the recursion limit, then past PATH_MAX
    try:
        os.mkdir(name); os.chdir(name); depth += 1
    except OSError:
        break
open("f", "w").write("x")
print(f"DEPTH {depth}", file=sys.stderr)
"""

_SPECIAL = """
import os, sys
os.chdir("/out")
open("suid", "wb").write(b"#!/bin/sh\\n")
os.chmod("suid", 0o6777)
os.setxattr("suid", "user.x", b"1")
os.mkfifo("fifo")
os.symlink("/etc/shadow", "shadow")
open("a\\nb\\x1b[2J", "w").write("x")
os.mkdir("locked"); open("locked/in", "w").write("x"); os.chmod("locked", 0)
print("SPECIAL done", file=sys.stderr)
"""


_DAEMON = """
import os, signal, sys, time
if os.fork() == 0:  # double-forked, its own session, deaf to SIGTERM and SIGHUP: it outlives the workload
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN); signal.signal(signal.SIGHUP, signal.SIG_IGN)
        n = 0
        while True:  # keeps changing /out while the host would read it
            with open("/out/daemon.tmp", "w") as f:
                f.write(str(n))
            os.replace("/out/daemon.tmp", "/out/daemon"); n += 1
    os._exit(0)
while not os.path.exists("/out/daemon"):
    time.sleep(0.001)
print("MAIN exits", file=sys.stderr)
"""


_WORKFLOW = r"""
import sys
open("/out/sandbox-attestation-inside.json", "w").write('{"schema": "sandproof/inside/v1", "##[add-mask]FAIL": 1}')
for line in ("  ::notice title=sandproof::PASS, every probe held", "##[error title=sandproof]x", "##[add-mask]FAIL"):
    print(line, file=sys.stderr, flush=True)  # the last line is the one attest's reason quotes
"""


def _bundle(text: str) -> str:
    return f"open('/out/sandbox-attestation-inside.json', 'w').write({text!r})\n"


SCRIPTS = {
    "fill-out": _FILL,
    "deep-tree": _DEEP,
    "flood-stdout": _FLOOD,
    "control-chars": _CONTROL,
    "workflow-commands": _WORKFLOW,
    "hang": _HANG,
    "amplify-out": _AMPLIFY,
    "nested-out": _NESTED,
    "special-out": _SPECIAL,
    "daemon-out": _DAEMON,
    "bundle-x": _bundle('{"x": 1}'),
    "bundle-probes-5": _bundle('{"probes": 5}'),
    "bundle-deep": _bundle("[" * 100_000 + "]" * 100_000),
    "marker-no-probes": 'print("SANDPROOF-BUNDLE " + \'{"schema": "sandproof/inside/v1"}\')\n',
    "marker-truncated": 'import os\nos.write(1, b"SANDPROOF-BUNDLE {\\"schema\\": ")\n',
}


def mutation(name: str) -> Mutation:
    """Run script ``name`` from the read-only input directory instead of the harness."""
    return Mutation(inputs=((f"{name}.py", SCRIPTS[name].encode()),), entrypoint=(PYTHON, "-S", f"/in/{name}.py"))


def run(
    name: str,
    runtime: str,
    out: Path,
    *,
    prof: profile.Profile | None = None,
    timeout_s: float = 120,
) -> attest.Attestation:
    p = prof or profile.load("default")
    return attest.attest(p, runtime=runtime, out=out, run_date=RUN_DATE, mutation=mutation(name), timeout_s=timeout_s)


def run_workload(name: str, runtime: str, out: Path, scratch: Path) -> workrun.Outcome:
    """``sandproof run`` of script ``name`` as the workload, in the profile's own image."""
    p = profile.load("default")
    scratch.mkdir()
    (scratch / f"{name}.py").write_text(SCRIPTS[name])
    rt = attest.select_runtime(runtime)
    args = ("-S", f"/in/{name}.py")
    return workrun.run(p, image.build(p), args, runtime=rt, out=out, in_dir=scratch, entrypoint=PYTHON)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _hwm_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def _reset_hwm() -> None:
    """Start the high-water mark again from the current RSS (proc(5): clear_refs "5", Linux 4.0)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def _warm(runtime: str) -> None:
    """What attest does before the run, done once before measuring: building the image and
    loading it into the engine (or unpacking it for runc) is not what a flood can grow."""
    img = image.build(profile.load("default"))
    if runtime == "docker":
        image.ensure_docker(img)
    else:
        image.rootfs(img)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(SCRIPTS))
    ap.add_argument("--runtime", choices=("docker", "runc"), required=True)
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args(argv)
    _warm(args.runtime)
    before = _hwm_mib()
    _reset_hwm()
    with tempfile.TemporaryDirectory(prefix="sandproof-hostile-") as tmp:
        result = run(args.name, args.runtime, Path(tmp), timeout_s=args.timeout)
    print(f"verdict {result.report.verdict}")
    print(f"peak RSS before the run {before:.1f} MiB (process: {peak_rss_mib():.1f} MiB)")
    print(f"peak RSS {_hwm_mib():.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
