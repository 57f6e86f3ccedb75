"""A user's image's layers unpacked for runc (``unpack.apply``): as the engine applies them
(whiteouts, replacements), and never outside the tree, whatever a crafted layer holds."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from sandproof import image, unpack
from sandproof.errors import ImageError
from sandproof.image import Image
from sandproof.runtime import runc

Entry = tuple[str, str, object]


def _layer(path: Path, entries: list[Entry]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, int(extra) if isinstance(extra, int) else 0o755
                tar.addfile(info)
            elif kind in ("sym", "hard"):
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname, info.mode = str(extra), 0o777
                tar.addfile(info)
            else:
                data = extra if isinstance(extra, bytes) else b"x\n"
                info.size, info.mode = len(data), 0o4755 if kind == "setuid" else 0o644
                tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A directory standing for a host one a crafted layer aims at (/etc/cron.d, /root/.ssh)."""
    d = tmp_path / "host"
    d.mkdir(mode=0o700)
    (d / "secret").write_text("host\n")
    (d / "secret").chmod(0o600)
    return d


def _apply(tmp_path: Path, *layers: list[Entry]) -> Path:
    root = tmp_path / "root"
    root.mkdir(parents=True)
    for i, entries in enumerate(layers):
        unpack.apply(_layer(tmp_path / f"layer{i}.tar", entries), root)
    return root


def _untouched(host: Path) -> None:
    assert sorted(os.listdir(host)) == ["secret"]
    assert (host.stat().st_mode & 0o777, (host / "secret").stat().st_mode & 0o777) == (0o700, 0o600)


def test_a_member_under_a_lower_layers_symlink_stays_in_the_tree(tmp_path: Path, host: Path) -> None:
    """Layer 1 ``a -> HOST``, layer 2 ``a/`` and ``a/file``: Docker shows the directory (each
    layer applied in its own directory); tarfile wrote the file into HOST, as root."""
    root = _apply(tmp_path, [("a", "sym", str(host))], [("a", "dir", 0o755), ("a/file", "file", b"hostile\n")])
    _untouched(host)
    assert not (root / "a").is_symlink()
    assert (root / "a").is_dir()
    assert (root / "a" / "file").read_bytes() == b"hostile\n"


def test_a_member_under_a_symlink_without_its_directory_entry(tmp_path: Path, host: Path) -> None:
    root = _apply(tmp_path, [("a", "sym", str(host))], [("a/file", "file", b"hostile\n")])
    _untouched(host)
    assert (root / "a" / "file").read_bytes() == b"hostile\n"


def test_a_directory_replaced_by_a_symlink_in_the_same_layer_is_not_chmodded_through(
    tmp_path: Path, host: Path
) -> None:
    """``a/`` (0777) then ``a -> HOST``: extractall set directory modes last, through the symlink."""
    root = _apply(tmp_path, [("a", "dir", 0o777), ("a", "sym", str(host))])
    _untouched(host)
    assert os.readlink(root / "a") == str(host)


def test_an_absolute_name_lands_in_the_tree(tmp_path: Path, host: Path) -> None:
    root = _apply(tmp_path, [(str(host / "planted"), "file", b"hostile\n")])
    _untouched(host)
    assert (root / str(host).lstrip("/") / "planted").read_bytes() == b"hostile\n"


@pytest.mark.parametrize("name", ["../x", "a/../../x"])
def test_a_name_climbing_out_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ImageError, match="leaves the image's root"):
        _apply(tmp_path, [(name, "file", b"x\n")])


def test_a_layer_that_is_no_tar_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "layer.tar").write_bytes(b"not a tar\n" * 100)  # its diff_id is its hash all the same
    (tmp_path / "root").mkdir()
    with pytest.raises(ImageError, match=r"^layer layer\.tar: not a readable tar archive \([^\n]*\)$"):
        unpack.apply(tmp_path / "layer.tar", tmp_path / "root")


def test_a_hard_link_to_a_symlink_is_refused(tmp_path: Path, host: Path) -> None:
    """os.link follows a symlink (linkat AT_SYMLINK_FOLLOW): the tree would hold the host's
    file, and tarfile would then chmod it."""
    with pytest.raises(ImageError, match="not a regular file of the image"):
        _apply(tmp_path, [("s", "sym", str(host / "secret")), ("h", "hard", "s")])
    _untouched(host)


