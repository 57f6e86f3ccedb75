"""The offline image: distroless shape, and reproducible (two builds, same ID)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tarfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandproof import image, profile, unpack
from sandproof.errors import ImageError
from sandproof.imagespec import Layer


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    shared = image.cache_dir() / "debs"
    if shared.is_dir():  # reuse downloaded .debs (checked by sha256 again); rebuild every layer
        shutil.copytree(shared, cache / "debs")
    monkeypatch.setenv("SANDPROOF_CACHE", str(cache))
    return cache


@pytest.mark.long
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


def _at_once(n: int, work: Callable[[], object]) -> list[object]:
    """``work`` in ``n`` threads released together; what each returned or raised."""
    start = threading.Barrier(n)

    def one() -> object:
        start.wait()
        try:
            return work()
        except Exception as exc:  # the test compares what each got
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: one(), range(n)))


def test_one_layer_written_by_several_at_once_is_whole(tmp_path: Path) -> None:
    """A first run's parallel workers build the same layer into one cache: each writes its own
    temporary file (one shared temporary name lost a writer its file: FileNotFoundError)."""
    layer = Layer(0)
    for i in range(200):
        layer.file(f"f{i}", bytes(4096))
    dest = tmp_path / "layer.tar"
    got = _at_once(6, lambda: layer.write(dest))
    assert got == [layer.diff_id()] * 6
    assert [p.name for p in tmp_path.iterdir()] == ["layer.tar"]


def test_one_image_unpacked_by_several_at_once(fresh_cache: Path, tmp_path: Path) -> None:
    layer = Layer(0)
    layer.file("etc/hostname", b"sandproof\n")
    path = tmp_path / "l.tar"
    layer.write(path)
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [layer.diff_id()]}}).encode()
    img = image.Image("x", "sha256:" + "ab" * 32, (path,), config)
    got = _at_once(6, lambda: image.rootfs(img))
    entry = fresh_cache / "rootfs" / (f"{unpack.FORMAT}-" + "ab" * 32)
    assert got == [entry / image.TREE] * 6
    assert (entry / image.TREE / "etc" / "hostname").read_bytes() == b"sandproof\n"
    assert [p.name for p in (fresh_cache / "rootfs").iterdir()] == [entry.name]
    assert sorted(p.name for p in entry.iterdir()) == [image.LISTING, image.SEAL, image.TREE]


def test_what_is_made_from_package_files_is_made_again_when_one_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build's memo (the inspector layer, the lock's facts) follows its files' state: any
    rewrite, new or removed file makes it again; a file changed in the last STABLE_S always does."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("a = 1\n")
    (pkg / "sub" / "b.py").write_text("b = 2\n")
    made: list[int] = []

    def make() -> int:
        made.append(1)
        return len(made)

    def memo() -> int:
        return image._memo(("test", str(pkg)), pkg, make)

    assert [memo(), memo()] == [1, 2]  # just written: never trusted yet
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 2 * image.STABLE_S)
    assert [memo(), memo()] == [3, 3]
    time.sleep(0.05)  # past the kernel's coarse clock tick (STABLE_S covers that in use)
    (pkg / "sub" / "b.py").write_text("b = 3\n")  # same size
    assert [memo(), memo()] == [4, 4]
    (pkg / "sub" / "c.py").write_text("")
    assert memo() == 5
    (pkg / "sub" / "c.py").unlink()
    assert memo() == 6
    (pkg / "a.py").rename(pkg / "z.py")
    assert memo() == 7
    assert image._memo(("test", "zip"), object(), make) == 8  # not plain files: made every time


def test_the_memo_gives_the_same_image_as_a_build_from_scratch(monkeypatch: pytest.MonkeyPatch) -> None:
    prof = profile.load("default")
    first = image.build(prof)
    monkeypatch.setattr(image, "_MADE", {})
    assert image.build(prof) == first


def _fake_docker(tmp_path: Path, tagged: str) -> tuple[str, Path]:
    """A docker CLI that holds ``tagged`` under every name, loads anything and logs what it is asked."""
    log = tmp_path / "docker.log"
    cli = tmp_path / "docker"
    cli.write_text(f'#!/bin/sh\necho "$*" >> {log}\n[ "$1 $2" = "image inspect" ] && echo {tagged}\nexit 0\n')
    cli.chmod(0o755)
    return str(cli), log


@pytest.mark.parametrize("held", [False, True])
def test_a_replaced_build_stays_while_a_run_holds_it(
    held: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sandproofs on one engine, each loading its own build under the same tag: the
    second's load removes the first's build only when no run of it is under way (runs name
    the image by ID: removing it made the first's run fail with "No such image")."""
    monkeypatch.setenv("SANDPROOF_CACHE", str(tmp_path / "cache"))
    first = "sha256:" + "a" * 64
    second = image.Image("sandproof/inspector:default", "sha256:" + "b" * 64, (), b"{}")
    monkeypatch.setattr(image, "docker_archive", lambda _img, dest: dest.write_bytes(b""))
    cli, log = _fake_docker(tmp_path, first)
    with image.in_use(first) if held else contextlib.nullcontext():
        image.ensure_docker(second, cli)
    asked = log.read_text().splitlines()
    assert asked[0] == "image inspect --format {{.Id}} sandproof/inspector:default"
    assert asked[1].startswith("load -i ")
    assert asked[2:] == ([] if held else [f"image rm {first}"])


