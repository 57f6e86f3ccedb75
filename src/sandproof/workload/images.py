"""Workload images that are not sandproof's own, built offline like ``image build`` does.

Two shapes a user's image takes, for the foreign-image work of issue 11:

* ``busybox()``: Debian's ``busybox-static`` alone: one static binary, no ELF interpreter,
  no libc, no Python. The harness must attest it from its own mounted runtime.
* ``app(name, code_dir, entrypoint)``: the pinned Debian Python base (the very layer
  ``image build`` makes) plus a directory of the user's code, e.g.
  ``examples/packet-inspector/``.

Same recipe as ``image.py``: pinned ``.deb`` files checked by sha256, layers written
byte-for-byte deterministically, the image ID the sha256 of a canonical config, so two
builds give the same ID; ``image.ensure_docker`` loads one, ``image.rootfs`` unpacks it.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import json
import os
import platform
import shutil
import struct
import subprocess
import tarfile
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from sandproof import atomic, imagespec, unpack
from sandproof import image as images
from sandproof import profile as profiles
from sandproof.errors import ImageError
from sandproof.image import Image
from sandproof.imagespec import NONROOT, PATH_ENV
from sandproof.imagespec import Layer as _Layer
from sandproof.workload import harness_mount

BUSYBOX_NAME = "sandproof/workload-busybox:bookworm"
BUSYBOX_APPLETS = ("sh", "ls", "cat", "echo", "id", "true", "false", "sleep", "env")
"""Applet links in /bin: busybox picks the applet from argv[0]."""


def _lock() -> dict[str, Any]:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    ref = resources.files("sandproof.lock").joinpath(f"workload-bookworm-{arch}.toml")
    if not ref.is_file():
        raise ImageError(f"no pinned workload package list for architecture {arch} (expected lock/{ref.name})")
    return tomllib.loads(ref.read_text("utf-8"))


def _skeleton(layer: _Layer) -> None:
    """What every image here has besides its files: nonroot 65532, a sticky /tmp, the
    mountpoints the profile binds (/in, /out), and nothing writable by others."""
    for d in ("bin", "etc", "proc", "sys", "dev", "in", "out", "home"):
        layer.dir(d, 0o755)
    layer.dir("tmp", 0o1777)
    for path, (mode, owner) in imagespec.RESTRICTED_DIRS.items():
        layer.dir(path.lstrip("/"), mode, owner)
    layer.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )
    layer.file("etc/group", b"root:x:0:\nnonroot:x:65532:\n")


def _deb_into(layer: _Layer, deb: Path) -> None:
    proc = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=False)
    if proc.returncode != 0:
        raise ImageError(f"cannot unpack {deb.name}: {proc.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        for info in tar:
            if info.name.startswith(images.SKIP_PREFIXES) or info.ischr() or info.isblk():
                continue
            data = tar.extractfile(info).read() if info.isfile() else None  # type: ignore[union-attr]
            layer.add(info, data)


def config(diff_ids: Sequence[str], run: dict[str, Any], steps: Sequence[str], mtime: int) -> bytes:
    """A canonical image config (sorted keys, no spaces): its sha256 is the image ID."""
    created = imagespec.iso_date(mtime)  # one formatter for every image sandproof writes
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    cfg = {
        "architecture": arch,
        "os": "linux",
        "created": created,
        "config": {"Env": [PATH_ENV], **run},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [{"created": created, "created_by": step} for step in steps],
    }
    return json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()


def _image(
    name: str, layers: Sequence[Path], diff_ids: Sequence[str], run: dict[str, Any], steps: Sequence[str]
) -> Image:
    mtime = int(_lock()["source_date_epoch"])
    cfg = config(diff_ids, run, steps, mtime)
    return Image(name, "sha256:" + hashlib.sha256(cfg).hexdigest(), tuple(layers), cfg)


def _layers_dir() -> Path:
    d = images.cache_dir() / "layers"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _write(layer: _Layer, stem: str) -> tuple[Path, str]:
    """Write a layer under a name derived from its own bytes (two builds share one file)."""
    diff_id = layer.diff_id()
    dest = _layers_dir() / f"{stem}-{diff_id.split(':')[1][:16]}.tar"
    if not dest.is_file():
        layer.write(dest)
    return dest, diff_id


def _store(raw: bytes, stem: str) -> tuple[Path, str]:
    """A layer made as tar bytes of its own (PAX headers, which ``_Layer`` does not write), kept
    as ``_write`` keeps one: named by its digest, written whole under a private name, renamed."""
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    dest = _layers_dir() / f"{stem}-{diff_id.split(':')[1][:16]}.tar"
    if not dest.is_file():
        atomic.publish(dest.parent, {dest.name: raw}, what="the layer cache")
    return dest, diff_id


BUSYBOX_STEP = "sandproof: Debian busybox-static (no Python)"
BUSYBOX_RUN = {"User": f"{NONROOT}:{NONROOT}", "WorkingDir": "/", "Cmd": ["/bin/sh"]}


def busybox() -> Image:
    """Debian's static busybox as a one-layer image: no loader, no libc, no Python."""
    lock = _lock()
    mtime = int(lock["source_date_epoch"])
    debs = images._fetch(lock, images.cache_dir() / "debs")  # the same pinned, sha256-checked fetch as the base
    layer = _Layer(mtime)
    _skeleton(layer)
    for deb in debs:
        _deb_into(layer, deb)
    for applet in BUSYBOX_APPLETS:
        layer.symlink(f"bin/{applet}", "busybox")
    path, diff_id = _write(layer, "busybox")
    return _image(BUSYBOX_NAME, [path], [diff_id], dict(BUSYBOX_RUN), [BUSYBOX_STEP])


