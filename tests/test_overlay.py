"""runc's writable view of the shared unpacked image (overlay.py, runtime/runc.py run_rootfs),
on the real kernel: what a run writes never reaches the shared tree, owners are the image's,
and nothing stays mounted."""

from __future__ import annotations

import builtins
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from sandproof import cleanup, overlay
from sandproof.errors import EngineError
from sandproof.runtime import runc
from sandproof.runtime.runc import run_rootfs
from sandproof.runtime.runsc import Runsc


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


def _hostile(top: Path) -> Path:
    """An image tree as a user's may be: a character device (1:3, harmless here; the host's
    disk's in review 11's image), a FIFO, a socket, a setuid file of another user with a file
    capability, a hard link, a symlink, a 0555 directory, mtimes of its own."""
    lower = _image(top)
    os.mknod(lower / "dev" / "node", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mkfifo(lower / "fifo", 0o640)
    os.mknod(lower / "sock", stat.S_IFSOCK | 0o755)
    tool = lower / "tool"
    tool.write_bytes(b"\x7fELF not really\n")
    os.chown(tool, 65532, 65532)
    tool.chmod(0o6755)  # after the chown, which clears it
    os.setxattr(tool, "security.capability", CAP_NET_RAW)
    os.setxattr(tool, "user.note", b"kept")
    os.link(tool, lower / "tool-link")
    (lower / "etc" / "link").symlink_to("../tool")
    os.lchown(lower / "etc" / "link", 65532, 0)
    (lower / "ro").mkdir()
    (lower / "ro" / "f").write_text("x")
    for p in sorted(lower.rglob("*"), reverse=True):
        os.utime(p, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000), follow_symlinks=False)
    (lower / "ro").chmod(0o555)
    return lower


CAP_NET_RAW = bytes.fromhex("0100000200200000000000000000000000000000")
"""VFS_CAP_REVISION_2, permitted CAP_NET_RAW (bit 13), effective: ``setcap cap_net_raw+ep``."""


def _entries(tree: Path) -> dict[str, tuple[object, ...]]:
    got: dict[str, tuple[object, ...]] = {}
    for p in [tree, *sorted(tree.rglob("*"))]:
        st = os.lstat(p)
        body: object = None
        if stat.S_ISREG(st.st_mode):
            body = p.read_bytes()
        elif stat.S_ISLNK(st.st_mode):
            body = os.readlink(p)
        xattrs = {k: os.getxattr(p, k, follow_symlinks=False) for k in os.listxattr(p, follow_symlinks=False)}
        got[str(p.relative_to(tree))] = (
            stat.S_IFMT(st.st_mode),
            st.st_mode,
            st.st_uid,
            st.st_gid,
            st.st_rdev,
            st.st_nlink,
            st.st_mtime_ns,
            body,
            xattrs,
        )
    return got


