"""Writing results so a reader never sees half of them: every file is staged under a
temporary name beside its target, then all are renamed; on failure nothing is left."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sandproof import safedir
from sandproof.errors import OutputError


def publish(root: Path, files: Mapping[str, bytes], *, what: str, mode: int = 0o644, shown: Path | None = None) -> None:
    """Write ``files`` (paths relative to ``root``); ``what`` names the option for the error.
    ``shown``: the name errors give ``root`` when it is a ``/proc/self/fd/N`` of a directory
    opened without following links (render: the very directory that was checked). Any other
    ``root`` is held to ``safedir.check`` first: no other user's directory on the way, whose
    owner could redirect the write or swap what was written (review 19)."""
    named = shown or root
    if shown is None:  # a /proc/self/fd/N the caller opened and checked needs no walk
        safedir.check(root, what, create=True)
        # a directory made inside for a nested file: no one else's, even in a sticky root (review 20:
        # init's .github was another user's link in a 1777 directory)
        for sub in sorted({(root / rel).parent for rel in files} - {root}):
            safedir.check(sub, what, create=True, sticky_ok=False)
    for rel in files:
        refuse_special(root / rel, what, shown=named / rel)
    staged: list[tuple[Path, Path]] = []
    try:
        for rel, data in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            staged.append((Path(name), target))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                os.fchmod(f.fileno(), mode)  # mkstemp makes 0600; these are meant to be read
        for staging, target in staged:
            os.replace(staging, target)
    except OSError as exc:
        for staging, _ in staged:
            staging.unlink(missing_ok=True)
        raise OutputError(f"{what} {named}: cannot write ({exc.strerror or exc})") from exc


def refuse_special(target: Path, what: str, *, shown: Path | None = None) -> None:
    """A name that is there and is neither a regular file nor a link is never replaced: the
    rename would put a regular file where a device was (``learn --out /dev/null --force``
    made the host's /dev/null a regular file, every later redirection into it a write)."""
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"{what} {shown or target}: cannot write ({exc.strerror or exc})") from exc
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        kind = "a directory" if stat.S_ISDIR(mode) else "a device, FIFO or socket"
        raise OutputError(f"{what} {shown or target}: {kind}, not a regular file; not replaced (give a file's path)")
