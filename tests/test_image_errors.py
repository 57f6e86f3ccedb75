"""A user's image that cannot be read whole (a full disk, here or in the engine): one line saying
what failed and what to do, exit 2, and nothing half-written left for a later run to take."""

from __future__ import annotations

import contextlib
import errno
import io
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from sandproof import image, unpack
from sandproof.cli import main
from sandproof.errors import ImageError
from sandproof.workload import images

IMAGE_ID = "sha256:" + "d" * 64
FULL = "Error response from daemon: write /var/lib/docker/tmp/docker-export-1/l/layer.tar: no space left on device"


def _cut_short_tar() -> bytes:
    """The first 20 KiB of a docker save stream whose layer is 64 KiB."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("0123/layer.tar")
        info.size = 64 << 10
        tar.addfile(info, io.BytesIO(b"\0" * info.size))
    return buf.getvalue()[: 20 << 10]


def _fake_docker(tmp_path: Path, said: str, code: int) -> str:
    """A docker CLI that has the image and whose ``save`` stops in the middle, saying ``said``."""
    (tmp_path / "stream").write_bytes(_cut_short_tar())
    cli = tmp_path / "docker"
    cli.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"if sys.argv[1:3] == ['image', 'inspect']: print({IMAGE_ID!r}); sys.exit(0)\n"
        f"sys.stdout.buffer.write(open({str(tmp_path / 'stream')!r}, 'rb').read()); sys.stdout.flush()\n"
        f"sys.stderr.write({said!r})\n"
        f"sys.exit({code})\n"
    )
    cli.chmod(0o755)
    return str(cli)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SANDPROOF_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _nothing_left(cache: Path) -> None:
    saved = cache / "saved"
    assert not saved.is_dir() or list(saved.iterdir()) == [], list(saved.iterdir())


def test_a_daemon_whose_disk_is_full_is_one_line(tmp_path: Path, cache: Path) -> None:
    """The engine's own temporary files filled its disk: the stream stops, the CLI says why."""
    cli = _fake_docker(tmp_path, FULL + "\n", 1)
    with pytest.raises(ImageError) as caught:
        images.from_docker("user/app:1", docker=cli)
    msg = caught.value.message
    assert msg.startswith("image 'user/app:1': reading it with `")
    assert "no space left on device" in msg
    assert "the disk is full: free space on the one holding" in msg
    assert "\n" not in msg
    _nothing_left(cache)


def test_a_short_read_the_engine_says_nothing_of_is_one_line(tmp_path: Path, cache: Path) -> None:
    cli = _fake_docker(tmp_path, "", 0)
    with pytest.raises(ImageError) as caught:
        images.from_docker("user/app:1", docker=cli)
    assert "unexpected end of data" in caught.value.message
    assert "cut short or damaged: if a disk is full" in caught.value.message
    _nothing_left(cache)


def test_our_own_disk_full_is_one_line(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC where sandproof writes the saved layers (the cache's disk)."""
    cli = _fake_docker(tmp_path, "", 0)

    def full(*_args: object, **_kw: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(cache / "saved" / "x"))

    monkeypatch.setattr(tarfile.TarFile, "extractall", full)
    monkeypatch.setattr(unpack, "extract", full)
    with pytest.raises(ImageError) as caught:
        images.from_docker("user/app:1", docker=cli)
    assert caught.value.message == (
        f"image 'user/app:1': reading it with `{cli} save`: No space left on device; the disk is full: "
        f"free space on the one holding {cache / 'saved'} (or set SANDPROOF_CACHE to a directory on another disk), "
        "and run again"
    )
    _nothing_left(cache)


def test_attest_says_it_in_one_line(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the CLI: exit 2 and one line, never ``internal error: ReadError``."""
    _fake_docker(tmp_path, FULL + "\n", 1)  # the docker on PATH
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["attest", "--runtime", "runc", "--image", "user/app:1", "--out", str(tmp_path / "out")])
    lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("sandproof: error") or "internal" in ln]
    assert code == 2
    assert len(lines) == 1, err.getvalue()
    assert lines[0].startswith("sandproof: error: image 'user/app:1': reading it with"), lines


def test_a_layer_archive_the_disk_cannot_hold_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docker load's and podman load's archive, written where the temporary directory's disk is full."""
    layer = tmp_path / "layer.tar"
    layer.write_bytes(b"x" * 1024)
    img = image.Image("user/app:1", IMAGE_ID, (layer,), b"{}")

    def full(*_args: object, **_kw: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tarfile.TarFile, "add", full)
    with pytest.raises(ImageError) as caught:
        image.docker_archive(img, tmp_path / "image.tar")
    assert caught.value.message.startswith("image user/app:1: writing it for the engine to load: No space left")
    assert "the disk is full" in caught.value.message


def test_an_old_save_that_cannot_be_replaced_is_one_line(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save read whole, over an older one cut short that cannot be removed: one line, nothing of ours left."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"[]"))
    (tmp_path / "whole").write_bytes(buf.getvalue())
    cli = tmp_path / "docker-whole"
    cli.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stdout.buffer.write(open({str(tmp_path / 'whole')!r}, 'rb').read())\n"
    )
    cli.chmod(0o755)
    dest = cache / "saved" / "x"
    (dest / "blobs").mkdir(parents=True)  # an older save cut short: no manifest.json

    real = shutil.rmtree

    def refused(path: Path, **kw: Any) -> None:
        if Path(path) == dest:
            raise PermissionError(errno.EACCES, "Permission denied", str(dest))
        real(path, **kw)

    monkeypatch.setattr(shutil, "rmtree", refused)
    with pytest.raises(ImageError) as caught:
        images._save("user/app:1", IMAGE_ID, str(cli), dest)
    assert caught.value.message.startswith(f"image 'user/app:1': storing what `{cli} save` gave: Permission denied")
    assert "\n" not in caught.value.message
    assert [p.name for p in dest.parent.iterdir()] == ["x"]  # the save read meanwhile is gone