def test_runs_of_one_build_share_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDPROOF_CACHE", str(tmp_path / "cache"))
    build = "sha256:" + "c" * 64
    # two runs of one build at once, and a load of another build that would remove it
    with image.in_use(build), image.in_use(build), image.unused(build) as unused:
        assert not unused
    with image.unused(build) as unused:
        assert unused


def _tree(root: Path) -> dict[str, tuple[int, int, int]]:
    return {str(p.relative_to(root)): (p.lstat().st_mode, p.lstat().st_uid, p.lstat().st_gid) for p in root.rglob("*")}


def test_runcs_rootfs_unpacks_alike_without_tarfile_filters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian 12's own python3 (3.11.2) has no extraction filters: the same tree, modes and
    owners as the fully_trusted filter gives (a runc attest from such a venv PASSes)."""
    img = image.build(profile.load("default"))
    trees = []
    for filters in dict.fromkeys((unpack.FILTERS, False)):  # True only where tarfile has filters
        monkeypatch.setenv("SANDPROOF_CACHE", str(tmp_path / f"cache-{filters}"))
        monkeypatch.setattr(unpack, "FILTERS", filters)
        trees.append(_tree(image.rootfs(img)))
    assert trees[0] == trees[-1]
    assert len(trees[0]) > 100


def test_runcs_rootfs_of_our_own_image_is_what_tarfile_unpacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checked unpacking (``unpack.apply``) changes nothing of sandproof's own layers: the
    same entries, modes and owners as tarfile's own extraction of them. The build is the
    shared one (a build from scratch, ~3 s, gives the same layers: test_two_builds_give_the_same_image_id),
    its unpacking a fresh one."""
    img = image.build(profile.load("default"))
    monkeypatch.setenv("SANDPROOF_CACHE", str(tmp_path / "cache"))
    plain = tmp_path / "plain"
    plain.mkdir()
    for layer in img.layers:
        with tarfile.open(layer) as tar:
            if unpack.FILTERS:
                tar.extractall(plain, numeric_owner=True, filter="fully_trusted")  # noqa: S202 - our own layers
            else:  # Debian 12's own python3 (3.11.2): no filters, every member as it is
                tar.extractall(plain, numeric_owner=True)  # noqa: S202 - as above
    assert _tree(image.rootfs(img)) == _tree(plain)


