"""Writing results so a reader never sees half of them: every file is staged under a
temporary name beside its target, then all are renamed; on failure nothing is left."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sandproof.errors import OutputError


def publish(root: Path, files: Mapping[str, bytes], *, what: str) -> None:
    """Write ``files`` (paths relative to ``root``); ``what`` names the option for the error."""
    staged: list[tuple[Path, Path]] = []
    try:
        for rel, data in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            staged.append((Path(name), target))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(name, 0o644)  # mkstemp makes 0600; these are meant to be read
        for staging, target in staged:
            os.replace(staging, target)
    except OSError as exc:
        for staging, _ in staged:
            staging.unlink(missing_ok=True)
        raise OutputError(f"{what} {root}: cannot write ({exc.strerror or exc})") from exc
