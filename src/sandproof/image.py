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

import datetime as dt
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

from sandproof.errors import ImageError
from sandproof.profile import Profile

NONROOT = 65532
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RESTRICTED_DIRS = {"/root": (0o700, 0), "/home/nonroot": (0o700, NONROOT)}
"""The image's only directories not open to everyone (mode, owner; group = owner)."""
SKIP_PREFIXES = ("./usr/share/doc/", "./usr/share/man/", "./usr/share/lintian/", "./usr/share/locale/")


@dataclass(frozen=True)
class Image:
    """A built image: its ID and the layer files it is made of."""

    name: str
    image_id: str
    """``sha256:<hex>`` of the config: what ``docker image inspect`` reports as Id."""
    layers: tuple[Path, ...]
    config: bytes


def cache_dir() -> Path:
    root = Path(os.environ.get("SANDPROOF_CACHE", Path.home() / ".cache" / "sandproof"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def _lock_name() -> str:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return f"debian-bookworm-{arch}.toml"


def _lock() -> dict[str, Any]:
    name = _lock_name()
    arch = name.removeprefix("debian-bookworm-").removesuffix(".toml")
    ref = resources.files("sandproof.lock").joinpath(name)
    if not ref.is_file():
        raise ImageError(f"no pinned Debian package list for architecture {arch} (expected lock/{name})")
    return tomllib.loads(ref.read_text("utf-8"))


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


def _fetch(lock: dict[str, Any], debs: Path) -> list[Path]:
    debs.mkdir(parents=True, exist_ok=True)

    def pinned(pkg: dict[str, str]) -> list[Path]:
        return [p for p in debs.glob(f"{pkg['name']}_*.deb") if _sha256_file(p) == pkg["sha256"]]

    missing = [pkg for pkg in lock["package"] if not pinned(pkg)]
    if missing:
        apt = _apt(debs.parent, lock)
        update = subprocess.run([*apt, "update"], capture_output=True, text=True, check=False)
        if update.returncode != 0:
            last = (update.stderr.strip().splitlines() or ["no output"])[-1]
            raise ImageError(f"cannot read Debian's package index from {lock['mirror']}: {last}")
        specs = [f"{pkg['name']}={pkg['version']}" for pkg in missing]
        proc = subprocess.run([*apt, "download", *specs], cwd=debs, capture_output=True, text=True, check=False)
        for pkg in missing:
            if not pinned(pkg):
                why = (proc.stderr.strip().splitlines() or ["sha256 mismatch"])[-1]
                raise ImageError(
                    f"cannot fetch pinned package {pkg['name']}={pkg['version']}: {why} "
                    "(Debian's mirror may have moved on; update src/sandproof/lock/)"
                )
    return [pinned(pkg)[0] for pkg in lock["package"]]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Layer:
    """Tar entries keyed by path, written out sorted with fixed metadata."""

    def __init__(self, mtime: int) -> None:
        self.mtime = mtime
        self.entries: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}

    def add(self, info: tarfile.TarInfo, data: bytes | None) -> None:
        name = "./" + info.name.lstrip("./") if info.name not in (".", "./") else "."
        info.name = name.rstrip("/") if name != "." else "."
        info.mtime = self.mtime
        info.uname = info.gname = ""
        self.entries[info.name] = (info, data)

    def dir(self, path: str, mode: int = 0o755, owner: int = 0) -> None:
        ti = tarfile.TarInfo(path)
        ti.type, ti.mode, ti.uid, ti.gid = tarfile.DIRTYPE, mode, owner, owner
        self.add(ti, None)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        ti = tarfile.TarInfo(path)
        ti.size, ti.mode = len(data), mode
        self.add(ti, data)

    def symlink(self, path: str, target: str) -> None:
        ti = tarfile.TarInfo(path)
        ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, target, 0o777
        self.add(ti, None)

    def dump(self, out: BinaryIO) -> None:
        with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for name in sorted(self.entries):
                info, data = self.entries[name]
                tar.addfile(info, io.BytesIO(data) if data is not None else None)

    def write(self, dest: Path) -> str:
        """Write the layer; return ``sha256:<hex>`` of its bytes (its diff_id)."""
        tmp = dest.with_suffix(".tmp")
        with tmp.open("wb") as raw:
            self.dump(raw)
        os.replace(tmp, dest)
        return "sha256:" + _sha256_file(dest)

    def diff_id(self) -> str:
        buf = io.BytesIO()
        self.dump(buf)
        return "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest()


def _base_layer(debs: list[Path], mtime: int) -> _Layer:
    layer = _Layer(mtime)
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


def locked_mappable_files() -> dict[str, str]:
    """The lock's list of the files the harness's process may map (PR-INTEGRITY-1)."""
    ref = resources.files("sandproof.lock").joinpath(_lock_name().replace(".toml", "-mappable.json"))
    if not ref.is_file():
        raise ImageError(f"no list of mappable files for this architecture (expected lock/{ref.name})")
    data = json.loads(ref.read_text("utf-8"))
    return {str(k): str(v) for k, v in data.items()}


HOMES = {0: "/root", NONROOT: "/home/nonroot"}
"""The image's passwd entries' home directories (see _base_layer)."""


def home_of(uid: int) -> str:
    """HOME as the runtime sets it from the image's passwd ("/" for a user it does not list)."""
    return HOMES.get(uid, "/")


def unlistable(uid: int, gid: int) -> list[str]:
    """The image's directories a process of uid:gid (without capabilities) cannot list."""
    out = []
    for path, (mode, owner) in RESTRICTED_DIRS.items():
        bits = mode >> 6 if uid == owner else mode >> 3 if gid == owner else mode
        if bits & 0o5 != 0o5:
            out.append(path)
    return sorted(out)


def inspector_files() -> dict[str, bytes]:
    """What goes under the workdir: ``main.py`` and the ``inspector/`` package (seed §1 layout)."""
    pkg = resources.files("sandproof.inspector")
    files = {"main.py": pkg.joinpath("entry.py").read_bytes()}
    for item in sorted(pkg.iterdir(), key=lambda t: t.name):
        if item.name.endswith(".py") and item.name != "entry.py":
            files[f"inspector/{item.name}"] = item.read_bytes()
    return files


def _app_layer(mtime: int, workdir: str) -> _Layer:
    layer = _Layer(mtime)
    root = workdir.strip("/")
    layer.dir(root)
    layer.dir(f"{root}/inspector")
    for rel, data in inspector_files().items():
        layer.file(f"{root}/{rel}", data)
    return layer


BASE_NAME = "sandproof/distroless-python3:bookworm"
"""The offline base alone, for ``docker build`` of the rendered Dockerfile."""


def _config(profile: Profile | None, diff_ids: list[str], mtime: int) -> bytes:
    """The image config; ``profile=None`` gives the base alone, shaped like distroless python3."""
    created = _iso(mtime)
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    if profile is None:
        run = {"User": f"{NONROOT}:{NONROOT}", "WorkingDir": "/home/nonroot", "Entrypoint": ["/usr/bin/python3.11"]}
    else:
        run = {
            "User": f"{profile.uid}:{profile.gid}",
            "WorkingDir": profile.workdir,
            "Entrypoint": list(profile.entrypoint),
        }
    steps = ["sandproof: distroless-style base from pinned Debian packages", "sandproof: inspector into the workdir"]
    cfg = {
        "architecture": arch,
        "os": "linux",
        "created": created,
        "config": {**run, "Env": [PATH_ENV]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": step} for step in steps[: len(diff_ids)]],
    }
    return json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(profile: Profile) -> Image:
    """Assemble the image's layers and config (cached); do not touch any engine."""
    lock = _lock()
    mtime = int(lock["source_date_epoch"])
    root = cache_dir()
    lock_id = hashlib.sha256(json.dumps(lock, sort_keys=True).encode()).hexdigest()[:16]
    base_path = root / "layers" / f"base-{lock_id}.tar"
    base_path.parent.mkdir(parents=True, exist_ok=True)
    base_id_file = base_path.with_suffix(".diffid")
    if base_path.is_file() and base_id_file.is_file():
        base_id = base_id_file.read_text().strip()
    else:
        base_id = _base_layer(_fetch(lock, root / "debs"), mtime).write(base_path)
        if base_id != lock["base_diff_id"]:
            base_path.unlink()
            raise ImageError(
                f"the base layer built from the pinned packages is {base_id}, but the lock says "
                f"{lock['base_diff_id']}: the build did not reproduce (see README, Image)"
            )
        base_id_file.write_text(base_id)
    buf = io.BytesIO()
    _app_layer(mtime, profile.workdir).dump(buf)
    app_bytes = buf.getvalue()
    app_id = "sha256:" + hashlib.sha256(app_bytes).hexdigest()
    app_path = root / "layers" / f"app-{app_id.split(':')[1][:16]}.tar"
    # the layer is small and made in memory; it is written only when its file is missing or
    # not these bytes (~3 ms of every attest went to rewriting and re-hashing the same file)
    if not (app_path.is_file() and app_path.stat().st_size == len(app_bytes) and app_path.read_bytes() == app_bytes):
        fd, pending = tempfile.mkstemp(prefix=".app-pending-", suffix=".tar", dir=root / "layers")
        with os.fdopen(fd, "wb") as f:  # a private name: two builds at once never write the same file
            f.write(app_bytes)
        os.replace(pending, app_path)
    config = _config(profile, [base_id, app_id], mtime)
    return Image(profile.image_name, "sha256:" + hashlib.sha256(config).hexdigest(), (base_path, app_path), config)


def expected_id(profile: Profile) -> str:
    """The image ID ``build`` gives this profile, computed without building the base:
    its diff_id is pinned in the lock, the inspector layer is small enough to make here."""
    lock = _lock()
    mtime = int(lock["source_date_epoch"])
    config = _config(profile, [lock["base_diff_id"], _app_layer(mtime, profile.workdir).diff_id()], mtime)
    return "sha256:" + hashlib.sha256(config).hexdigest()


def base_of(image: Image) -> Image:
    """The base layer alone as an image (``BASE_NAME``), to build the rendered Dockerfile on."""
    lock = _lock()
    diff_id = "sha256:" + _sha256_file(image.layers[0])
    config = _config(None, [diff_id], int(lock["source_date_epoch"]))
    return Image(BASE_NAME, "sha256:" + hashlib.sha256(config).hexdigest(), image.layers[:1], config)


def docker_archive(image: Image, dest: Path) -> None:
    """Write a ``docker load`` archive (the docker-save layout) for the image."""
    hexid = image.image_id.split(":")[1]
    manifest = [
        {"Config": f"{hexid}.json", "RepoTags": [image.name], "Layers": [f"{p.stem}/layer.tar" for p in image.layers]}
    ]
    with tarfile.open(dest, "w") as tar:
        for name, data in ((f"{hexid}.json", image.config), ("manifest.json", json.dumps(manifest).encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
        for p in image.layers:
            tar.add(p, arcname=f"{p.stem}/layer.tar")


def ensure_docker(image: Image, docker: str = "docker") -> None:
    """Load the image into the engine unless the engine already has this exact ID; the
    build it replaces under the same tag is removed, so rebuilds do not pile up."""
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
    if previous:  # untagged now; still in use by another tag or container means docker refuses, which is fine
        subprocess.run([docker, "image", "rm", previous], capture_output=True, check=False)


def rootfs(image: Image) -> Path:
    """The image unpacked for runc, cached by image ID; shared read-only between runs."""
    dest = cache_dir() / "rootfs" / image.image_id.split(":")[1]
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=dest.parent))
    try:
        for layer in image.layers:
            with tarfile.open(layer) as tar:
                tar.extractall(tmp, numeric_owner=True, filter="fully_trusted")  # noqa: S202 - our own layers
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
