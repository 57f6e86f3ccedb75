"""The unpacked image tree runc, runsc and ``learn`` share (``image.rootfs``) is never written by
a run (review 11, finding 1): a profile whose root is writable edited a file there in place
(the size kept, the mtime put back), PR-ROOTFS-1 (names, modes, owners, sizes, mtimes) could
not see it, and every later strict attest PASSed the poisoned tree. Now such a run gets a
private overlay of the tree in its own scratch directory (``runtime/runc.py run_rootfs``)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandproof import attest, image, profile, unpack
from sandproof.inspector.wire import Verdict
from sandproof.runtime.interface import Mutation
from sandproof.workload import images, learn
from sandproof.workload import run as workrun
from sandproof.workload.carried import MOUNT_POINT
from tests.conftest import RUN_DATE

pytestmark = pytest.mark.engine
DEFAULT = profile.load("default")
LOOSE = profile.parse(
    (Path(profile.__file__).parent / "profiles" / "default.toml")
    .read_text()
    .replace("read_only_rootfs = true", "read_only_rootfs = false"),
    "loose.toml",
)
EDIT = (
    "printf EVIL | dd of=/app/data.txt conv=notrunc 2>/dev/null; touch -r /app/ref.txt /app/data.txt; "
    "echo planted > /app/new; cat /app/data.txt"
)
"""What review 11's workload did: the same size, the mtime restored; and a file planted."""


@pytest.fixture
def poisonable(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, image.Image, bytes]]:
    """busybox plus /app/data.txt that the sandbox's user owns (and may write where the root is
    writable): an image of its own (a token in the file), as a built-in workload name, its tree
    removed after (on the old code the run poisoned it)."""
    token = uuid.uuid4().hex
    good = f"GOOD {token}\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        d = tarfile.TarInfo("./app")
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
        tar.addfile(d)
        for name in ("data.txt", "ref.txt"):
            f = tarfile.TarInfo(f"./app/{name}")
            f.size, f.mode, f.mtime, f.uid, f.gid = len(good), 0o644, 1_700_000_000, 65532, 65532
            tar.addfile(f, io.BytesIO(good))
    layer = images._store(buf.getvalue(), f"poisonable-{token[:8]}")
    img = images._busybox_plus(f"poisonable-{token[:8]}", [layer], ["sandproof test: a file the sandbox user owns"])
    name = f"busybox-poisonable-{token[:8]}"
    monkeypatch.setitem(images.BUILT_IN, name, lambda: img)
    try:
        yield name, img, good
    finally:
        shutil.rmtree(image.rootfs_dir() / f"{unpack.FORMAT}-{img.image_id.split(':')[1]}", ignore_errors=True)
        layer[0].unlink(missing_ok=True)


Snapshot = dict[str, tuple[int, int, int, int, int, str]]


