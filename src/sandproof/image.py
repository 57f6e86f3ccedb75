"""The sandbox image, assembled offline and reproducibly.

No registry is reachable on the machines this runs on, so the distroless-style base
is built from pinned Debian packages (``lock/debian-*.toml``): each ``.deb`` is
fetched with ``apt-get download``, checked against its sha256 and unpacked into one
layer. The inspector goes into a second layer. Both layers and the image config are
written byte-for-byte deterministically (sorted entries, fixed mtime and owners), so
the image ID (sha256 of the config) is the same on every build; the image is handed
to Docker with ``docker load`` and unpacked for runc from the same layer files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

from sandproof import cleanup, contract, safedir, unpack
from sandproof.errors import ImageError, OutputError

# what the image is lives in imagespec (the verifier reads it without this builder);
# re-exported here for the callers that build (see __all__)
from sandproof.imagespec import (
    BASE_NAME,
    HOMES,
    NONROOT,
    PATH_ENV,
    RESTRICTED_DIRS,
    Layer,
    app_layer,
    expected_id,
    home_of,
    image_config,
    inspector_files,
    lock_name,
    locked_mappable_files,
    read_lock,
    sha256_file,
    unlistable,
)
from sandproof.profile import Profile

SKIP_PREFIXES = ("./usr/share/doc/", "./usr/share/man/", "./usr/share/lintian/", "./usr/share/locale/")


@dataclass(frozen=True)
class Image:
    """A built image: its ID and the layer files it is made of."""

    name: str
    image_id: str
    """``sha256:<hex>`` of the config: what ``docker image inspect`` reports as Id."""
    layers: tuple[Path, ...]
    config: bytes


FULL = (errno.ENOSPC, errno.EDQUOT)


def read_error(what: str, exc: BaseException, where: Path) -> ImageError:
    """One line for an image or layer that could not be read or written: what failed, why, and
    what to do. A full disk shows as ENOSPC where sandproof writes, and as a tar cut short where
    the engine, writing its own temporary files, gave up in the middle of ``docker save``."""
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.errno in FULL:
        other = f"or set {contract.CACHE_ENV} to a directory on another disk"
        todo = f"the disk is full: free space on the one holding {where} ({other})"
    elif isinstance(exc, tarfile.TarError):
        full = f"the one holding {where}, or the engine's"
        todo = f"the archive was cut short or damaged: if a disk is full ({full}), free space"
    else:
        todo = f"check that {where} can be written"
    return ImageError(f"{what}: {why or type(exc).__name__}; {todo}, and run again")


def cache_path() -> Path:
    """Where the cache is (``SANDPROOF_CACHE``, else the default), whether or not it exists."""
    return Path(os.environ.get(contract.CACHE_ENV) or Path(contract.CACHE_DEFAULT).expanduser())


_CHECKED: set[Path] = set()


def refuse_planted(root: Path) -> None:
    """Each entry of the cache root sandproof's own: its areas are made and used by name, so one
    another user made while the cache was open to them (then closed: `chmod go-w`, as the
    refusal advises) would be theirs (review 21)."""
    for name in sorted(os.listdir(root)):
        st = os.lstat(root / name)
        theirs = st.st_uid not in (0, os.geteuid())
        if theirs or (stat.S_ISDIR(st.st_mode) and st.st_mode & 0o022) or stat.S_ISLNK(st.st_mode):
            raise OutputError(
                f"the cache ({contract.CACHE_ENV}) {root}: {name} is not sandproof's own (owner uid {st.st_uid}, "
                f"mode {stat.S_IMODE(st.st_mode):o}{', a link' if stat.S_ISLNK(st.st_mode) else ''}); remove it "
                "and let sandproof make it again"
            )


def cache_dir() -> Path:
    """The cache, made if missing, and refused (once per process and path) unless every
    directory on the way is root's or this user's: root unpacks, chmods and runs from it, so
    whoever owned one could swap in a harness, a podman configuration or a link (review 19)."""
    root = cache_path()
    if root not in _CHECKED:
        safedir.check(root, f"the cache ({contract.CACHE_ENV})", create=True, sticky_ok=False)
        refuse_planted(root)
        _CHECKED.add(root)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _apt(root: Path, lock: dict[str, Any]) -> list[str]:
    """apt-get with its own sources and state under the cache: Debian's archive for the
    lock's suite whatever the host runs (an Ubuntu CI runner included), without touching
    the host's apt. The archive's signatures are not needed: every .deb is checked
    against the sha256 the lock pins."""
    state = root / "apt"
    for d in ("lists/partial", "cache/archives/partial"):
        (state / d).mkdir(parents=True, exist_ok=True)
    sources = state / "sources.list"
    sources.write_text(f"deb [trusted=yes] {lock['mirror']} {lock['suite']} main\n")
    return [
        "apt-get",
        "-q",
        "-o",
        f"Dir::Etc::SourceList={sources}",
        "-o",
        "Dir::Etc::SourceParts=/nonexistent",
        "-o",
        f"Dir::State={state}",
        "-o",
        f"Dir::Cache={state / 'cache'}",
        "-o",
        "Debug::NoLocking=1",
        "-o",
        "Acquire::Languages=none",
        "-o",
        f"APT::Architecture={lock['arch']}",
    ]


def _pinned(debs: Path, pkg: dict[str, str]) -> list[Path]:
    return [p for p in debs.glob(f"{pkg['name']}_*.deb") if sha256_file(p) == pkg["sha256"]]


def _fetch(lock: dict[str, Any], debs: Path) -> list[Path]:
    debs.mkdir(parents=True, exist_ok=True)
    if any(not _pinned(debs, pkg) for pkg in lock["package"]):
        with _exclusive(debs / ".fetch.lock"):  # apt refuses a second apt on the same state (lists/lock)
            missing = [pkg for pkg in lock["package"] if not _pinned(debs, pkg)]  # or another fetched them
            if missing:
                _download(lock, debs, missing)
    return [_pinned(debs, pkg)[0] for pkg in lock["package"]]


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """One process at a time in this step of filling the cache (a first run's parallel test
    workers, two attests on a cold cache): the loser waits, then finds the step done."""
    # never truncated, never a link followed: a lock file's content is nothing
    fd = os.open(lock_file, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file is closed
        yield
    finally:
        os.close(fd)


def _download(lock: dict[str, Any], debs: Path, missing: list[dict[str, str]]) -> None:
    apt = _apt(debs.parent, lock)
    update = subprocess.run([*apt, "update"], capture_output=True, text=True, check=False)
    if update.returncode != 0:
        last = (update.stderr.strip().splitlines() or ["no output"])[-1]
        raise ImageError(f"cannot read Debian's package index from {lock['mirror']}: {last}")
    specs = [f"{pkg['name']}={pkg['version']}" for pkg in missing]
    proc = subprocess.run([*apt, "download", *specs], cwd=debs, capture_output=True, text=True, check=False)
    for pkg in missing:
        if not _pinned(debs, pkg):
            why = (proc.stderr.strip().splitlines() or ["sha256 mismatch"])[-1]
            raise ImageError(
                f"cannot fetch pinned package {pkg['name']}={pkg['version']}: {why} "
                "(Debian's mirror may have moved on; update src/sandproof/lock/)"
            )


def _base_layer(debs: list[Path], mtime: int) -> Layer:
    layer = Layer(mtime)
    for deb in debs:
        proc = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=False)
        if proc.returncode != 0:
            raise ImageError(f"cannot unpack {deb.name}: {proc.stderr.decode(errors='replace').strip()}")
        with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
            for info in tar:
                if info.name.startswith(SKIP_PREFIXES) or info.ischr() or info.isblk():
                    continue
                data = tar.extractfile(info).read() if info.isfile() else None  # type: ignore[union-attr]
                layer.add(info, data)
    # distroless shape: python on PATH, nonroot 65532, no shell, no package manager
    layer.symlink("usr/bin/python3", "python3.11")
    layer.symlink("usr/bin/python", "python3.11")
    layer.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )
    layer.file("etc/group", b"root:x:0:\nnonroot:x:65532:\n")
    for d in ("proc", "sys", "dev", "etc", "in", "out", "app", "home"):
        layer.dir(d, 0o755)
    layer.dir("tmp", 0o1777)
    for path, (mode, owner) in RESTRICTED_DIRS.items():
        layer.dir(path.lstrip("/"), mode, owner)
    return layer


def _mappable(path: str) -> bool:
    """ELF files the interpreter maps without being told a name at run time: itself, the
    loader and libraries of the library directories, and its extension modules. (gconv
    modules and OpenSSL engines load only when code names them; they stay out.)"""
    top = path.rsplit("/", 1)[0]
    return top in {
        "/usr/bin",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib/python3.11/lib-dynload",
    }


def mappable_files(layer: Path) -> dict[str, str]:
    """path -> sha256 of every mappable ELF file of a layer, for the lock."""
    out = {}
    with tarfile.open(layer) as tar:
        for info in tar:
            path = "/" + info.name.removeprefix("./")
            if info.isfile() and _mappable(path):
                data = tar.extractfile(info).read()  # type: ignore[union-attr]
                if data[:4] == b"\x7fELF":
                    out[path] = hashlib.sha256(data).hexdigest()
    return dict(sorted(out.items()))


STABLE_S = 2.0
"""A source changed less than this long ago is read again at the next build: its ctime (the
kernel's coarse clock, ticks of a few ms) may not yet tell a second change apart from it."""

_MADE: dict[tuple[object, ...], tuple[tuple[object, ...], object]] = {}
"""What this process made from the package's own files, with their state (``_state``) then."""
T = TypeVar("T")


def _state(*roots: Path) -> tuple[object, ...] | None:
    """Every file and directory below ``roots`` (``__pycache__`` aside) by path, inode, size,
    mtime and ctime: any write, rename, new or removed file changes it (ctime cannot be set
    from user space). None when one changed in the last ``STABLE_S``, or cannot be read."""
    newest = time.time() - STABLE_S
    seen: list[tuple[object, ...]] = []
    try:
        stack = [str(r) for r in roots]
        while stack:
            top = stack.pop()
            st = os.stat(top)
            if st.st_ctime >= newest:
                return None
            seen.append((top, st.st_mode, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
            if stat.S_ISDIR(st.st_mode):
                with os.scandir(top) as entries:
                    stack.extend(e.path for e in entries if e.name != "__pycache__")
    except OSError:
        return None
    return tuple(sorted(seen))


def _memo(key: tuple[object, ...], root: object, make: Callable[[], T]) -> T:
    """``make()``, remembered in this process while the files below ``root`` stay as they were
    (their state is taken before ``make`` reads them: a change after that is a new state).
    A root that is not plain files (a zip import) has no state: made every time."""
    state = _state(root) if isinstance(root, Path) else None
    known = _MADE.get(key)
    if state is not None and known is not None and known[0] == state:
        return cast(T, known[1])
    made = make()
    if state is not None:
        _MADE[key] = (state, made)
    return made


def _lock_facts() -> tuple[str, int]:
    """The lock's identity (sha256 of its canonical JSON, 16 hex) and its source date."""

    def make() -> tuple[str, int]:
        lock = read_lock()
        return hashlib.sha256(json.dumps(lock, sort_keys=True).encode()).hexdigest()[:16], int(
            lock["source_date_epoch"]
        )

    return _memo(("lock",), resources.files("sandproof.lock").joinpath(lock_name()), make)


def _app_layer(mtime: int, workdir: str) -> bytes:
    """The inspector's layer, made again only when the package's files changed, not at every
    attest (~2 ms of reading 35 files and writing a tar in Python before each run)."""

    def make() -> bytes:
        buf = io.BytesIO()
        app_layer(mtime, workdir).dump(buf)
        return buf.getvalue()

    return _memo(("app", mtime, workdir), resources.files("sandproof.inspector"), make)


def build(profile: Profile) -> Image:
    """Assemble the image's layers and config (cached); do not touch any engine."""
    lock_id, mtime = _lock_facts()
    root = cache_dir()
    base_path = root / "layers" / f"base-{lock_id}.tar"
    base_path.parent.mkdir(parents=True, exist_ok=True)
    base_id_file = base_path.with_suffix(".diffid")
    if not (base_path.is_file() and base_id_file.is_file()):
        with _exclusive(base_path.with_suffix(".lock")):
            if not (base_path.is_file() and base_id_file.is_file()):  # or another process built it
                _build_base(read_lock(), root, base_path, base_id_file)
    base_id = base_id_file.read_text().strip()
    app_bytes = _app_layer(mtime, profile.image.workdir)
    app_id = "sha256:" + hashlib.sha256(app_bytes).hexdigest()
    app_path = root / "layers" / f"app-{app_id.split(':')[1][:16]}.tar"
    # the layer is small and made in memory; it is written only when its file is missing or
    # not these bytes (~3 ms of every attest went to rewriting and re-hashing the same file)
    if not (app_path.is_file() and app_path.stat().st_size == len(app_bytes) and app_path.read_bytes() == app_bytes):
        fd, pending = tempfile.mkstemp(prefix=".app-pending-", suffix=".tar", dir=root / "layers")
        with os.fdopen(fd, "wb") as f:  # a private name: two builds at once never write the same file
            f.write(app_bytes)
        os.replace(pending, app_path)
    config = image_config(profile, [base_id, app_id], mtime)
    return Image(profile.image.name, "sha256:" + hashlib.sha256(config).hexdigest(), (base_path, app_path), config)


def _build_base(lock: dict[str, Any], root: Path, base_path: Path, base_id_file: Path) -> None:
    base_id = _base_layer(_fetch(lock, root / "debs"), int(lock["source_date_epoch"])).write(base_path)
    if base_id != lock["base_diff_id"]:
        base_path.unlink()
        raise ImageError(
            f"the base layer built from the pinned packages is {base_id}, but the lock says "
            f"{lock['base_diff_id']}: the build did not reproduce (see README, Image)"
        )
    pending = base_id_file.with_suffix(".pending")
    pending.write_text(base_id)
    os.replace(pending, base_id_file)  # whole or absent: it is read without the lock


def base_of(image: Image) -> Image:
    """The base layer alone as an image (``BASE_NAME``), to build the rendered Dockerfile on."""
    lock = read_lock()
    diff_id = "sha256:" + sha256_file(image.layers[0])
    config = image_config(None, [diff_id], int(lock["source_date_epoch"]))
    return Image(BASE_NAME, "sha256:" + hashlib.sha256(config).hexdigest(), image.layers[:1], config)


def docker_archive(image: Image, dest: Path) -> None:
    """Write a ``docker load`` archive (the docker-save layout) for the image."""
    hexid = image.image_id.split(":")[1]
    # one name per layer, whatever its file is called: a user's image read by docker save has
    # every layer at <v1 id>/layer.tar, and podman (containers/image docker/internal/tarfile)
    # refuses an archive naming one member for two diff_ids ("layer/layer.tar used for two
    # different DiffID values"; measured, podman 4.3.1)
    names = [f"{i}-{p.stem}/layer.tar" for i, p in enumerate(image.layers)]
    manifest = [{"Config": f"{hexid}.json", "RepoTags": [image.name], "Layers": names}]
    try:
        with tarfile.open(dest, "w") as tar:
            for name, data in ((f"{hexid}.json", image.config), ("manifest.json", json.dumps(manifest).encode())):
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                tar.addfile(ti, io.BytesIO(data))
            for p, name in zip(image.layers, names, strict=True):
                tar.add(p, arcname=name)
    except OSError as exc:  # ENOSPC in the temporary directory, a layer file gone from the cache
        raise read_error(f"image {image.name}: writing it for the engine to load", exc, dest.parent) from None


def _in_use_file(image_id: str) -> Path:
    d = cache_dir() / "in-use"
    d.mkdir(exist_ok=True)
    return d / image_id.removeprefix("sha256:")


@contextlib.contextmanager
def in_use(image_id: str) -> Iterator[None]:
    """Held from handing the image to the engine until the run is over: another sandproof
    (another version, another profile's build) that loads its own build under the same tag
    meanwhile leaves this one in the engine (``ensure_docker``). A shared lock: any number
    of runs of one build hold it at once; the kernel drops it when the process ends."""
    with open(_in_use_file(image_id), "ab") as f:
        fcntl.flock(f, fcntl.LOCK_SH)
        yield


@contextlib.contextmanager
def unused(image_id: str) -> Iterator[bool]:
    """Whether no sandproof process holds ``in_use`` for this build, kept true while the
    caller removes it: a run that starts meanwhile waits, then finds it gone and loads it again."""
    with open(_in_use_file(image_id), "ab") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def ensure_docker(image: Image, docker: str = "docker") -> None:
    """Load the image into the engine unless the engine already has this exact ID; the
    build it replaces under the same tag is removed, so rebuilds do not pile up, unless a
    run of it is under way (``in_use``): runs name the image by ID, and removing it under
    a concurrent run of another build made that run fail with "No such image"."""
    proc = subprocess.run(
        [docker, "image", "inspect", "--format", "{{.Id}}", image.name], capture_output=True, text=True, check=False
    )
    previous = proc.stdout.strip() if proc.returncode == 0 else ""
    if previous == image.image_id:
        return
    with tempfile.TemporaryDirectory(prefix="sandproof-load-") as tmp:
        archive = Path(tmp) / "image.tar"
        docker_archive(image, archive)
        proc = subprocess.run([docker, "load", "-i", str(archive)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ImageError(f"docker load of {image.name} failed: {proc.stderr.strip()}")
    if not previous:
        return
    with unused(previous) as free:
        if free:  # untagged now; still in use by another tag or container means docker refuses, which is fine
            subprocess.run([docker, "image", "rm", previous], capture_output=True, check=False)


def _diff_ids(image: Image) -> list[str]:
    """The layers' digests the image's config (hashed into its ID) names, one per layer file."""
    try:
        ids = json.loads(image.config)["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError):
        ids = None
    if not isinstance(ids, list) or len(ids) != len(image.layers) or not all(isinstance(i, str) for i in ids):
        raise ImageError(f"image {image.image_id}: its config does not name one diff_id per layer")
    return ids


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


TREE = "tree"
"""The unpacked image inside its cache entry ``rootfs/<FORMAT>-<id>/``, beside its seal."""
SEAL = "seal.json"


def rootfs_dir() -> Path:
    """``<cache>/rootfs``, 0700 (an existing one tightened): the unpacked trees hold the image's
    setuid-root files and device nodes as the image has them (a user's image may carry a
    block node for the host's disk), which no other user of the host may reach. moby locked
    its data root down for the same reason (CVE-2021-41091, "Lock down docker root dir perms",
    moby 20.10.9, moby/moby#42907). runc and runsc run as root, and the container never walks
    this path (its root is pivoted to the tree)."""
    d = cache_dir() / "rootfs"
    d.mkdir(mode=0o700, exist_ok=True)
    if stat.S_IMODE(d.stat().st_mode) != 0o700:
        d.chmod(0o700)
    return d


_sealed: set[tuple[int, int]] = set()
"""(device, inode) of the trees this process found as unpacked: checked once per process."""


_KINDS = {
    stat.S_IFREG: "f",
    stat.S_IFLNK: "l",
    stat.S_IFCHR: "c",
    stat.S_IFBLK: "b",
    stat.S_IFIFO: "p",
    stat.S_IFSOCK: "s",
}


@dataclass(frozen=True)
class Walk:
    """One walk of an unpacked tree: what its seal holds (``_walk``)."""

    newest: int
    """The latest ctime (ns) of any non-directory."""
    where: str
    """Its path."""
    listing: list[bytes]
    """Every entry but an empty directory: its type, mode, owner, rdev and path, sorted."""

    def digest(self) -> str:
        return hashlib.sha256(b"\0".join(self.listing)).hexdigest()


def _walk(tree: Path) -> Walk:
    """The tree's seal, in one walk. ctime is set by the kernel on every write, chmod, chown,
    link, rename or xattr change of the entry itself and cannot be set back from userspace
    (utimensat sets atime/mtime only; fs/attr.c notify_change): an edit that keeps a file's size
    and restores its mtime (``touch -r``) still moves it. A rename or removal moves only the
    directories' ctimes, and a directory's ctime moves when sandproof makes a mountpoint in it:
    so the listing too (review 12: /bin and /home swapped, /etc/group removed, a file replaced
    by a directory all passed a seal of ctimes alone). Every directory is listed, the empty ones
    too: no run makes anything in the shared tree (a mountpoint the image lacks is made by runc
    in the run's own overlay, ``runtime/runc.py run_rootfs``), so an empty directory added,
    removed, re-owned or chmodded is a change like any other."""
    newest, where = 0, ""
    listing: list[bytes] = []
    stack = [(str(tree), b".", os.lstat(tree))]
    while stack:
        top, rel, st = stack.pop()
        try:
            entries = os.scandir(top)
        except PermissionError:  # unprivileged: a directory the image made 0700 for its own user
            listing.append(b"d? " + rel)
            continue
        with entries:
            found = list(entries)
        listing.append(b"d %o %d:%d %s" % (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, rel))
        for e in found:
            est = e.stat(follow_symlinks=False)
            path = rel + b"/" + os.fsencode(e.name)
            kind = _KINDS.get(stat.S_IFMT(est.st_mode))
            if kind is None:
                stack.append((e.path, path, est))
                continue
            listing.append(
                b"%s %o %d:%d %d %s"
                % (kind.encode(), stat.S_IMODE(est.st_mode), est.st_uid, est.st_gid, est.st_rdev, path)
            )
            if est.st_ctime_ns > newest:
                newest, where = est.st_ctime_ns, e.path
    listing.sort()
    return Walk(newest, where, listing)


LISTING = "listing.z"
"""The sealed listing itself (zlib), read only to name what changed when the digest differs."""


def _changed(dest: Path, now: Walk) -> str:
    """What differs between the sealed listing and ``now``'s, the entries nearest the root first."""
    try:
        sealed = set(zlib.decompress((dest / LISTING).read_bytes()).split(b"\0"))
    except (OSError, zlib.error):
        return "changed (its listing of entries)"
    current = set(now.listing)

    def first(lines: set[bytes]) -> list[str]:
        return [repr(line.decode(errors="replace")) for line in sorted(lines, key=lambda x: (x.count(b"/"), x))[:3]]

    shown = [f"was {g}" for g in first(sealed - current)] + [f"now {n}" for n in first(current - sealed)]
    return "changed (" + "; ".join(shown) + ")"


def _check_seal(image: Image, dest: Path) -> None:
    """Refuse a cached tree that changed after it was unpacked: runs never write it (a writable
    root gets a private overlay, ``runtime/runc.py run_rootfs``), so a change is another bug
    or another hand, and attesting or running it would PASS a tree that is not the image."""
    tree = dest / TREE
    st = tree.stat()
    if (st.st_dev, st.st_ino) in _sealed:
        return
    try:
        seal = json.loads((dest / SEAL).read_bytes())
        limit, digest = seal["ctime_ns"], seal["listing_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        limit, digest = None, None
    now = _walk(tree)
    why = None
    if not isinstance(limit, int) or not isinstance(digest, str):
        why = "has no seal"
    elif now.newest > limit:
        why = f"{os.path.relpath(now.where, tree)} changed"
    elif now.digest() != digest:
        why = _changed(dest, now)
    if why is not None:
        raise ImageError(
            f"image {image.image_id}: its unpacked tree {tree} {why} since it was unpacked: it is not the image "
            f"any more; remove {dest} (sandproof unpacks it again) and find out what wrote into it"
        )
    _sealed.add((st.st_dev, st.st_ino))


def rootfs(image: Image) -> Path:
    """The image unpacked for runc, cached by image ID; shared read-only between runs (no run
    writes it: ``runtime/runc.py run_rootfs``), checked unchanged when reused (``_check_seal``)."""
    # keyed by how it was unpacked too: a tree an older sandproof unpacked is not reused
    top = rootfs_dir()
    dest = top / f"{unpack.FORMAT}-{image.image_id.split(':')[1]}"
    if (dest / TREE).is_dir():
        _check_seal(image, dest)
        mark_used(dest)
        return dest / TREE
    tmp = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=top))  # 0700: the tree's parent stays private
    try:
        tree = tmp / TREE
        tree.mkdir()
        tree.chmod(0o755)  # a layer without a "./" entry leaves the root as the engine makes it
        for layer, diff_id in zip(image.layers, _diff_ids(image), strict=True):
            if _sha256_file(layer) != diff_id:  # the very layers the image's ID names, or none
                raise ImageError(f"image {image.image_id}: layer {layer.name} does not hash to its diff_id {diff_id}")
            unpack.apply(layer, tree)  # a user's image is untrusted: never outside tmp, whiteouts applied
        # the seal arrives with the tree (one rename): what no later change can stay under
        walk = _walk(tree)
        (tmp / LISTING).write_bytes(zlib.compress(b"\0".join(walk.listing)))
        (tmp / SEAL).write_text(json.dumps({"ctime_ns": walk.newest, "listing_sha256": walk.digest()}))
        os.replace(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (dest / TREE).is_dir():
            raise read_error(f"image {image.image_id}: unpacking it for runc", exc, dest.parent) from None
        # another process unpacked the same image meanwhile (a directory is not replaced
        # when it is not empty: ENOTEMPTY): the same ID, the same tree
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    st = (dest / TREE).stat()
    _sealed.add((st.st_dev, st.st_ino))  # ours or the winner's, just unpacked
    prune_other_formats(top)
    return dest / TREE


ROOTFS_ENTRY = re.compile(r"u(?P<format>[0-9]+)-(?P<id>[0-9a-f]{64})(?:\.lines-[0-9]+\.json)?")
"""A cache entry of ``rootfs()``, of any format this or an older sandproof unpacked."""
PRUNING = ".pruning-"


def prune_other_formats(top: Path) -> list[str]:
    """Remove the trees an older sandproof unpacked, never reused by this one (``rootfs`` keys
    its entries by ``unpack.FORMAT``): ~40 MB each, left for ever otherwise. A newer format's
    are left alone (a newer sandproof sharing the cache may be running from one: review 16).
    Called once a new tree is unpacked (rarely: once per image and format). Only names of
    the cache's own shape are touched (``retire``), and one that cannot be moved is left for
    the next time. Returns the names removed."""
    ours = int(unpack.FORMAT.removeprefix("u"))
    gone = []
    for name in sorted(os.listdir(top)):
        m = ROOTFS_ENTRY.fullmatch(name.removeprefix(PRUNING))  # an interrupted prune's leftover is pruned again
        if m is not None and int(m["format"]) < ours and retire(top / name):
            gone.append(name)
    return gone


def retire(path: Path) -> bool:
    """Remove a cache entry: renamed to a hidden name first (``PRUNING``; a name that has it
    already is an interrupted removal's), so no reader finds half a tree, then removed without
    following links. False when it could not be moved (another process removed it first, or a
    leftover of the same entry is beside it): left for the next time."""
    hidden = path if path.name.startswith(PRUNING) else path.with_name(PRUNING + path.name)
    try:
        if hidden != path:
            os.rename(path, hidden)
    except OSError:
        return False
    if hidden.is_dir() and not hidden.is_symlink():
        cleanup.remove_tree(hidden)
    else:
        hidden.unlink(missing_ok=True)
    return True


def mark_used(entry: Path) -> None:
    """Set a cache entry's modification time to now: ``sandproof cache prune`` removes only
    entries no run used for a while (``cachestore``)."""
    with contextlib.suppress(OSError):  # a cache on a read-only mount: never pruned either
        os.utime(entry, follow_symlinks=False)


__all__ = [
    "BASE_NAME",
    "HOMES",
    "NONROOT",
    "PATH_ENV",
    "ROOTFS_ENTRY",
    "SKIP_PREFIXES",
    "Image",
    "base_of",
    "build",
    "cache_dir",
    "cache_path",
    "docker_archive",
    "ensure_docker",
    "expected_id",
    "home_of",
    "inspector_files",
    "locked_mappable_files",
    "mappable_files",
    "mark_used",
    "prune_other_formats",
    "refuse_planted",
    "retire",
    "rootfs",
    "rootfs_dir",
    "unlistable",
    "unused",
]
