"""sandproof's own Python, carried into a foreign image as one read-only mount.

A user's image need not hold Python (issue 11): a static busybox, a musl Alpine or a
glibc image of another release all must be attestable. So the harness brings its own
runtime: the interpreter, its dynamic loader, the libraries and the stdlib from the
pinned Debian base that ``image build`` assembles, plus the inspector package, as a
directory tree mounted read-only at ``MOUNT_POINT``. It is started through ITS OWN
loader (``ld.so --library-path ... python``), so the image's loader, libc and
``/etc/ld.so.cache`` are never consulted for the harness, and no ``LD_*`` variable is
set (PR-ENV-1 fails any). ``--library-path`` also governs every later ``dlopen`` of
the process (glibc elf/rtld.c: it replaces LD_LIBRARY_PATH), so extension modules
find their libraries here too.

PR-EXEC-1 holds in a foreign image for the reason it holds in sandproof's own: the L2 guard
denies ``execve`` before the kernel looks for the binary or its PT_INTERP
(``/lib64/ld-linux-x86-64.so.2``, which a foreign image may lack).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandproof import atomic, plan, unpack
from sandproof import image as images
from sandproof.errors import ImageError
from sandproof.profile import Profile
from sandproof.workload import carried, sandbox, treefacts
from sandproof.workload import images as workload_images
from sandproof.workload.carried import APP_DIR, HARNESS_MAIN, MOUNT_POINT, Workload, loader, python_argv, tree_digest

__all__ = ["MOUNT_POINT", "HarnessMount", "build", "docker_argv", "oci_config", "workload"]

TREE_TOPS = ("lib", "lib64", "usr")
"""What of the base layer the runtime needs (no /etc, /tmp, /home: those are the image's)."""


def _check_arch() -> None:
    if platform.machine() not in ("x86_64", "aarch64"):
        raise ImageError(f"no harness runtime for architecture {platform.machine()}")


@dataclass(frozen=True)
class HarnessMount:
    """The runtime tree on the host and what a container needs to start it."""

    tree: Path
    """Host directory to bind read-only at MOUNT_POINT (root-owned, nothing writable)."""
    digest: str
    """``sha256:<hex>`` of the base layer's diff_id, the inspector files and FORMAT: names the tree."""

    def python_argv(self, *args: str) -> list[str]:
        """The container's argv: the mounted loader runs the mounted interpreter."""
        return python_argv(*args)

    def harness_argv(self, *harness_args: str) -> list[str]:
        return self.python_argv(HARNESS_MAIN, *harness_args)

    def docker_args(self) -> list[str]:
        """``docker run`` flags, placed before the image reference; the argv after the
        image is ``python_argv()[1:]`` (Docker's --entrypoint takes the first word only)."""
        return ["--mount", f"type=bind,source={self.tree},target={MOUNT_POINT},readonly", "--entrypoint", loader()]

    def oci_mount(self) -> dict[str, Any]:
        """The OCI ``mounts`` entry for runc; ``process.args`` is ``python_argv(...)``."""
        # nosuid, nodev: the tree has neither, but say so to the kernel too
        return {
            "destination": MOUNT_POINT,
            "type": "bind",
            "source": str(self.tree),
            "options": ["rbind", "rprivate", "ro", "nosuid", "nodev"],
        }


def _base_layer() -> tuple[Path, str]:
    base = workload_images.base()
    return base.layers[0], str(json.loads(base.config)["rootfs"]["diff_ids"][0])


def _relative(name: str, target: str) -> str | None:
    """An absolute link made relative inside the tree; None if it leaves the tree."""
    if not target.startswith("/"):
        return target
    if target.lstrip("/").split("/", 1)[0] not in TREE_TOPS:
        return None  # e.g. usr/lib/python3.11/sitecustomize.py -> /etc/...: -S never reads it
    depth = name.count("/")
    return "../" * depth + target.lstrip("/")


def _unpack(layer: Path, dest: Path) -> None:
    with tarfile.open(layer) as tar:
        for info in tar:
            name = info.name.removeprefix("./")
            if name.split("/", 1)[0] not in TREE_TOPS:
                continue
            if info.issym():
                target = _relative(name, info.linkname)
                if target is None:
                    continue
                info.linkname = target
            if info.isfile() or info.isdir():
                info.mode &= ~(stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH)
            info.uid = info.gid = 0
            if unpack.FILTERS:  # our own pinned layer, links fixed above
                tar.extract(info, dest, filter="fully_trusted")
            else:  # Debian 12's own python3 (3.11.2): no filter argument at all
                tar.extract(info, dest)


def lock_key(name: str) -> str:
    """The ``image.in_use`` key held by a run that mounts the harness tree ``name`` (its
    directory's name): ``cache prune`` leaves a tree a run holds."""
    return f"harness-{name}"


def build() -> HarnessMount:
    """The tree, cached under the image cache by its digest; built atomically."""
    _check_arch()
    layer, base_id = _base_layer()
    app = images.inspector_files()
    digest = tree_digest(base_id, app)
    dest = images.cache_dir() / "harness" / digest.split(":")[1][:32]
    if dest.is_dir():
        images.mark_used(dest)
        return HarnessMount(dest, digest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=dest.parent))
    try:
        _unpack(layer, tmp)
        for rel, data in app.items():
            path = tmp / APP_DIR / rel
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            path.write_bytes(data)
            path.chmod(0o644)
        for d in (tmp, tmp / APP_DIR, tmp / APP_DIR / "inspector"):
            d.chmod(0o755)
        os.replace(tmp, dest)
    except (OSError, tarfile.TarError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if dest.is_dir():  # another sandproof built the same tree meanwhile (ENOTEMPTY)
            return HarnessMount(dest, digest)
        raise images.read_error("building the harness carried into the image", exc, dest.parent) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return HarnessMount(dest, digest)


def docker_argv(
    profile: Profile,
    mount: HarnessMount,
    image: images.Image,
    *,
    in_dir: str,
    out_dir: str,
    seccomp_file: str,
    run_date: str,
) -> list[str]:
    """The profile's rendered ``docker run``, the harness carried into ``image``: the
    mount before the image reference, the mounted loader as its entrypoint."""
    argv = mount.harness_argv(*plan.harness_args(profile, run_date))
    mount_flags = mount.docker_args()[:2]  # sandbox.docker_argv sets --entrypoint itself
    return sandbox.docker_argv(
        profile, image, argv, in_dir=in_dir, out_dir=out_dir, seccomp_file=seccomp_file, extra=mount_flags
    )


def oci_config(
    profile: Profile, mount: HarnessMount, image: images.Image, *, in_dir: str, out_dir: str, run_date: str, cgroup: str
) -> dict[str, Any]:
    """The profile's rendered OCI config for runc, the harness carried into ``image``."""
    return sandbox.oci_config(
        profile,
        image,
        mount.harness_argv(*plan.harness_args(profile, run_date)),
        rootfs=images.rootfs(image),
        in_dir=in_dir,
        out_dir=out_dir,
        cgroup=cgroup,
        mounts=[mount.oci_mount()],
    )


def workload(ref: str) -> tuple[images.Image, Workload]:
    """The user's image named ``ref`` and the facts of carrying the harness into it."""
    img = workload_images.resolve(ref)
    cfg = sandbox.image_config(img)
    tree = build()
    user, workdir = cfg.get("User") or "", cfg.get("WorkingDir") or ""
    if not isinstance(user, str) or not isinstance(workdir, str):
        raise ImageError(f"image {ref!r}: its config's User or WorkingDir is not a string")
    config = img.config.decode("utf-8", "surrogateescape")
    uid = carried.resolve_uid(user, _passwd(img))
    facts = Workload(ref, img.image_id, user, workdir, tree.digest, str(tree.tree), preload(img), uid, config)
    return img, dataclasses.replace(facts, rootfs=rootfs_facts(img))


def rootfs_facts(img: images.Image) -> str:
    """The image's tree as the workload record keeps it (``treefacts.record``), from the very
    layers its ID names (each hashed against its diff_id here, not the shared unpacked tree,
    which a file dropped into it would change for every later run); once per image ID, kept
    beside its unpacked tree (the same ID, the same tree)."""
    root = images.rootfs(img)
    kept = root.parent / f"{root.name}.lines-{treefacts.FORMAT}.json"
    try:
        text = kept.read_text("utf-8")
    except FileNotFoundError:
        text = None
    except OSError as exc:
        raise images.read_error("reading the image's tree", exc, kept.parent) from None
    if text is not None:
        images.mark_used(kept)  # pruned with its tree, not alone (review 18)
        return text
    diff_ids = json.loads(img.config)["rootfs"]["diff_ids"]
    try:
        for layer, diff_id in zip(img.layers, diff_ids, strict=True):
            with layer.open("rb") as f:
                if "sha256:" + hashlib.file_digest(f, "sha256").hexdigest() != diff_id:
                    raise ImageError(f"image {img.image_id}: layer {layer.name} does not hash to its diff_id {diff_id}")
        text = treefacts.record(treefacts.layer_lines(img.layers, [MOUNT_POINT]))
    except (OSError, tarfile.TarError) as exc:
        raise images.read_error("reading the image's layers", exc, root) from None
    atomic.publish(kept.parent, {kept.name: text.encode("utf-8", "surrogateescape")}, what="the image cache")
    return text


def _passwd(img: images.Image) -> bytes | None:
    """The image's /etc/passwd as the container resolves the path (None when there is none)."""
    found = unpack.lookup(images.rootfs(img), "/etc/passwd")
    try:
        return found.read_bytes()[: 1 << 20] if found is not None else None
    except OSError:
        return None


PRELOAD_FILE = "/etc/ld.so.preload"


def preload(img: images.Image) -> str:
    """What the image's ``/etc/ld.so.preload`` holds, as the container resolves the path (its
    own symlinks, inside its root), read from the image's tree unpacked on the host (the one
    runc runs, ``image.rootfs``); "" when there is none. A directory or an unreadable thing
    there is named too: only nothing at all is nothing."""
    root = images.rootfs(img)
    found = unpack.lookup(root, PRELOAD_FILE)
    if found is None:
        return ""
    try:
        text = found.read_bytes()[:512].decode("utf-8", "replace")
    except OSError as exc:
        return f"({PRELOAD_FILE} is there but unreadable here: {exc.strerror})"
    return text.strip() or f"({PRELOAD_FILE} is there, empty)"