def _snapshot(tree: Path) -> Snapshot:
    """Every entry of the tree: mode, owner, size, mtime, ctime, and a regular file's sha256."""
    got = {}
    for p in sorted(tree.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else ""
        got[str(p.relative_to(tree))] = (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest)
    return got


def _unchanged_and_attested(name: str, img: image.Image, good: bytes, before: Snapshot, out: Path) -> None:
    tree = image.rootfs(img)
    assert (tree / "app" / "data.txt").read_bytes() == good
    after = _snapshot(tree)
    point = MOUNT_POINT.lstrip("/")  # the harness's empty mountpoint, sandproof's own (runc.py)
    if point in after and point not in before:
        assert not os.listdir(tree / point)
        del after[point]
    assert after == before  # byte for byte, ctimes too: nothing was written
    image._sealed.clear()  # as the next process finds it: the seal holds
    assert image.rootfs(img) == tree
    result = attest.attest(profile.with_workload(DEFAULT, name), runtime="runc", out=out, run_date=RUN_DATE)
    failed = {p.probe_id: p.reason for p in result.report.probes if p.verdict != Verdict.PASS}
    assert result.report.verdict == Verdict.PASS, failed


@pytest.mark.engine("runc")
def test_a_writable_root_run_leaves_the_shared_tree_as_unpacked(
    poisonable: tuple[str, image.Image, bytes], tmp_path: Path
) -> None:
    """``sandproof run`` under a profile whose root is writable: the workload's edit lands (it
    reads it back), in its own overlay; the shared tree is the image's, and a strict attest PASSes."""
    name, img, good = poisonable
    before = _snapshot(image.rootfs(img))
    got = workrun.run(LOOSE, img, ("/bin/sh", "-c", EDIT), runtime=attest.select_runtime("runc"), out=tmp_path / "r")
    assert got.exit_code == 0, got.receipt
    assert got.receipt["stdout"]["tail"].startswith("EVIL"), got.receipt["stdout"]  # written, in the run's own view
    _unchanged_and_attested(name, img, good, before, tmp_path / "att")


@pytest.mark.engine("runc")  # learn traces runc
def test_a_writable_root_learn_leaves_the_shared_tree_as_unpacked(
    poisonable: tuple[str, image.Image, bytes], tmp_path: Path
) -> None:
    name, img, good = poisonable
    before = _snapshot(image.rootfs(img))
    learned = learn.learn(LOOSE, img, ("/bin/sh", "-c", EDIT), runs=1)
    assert learned.runs[0].exit_code == 0, learned.runs[0]
    _unchanged_and_attested(name, img, good, before, tmp_path / "att")


@pytest.mark.parametrize("runtime", ["runc", "runsc"])
def test_a_writable_root_attest_leaves_the_shared_tree_as_unpacked(
    runtime: str, poisonable: tuple[str, image.Image, bytes], tmp_path: Path
) -> None:
    """attest's own run on runc and runsc (the same bundle code) with hostile code in place of
    the harness, under a profile whose root is writable."""
    name, img, good = poisonable
    before = _snapshot(image.rootfs(img))
    hostile = Mutation(entrypoint=("/bin/sh", "-c", EDIT))
    loose = profile.with_workload(LOOSE, name)
    attest.attest(loose, runtime=runtime, out=tmp_path / "weak", run_date=RUN_DATE, mutation=hostile)
    _unchanged_and_attested(name, img, good, before, tmp_path / "att")


@pytest.fixture
def dangling(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, image.Image]]:
    """busybox whose /tmp (where every profile mounts a tmpfs) is a dangling symlink to
    /planted/by/runc (review 12's dangle_run.sh), as a built-in workload name; its tree removed after."""
    token = uuid.uuid4().hex
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        link = tarfile.TarInfo("./tmp")
        link.type, link.linkname, link.mtime = tarfile.SYMTYPE, "/planted/by/runc", 1_700_000_000
        tar.addfile(link)
    layer = images._store(buf.getvalue(), f"dangling-{token[:8]}")
    img = images._busybox_plus(f"dangling-{token[:8]}", [layer], ["sandproof test: /tmp a dangling symlink"])
    name = f"busybox-dangling-{token[:8]}"
    monkeypatch.setitem(images.BUILT_IN, name, lambda: img)
    try:
        yield name, img
    finally:
        shutil.rmtree(image.rootfs_dir() / f"{unpack.FORMAT}-{img.image_id.split(':')[1]}", ignore_errors=True)
        layer[0].unlink(missing_ok=True)


@pytest.mark.engine("runc")
@pytest.mark.parametrize("how", ["run", "attest"])
def test_a_symlink_at_a_mountpoint_makes_nothing_in_the_shared_tree(
    how: str, dangling: tuple[str, image.Image], tmp_path: Path
) -> None:
    """Review 12: /tmp was found present (the host's lexists sees the link), the run used the
    shared tree, and runc, following the link inside it (securejoin, MkdirAll), made
    /planted/by/runc there. Now the mountpoint counts missing: the run gets a private overlay,
    the shared tree stays the image's and its seal accepts it."""
    name, img = dangling
    tree = image.rootfs(img)
    before = _snapshot(tree)
    if how == "run":
        got = workrun.run(DEFAULT, img, ("/bin/true",), runtime=attest.select_runtime("runc"), out=tmp_path / "r")
        assert got.exit_code == 0, got.receipt
    else:
        hostile = Mutation(entrypoint=("/bin/true",))
        attest.attest(
            profile.with_workload(DEFAULT, name),
            runtime="runc",
            out=tmp_path / "a",
            run_date=RUN_DATE,
            mutation=hostile,
        )
    assert not (tree / "planted").exists()
    after = _snapshot(tree)
    point = MOUNT_POINT.lstrip("/")  # the harness's empty mountpoint, sandproof's own (runc.py)
    if point in after and point not in before:
        assert not os.listdir(tree / point)
        del after[point]
    assert after == before
    image._sealed.clear()  # as the next process finds it: the seal holds
    assert image.rootfs(img) == tree
