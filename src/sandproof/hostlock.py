"""One reader/writer lock over the host's kernel settings, for every process on this machine.

A weakening that changes a host-wide setting (``weaken/hostkernel.py``: ASLR off in
``/proc/sys``) weakens every sandbox on the host while it lasts, not only its own: a run of
another test, another ``selftest`` or ``attest`` then FAILs for it. The runs that may overlap
one hold the lock shared (the test suite's engine tests, ``selftest``); a host-wide change holds
it exclusively, so it waits for every such run under way and none starts until it is undone.
A user's own ``attest`` does not take it: one run while a selftest has the host weakened
FAILs (PR-HOSTK-1 sees it), it cannot PASS.

Two ``flock(2)`` files, so a writer is not starved by readers that overlap forever (flock has
no writer preference: three xdist workers running engine tests back to back would keep a
shared lock held without a gap): a reader takes the *gate* shared only while it takes the
*lock* shared; a writer holds the gate exclusively from before it waits for the lock until it
is done, so no new reader starts meanwhile. flock is per open file and released by the kernel
when its holder dies, however it dies; a value a dead writer could not restore is restored by
the next lock holder from the journal (``restore_pending``).

In one process the lock is reentrant: a shared holder that asks for it exclusively gives up
its shared hold first (never waits for itself, never holds one lock while it waits for the
other: two such processes cannot deadlock), and takes it back after.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from sandproof import safedir

LOCK_ENV = "SANDPROOF_HOST_LOCK"
"""The lock file's path (tests of the lock itself); default ``host.lock`` in ``private_dir``."""
DEFAULT_DIR = Path("/run/lock")


def private_dir() -> Path | None:
    """``/run/lock/sandproof-host-<euid>`` (``/tmp`` where there is no /run/lock), made 0700 and
    checked to be this user's own directory, not a link: /run/lock and /tmp are world-writable,
    and the journal there names files a root process writes (``restore_pending``). Another user
    who made the name first would choose them. None when it is not this user's own."""
    base = DEFAULT_DIR if DEFAULT_DIR.is_dir() else Path("/tmp")  # noqa: S108 - checked below
    where = base / f"sandproof-host-{os.geteuid()}"
    return where if safedir.own_private(where) is None else None


def path() -> Path:
    given = os.environ.get(LOCK_ENV)
    if given:
        return Path(given)
    return (private_dir() or _own_scratch()) / "host.lock"


@functools.cache
def _own_scratch() -> Path:
    """Where no private directory can be had: one of this process's own (it locks out nothing
    beyond it, but it writes nowhere another user chose)."""
    return Path(tempfile.mkdtemp(prefix="sandproof-host-"))


def _journal() -> Path:
    return path().with_suffix(".restore")


class _State:
    """This process's holds: one file per lock while any is held."""

    def __init__(self) -> None:
        self.mutex = threading.RLock()
        self.fd: int | None = None
        self.shared = 0
        self.exclusive = 0


_STATE = _State()


def _open(p: Path) -> int | None:
    """The lock file, None where this user cannot create it (a non-root run cannot change a
    host-wide setting either: it has nothing to wait for)."""
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        return os.open(p, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None


def _gate(fd: int, op: int) -> None:
    gate = _open(path().with_suffix(".gate"))
    if gate is None:
        fcntl.flock(fd, op)
        return
    try:
        fcntl.flock(gate, fcntl.LOCK_EX if op == fcntl.LOCK_EX else fcntl.LOCK_SH)
        fcntl.flock(fd, op)
    finally:
        if op != fcntl.LOCK_EX:  # a reader lets go of the gate at once; a writer keeps it (_release)
            os.close(gate)
        else:
            _GATES.append(gate)


_GATES: list[int] = []


def _acquire(op: int) -> None:
    fd = _open(path())
    if fd is None:
        return
    try:
        _gate(fd, op)
    except BaseException:
        os.close(fd)
        raise
    _STATE.fd = fd


def _release() -> None:
    if _STATE.fd is not None:
        os.close(_STATE.fd)  # closing the last descriptor of the open file releases its flock
        _STATE.fd = None
    while _GATES:
        os.close(_GATES.pop())


@contextlib.contextmanager
def shared() -> Iterator[None]:
    """Held while a sandbox runs: no host-wide weakening starts until it is released."""
    with _STATE.mutex:
        first = _STATE.shared == 0 and _STATE.exclusive == 0
        if first:
            _acquire(fcntl.LOCK_SH)
            if _journal().exists():  # a writer died before it could restore: restore first
                _release()
                _acquire(fcntl.LOCK_EX)
                restore_pending()
                _release()
                _acquire(fcntl.LOCK_SH)
        _STATE.shared += 1
    try:
        yield
    finally:
        with _STATE.mutex:
            _STATE.shared -= 1
            if _STATE.shared == 0 and _STATE.exclusive == 0:
                _release()


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """Held while a host-wide setting is changed: waits for every run under way to end."""
    with _STATE.mutex:
        if _STATE.exclusive == 0:
            if _STATE.shared:
                _release()  # give up our own shared hold: never wait for ourselves
            _acquire(fcntl.LOCK_EX)
            restore_pending()
        _STATE.exclusive += 1
    try:
        yield
    finally:
        with _STATE.mutex:
            _STATE.exclusive -= 1
            if _STATE.exclusive == 0:
                _release()
                if _STATE.shared:
                    _acquire(fcntl.LOCK_SH)


def held() -> str | None:
    """ "exclusive", "shared" or None: this process's hold."""
    return "exclusive" if _STATE.exclusive else "shared" if _STATE.shared else None


def remember(file: Path, value: str) -> None:
    """Before a write under the exclusive lock: the value to put back should this process die."""
    journal = _journal()
    pending: dict[str, str] = json.loads(journal.read_text()) if journal.exists() else {}
    pending.setdefault(str(file), value)
    tmp = journal.with_suffix(".tmp")
    tmp.write_text(json.dumps(pending))
    tmp.replace(journal)


def forget(file: Path) -> None:
    """After the value is restored."""
    journal = _journal()
    if not journal.exists():
        return
    pending: dict[str, str] = json.loads(journal.read_text())
    pending.pop(str(file), None)
    if pending:
        journal.write_text(json.dumps(pending))
    else:
        journal.unlink()


def restore_pending() -> list[str]:
    """Put back what a writer that died left changed (under the exclusive lock); the files restored."""
    journal = _journal()
    if not journal.exists():
        return []
    pending: dict[str, str] = json.loads(journal.read_text())
    for file, value in pending.items():
        Path(file).write_text(value)
    journal.unlink()
    return sorted(pending)
