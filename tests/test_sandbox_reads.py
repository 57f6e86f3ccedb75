"""What the host reads of what a sandbox wrote (review 11, finding 8): the name in /out is the
sandbox's choice, so the host opens it ``O_PATH`` (no driver's open, no FIFO's reader side) and
reads only a regular file, that same inode. A FIFO and a device node (as root: /dev/null's 1:3;
the sandbox's /out tmpfs has no nodev) are refused without ever being opened for reading."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandproof import bundle, evidence
from sandproof.errors import BundleError
from sandproof.inspector.wire import BUNDLE_NAME
from sandproof.workload import files
from tests.conftest import null_device

REAL_OPEN = os.open
"""The test's own opens (the FIFO's writer and its release), never the spy's to record."""


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every ``os.open`` (path, flags) the code under test makes."""
    seen: list[tuple[str, int]] = []
    real: Callable[..., int] = REAL_OPEN

    def spy(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        seen.append((os.fsdecode(path), flags))
        return real(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", spy)
    return seen


def _only_o_path(seen: list[tuple[str, int]], name: str) -> None:
    at = [flags for path, flags in seen if os.path.basename(path) == name]
    assert at, seen
    assert all(flags & os.O_PATH for flags in at), f"{name} opened for reading: {at}"


def test_a_device_node_in_out_is_never_opened(tmp_path: Path, opened: list[tuple[str, int]]) -> None:
    null_device(tmp_path / BUNDLE_NAME)
    with pytest.raises(OSError, match="is not a regular file"):
        evidence.read_sandbox_file(str(tmp_path / BUNDLE_NAME))
    _only_o_path(opened, BUNDLE_NAME)
    assert (
        evidence.fetch_inside(str(tmp_path)) == f"{BUNDLE_NAME} in /out: {tmp_path / BUNDLE_NAME} is not a regular file"
    )


def test_a_fifo_in_out_is_never_opened_and_never_blocks(tmp_path: Path, opened: list[tuple[str, int]]) -> None:
    fifo = tmp_path / BUNDLE_NAME
    os.mkfifo(fifo)
    # a writer waits in open(2) until a reader opens the FIFO: were the host to open it for
    # reading (even O_NONBLOCK), this open would return
    writer_opened = threading.Event()

    def writer() -> None:
        fd = REAL_OPEN(fifo, os.O_WRONLY)
        writer_opened.set()
        os.close(fd)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        with pytest.raises(OSError, match="is not a regular file"):
            evidence.read_sandbox_file(str(fifo))
        _only_o_path(opened, BUNDLE_NAME)
        assert not writer_opened.wait(0.2)
    finally:
        os.close(REAL_OPEN(fifo, os.O_RDONLY | os.O_NONBLOCK))  # let the writer go
        t.join(10)


def test_a_symlink_is_refused_as_before_and_a_regular_file_read_bounded(tmp_path: Path) -> None:
    (tmp_path / "host").write_bytes(b"{}")
    (tmp_path / "link").symlink_to(tmp_path / "host")
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        evidence.read_sandbox_file(str(tmp_path / "link"))
    big = tmp_path / "big"
    with big.open("wb") as f:
        f.truncate(bundle.MAX_BYTES + 4096)
    assert len(evidence.read_sandbox_file(str(big))) == bundle.MAX_BYTES + 1
    assert evidence.read_sandbox_file(str(tmp_path / "host")) == b"{}"


def test_an_output_file_replaced_by_a_device_is_never_opened(tmp_path: Path, opened: list[tuple[str, int]]) -> None:
    """``run``'s walk of /out: a regular file seen, then a device in its place (a rename)."""
    (tmp_path / "f").write_bytes(b"x")
    seen = os.lstat(tmp_path / "f")
    os.unlink(tmp_path / "f")
    null_device(tmp_path / "f")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError, match="replaced while it was read"):
            files._open_regular("f", fd, seen)
    finally:
        os.close(fd)
    _only_o_path(opened, "f")
    listed = files.tree(tmp_path)  # listed as what it is, never read
    assert [(e["path"], e["type"]) for e in listed] == [("f", "other")]
    _only_o_path(opened, "f")


@pytest.mark.parametrize("follow", [True, False])
def test_a_bundle_given_to_verify_that_is_a_device_is_never_opened(
    tmp_path: Path, opened: list[tuple[str, int]], follow: bool
) -> None:
    """``verify DIR`` reads what a directory holds (a CI artifact, someone else's upload): a
    device named like a bundle is refused, its driver's open never run."""
    null_device(tmp_path / "evidence.json")
    with pytest.raises(BundleError, match="not a regular file"):
        bundle.read_bytes(tmp_path / "evidence.json", follow=follow)
    _only_o_path(opened, "evidence.json")


def test_a_bundle_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "evidence.json")
    with pytest.raises(BundleError, match="not a regular file"):
        bundle.read_bytes(tmp_path / "evidence.json")


def test_a_file_that_is_there_is_never_absent_without_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where /proc is not mounted the reopen through /proc/self/fd fails with ENOENT: that must
    not read as "no bundle" (attest would fall back to stdout) but say why (review 12)."""
    (tmp_path / BUNDLE_NAME).write_bytes(b"{}")

    def no_proc(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        if os.fsdecode(path).startswith("/proc/self/fd/"):
            raise FileNotFoundError(2, "No such file or directory", path)
        return REAL_OPEN(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", no_proc)
    got = evidence.fetch_inside(str(tmp_path))
    assert isinstance(got, str)
    assert "is /proc mounted?" in got
    with pytest.raises(BundleError, match="is /proc mounted"):
        bundle.read_bytes(tmp_path / BUNDLE_NAME)
