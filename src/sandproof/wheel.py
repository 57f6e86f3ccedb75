"""The sandproof that is running, as a wheel: what ``init`` puts in a layout so its workflow
installs exactly this code, hash-checked, without any package index release.

Built from the package's own files (the modules and the data the package ships), not by a
build backend: offline, and reproducible by construction (sorted entries, one timestamp
from ``SOURCE_DATE_EPOCH``, fixed permissions, stored uncompressed so no zlib build changes a
byte). The same tree gives the same bytes, so ``init --check`` can rebuild and compare.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.metadata
import io
import os
import re
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sandproof import __version__
from sandproof.errors import OutputError

NAME = "sandproof"
TAG = "py3-none-any"
FILE_NAME = f"{NAME}-{__version__}-{TAG}.whl"
SUFFIXES = (".py", ".toml", ".json")
"""What the package ships (pyproject's package-data: profiles, lock, schemas, matrices)."""
ZIP_EPOCH = 315532800
"""1980-01-01T00:00:00Z: the earliest time a zip entry can hold, the default SOURCE_DATE_EPOCH."""
_PACKAGE = Path(__file__).resolve().parent
_DIST_INFO = f"{NAME}-{__version__}.dist-info"


@dataclass(frozen=True)
class Wheel:
    file_name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def epoch() -> int:
    """SOURCE_DATE_EPOCH (reproducible-builds.org), or 1980-01-01; never before 1980 (zip)."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "")
    try:
        value = int(raw) if raw else ZIP_EPOCH
    except ValueError:
        raise OutputError(f"SOURCE_DATE_EPOCH: expected seconds since 1970, got {raw!r}") from None
    return max(value, ZIP_EPOCH)


def _sources() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(_PACKAGE.rglob("*")):
        rel = path.relative_to(_PACKAGE.parent).as_posix()
        if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts:
            out.append((rel, path.read_bytes()))
    return out


def requirements() -> tuple[str, tuple[str, ...]]:
    """Requires-Python and the runtime Requires-Dist: from the source tree's pyproject.toml
    when running from a checkout (fresher than an editable install's metadata), else from the
    installed distribution."""
    pyproject = _PACKAGE.parent.parent / "pyproject.toml"
    if _PACKAGE.parent.name == "src" and pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        return project["requires-python"], tuple(project["dependencies"])
    try:
        meta = importlib.metadata.metadata(NAME)
    except importlib.metadata.PackageNotFoundError:
        raise OutputError("cannot find sandproof's installed metadata (its dependencies): install it") from None
    deps = tuple(r for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r)
    return meta["Requires-Python"] or "", deps


def _metadata() -> bytes:
    python, deps = requirements()
    lines = ["Metadata-Version: 2.1", f"Name: {NAME}", f"Version: {__version__}"]
    lines += [f"Requires-Python: {python}"] if python else []
    lines += [f"Requires-Dist: {r}" for r in deps]
    return ("\n".join(lines) + "\n").encode()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@functools.cache
def _build(stamp: int) -> Wheel:
    files = _sources()
    files += [
        (f"{_DIST_INFO}/METADATA", _metadata()),
        (
            f"{_DIST_INFO}/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: sandproof\nRoot-Is-Purelib: true\nTag: {TAG}\n".encode(),
        ),
        (f"{_DIST_INFO}/entry_points.txt", b"[console_scripts]\nsandproof = sandproof.cli:main\n"),
    ]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files)
    files.append((f"{_DIST_INFO}/RECORD", (record + f"{_DIST_INFO}/RECORD,,\n").encode()))
    when = time.gmtime(stamp)[:6]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=when)
            info.create_system = 3  # unix, so the mode below is read
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return Wheel(FILE_NAME, buf.getvalue())


def build() -> Wheel:
    """This sandproof as a wheel, the same bytes for the same tree and SOURCE_DATE_EPOCH."""
    return _build(epoch())


_REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9,._ -]*\])?")


def pinned_dependencies() -> str:
    """A pip requirements file of the wheel's dependencies at the versions running here (a
    dependency not installed keeps its range): CI installs what ``init`` ran with."""
    lines = ["# The dependencies of the sandproof wheel beside this file, at the versions `sandproof init` ran with."]
    for req in requirements()[1]:
        m = _REQUIREMENT.match(req)
        try:
            version = importlib.metadata.version(m[1]) if m else None
        except importlib.metadata.PackageNotFoundError:
            version = None
        lines.append(f"{m[1]}{m[2] or ''}=={version}" if m and version else req)
    return "\n".join(lines) + "\n"