def test_runcs_rootfs_is_unpacked_only_from_the_layers_the_image_names(fresh_cache: Path, tmp_path: Path) -> None:
    """runc runs the layers the image's ID names (its config's diff_ids), or refuses: a layer
    file changed in the cache after ``docker save``, or a config naming fewer layers."""
    layer = Layer(0)
    layer.file("etc/hostname", b"sandproof\n")
    path = tmp_path / "l.tar"
    layer.write(path)
    other = "sha256:" + "0" * 64
    configs: list[dict[str, object]] = [{"rootfs": {"diff_ids": [other]}}, {"rootfs": {"diff_ids": []}}, {}]
    for config in configs:
        img = image.Image("x", "sha256:" + "ef" * 32, (path,), json.dumps(config).encode())
        with pytest.raises(ImageError):
            image.rootfs(img)
    assert not (fresh_cache / "rootfs" / (f"{unpack.FORMAT}-" + "ef" * 32)).exists()


def test_a_load_archive_names_every_layer_once(tmp_path: Path) -> None:
    """docker save puts every layer at <v1 id>/layer.tar: an archive naming them by their files'
    stem named two layers layer/layer.tar, which podman refuses ("used for two different DiffID
    values"). Each layer has a member of its own, with its own bytes."""
    layers = []
    for i in range(2):
        (tmp_path / f"v1-{i}").mkdir()
        layers.append(tmp_path / f"v1-{i}" / "layer.tar")
        layers[-1].write_bytes(f"layer {i}\n".encode())
    img = image.Image("x/two:layers", "sha256:" + "c" * 64, tuple(layers), b"{}")
    image.docker_archive(img, tmp_path / "image.tar")
    with tarfile.open(tmp_path / "image.tar") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        named = manifest[0]["Layers"]
        assert len(set(named)) == 2
        assert [tar.extractfile(n).read() for n in named] == [b"layer 0\n", b"layer 1\n"]  # type: ignore[union-attr]


def _one_file_image(tmp_path: Path, data: bytes = b"GOOD\n") -> image.Image:
    layer = Layer(0)
    layer.file("app/data.txt", data)
    layer.file("bin/helper", b"#!/bin/sh\n", mode=0o4755)
    path = tmp_path / "l.tar"
    layer.write(path)
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [layer.diff_id()]}}).encode()
    return image.Image("x", "sha256:" + "5e" * 32, (path,), config)


def test_the_unpacked_trees_are_no_other_users(fresh_cache: Path, tmp_path: Path) -> None:
    """Review 11 finding 3: a user's image unpacked for runc keeps its setuid-root files and
    device nodes; ``<cache>/rootfs`` and each tree's own entry are 0700 (a 0755 one made by an
    older sandproof is tightened), so no other user reaches them. The tree keeps the image's modes."""
    (fresh_cache / "rootfs").mkdir(parents=True, mode=0o755)
    (fresh_cache / "rootfs").chmod(0o755)
    img = _one_file_image(tmp_path)
    tree = image.rootfs(img)
    assert (fresh_cache / "rootfs").stat().st_mode & 0o7777 == 0o700
    assert tree.parent.stat().st_mode & 0o7777 == 0o700
    assert tree.parent.parent == fresh_cache / "rootfs"
    assert tree.stat().st_mode & 0o7777 == 0o755  # the image's root, as the engine makes it
    assert (tree / "bin" / "helper").stat().st_mode & 0o7777 == 0o4755  # the image's own, kept inside
    (fresh_cache / "rootfs").chmod(0o755)  # loosened again: the next use tightens it
    assert image.rootfs(img) == tree
    assert (fresh_cache / "rootfs").stat().st_mode & 0o7777 == 0o700


