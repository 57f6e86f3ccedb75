"""runc's writable view of the shared unpacked image (overlay.py, runtime/runc.py run_rootfs),
on the real kernel: what a run writes never reaches the shared tree, owners are the image's,
and nothing stays mounted."""

from __future__ import annotations

import os
from pathlib import Path

from sandproof import overlay
from sandproof.runtime.runc import run_rootfs


def _image(top: Path) -> Path:
    lower = top / "image"
    (lower / "home" / "nonroot").mkdir(parents=True)
    os.chown(lower / "home" / "nonroot", 65532, 65532)
    (lower / "home" / "nonroot").chmod(0o700)
    (lower / "etc").mkdir()
    (lower / "dev").mkdir()
    (lower / "etc" / "passwd").write_text("root:x:0:0::/root:/sbin/nologin\n")
    return lower


def _mounted(path: Path) -> bool:
    return any(line.split()[4] == str(path) for line in Path("/proc/self/mountinfo").read_text().splitlines())


def _cfg(readonly: bool, *destinations: str, cwd: str = "/", caps: tuple[str, ...] = ()) -> dict[str, object]:
    return {
        "root": {"readonly": readonly},
        "mounts": [{"destination": d} for d in ("/dev", *destinations)],
        "process": {"cwd": cwd, "capabilities": {"bounding": list(caps), "effective": list(caps)}},
    }


def test_a_writable_root_writes_beside_the_image_never_into_it(tmp_path: Path) -> None:
    lower = _image(tmp_path)
    before = sorted(str(p.relative_to(lower)) for p in lower.rglob("*"))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    with run_rootfs(_cfg(False), lower, bundle) as root:
        assert root == bundle / "rootfs"
        assert _mounted(root)
        st = os.stat(root / "home" / "nonroot")  # the image's owner, not root's (a copy lost it)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (65532, 65532, 0o700)
        (root / "etc" / "passwd").write_text("toor:x:0:0::/:/bin/sh\n")
        (root / "planted").write_text("x")
        (root / "data").mkdir()  # the mountpoint runc would make
    assert not _mounted(bundle / "rootfs")
    assert sorted(str(p.relative_to(lower)) for p in lower.rglob("*")) == before
    assert (lower / "etc" / "passwd").read_text() == "root:x:0:0::/root:/sbin/nologin\n"
    assert (bundle / "upper" / "planted").read_text() == "x"  # the run's changes, in its bundle


def test_a_run_that_could_write_the_tree_gets_the_overlay_and_a_read_only_root_with_all_of_them_none(
    tmp_path: Path,
) -> None:
    """Only a run nothing of which can write the shared tree uses it as it is (review 11)."""
    lower = _image(tmp_path)
    for name, cfg, shared in [
        ("missing", _cfg(True, "/data"), False),
        ("present", _cfg(True, "/etc", "/etc/passwd", "/home/nonroot/x/y"), False),  # y's parent x is missing
        ("all-there", _cfg(True, "/etc", "/home/nonroot"), True),
        ("writable", _cfg(False, "/etc"), False),
        ("cwd-there", _cfg(True, cwd="/home/nonroot"), True),
        ("cwd-missing", _cfg(True, cwd="/app"), False),  # runc makes it (setupCwd) before the root is read-only
        ("cwd-under-a-mount", _cfg(True, "/etc", cwd="/etc/x"), True),  # made in the mount, not the tree
        ("no-dev-mount", {**_cfg(True), "mounts": []}, False),  # runc makes its device nodes in /dev
        ("sys-admin", _cfg(True, caps=("CAP_CHOWN", "CAP_SYS_ADMIN")), False),  # mount -o remount,rw /
    ]:
        bundle = tmp_path / name
        bundle.mkdir()
        with run_rootfs(cfg, lower, bundle) as root:
            assert (root == lower) is shared, name
            assert _mounted(root) is not shared, name
        assert not _mounted(bundle / "rootfs")
        assert bundle.stat().st_mode & 0o777 == 0o700, name  # the merged view holds the image's setuid files


def test_a_path_overlay_cannot_carry_is_copied_instead(tmp_path: Path) -> None:
    """overlay's options are split on "," and ":": such a bundle path gets a copy, owners kept."""
    lower = _image(tmp_path)
    bundle = tmp_path / "a,b:c"
    bundle.mkdir()
    with run_rootfs(_cfg(False), lower, bundle) as root:
        assert root == bundle / "rootfs"
        assert not _mounted(root)
        assert os.stat(root / "home" / "nonroot").st_uid == 65532
        (root / "planted").write_text("x")
    assert not (lower / "planted").exists()
    assert (bundle / "rootfs" / "planted").exists()  # a copy stays with its bundle


def test_an_overlay_that_cannot_be_set_up_leaves_nothing_and_a_copy_takes_over(tmp_path: Path) -> None:
    lower = _image(tmp_path)
    bundle = tmp_path / "bundle"
    (bundle / "work").mkdir(parents=True)  # in the way: the overlay's setup fails half-way
    assert overlay.mount(lower, bundle) is None
    assert sorted(p.name for p in bundle.iterdir()) == ["work"]  # what it made is gone again
    with run_rootfs(_cfg(False), lower, bundle) as root:
        assert root == bundle / "rootfs"
        assert not _mounted(root)
