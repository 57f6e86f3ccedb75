"""Scratch space of a run whose sandproof was killed outright (SIGKILL, the OOM killer, a
CI job's hard stop): no ``finally`` runs then. Measured before this module, on Docker and
on runc alike: the sandbox went on running (the engine's client orphaned; a container the
workload keeps alive never ends), its /out tmpfs stayed mounted and its directory stayed in
/tmp, on every such kill, until someone noticed.

So each run holds an exclusive ``flock`` on a file in its scratch directory while it lives
(the kernel drops it when the process dies, however it dies; the fd is close-on-exec, so
the engine's client never inherits it), and every run first takes the lock of each scratch
directory it finds: taken means its owner is gone, and its container is killed and removed,
its /out unmounted and the directory deleted. A live run's lock is never taken; a directory
without a lock file (another version's, or not ours) is never touched. The container is
found on Docker, in sandproof's own podman storage (both by the /out they bind) and in
runc's or runsc's state (by its bundle).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from sandproof import cleanup, outdir, safedir
from sandproof.contract import RUNC_STATE_ROOT, RUNSC_STATE_ROOT

LOCK = ".sandproof-owner"
PREFIXES = ("sandproof-run-", "sandproof-workrun-", "sandproof-learn-")
_held: dict[Path, int] = {}


def scratch(prefix: str, *, reaping: bool = True) -> Path:
    """A new private scratch directory (``tempfile.mkdtemp``), locked as this process's,
    after removing what killed runs left (``reap``; attest does that while its run goes on)."""
    if reaping:
        reap()
    safedir.check_tempdir()
    work = Path(tempfile.mkdtemp(prefix=prefix))
    # locked under another name, then renamed: a reaper never finds the lock file not yet locked
    fd = os.open(work / f"{LOCK}.new", os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.rename(work / f"{LOCK}.new", work / LOCK)
    _held[work] = fd
    return work


def remove(work: Path) -> None:
    """Delete ``work`` (never recursing, never following a link), then let go of its lock."""
    try:
        cleanup.remove_tree(work)
    finally:
        fd = _held.pop(work, None)
        if fd is not None:
            os.close(fd)


def reap(top: Path | None = None) -> list[Path]:
    """Remove every scratch directory in ``top`` (the temporary directory) whose owner is dead."""
    root = top or Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith(PREFIXES)]
    except OSError:
        return removed
    for entry in entries:
        work = Path(entry.path)
        if work in _held:
            continue
        with contextlib.suppress(OSError):
            st = os.lstat(work)
            # made by mkdtemp for this user (0700 in sticky /tmp): nobody else could have put it there
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
                continue
            fd = os.open(work / LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its run is alive
                if not os.path.lexists(work / LOCK):
                    continue  # removed by its owner between the scan and the lock
                _stop(work)
                cleanup.remove_tree(work)
                removed.append(work)
            finally:
                os.close(fd)
    return removed


def _stop(work: Path) -> None:
    """Kill and remove the sandbox that used ``work``, then unmount its /out."""
    # runc's or runsc's (attest and run: "bundle"; learn: one "bundle-<id>" per traced run):
    # both state roots are read
    bundles = [e for e in os.scandir(work) if e.name.startswith("bundle") and e.is_dir(follow_symlinks=False)]
    for found in bundles:
        bundle = Path(found.path)
        _stop_runc(bundle)
        _stop_runsc(bundle)
        outdir.detach(bundle / "rootfs")  # its overlay (overlay.py), if it had one
    if not bundles:  # Docker's argv or podman's (the same): whichever engine holds a container that binds it
        _stop_docker(work / "out")
        _stop_podman(work / "out")
    outdir.detach(work / "out")


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout


def _stop_docker(out: Path) -> None:
    # a bind mount is matched by its source (moby daemon/list.go, the "volume" filter)
    ids = _run(["docker", "ps", "-aq", "--no-trunc", "--filter", f"volume={out}"]).split()
    if ids:
        _run(["docker", "rm", "--force", "--volumes", *ids])  # with an image VOLUME's anonymous volumes


def _stop_podman(out: Path) -> None:
    """sandproof's own podman storage (runtime/podman.py), where attest and run put theirs."""
    if shutil.which("podman") is None:
        return
    from sandproof.errors import Error  # noqa: PLC0415 - only for a killed podman run
    from sandproof.runtime.podman import Podman  # noqa: PLC0415 - as above

    rt = Podman()
    with contextlib.suppress(OSError, Error):
        for cid in rt.containers_using(out):
            rt.remove(cid, rt.env(dict(os.environ)))


def _stop_runc(bundle: Path) -> None:
    """The container whose state names ``bundle`` (runc labels every container ``bundle=PATH``)."""
    try:
        ids = os.listdir(RUNC_STATE_ROOT)
    except OSError:
        return
    label = f"bundle={bundle}"
    for cid in ids:
        try:
            with open(os.path.join(RUNC_STATE_ROOT, cid, "state.json"), encoding="utf-8") as f:
                labels = json.load(f).get("config", {}).get("labels") or []
        except (OSError, ValueError, AttributeError):
            continue
        if label in labels:
            _kill_and_delete(["runc", "--root", RUNC_STATE_ROOT], cid)


def _stop_runsc(bundle: Path) -> None:
    """The sandbox whose state names ``bundle``: runsc keeps one JSON file per container,
    ``<sandbox id>_sandbox:<container id>.state``, with its ``id`` and ``bundleDir``
    (gVisor runsc/container/container.go and state_file.go; read here of Debian's runsc 0.0~20221219).
    Killed outright, sandproof left its sentry and gofer running until someone noticed."""
    try:
        names = [n for n in os.listdir(RUNSC_STATE_ROOT) if n.endswith(".state")]
    except OSError:
        return
    for name in names:
        try:
            with open(os.path.join(RUNSC_STATE_ROOT, name), encoding="utf-8") as f:
                state = json.load(f)
        except (OSError, ValueError):
            continue
        cid = state.get("id") if isinstance(state, dict) else None
        if isinstance(cid, str) and state.get("bundleDir") == str(bundle):
            _kill_and_delete(["runsc", "--root", RUNSC_STATE_ROOT], cid)


def _kill_and_delete(root: list[str], cid: str) -> None:
    if shutil.which(root[0]) is None:
        return
    _run([*root, "kill", cid, "KILL"])
    _run([*root, "delete", "--force", cid])