def test_a_cached_tree_changed_after_unpacking_is_refused(
    fresh_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 11 finding 1, defence in depth: an edit that keeps a file's size and restores its
    mtime (``touch -r``) still moves its ctime, which no process can set back: the next process
    to use the tree refuses it instead of attesting or running a tree that is not the image."""
    img = _one_file_image(tmp_path)
    tree = image.rootfs(img)
    monkeypatch.setattr(image, "_sealed", set())  # a later process
    assert image.rootfs(img) == tree  # unchanged: reused
    st = (tree / "app" / "data.txt").stat()
    time.sleep(0.02)  # past the kernel's coarse clock tick (ctime is jiffy-grained)
    with (tree / "app" / "data.txt").open("r+b") as f:
        f.write(b"EVIL")
    os.utime(tree / "app" / "data.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (tree / "app" / "data.txt").stat().st_size == st.st_size
    monkeypatch.setattr(image, "_sealed", set())
    with pytest.raises(ImageError, match=r"app/data.txt changed since it was unpacked"):
        image.rootfs(img)
    (tree.parent / image.SEAL).unlink()  # a tree without its seal is not trusted either
    with pytest.raises(ImageError, match="has no seal"):
        image.rootfs(img)


def _evaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Callable[[Path], None]) -> str:
    """The message refusing the one-file image's tree after ``change`` (review 12: a seal of
    ctimes alone let each of these through), or "" when the tree is reused."""
    img = _one_file_image(tmp_path)
    tree = image.rootfs(img)
    change(tree)
    monkeypatch.setattr(image, "_sealed", set())  # a later process
    try:
        assert image.rootfs(img) == tree
    except ImageError as exc:
        return str(exc)
    return ""


def _swap(tree: Path) -> None:
    (tree / "bin").rename(tree / "x")
    (tree / "app").rename(tree / "bin")
    (tree / "x").rename(tree / "app")


def _file_to_dir(tree: Path) -> None:
    (tree / "app" / "data.txt").unlink()
    (tree / "app" / "data.txt").mkdir()
    (tree / "app" / "data.txt" / "x").mkdir()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_swap, r"was 'f 4755 0:0 0 ./bin/helper'"),
        (lambda tree: (tree / "app" / "data.txt").unlink(), r"was 'f 644 0:0 0 ./app/data.txt'"),
        (_file_to_dir, r"now 'd 755 0:0 ./app/data.txt'"),
        (lambda tree: (tree / "app").chmod(0o777), r"now 'd 777 0:0 ./app'"),
    ],
    ids=["swap-two-directories", "remove-a-file", "a-file-made-a-directory", "a-directory-chmod"],
)
def test_a_cached_tree_renamed_removed_or_retyped_is_refused(
    fresh_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Callable[[Path], None], named: str
) -> None:
    """Review 12: renames and removals move only directories' ctimes, which the seal left out;
    the seal's listing (every entry's type, mode, owner and path) sees them, and names them."""
    refused = _evaded(tmp_path, monkeypatch, change)
    assert "since it was unpacked" in refused
    assert re.search(named, refused), refused


def test_an_added_or_removed_empty_directory_is_a_change_too(
    fresh_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No run makes anything in the shared tree any more (the harness's mountpoint is made by runc
    in the run's own overlay): an empty directory added or removed is a change like any other."""

    def added(tree: Path) -> None:
        (tree / ".sandproof").mkdir()

    assert re.search(r"now 'd 755 0:0 ./.sandproof'", _evaded(tmp_path, monkeypatch, added))


def test_trees_of_other_formats_are_pruned_once_a_new_one_is_unpacked(fresh_cache: Path, tmp_path: Path) -> None:
    """``rootfs`` keys its trees by ``unpack.FORMAT``: an older sandproof's never serve again,
    ~40 MB each. Unpacking a new tree removes them (an interrupted prune's leftover too), and
    nothing of another shape in the cache directory."""
    top = fresh_cache / "rootfs"
    top.mkdir(parents=True)
    old = ("u2-" + "a" * 64, "u4-" + "b" * 64, ".pruning-u3-" + "c" * 64, ".pruning-u4-" + "b" * 64)
    for name in old:
        (top / name / "tree" / "bin").mkdir(parents=True)
        (top / name / "tree" / "bin" / "sh").write_text("x")
    (top / ("u2-" + "d" * 64 + ".lines-1.json")).write_text("{}")
    newer = f"u{int(unpack.FORMAT.removeprefix('u')) + 1}-" + "f" * 64  # a newer sandproof may run from it
    kept = ("mine", "u2-short", ".unpacking-x", f"{unpack.FORMAT}-" + "e" * 64, newer)
    for name in kept:
        (top / name).mkdir()
    tree = image.rootfs(_one_file_image(tmp_path))
    assert sorted(os.listdir(top)) == sorted([*kept, tree.parent.name])
    assert image.prune_other_formats(top) == []  # nothing more to remove
