"""The harness carried into a user's image: the facts a foreign-image attestation depends
on, and the pieces of the sandbox they change (issue 11).

A leaf: the plan, the mount inventory, both renderers, the evidence and the verifier read
these facts from one ``Workload`` value. attest builds it from the image and the harness
tree it mounts; the verifier rebuilds it from the evidence (``from_record``) and derives
every expectation from it, so what the verifier trusts is exactly this record: it cannot
inspect the user's image itself.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

MOUNT_POINT = "/.sandproof"
"""One fixed path: the evidence declares it and the mount inventory expects it."""
APP_DIR = "app"
PYTHON = f"{MOUNT_POINT}/usr/bin/python3.11"
HARNESS_MAIN = f"{MOUNT_POINT}/{APP_DIR}/main.py"
# -E: no PYTHON* variables; -s: no user site; -S: no site (so no sitecustomize, which
# Debian links to /etc); -B: no .pyc into a read-only tree. The profile's own flags.
PYTHON_FLAGS = ("-E", "-s", "-S", "-B")
MOUNT_FLAGS = {"docker": (), "runc": ("nodev", "nosuid"), "runsc": ("nodev", "nosuid"), "podman": ()}
"""Per-mount flags of the harness bind as each runtime makes it: Docker's ``--mount
type=bind,readonly`` sets none besides ro (moby volume/mounts/parser.go has no nosuid for
binds); runc is given them in the OCI config (harness_mount.oci_mount); podman's binds set none
either (observed: attest's /in bind under podman 4.3.1 shows only ro)."""

ENV = {"LC_ALL": "C"}
"""The one variable the carried harness is started with, beside the profile's. CPython coerces
the C locale at startup (PEP 538, Python/pylifecycle.c _Py_CoerceLegacyLocale): it tries
``setlocale(LC_CTYPE, "C.UTF-8")``, then ``C.utf8``, then ``UTF-8``, and glibc reads those from the
container's root, the user's image (locale/findlocale.c: /usr/lib/locale, its locale-archive and
/usr/share/locale/locale.alias; LOCPATH only adds directories before that default: measured).
Where the image has one (every Debian 12 image has /usr/lib/locale/C.utf8) the harness maps the
image's LC_CTYPE and sets LC_CTYPE in its own environment; a locale whose charset glibc has no
built-in converter for makes it dlopen the image's gconv module to decode argv
(wcsmbs/wcsmbsload.c; ``busybox-gconv``): code of the image's choosing. No command-line switch
stops the coercion (-E, -I, -X utf8 do not: only the embedding API's configure_locale=0), and
the non-empty LC_ALL Python/pylifecycle.c _Py_LegacyLocaleDetected checks is the one that does;
with the value C, glibc's setlocale answers from its built-in C locale and opens no file
(locale/findlocale.c: "C" and "POSIX" never load). UTF-8 mode still follows (PEP 540: the C
locale enables it). Set by sandproof's renderers (the argv and OCI config the verifier
re-renders), and PR-ENV-1 expects it, value included, from the workload record."""


def env(declared: Iterable[str]) -> dict[str, str]:
    """``ENV`` but what the profile sets itself (its own value then stands, as for the
    runtime's variables: a profile that sets LC_ALL to a locale chooses that locale)."""
    names = set(declared)
    return {k: v for k, v in ENV.items() if k not in names}


def docker_env(declared: Iterable[str]) -> list[str]:
    """``ENV`` as ``docker run`` flags (a constant, so the value is in the argv)."""
    return [a for k, v in env(declared).items() for a in ("--env", f"{k}={v}")]


_MULTIARCH = {
    "x86_64": ("x86_64-linux-gnu", "ld-linux-x86-64.so.2"),
    "aarch64": ("aarch64-linux-gnu", "ld-linux-aarch64.so.1"),
}
_ID = re.compile(r"sha256:[0-9a-f]{64}\Z")
_DIGEST = _ID


def _multiarch() -> tuple[str, str]:
    return _MULTIARCH.get(platform.machine(), _MULTIARCH["x86_64"])


def loader() -> str:
    """The loader's real file in the mount (``lib64/`` holds an absolute link to it)."""
    triplet, ld = _multiarch()
    return f"{MOUNT_POINT}/lib/{triplet}/{ld}"


def library_path() -> str:
    triplet, _ = _multiarch()
    return f"{MOUNT_POINT}/lib/{triplet}:{MOUNT_POINT}/usr/lib/{triplet}"


def python_argv(*args: str) -> list[str]:
    """The mounted loader runs the mounted interpreter: no LD_* variable, the image's own
    loader and libc never consulted. ``--argv0`` keeps sys.executable the mounted python
    (getpath finds lib/python3.11 from it)."""
    return [loader(), "--library-path", library_path(), "--argv0", PYTHON, PYTHON, *PYTHON_FLAGS, *args]


def harness_argv(*harness_args: str) -> list[str]:
    return python_argv(HARNESS_MAIN, *harness_args)


@dataclass(frozen=True)
class Workload:
    """The user's image and the harness tree, as attest saw them (outside facts)."""

    ref: str
    """What the user named (``--image`` or ``image.workload``)."""
    image_id: str
    """``sha256:`` of the image's config: the ID Docker runs and runc's rootfs is unpacked from."""
    user: str
    """The image's configured ``User`` ("" = root): the profile's --user overrides it."""
    workdir: str
    """The image's ``WorkingDir`` ("" = /): the sandbox's working directory."""
    harness_digest: str
    """``sha256:`` naming the carried tree (base layer diff_id, inspector bytes, format)."""
    harness_tree: str
    """The tree's host path, bound read-only at MOUNT_POINT (a per-run path, like /in's)."""
    preload: str = ""
    """What the image's ``/etc/ld.so.preload`` holds ("" when it has none), read from the image's
    own tree on the host. The carried loader reads that file from the container's root whatever
    ``--library-path`` says (glibc elf/rtld.c), so a library it names runs inside the harness
    before Python starts, where nothing the harness observes of itself can be believed: such a
    library can remap its own file away as anonymous memory and PR-INTEGRITY-1 PASSes (measured).
    Only the outside can say it is absent. Not in a record an older sandproof wrote."""
    user_uid: str = ""
    """The uid ``user`` names in the image, resolved from outside as the engines would
    (``resolve_uid``): a decimal, or ``?`` and why it names none. ``USER toor`` with a
    ``toor:x:0:0`` line in the image's /etc/passwd is root as much as ``USER 0`` is. "" in a
    record an older sandproof wrote (then only ``root_user``'s spellings are seen)."""
    config: str = ""
    """The image's config JSON as the engine holds it: its sha256 is ``image_id``, so what the
    verifier derives from it (``user``, ``workdir``, the exposed ports) is bound to the image
    that ran instead of taken on the record's word. "" in a record an older sandproof wrote."""
    rootfs: str = ""
    """The image's tree as the harness's walk records it, read from outside (``treefacts.record``:
    per top-level entry its count and digest, the lines of the small ones): PR-ROOTFS-1 expects
    exactly it, less mount points, plus the runtime's own entries. "" in a record an older
    sandproof wrote (then PR-ROOTFS-1 is planned UNVERIFIED)."""

    @property
    def cwd(self) -> str:
        return self.workdir or "/"

    def record(self) -> dict[str, str]:
        return asdict(self)

    @property
    def preloads(self) -> bool:
        return self.preload != ""

    def docker_mount(self) -> list[str]:
        return ["--mount", f"type=bind,source={self.harness_tree},target={MOUNT_POINT},readonly"]

    def oci_mount(self) -> dict[str, Any]:
        # nosuid, nodev: the tree has neither, but say so to the kernel too
        return {
            "destination": MOUNT_POINT,
            "type": "bind",
            "source": self.harness_tree,
            "options": ["rbind", "rprivate", "ro", "nosuid", "nodev"],
        }


OPTIONAL = ("preload", "user_uid", "config", "rootfs")


def from_record(value: object) -> Workload | str:  # noqa: PLR0911 - one reason per fact
    """The evidence's ``workload`` object, or why it is not one (a bundle is untrusted)."""
    if not isinstance(value, dict):
        return "no workload record"
    fields = ("ref", "image_id", "user", "workdir", "harness_digest", "harness_tree")
    # read from outside by later sandproofs (the image's /etc/ld.so.preload, its User's uid, its
    # config); older records lack them
    known = (*fields, *(f for f in OPTIONAL if f in value))
    if sorted(value) != sorted(known) or not all(isinstance(value[f], str) for f in known):
        return f"the workload record has not exactly the string fields {', '.join(fields)} (and {', '.join(OPTIONAL)})"
    w = Workload(**{f: str(value[f]) for f in known})
    if not _ID.match(w.image_id) or not _DIGEST.match(w.harness_digest):
        return "the workload record's image_id or harness_digest is not sha256:<64 hex>"
    if not w.harness_tree.startswith("/") or "," in w.harness_tree or "\n" in w.harness_tree:
        return "the workload record's harness_tree is not an absolute path"
    if w.workdir and not w.workdir.startswith("/"):
        return "the workload record's workdir is not absolute"
    if w.config and (why := config_mismatch(w)):
        return why
    from sandproof.workload import treefacts  # noqa: PLC0415 - a leaf: only a record's check needs it

    return treefacts.problem(w.rootfs) or w


def image_config(w: Workload) -> dict[str, Any]:
    """The recorded image config's ``config`` object ({} when none was recorded or it is not
    one: ``config_mismatch`` has refused such a record already)."""
    try:
        found = json.loads(w.config).get("config") if w.config else None
    except (ValueError, AttributeError):
        return {}
    return found if isinstance(found, dict) else {}


def config_mismatch(w: Workload) -> str:
    """Why the recorded config is not the image's ("" when it is): it must hash to the image
    ID, and the record's User and WorkingDir must be the config's own (moby image/image.go:
    the image ID is the sha256 of the config's bytes)."""
    if "sha256:" + hashlib.sha256(w.config.encode("utf-8", "surrogateescape")).hexdigest() != w.image_id:
        return "the workload record's image config does not hash to its image_id"
    try:
        whole = json.loads(w.config)
    except ValueError:
        return "the workload record's image config is not JSON"
    cfg = whole.get("config") if isinstance(whole, dict) else None
    cfg = {} if cfg is None else cfg
    if not isinstance(cfg, dict):
        return "the workload record's image config has no config object"
    for field, key in (("user", "User"), ("workdir", "WorkingDir")):
        if (cfg.get(key) or "") != getattr(w, field):
            said = getattr(w, field)
            return f"the workload record's {field} {said!r} is not the image config's {key} {cfg.get(key)!r}"
    return ""


def exposed_ports(w: Workload) -> list[str]:
    """The ports the image's config exposes (its EXPOSE lines): Docker copies them into the
    container's Config.ExposedPorts (moby daemon/create.go merges the image's config), where
    with no network they open nothing, and the view expects exactly these."""
    ports = image_config(w).get("ExposedPorts") or {}
    return sorted(str(k) for k in ports) if isinstance(ports, dict) else []


FORMAT = "1"
"""Bump when the tree's shape changes: the cached tree is keyed by its digest."""


def tree_digest(base_diff_id: str, app: dict[str, bytes]) -> str:
    """``sha256:`` naming the carried tree: the pinned base layer's diff_id, the inspector's
    exact files (what PR-DYNIMPORT scans) and the tree's format."""
    h = hashlib.sha256(f"{FORMAT}\0{base_diff_id}\0".encode())
    for name, data in sorted(app.items()):
        h.update(f"{name}\0{len(data)}\0".encode() + data)
    return "sha256:" + h.hexdigest()


def shipped_digest() -> str:
    """The tree this sandproof carries, recomputed from the lock and its own inspector files
    without building anything (only for ``verify --profile``, as the shipped-inspector check)."""
    from sandproof import image, imagespec  # noqa: PLC0415 - reads the image's files: only on demand

    return tree_digest(str(imagespec.read_lock()["base_diff_id"]), image.inspector_files())


_GO_ATOI = re.compile(r"[+-]?[0-9]+\Z")
"""What Go's strconv.Atoi takes in base 10: an optional sign, ASCII digits (no spaces, no ``_``)."""
MAX_ID = (1 << 31) - 1
"""runc libcontainer/user: uids and gids must be in [0, 1<<31 - 1]."""


def _atoi(text: str) -> int | None:
    return int(text) if _GO_ATOI.match(text) and abs(int(text)) < 1 << 63 else None


def resolve_uid(user: str, passwd: bytes | None) -> str:
    """The uid the image's ``User`` names, as runc's libcontainer/user GetExecUser resolves it
    (moby and podman call it): "" is root; a number Atoi takes (``+0``, ``-0``, ``000``) is that
    uid whatever passwd says; else the first /etc/passwd line (spaces trimmed) whose name is
    it, whose uid field Atoi reads as 0 when it is no number (parseParts ignores the error).
    ``?`` and why when it names none: no engine could start the image as that user."""
    name = user.split(":", 1)[0]
    if name == "":
        return "0"
    if (n := _atoi(name)) is not None:
        return str(n) if 0 <= n <= MAX_ID else f"?{name!r} is out of the range of uids"
    if passwd is None:
        return f"?{name!r} with no /etc/passwd in the image"
    for raw in passwd.splitlines():
        parts = raw.strip().decode("utf-8", "surrogateescape").split(":")
        if parts[0] == name:
            uid = _atoi(parts[2]) if len(parts) > 2 else None  # name:pass:uid
            return str(uid if uid is not None else 0)
    return f"?{name!r} is not in the image's /etc/passwd"


def root_user(user: str) -> bool:
    """Docker's ``User`` of an image: empty, ``root`` or a numeric uid 0 (``00`` too: moby's
    user lookup parses a number with strconv.Atoi, opencontainers/runc libcontainer/user),
    optionally ``:group``, is root. A name the image's /etc/passwd maps to 0 is not seen here."""
    name = user.split(":", 1)[0]
    return name in ("", "root") or (name.isascii() and name.isdigit() and int(name) == 0)