def test_an_absolute_hard_link_names_the_trees_file(tmp_path: Path, host: Path) -> None:
    with pytest.raises(ImageError, match="not a regular file of the image"):
        _apply(tmp_path, [("h", "hard", str(host / "secret"))])
    root = _apply(tmp_path / "ok", [("f", "file", b"mine\n"), ("h", "hard", "/f")])
    assert (root / "h").stat().st_ino == (root / "f").stat().st_ino


def test_whiteouts_delete_the_lower_layers_entries(tmp_path: Path) -> None:
    """``.wh.NAME`` deletes NAME, ``.wh..wh..opq`` empties the directory of what lower layers
    hold, not of the layer's own entries (OCI image-spec layer.md): runc kept them, and a
    deleted setuid file was still in the tree it attested."""
    root = _apply(
        tmp_path,
        [("bin", "dir", 0o755), ("bin/helper", "setuid", None), ("d", "dir", 0o755), ("d/old", "file", None)],
        [("bin/.wh.helper", "file", b""), ("d/new", "file", None), ("d/.wh..wh..opq", "file", b"")],
    )
    assert sorted(os.listdir(root / "bin")) == []
    assert sorted(os.listdir(root / "d")) == ["new"]


@pytest.mark.parametrize("name", [".wh.", ".wh..", ".wh...", "a/.wh.", "a/.wh..", "a/.wh...", "/a/.wh..."])
def test_a_whiteout_of_the_directory_itself_or_its_parent_is_refused(tmp_path: Path, name: str) -> None:
    """``.wh...`` whites out "..": ``parent / ".."`` was removed, the directory holding the
    tree (every other image's tree beside it); ``.wh.`` and ``.wh..`` the directory itself
    (review 11, finding 9). Refused, and nothing is deleted, in the tree or beside it."""
    (tmp_path / "beside").mkdir()
    (tmp_path / "beside" / "keep").write_text("x")
    root = _apply(tmp_path, [("a", "dir", 0o755), ("a/f", "file", None), ("g", "file", None)])
    layer = _layer(tmp_path / "wh.tar", [("a", "dir", 0o755), (name, "file", b"")])
    with pytest.raises(ImageError, match=r"a whiteout of .*which names no entry"):
        unpack.apply(layer, root)
    assert sorted(os.listdir(tmp_path)) == ["beside", "layer0.tar", "root", "wh.tar"]
    assert (tmp_path / "beside" / "keep").read_text() == "x"
    assert sorted(os.listdir(root)) == ["a", "g"]
    assert os.listdir(root / "a") == ["f"]


def test_a_symlink_replaces_a_directory(tmp_path: Path) -> None:
    """The image's /out made a symlink by a later layer: tarfile dropped it silently, so runc
    ran a tree whose /out was a directory while Docker's was the link."""
    root = _apply(tmp_path, [("out", "dir", 0o755), ("out/x", "file", None)], [("out", "sym", "/tmp")])
    assert os.readlink(root / "out") == "/tmp"


def test_a_directory_replaces_a_lower_file(tmp_path: Path) -> None:
    root = _apply(tmp_path, [("a", "file", None)], [("a/b", "file", b"b\n")])
    assert (root / "a" / "b").read_bytes() == b"b\n"


def test_a_mountpoint_under_the_images_symlink_is_made_in_no_tree(
    tmp_path: Path, host: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/dev/mqueue under ``dev -> HOST``: the unpacked tree once had runc's mountpoints made in it
    (and refused this one, which would have been made on the host); now none is made, and
    runc's run counts the mountpoint missing (its parent is the image's symlink), so it gets a
    private overlay where runc resolves the link inside the root (review 12)."""
    monkeypatch.setenv("SANDPROOF_CACHE", str(tmp_path / "cache"))
    layer = _layer(tmp_path / "l.tar", [("dev", "sym", str(host))])
    config = json.dumps({"rootfs": {"diff_ids": ["sha256:" + hashlib.sha256(layer.read_bytes()).hexdigest()]}})
    img = Image("x", "sha256:" + "cd" * 32, (layer,), config.encode())
    root = image.rootfs(img)
    assert os.listdir(root) == ["dev"]
    assert runc._missing_mountpoints({"mounts": [{"destination": "/dev/mqueue"}]}, root) == ["/dev/mqueue"]
    _untouched(host)


def _crafted_archive(path: Path, base: Path, host: Path, tag: str) -> None:
    """A ``docker load`` archive: busybox's layer, then ``a -> HOST``, then ``a/`` and ``a/file``."""
    raw = [
        base.read_bytes(),
        _layer(path.with_suffix(".l1"), [("a", "sym", str(host))]).read_bytes(),
        _layer(path.with_suffix(".l2"), [("a", "dir", 0o755), ("a/file", "file", b"hostile\n")]).read_bytes(),
    ]
    cfg = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"User": "65532:65532", "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(b).hexdigest() for b in raw]},
        }
    ).encode()
    cid = hashlib.sha256(cfg).hexdigest()
    files = {f"l{i}/layer.tar": b for i, b in enumerate(raw)}
    files[f"{cid}.json"] = cfg
    files["manifest.json"] = json.dumps(
        [{"Config": f"{cid}.json", "RepoTags": [tag], "Layers": [f"l{i}/layer.tar" for i in range(3)]}]
    ).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.mark.engine("docker")
