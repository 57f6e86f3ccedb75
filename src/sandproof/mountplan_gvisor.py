"""The mounts gVisor (runsc) gives a sandbox, as its sentry prints them: the inventory
PR-MOUNT-1 compares /proc/self/mountinfo with under runtime "runsc".

The sentry's mountinfo (pkg/sentry/vfs/mount.go GenerateProcMountInfo, release-20221219.0)
differs from Linux's in ways that are gVisor's, not a weakening: the optional-fields column is
printed even when empty (two spaces before "-"; the judge reads that only for this plan), the
per-mount options are only rw/ro and noexec (vfs.MountFlags has no nosuid, and nodev is not
printed), the source is always "none", and each filesystem is the sentry's own: the root, /in
and the binds are 9p mounts of its gofer (/out too: the bounded tmpfs behind it is on the host,
where attest records it), /proc and /sys are its procfs and sysfs, /dev its own tmpfs.
Observed with runsc 20221219 (tests/assets/mountinfo-runsc-default.txt).
"""

from __future__ import annotations

from typing import Any

from sandproof.mountplan import _mount
from sandproof.profile import Profile, Tmpfs
from sandproof.workload import carried
from sandproof.workload.carried import Workload

SHOWN_FLAGS = frozenset({"noexec"})
"""The only access flag the sentry prints (and the only one its MountFlags enforce for every
filesystem: NoDev is honoured by FUSE alone, gvisor#3186; setuid is never honoured before
release-20250820)."""
KERNFS_OPTIONS = ("dentry_cache_limit=1000",)
"""What the sentry's procfs and sysfs print (pkg/sentry/fsimpl/kernfs: its default dentry cache)."""
DEV_OPTIONS = ("mode=0755",)
"""runsc/boot/vfs.go: /dev is a tmpfs of the sentry's own, mode 0755."""


def _tmpfs(t: Tmpfs) -> dict[str, Any]:
    # the sentry's tmpfs prints its options as given (size=16m, not Linux's size=16384k)
    supers = tuple(o for o in t.options if "=" in o)
    # the flags that hold (the last of each and its opposite: Tmpfs.has), not every one named
    held = tuple(f for f in SHOWN_FLAGS if t.has(f))
    return _mount(t.path, ["tmpfs"], ro=t.has("ro"), flags=shown(held), super_options=supers)


def _gofer(point: str, *, ro: bool, root: str = "/", flags: tuple[str, ...] = ()) -> dict[str, Any]:
    # a 9p mount of runsc's gofer: its options name the gofer's fds and cache mode
    return _mount(point, ["9p"], root, ro=ro, flags=flags, super_options=None)


def shown(flags: tuple[str, ...]) -> tuple[str, ...]:
    """The flags of ``flags`` the sentry prints."""
    return tuple(sorted(SHOWN_FLAGS & set(flags)))


def inventory(p: Profile, workload: Workload | None = None) -> list[dict[str, Any]]:
    sys_ro = not p.security.privileged
    out = [
        _gofer("/", ro=p.filesystem.read_only_rootfs),
        _mount("/proc", ["proc"], ro=False, flags=("noexec",), super_options=KERNFS_OPTIONS),
        _mount("/sys", ["sysfs"], ro=sys_ro, flags=("noexec",), super_options=KERNFS_OPTIONS),
        _mount("/dev", ["tmpfs"], ro=False, flags=(), super_options=DEV_OPTIONS),
        _mount("/dev/pts", ["devpts"], ro=False, flags=("noexec",)),
    ]
    covered = {t.path for t in p.filesystem.tmpfs}
    if "/dev/mqueue" not in covered:  # not observed here (the default profile covers it)
        out.append(_mount("/dev/mqueue", ["mqueue"], ro=None, flags=None, super_options=None, optional=True))
    if p.ipc.mode != "none" and "/dev/shm" not in covered:
        out.append(_mount("/dev/shm", ["tmpfs"], ro=False, flags=None, super_options=None, optional=True))
    out += [_tmpfs(t) for t in p.filesystem.tmpfs]
    binds = [(p.filesystem.input, "ro"), *((b.target, b.mode) for b in p.filesystem.binds), (p.filesystem.output, "rw")]
    out += [_gofer(point, ro=mode == "ro") for point, mode in binds]
    if workload is not None:  # the carried harness, as mountplan.inventory names its root
        root = "*/harness/" + workload.harness_digest.removeprefix("sha256:")[:32]
        out.append(_gofer(carried.MOUNT_POINT, ro=True, root=root, flags=shown(carried.MOUNT_FLAGS["runsc"])))
    return out