def _busybox_plus(
    kind: str, added: Sequence[tuple[Path, str]], steps: Sequence[str], base_step: str = BUSYBOX_STEP, **config: Any
) -> Image:
    """busybox, then the ``added`` layers (each with its history step), its config changed by ``config``."""
    bb = busybox()
    base_id = json.loads(bb.config)["rootfs"]["diff_ids"][0]
    paths, ids = [p for p, _ in added], [d for _, d in added]
    run = {**BUSYBOX_RUN, **config}
    name = f"sandproof/workload-busybox-{kind}:bookworm"
    return _image(name, [bb.layers[0], *paths], [base_id, *ids], run, [base_step, *steps])


def base() -> Image:
    """The pinned Debian Python base ``image build`` assembles (its first layer, as an image)."""
    return images.base_of(images.build(profiles.load("default")))


def app(name: str, code_dir: Path, entrypoint: Sequence[str], workdir: str = "/app") -> Image:
    """The Python base plus every regular file of ``code_dir`` under ``workdir`` (root-owned,
    read-only to the workload: 0644 files, 0755 directories, sorted, fixed mtime)."""
    if not code_dir.is_dir():
        raise ImageError(f"{code_dir}: not a directory")
    mtime = int(_lock()["source_date_epoch"])
    layer = _Layer(mtime)
    root = workdir.strip("/")
    layer.dir(root)
    for src in sorted(code_dir.rglob("*")):
        rel = src.relative_to(code_dir).as_posix()
        if "__pycache__" in rel.split("/") or src.is_symlink():
            continue
        if src.is_dir():
            layer.dir(f"{root}/{rel}")
        elif src.is_file():
            layer.file(f"{root}/{rel}", src.read_bytes())
    path, diff_id = _write(layer, "app")
    b = base()
    base_id = json.loads(b.config)["rootfs"]["diff_ids"][0]
    run = {"User": f"{NONROOT}:{NONROOT}", "WorkingDir": workdir, "Entrypoint": list(entrypoint)}
    steps = [
        "sandproof: distroless-style base from pinned Debian packages",
        f"sandproof: {code_dir.name} into {workdir}",
    ]
    return _image(name, [b.layers[0], path], [base_id, diff_id], run, steps)


EXAMPLE_NAME = "sandproof/example-packet-inspector:bookworm"
EXAMPLE_ENTRYPOINT = ("/usr/bin/python3.11", "-I", "-S", "-B", "/app/packet_inspector.py")


def example_dir() -> Path:
    """``examples/packet-inspector`` of a source checkout (it is not part of the wheel)."""
    d = Path(__file__).resolve().parents[3] / "examples" / "packet-inspector"
    if not (d / "app").is_dir():
        raise ImageError(f"{d}: the packet-inspector example is not here (a source checkout has it)")
    return d


def packet_inspector() -> Image:
    """The example workload's image: the Python base plus ``examples/packet-inspector/app``."""
    return app(EXAMPLE_NAME, example_dir() / "app", EXAMPLE_ENTRYPOINT)


FILE_CAP_NET_RAW = struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0)
"""``setcap cap_net_raw+ep``: a vfs_cap_data revision 2, effective, permitted CAP_NET_RAW
(include/uapi/linux/capability.h VFS_CAP_REVISION_2, VFS_CAP_FLAGS_EFFECTIVE)."""
XATTR = "SCHILY.xattr."
"""How a tar carries an extended attribute (pax; moby pkg/archive applies it on load)."""