def test_a_hostile_engine_image_unpacked_for_runc_writes_nothing_on_the_host(tmp_path: Path, host: Path) -> None:
    """The real path: Docker loads the crafted image (applying each layer in its own directory:
    /a is a directory there), ``docker save`` hands the crafted layers back byte for byte, and
    runc's tree is unpacked from them: nothing reaches HOST, and /a is Docker's directory."""
    import subprocess  # noqa: PLC0415 - only this engine test drives docker

    from sandproof import image  # noqa: PLC0415 - as above
    from sandproof.workload import images  # noqa: PLC0415 - as above

    tag = f"sandproof-test/crafted-layers:{os.getpid()}"
    archive = tmp_path / "crafted.tar"
    _crafted_archive(archive, images.busybox().layers[0], host, tag)
    subprocess.run(["docker", "load", "-i", str(archive)], check=True, capture_output=True)
    try:
        img = images.from_docker(tag)
        root = image.rootfs(img)
        _untouched(host)
        assert not (root / "a").is_symlink()
        assert (root / "a" / "file").read_bytes() == b"hostile\n"
        shown = subprocess.run(
            ["docker", "run", "--rm", "--entrypoint", "/bin/cat", img.image_id, "/a/file"],
            check=True,
            capture_output=True,
        )
        assert shown.stdout == b"hostile\n"  # Docker's view: the same file in the image's own /a
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], check=False, capture_output=True)


def test_lookup_resolves_as_the_container_does(tmp_path: Path, host: Path) -> None:
    """/etc/ld.so.preload as the container's loader finds it: through the image's own symlinks,
    absolute ones from the image's root, ".." stopping there; never the host's."""
    root = _apply(
        tmp_path,
        [
            ("srv/etc/ld.so.preload", "file", b"/lib/x.so\n"),
            ("etc", "sym", "/srv/etc"),
            ("a", "sym", "../../../srv"),
            ("b", "sym", str(host)),
            ("loop", "sym", "loop"),
        ],
    )
    assert unpack.lookup(root, "/etc/ld.so.preload") == root / "srv" / "etc" / "ld.so.preload"
    assert unpack.lookup(root, "/a/etc/ld.so.preload") == root / "srv" / "etc" / "ld.so.preload"
    assert unpack.lookup(root, "/b/secret") is None  # the host's path, not the image's
    assert unpack.lookup(root, "/loop/x") is None
    assert unpack.lookup(root, "/srv/etc/ld.so.preload/x") is None


def test_a_saved_archive_streamed_without_filters_stays_in_the_tree(tmp_path: Path, host: Path) -> None:
    """``docker save`` read where tarfile has no filters (Debian 12's 3.11.2): the same checks
    as a layer's, on a stream: a member under a symlink out, an absolute name, all in the tree."""
    archive = _layer(
        tmp_path / "saved.tar",
        [("a", "sym", str(host)), ("a", "dir", 0o755), ("a/file", "file", b"x\n"), (f"/{host}/y", "file", b"y\n")],
    )
    dest = tmp_path / "dest"
    dest.mkdir()
    with open(archive, "rb") as f, tarfile.open(fileobj=f, mode="r|") as tar:
        unpack.extract(tar, dest)
    _untouched(host)
    assert (dest / "a" / "file").read_bytes() == b"x\n"
    assert (dest / str(host).lstrip("/") / "y").read_bytes() == b"y\n"