def test_the_copy_where_overlay_is_refused_is_the_image_and_opens_no_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 12: shutil.copytree opened and read the image's device nodes (a node of the host's
    disk copied the disk into the run's root) and made them regular files, and the owners set
    after it cleared the setuid bits. The copy is now the image, entry for entry: type, mode,
    owner, rdev, links, times, attributes; only regular files are opened for reading."""
    assert os.geteuid() == 0, "mknod of a device and chown need root: run the test command as root"
    lower = _hostile(tmp_path)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    opened: list[tuple[str, int]] = []
    real_open, real_builtin = os.open, builtins.open

    def spy(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        opened.append((os.fsdecode(path), flags))
        return real_open(path, flags, *args, **kw)

    def spy_builtin(file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        if not isinstance(file, int):
            opened.append((os.fsdecode(file), os.O_RDONLY if "r" in mode else os.O_WRONLY))
        return real_builtin(file, mode, *args, **kw)

    monkeypatch.setattr(overlay, "mount", lambda *_: None)  # as a "," in the path does
    monkeypatch.setattr(os, "open", spy)
    monkeypatch.setattr(builtins, "open", spy_builtin)
    with run_rootfs(_cfg(False), lower, bundle) as root:
        monkeypatch.undo()
        assert root == bundle / "rootfs"
        assert not _mounted(root)
        assert _entries(root) == _entries(lower)
    for special in ("node", "fifo", "sock"):
        at = [flags for path, flags in opened if os.path.basename(path) == special]
        assert all(flags & os.O_PATH for flags in at), f"{special} opened: {at}"


def test_a_mountpoint_that_is_or_passes_through_a_symlink_is_missing(tmp_path: Path) -> None:
    """Review 12: the image's ``/tmp -> /planted/by/runc`` was found present (the host's lexists)
    and runc, resolving the link inside the shared tree, made /planted/by/runc there. A
    mountpoint is there only as the tree's own entry, no symlink on its way."""
    lower = _image(tmp_path)
    (lower / "tmp").symlink_to("/planted/by/runc")  # dangling
    (lower / "run").symlink_to("etc")  # names a directory of the image: runc would still follow it
    (lower / "etc" / "hostname").write_text("x\n")  # a file, for a file's bind mount
    for dest, present in [
        ("/tmp", False),
        ("/tmp/x", False),
        ("/run", False),
        ("/run/secrets", False),
        ("/etc", True),
        ("/etc/hostname", True),
        ("/home/nonroot", True),
        ("/data", False),
    ]:
        cfg = _cfg(True, dest)
        assert runc._missing_mountpoints(cfg, lower) == ([] if present else [dest]), dest
        bundle = tmp_path / f"b{len(os.listdir(tmp_path))}"
        bundle.mkdir()
        with run_rootfs(cfg, lower, bundle) as root:
            assert (root == lower) is present, dest


def test_runscs_gofer_makes_a_bind_under_a_tmpfs_in_the_tree(tmp_path: Path) -> None:
    """runsc's gofer binds only the bind mounts, in its own view of the rootfs, and makes each
    destination there (runsc/cmd/gofer.go setupMounts): a bind at /dev/kmsg under the config's
    /dev tmpfs wrote dev/kmsg into the shared tree (weaken/runsc.py runsc-host-device-bound, its
    seal then refused the image). For runsc it is missing; for runc, made in the tmpfs, it is not;
    under another bind, for neither (it is made in that bind's host source)."""
    lower = _image(tmp_path)
    (lower / "in").mkdir()
    cfg = _cfg(True)
    cfg["mounts"] = [
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
        {"destination": "/dev/kmsg", "type": "bind", "source": "/dev/kmsg", "options": ["rbind", "ro"]},
        {"destination": "/dev/shm", "type": "none", "source": "/host/shm", "options": ["bind"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": []},
        {"destination": "/in", "type": "bind", "source": "/host/in", "options": ["rbind", "ro"]},
        {"destination": "/in/x", "type": "bind", "source": "/host/x", "options": ["rbind", "ro"]},
    ]
    assert runc._missing_mountpoints(cfg, lower) == []
    assert runc._missing_mountpoints(cfg, lower, gofer=True) == ["/dev/kmsg", "/dev/shm"]
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    with run_rootfs(cfg, lower, bundle, gofer=True) as root:
        assert root != lower
    assert not (lower / "dev" / "kmsg").exists()
    assert Runsc.gofer
    assert not runc.Runc.gofer


def test_a_tree_nested_deeper_than_python_recurses_is_one_clear_error(tmp_path: Path) -> None:
    """A user's image may nest thousands of directories: the copy says so, never a traceback."""
    lower = tmp_path / "lower"
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    os.mkdir("lower", dir_fd=fd)
    here = os.open("lower", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    for _ in range(sys.getrecursionlimit() + 50):  # made through fds: no path grows past PATH_MAX
        os.mkdir("d", dir_fd=here)
        deeper = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=here)
        os.close(here)
        here = deeper
    os.close(here)
    (tmp_path / "bundle").mkdir()
    try:
        with pytest.raises(EngineError, match="nested too deeply"):
            runc._copy(lower, tmp_path / "bundle")
    finally:  # pytest's own rmtree recurses: removed here, without recursion
        cleanup.remove_tree(tmp_path / "bundle")
        cleanup.remove_tree(lower)