def _preload_layer(mtime: int, listed: bool = True) -> bytes:
    """A hostile image's /etc/ld.so.preload: every dynamically linked program started in it,
    the carried harness's own loader included, maps the library it names (ld.so(8) reads the
    file from the container's root, whatever --library-path says). ``listed=False``: the library
    alone, for an image whose ENV names it in LD_PRELOAD."""
    lib = (harness_mount.build().tree / "lib" / "x86_64-linux-gnu" / "libz.so.1.2.13").read_bytes()
    files = (("./etc/ld.so.preload", b"/lib/libinject.so\n"),) if listed else ()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (*files, ("./lib/libinject.so", lib)):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.mode, info.size = mtime, 0, 0, 0o644, len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


HIDING = {"root0711": ("./root", 0o711), "dir0744": ("./opt", 0o744)}
"""A setuid file where the walk cannot see it: in a /root the harness may enter but not list
(a name there is reachable, no listing shows it), or in a directory it may list but not enter."""


def _hiding_layer(where: tuple[str, int], mtime: int) -> bytes:
    top, mode = where
    data = b"#!/bin/sh\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, bits in ((top, tarfile.DIRTYPE, mode), (f"{top}/helper", tarfile.REGTYPE, 0o4755)):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.type, info.mode = mtime, 0, 0, kind, bits
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buf.getvalue()


def _flaw_layer(kind: str, mtime: int) -> bytes:
    """One entry a careless image has: a setuid file, a file capability, a world-writable
    directory; or a hostile one's library preloaded into everything. PAX (not GNU) so the
    xattr travels; fixed metadata, so the ID is reproducible."""
    if kind == "preload":
        return _preload_layer(mtime)
    if kind in HIDING:
        return _hiding_layer(HIDING[kind], mtime)
    info = tarfile.TarInfo({"setuid": "./bin/helper", "fcap": "./bin/pinger", "ww": "./srv"}[kind])
    info.mtime, info.uid, info.gid = mtime, 0, 0
    data: bytes | None = None
    if kind == "ww":
        info.type, info.mode = tarfile.DIRTYPE, 0o777
    else:
        data = b"#!/bin/sh\n"
        info.size, info.mode = len(data), 0o4755 if kind == "setuid" else 0o755
    if kind == "fcap":
        info.pax_headers = {XATTR + "security.capability": FILE_CAP_NET_RAW.decode("utf-8", "surrogateescape")}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def flawed(kind: str) -> Image:
    """busybox plus one flaw (``setuid``, ``fcap``, ``ww``): the user's image a probe of
    issue 11 must catch (PR-SUID-1, PR-FCAP-1, PR-WW-1)."""
    raw = _flaw_layer(kind, int(_lock()["source_date_epoch"]))
    return _busybox_plus(kind, [_store(raw, f"flaw-{kind}")], [f"sandproof: a flaw for the probes ({kind})"])


def healthchecked() -> Image:
    """busybox whose config declares a HEALTHCHECK (a shell command every second): a user's
    image the engine would run a command of the image's choosing in, beside the workload,
    were the sandbox not started with --no-healthcheck."""
    check = {"Test": ["CMD-SHELL", "cat /out/* >/dev/null"], "Interval": 1_000_000_000}
    # one history step per layer: the config's own change is said on the base's
    return _busybox_plus("healthcheck", [], [], f"{BUSYBOX_STEP}, a HEALTHCHECK every second", Healthcheck=check)


