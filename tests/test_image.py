"""The offline image: distroless shape, and reproducible (two builds, same ID)."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from sandproof import image, profile


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    shared = image.cache_dir() / "debs"
    if shared.is_dir():  # reuse downloaded .debs (checked by sha256 again); rebuild every layer
        shutil.copytree(shared, cache / "debs")
    monkeypatch.setenv("SANDPROOF_CACHE", str(cache))
    return cache


def test_two_builds_give_the_same_image_id(fresh_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = image.build(profile.load("default"))
    second_cache = tmp_path / "cache2"
    shutil.copytree(fresh_cache / "debs", second_cache / "debs")
    monkeypatch.setenv("SANDPROOF_CACHE", str(second_cache))
    second = image.build(profile.load("default"))
    assert first.image_id == second.image_id
    assert [p.read_bytes() == q.read_bytes() for p, q in zip(first.layers, second.layers, strict=True)] == [True, True]


def test_distroless_shape() -> None:
    img = image.build(profile.load("default"))
    with tarfile.open(img.layers[0]) as tar:
        names = set(tar.getnames())
        passwd = tar.extractfile("./etc/passwd").read().decode()  # type: ignore[union-attr]
        tmp = tar.getmember("./tmp")
    assert "./usr/bin/python3.11" in names
    assert "./usr/lib/python3.11/ctypes/__init__.py" in names
    for absent in ("./bin/sh", "./usr/bin/sh", "./bin/bash", "./usr/bin/apt", "./usr/bin/dpkg"):
        assert absent not in names
    assert "nonroot:x:65532:65532:" in passwd
    assert tmp.mode == 0o1777
    with tarfile.open(img.layers[1]) as tar:
        app = set(tar.getnames())
    assert {"./app/main.py", "./app/inspector/harness.py", "./app/inspector/guard.py"} <= app


def test_the_locked_mappable_files_are_the_base_layers_own() -> None:
    """PR-INTEGRITY-1 allows exactly these files, by sha256: they must be what the pinned
    packages give (the base layer's diff_id is pinned, so this list follows from it)."""
    built = image.build(profile.load("default"))
    assert image.mappable_files(built.layers[0]) == image.locked_mappable_files()
    assert "/lib/x86_64-linux-gnu/libc.so.6" in image.locked_mappable_files()


def test_unlistable_dirs_follow_the_image_and_the_user() -> None:
    assert image.unlistable(65532, 65532) == ["/root"]
    assert image.unlistable(0, 0) == ["/home/nonroot"]
    assert image.unlistable(1000, 1000) == ["/home/nonroot", "/root"]
