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
import platform
import re
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


def from_record(value: object) -> Workload | str:
    """The evidence's ``workload`` object, or why it is not one (a bundle is untrusted)."""
    if not isinstance(value, dict):
        return "no workload record"
    fields = ("ref", "image_id", "user", "workdir", "harness_digest", "harness_tree")
    # "preload": since the image's /etc/ld.so.preload is read from outside; older records lack it
    known = (*fields, "preload") if "preload" in value else fields
    if sorted(value) != sorted(known) or not all(isinstance(value[f], str) for f in known):
        return f"the workload record has not exactly the string fields {', '.join(fields)} (and preload)"
    w = Workload(**{f: str(value[f]) for f in known})
    if not _ID.match(w.image_id) or not _DIGEST.match(w.harness_digest):
        return "the workload record's image_id or harness_digest is not sha256:<64 hex>"
    if not w.harness_tree.startswith("/") or "," in w.harness_tree or "\n" in w.harness_tree:
        return "the workload record's harness_tree is not an absolute path"
    if w.workdir and not w.workdir.startswith("/"):
        return "the workload record's workdir is not absolute"
    return w


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


def root_user(user: str) -> bool:
    """Docker's ``User`` of an image: empty, ``root`` or a numeric uid 0 (``00`` too: moby's
    user lookup parses a number with strconv.Atoi, opencontainers/runc libcontainer/user),
    optionally ``:group``, is root. A name the image's /etc/passwd maps to 0 is not seen here."""
    name = user.split(":", 1)[0]
    return name in ("", "root") or (name.isascii() and name.isdigit() and int(name) == 0)