TOOR_PASSWD = (
    b"root:x:0:0:root:/root:/sbin/nologin\ntoor:x:0:0:root by another name:/:/sbin/nologin\n"
    b"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
"""An /etc/passwd naming uid 0 ``toor`` too: ``USER toor`` runs as root as much as ``USER root``."""


def configured(kind: str) -> Image:
    """busybox whose config a user's image commonly has differently: ``expose`` (EXPOSE 8080,
    which Docker copies into the container's config: the view must expect exactly the image's
    ports), ``toor`` (USER a name its /etc/passwd maps to uid 0: an image configured as root),
    ``ldenv`` (ENV LD_PRELOAD naming a library of its own, which reaches the carried loader),
    ``volume`` (VOLUME /data, owned by nonroot: Docker and Podman make it an anonymous volume on
    the host's disk, which run refuses and every forced removal must take along)."""
    if kind == "expose":
        return _busybox_plus(kind, [], [], f"{BUSYBOX_STEP}, EXPOSE 8080", ExposedPorts={"8080/tcp": {}})
    if kind == "ldenv":
        lib = _store(_preload_layer(int(_lock()["source_date_epoch"]), listed=False), f"lib-{kind}")
        env = [PATH_ENV, "LD_PRELOAD=/lib/libinject.so"]
        return _busybox_plus(kind, [lib], ["sandproof: ENV LD_PRELOAD=/lib/libinject.so"], Env=env)
    layer = _Layer(int(_lock()["source_date_epoch"]))
    if kind == "volume":
        layer.dir("data", 0o755, NONROOT)
        data = _write(layer, f"data-{kind}")
        return _busybox_plus(kind, [data], ["sandproof: /data for nonroot, VOLUME /data"], Volumes={"/data": {}})
    layer.file("etc/passwd", TOOR_PASSWD)
    passwd = _write(layer, f"passwd-{kind}")
    return _busybox_plus(kind, [passwd], ["sandproof: USER toor, uid 0 in its /etc/passwd"], User="toor")


HOST_C_UTF8 = Path("/usr/lib/locale/C.utf8")
"""Debian's C.UTF-8 locale (libc-bin): Debian 12 images hold it at this very path."""
GCONV_DIR = "usr/lib/x86_64-linux-gnu/gconv"
"""Where the image's glibc (and, were it to look in the container's root, the carried one)
finds its charset converters: code, loaded with dlopen (glibc iconv/gconv_conf.c GCONV_DIR)."""


def _c_utf8_files() -> dict[str, bytes]:
    """The host's C.utf8 locale, file by file (a Debian host, as CI's, has it)."""
    if not HOST_C_UTF8.is_dir():
        raise ImageError(f"{HOST_C_UTF8}: not on this host (Debian's libc-bin has it): no locale to copy")
    files = sorted(p for p in HOST_C_UTF8.rglob("*") if p.is_file())
    return {p.relative_to(HOST_C_UTF8).as_posix(): p.read_bytes() for p in files}


def _locale_files(kind: str) -> dict[str, bytes]:
    """``locale``: the C.utf8 locale of a Debian 12 image (PEP 538 coerces the C locale to it).
    ``gconv``: a hostile one, a locale named ``UTF-8`` (the last name CPython's coercion tries,
    Python/pylifecycle.c _TARGET_LOCALES; a name without a codeset, so glibc checks no codeset
    against it, locale/findlocale.c) whose charset is BIG5, plus the image's own converter for
    BIG5 and a gconv-modules naming it: a process that takes this locale loads the image's
    BIG5.so to decode its argv (wcsmbs/wcsmbsload.c). The module is glibc's own here; a hostile
    image's would be anything."""
    c_utf8 = _c_utf8_files()
    if kind == "locale":
        return {f"usr/lib/locale/C.utf8/{name}": data for name, data in c_utf8.items()}
    ctype = c_utf8["LC_CTYPE"]
    if ctype.count(b"UTF-8\0") != 1:
        raise ImageError(f"{HOST_C_UTF8}/LC_CTYPE does not name its codeset UTF-8 exactly once")
    module = (harness_mount.build().tree / GCONV_DIR / "BIG5.so").read_bytes()
    modules = b"module\tBIG5//\t\tINTERNAL\t\tBIG5\t1\nmodule\tINTERNAL\t\tBIG5//\t\tBIG5\t1\n"
    return {
        "usr/lib/locale/UTF-8/LC_CTYPE": ctype.replace(b"UTF-8\0", b"BIG5\0\0"),
        f"{GCONV_DIR}/gconv-modules": modules,
        f"{GCONV_DIR}/BIG5.so": module,
    }


def localed(kind: str) -> Image:
    """busybox plus a locale (``_locale_files``): ``locale`` as every Debian-based image has it,
    ``gconv`` a hostile image's that would load a converter of its own into the harness."""
    layer = _Layer(int(_lock()["source_date_epoch"]))
    files = _locale_files(kind)
    for d in sorted({"/".join(n.split("/")[:i]) for n in files for i in range(1, n.count("/") + 1)}):
        layer.dir(d)
    for name, data in files.items():
        layer.file(name, data)
    return _busybox_plus(kind, [_write(layer, kind)], [f"sandproof: a locale ({kind})"])


BUILT_IN: dict[str, Callable[[], Image]] = {
    "busybox": busybox,
    "example": packet_inspector,
    "busybox-setuid": functools.partial(flawed, "setuid"),
    "busybox-fcap": functools.partial(flawed, "fcap"),
    "busybox-ww": functools.partial(flawed, "ww"),
    "busybox-preload": functools.partial(flawed, "preload"),
    "busybox-root0711": functools.partial(flawed, "root0711"),
    "busybox-dir0744": functools.partial(flawed, "dir0744"),
    "busybox-healthcheck": healthchecked,
    "busybox-expose": functools.partial(configured, "expose"),
    "busybox-toor": functools.partial(configured, "toor"),
    "busybox-ldenv": functools.partial(configured, "ldenv"),
    "busybox-locale": functools.partial(localed, "locale"),
    "busybox-gconv": functools.partial(localed, "gconv"),
}


def resolve(ref: str) -> Image:
    """A built-in workload image by name, else an image of the local Docker engine."""
    if ref in BUILT_IN:
        return BUILT_IN[ref]()
    return from_docker(ref)


def from_docker(ref: str, docker: str = "docker") -> Image:
    """An engine's image as layer files and config, via ``docker save`` (cached by ID):
    the same bytes Docker runs, unpacked for runc by ``image.rootfs``."""
    proc = subprocess.run(
        [docker, "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        said = proc.stderr.strip().removeprefix("Error response from daemon: ") or "no answer"
        raise ImageError(
            f"image {ref!r}: not in the local Docker engine ({said}); `docker pull {ref}` or `docker load` it "
            "first, or use busybox or example"
        )
    image_id = proc.stdout.strip()
    dest = images.cache_dir() / "saved" / image_id.split(":")[-1]
    if not (dest / "manifest.json").is_file():
        _save(ref, image_id, docker, dest)
    else:
        images.mark_used(dest)
    manifest = json.loads((dest / "manifest.json").read_text())[0]
    config = (dest / manifest["Config"]).read_bytes()
    if "sha256:" + hashlib.sha256(config).hexdigest() != image_id:
        raise ImageError(f"image {ref!r}: the saved config does not hash to its ID {image_id}")
    return Image(ref, image_id, tuple(dest / layer for layer in manifest["Layers"]), config)


def _save(ref: str, image_id: str, docker: str, dest: Path) -> None:
    """``docker save`` into ``dest``, whole or not at all: read into a directory of its own and
    renamed, so a save cut short (a full disk, here or in the engine's own temporary files) never
    leaves a tree a later run takes for the image. What failed is one line (``read_error``)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".saving-", dir=dest.parent))
    try:
        # stderr to a file: a pipe nobody reads while stdout is read could fill and stall docker
        with (
            tempfile.TemporaryFile() as said,
            subprocess.Popen([docker, "save", image_id], stdout=subprocess.PIPE, stderr=said) as save,
        ):
            assert save.stdout is not None
            try:
                with tarfile.open(fileobj=save.stdout, mode="r|") as tar:
                    if unpack.FILTERS:
                        tar.extractall(tmp, filter="data")
                    else:  # Debian 12's own python3 (3.11.2): no filters; never outside tmp all the same
                        unpack.extract(tar, tmp)
                while save.stdout.read(1 << 16):  # the padding after the end of the archive
                    pass
                failed: BaseException | None = None
            except (tarfile.TarError, OSError) as exc:
                failed = exc
                save.kill()  # what it still writes is no longer read
            code = save.wait()
            said.seek(0)
            engine = " ".join(said.read(4096).decode("utf-8", "replace").split())
        if failed is not None or code != 0:
            what = f"image {ref!r}: reading it with `{docker} save`"
            raise _save_error(what, failed, engine or f"{docker} save exited {code}", dest.parent)
        try:
            os.replace(tmp, dest)
        except OSError:  # a directory is not replaced when it is not empty
            if (dest / "manifest.json").is_file():  # another sandproof saved the same image meanwhile
                shutil.rmtree(tmp, ignore_errors=True)
                return
            try:
                shutil.rmtree(dest)  # an older sandproof's save cut short, read in place
                os.replace(tmp, dest)
            except OSError as exc:
                raise images.read_error(f"image {ref!r}: storing what `{docker} save` gave", exc, dest) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _save_error(what: str, failed: BaseException | None, engine: str, where: Path) -> ImageError:
    """Why a save failed, in the engine's own words where it said any: a daemon whose disk is
    full stops the stream in the middle (the tar is cut short) and says so on stderr. Our own
    write failing (ENOSPC under the cache) is that error: the engine, killed then, said nothing."""
    if isinstance(failed, OSError):
        return images.read_error(what, failed, where)
    if "no space left on device" in engine.lower():
        failed = OSError(errno.ENOSPC, f"the engine said: {engine}")
    else:  # the stream cut short, or whole but the engine failed after
        failed = tarfile.ReadError("; ".join(w for w in (str(failed or ""), f"the engine said: {engine}") if w))
    return images.read_error(what, failed, where)
