"""Filesystem rules: nothing writable beyond what the profile declares, no exec or setuid from
a writable tmpfs, a read-only root."""

from __future__ import annotations

from collections.abc import Iterator

from sandproof.doctor.core import Hit, Level, Rule
from sandproof.profile import Profile


def _covered_ro(p: Profile, path: str) -> bool:
    return any(t.path == path and t.has("ro") for t in p.filesystem.tmpfs)


def _declared(p: Profile, path: str) -> bool:
    return any(w.path == path for w in p.filesystem.writable)


def shm(p: Profile) -> Iterator[Hit]:
    if p.ipc.mode == "none" or _covered_ro(p, "/dev/shm") or _declared(p, "/dev/shm"):
        return
    whose = "the host's" if p.ipc.mode == "host" else "a world-writable (1777) 64 MiB tmpfs"
    yield Hit(
        f"/dev/shm is writable ({whose}, ipc mode {p.ipc.mode!r}) and not among the declared writable paths",
        "/dev/shm",
        "ipc.mode",
    )


def mqueue(p: Profile) -> Iterator[Hit]:
    if _covered_ro(p, "/dev/mqueue") or _declared(p, "/dev/mqueue"):
        return
    yield Hit(
        "/dev/mqueue is writable (the engines always mount a world-writable mqueue) and not among the "
        "declared writable paths",
        "/dev/mqueue",
        "filesystem.tmpfs",
    )


def tmpfs_flags(p: Profile) -> Iterator[Hit]:
    for t in p.filesystem.tmpfs:
        if t.has("ro"):
            continue  # nothing can be written there to execute
        # Tmpfs.has: the last of a flag and its opposite wins, so a later "exec" undoes "noexec"
        missing = [
            f"{f} (undone by a later {f[2:]!r})" if f in t.options else f for f in ("noexec", "nosuid") if not t.has(f)
        ]
        if missing:
            yield Hit(
                f"tmpfs {t.path} is writable without {' and '.join(missing)}: runc adds neither (Docker's "
                "defaults do not reach the OCI config), so a file written there can be executed or keep "
                "its setuid bit",
                t.path,
                "filesystem.tmpfs",
                t.path,
            )


def rootfs(p: Profile) -> Iterator[Hit]:
    if not p.filesystem.read_only_rootfs:
        yield Hit(
            "the root filesystem is writable: the image itself can be changed from inside",
            "rootfs",
            "filesystem.read_only_rootfs",
        )


def binds(p: Profile, mode: str) -> Iterator[Hit]:
    for b in p.filesystem.binds:
        if b.mode == mode:
            yield Hit(
                f"the host's {b.source} is bound {'read-write' if mode == 'rw' else 'read-only'} at {b.target}: "
                "the sandbox reaches a host path beside its own /in and /out (a socket there is an API, a "
                "directory the host's files)",
                b.target,
                "filesystem.binds",
                b.target,
            )


def rw_binds(p: Profile) -> Iterator[Hit]:
    return binds(p, "rw")


def ro_binds(p: Profile) -> Iterator[Hit]:
    return binds(p, "ro")


RULES = (
    Rule(
        "SPD010",
        "/dev/shm writable",
        "Docker mounts /dev/shm as a 1777 tmpfs in every private IPC namespace (and shares the host's with "
        "--ipc host): a writable place the profile never declared.",
        '[ipc] mode = "none" (no /dev/shm at all), or cover it with a read-only tmpfs: '
        '{ path = "/dev/shm", options = ["ro", "noexec", "nosuid", "nodev", "size=4k"] }.',
        Level.ERROR,
        profile=shm,
    ),
    Rule(
        "SPD011",
        "/dev/mqueue writable",
        "Both engines mount a world-writable mqueue filesystem at /dev/mqueue whatever the IPC mode "
        "(--ipc none removes /dev/shm, not /dev/mqueue).",
        'Cover it with an empty read-only tmpfs: { path = "/dev/mqueue", options = ["ro", "noexec", '
        '"nosuid", "nodev", "size=4k"] }, and deny the mq_* syscalls.',
        Level.ERROR,
        profile=mqueue,
    ),
    Rule(
        "SPD012",
        "Writable tmpfs without noexec or nosuid",
        "A writable tmpfs that allows exec is where a downloaded or written binary runs; without nosuid a "
        "setuid file there keeps its bit. Docker adds noexec,nosuid,nodev to --tmpfs, runc does not.",
        'State them on every writable tmpfs: options = ["rw", "noexec", "nosuid", "nodev", "size=16m"].',
        Level.ERROR,
        profile=tmpfs_flags,
    ),
    Rule(
        "SPD013",
        "Root filesystem writable",
        "A writable root lets the workload change the image it runs from, and every path in it is writable "
        "beyond the declared ones.",
        "[filesystem] read_only_rootfs = true, with the paths that must be writable as tmpfs or the output.",
        Level.ERROR,
        profile=rootfs,
    ),
    Rule(
        "SPD014",
        "A host path bound read-write",
        "Every bind is a host path inside the sandbox, outside what the profile's /in and /out bound: "
        "read-write, the workload changes the host's files there (the Docker socket, the host's /, "
        "/dev/shm: the same reach SPD010 and SPD013 name, spelled as a bind).",
        "Give the workload its input through /in (read-only) and take its output from /out; a path that "
        "must be shared, bound read-only.",
        Level.ERROR,
        profile=rw_binds,
    ),
    Rule(
        "SPD015",
        "A host path bound read-only",
        "A read-only bind still shows the sandbox a host path: its files, and an API if it holds a socket "
        "(connect needs no write permission on the file system).",
        "Copy what the workload needs into /in instead; bind only what must be live.",
        Level.WARNING,
        profile=ro_binds,
    ),
)
