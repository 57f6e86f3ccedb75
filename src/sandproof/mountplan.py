"""The mounts a profile implies on a runtime: the exact inventory PR-MOUNT-1 compares
/proc/self/mountinfo with, and the kernel paths PR-KPATH-1 checks.

Each expected mount is a plain dict (it travels in the plan): ``point`` (or ``DIR/*`` for
one mount per entry of DIR, such as the cgroup v1 controllers), ``fstype`` (a list, or
"*"), ``root`` (exact, "*", or "*SUFFIX"), ``ro`` (None: either), ``flags`` (the exact
nosuid/nodev/noexec set, or None), ``super`` (the exact superblock options without rw/ro,
or None where the host decides them, e.g. overlay's layer paths), ``optional`` and
``device_of`` (a mask bound from another mount's filesystem).
"""

from __future__ import annotations

import re
from typing import Any

from sandproof import runtime_defaults as rd
from sandproof.profile import Profile, Tmpfs
from sandproof.workload import carried
from sandproof.workload.carried import Workload

ALL_FLAGS = ("nodev", "noexec", "nosuid")
PAGE = 4096
_NEGATION = {"exec": "noexec", "suid": "nosuid", "dev": "nodev"}
_UNITS = {"k": 1, "m": 1 << 10, "g": 1 << 20}


def _mount(
    point: str,
    fstype: list[str] | str,
    root: str = "/",
    *,
    ro: bool | None,
    flags: tuple[str, ...] | None,
    super_options: tuple[str, ...] | None = (),
    optional: bool = False,
    device_of: str | None = None,
    propagation: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "point": point,
        "fstype": fstype,
        "root": root,
        "ro": ro,
        "flags": sorted(flags) if flags is not None else None,
        "super": sorted(super_options) if super_options is not None else None,
        "optional": optional,
        "device_of": device_of,
        "propagation": list(propagation),
    }


def tmpfs_size_kib(option: str) -> str | None:
    """``size=16m`` as the kernel shows it in mountinfo (``size=16384k``)."""
    value = option.removeprefix("size=").lower()
    if value[:-1].isdigit() and value[-1] in _UNITS:
        return f"size={int(value[:-1]) * _UNITS[value[-1]]}k"
    if value.isdigit():
        return f"size={int(value) // 1024}k"
    return None


def _tmpfs(t: Tmpfs, runtime: str) -> dict[str, Any]:
    flags = set(rd.DOCKER_TMPFS_DEFAULT_FLAGS) if runtime in ("docker", "podman") else set()
    supers = []
    for opt in t.options:
        if opt in ALL_FLAGS:
            flags.add(opt)
        elif opt in _NEGATION:
            flags.discard(_NEGATION[opt])
        elif opt.startswith("size="):
            supers.append(tmpfs_size_kib(opt) or opt)
        elif opt.startswith("mode="):
            # shmem_show_options prints the mode only when it is not the default 1777
            if int(opt[5:], 8) != 0o1777:
                supers.append(f"mode={int(opt[5:], 8):o}")
        elif "=" in opt:
            supers.append(opt)
    return _mount(t.path, ["tmpfs"], ro=t.has("ro"), flags=tuple(flags), super_options=tuple(supers))


def output_options(p: Profile) -> tuple[str, ...]:
    """How mountinfo shows the /out tmpfs attest mounts (outdir.py): the size rounded up to
    pages in KiB, one inode more than the file limit (the root directory), mode 0700, owned
    by the sandbox user (the kernel prints uid/gid only when not 0)."""
    kib = -(-p.filesystem.output_limit.bytes // PAGE) * PAGE // 1024
    opts = [f"size={kib}k", f"nr_inodes={p.filesystem.output_files + 1}", "mode=700"]
    opts += [f"uid={p.user.uid}"] if p.user.uid else []
    opts += [f"gid={p.user.gid}"] if p.user.gid else []
    return tuple(opts)


def _kernel_filesystems(p: Profile, runtime: str) -> list[dict[str, Any]]:
    sys_ro = not p.security.privileged
    pseudo = ("nodev", "noexec", "nosuid")
    dev_flags = rd.PODMAN_DEV_FLAGS if runtime == "podman" else ("nosuid",)
    out = [
        _mount("/proc", ["proc"], ro=False, flags=pseudo),
        _mount("/dev", ["tmpfs"], ro=False, flags=dev_flags, super_options=rd.DEV_TMPFS_OPTIONS),
        _mount("/dev/pts", ["devpts"], ro=False, flags=("noexec", "nosuid"), super_options=rd.DEVPTS_OPTIONS),
        _mount("/sys", ["sysfs"], ro=sys_ro, flags=pseudo, super_options=None),
        # cgroup v1: a tmpfs holding one read-only mount per controller; v2: one cgroup2 mount
        _mount("/sys/fs/cgroup", ["tmpfs", "cgroup2"], ro=None, flags=pseudo, super_options=None),
        _mount("/sys/fs/cgroup/*", ["cgroup"], "*", ro=sys_ro, flags=pseudo, super_options=None, optional=True),
    ]
    covered = {t.path for t in p.filesystem.tmpfs}
    if "/dev/mqueue" not in covered:
        out.append(_mount("/dev/mqueue", ["mqueue"], ro=False, flags=pseudo))
    if p.ipc.mode == "host" and "/dev/shm" not in covered:
        out.append(_mount("/dev/shm", "*", "*", ro=False, flags=None, super_options=None))
    elif p.ipc.mode != "none" and "/dev/shm" not in covered:
        shm = rd.PODMAN_SHM_OPTIONS if runtime == "podman" else rd.SHM_OPTIONS
        out.append(_mount("/dev/shm", ["tmpfs"], ro=False, flags=pseudo, super_options=shm))
    return out


def _masks(p: Profile, runtime: str) -> list[dict[str, Any]]:
    if p.security.privileged:  # as Docker does: nothing masked, nothing read-only
        return []
    out = []
    for path in rd.masked_paths(runtime):
        if path in rd.masked_dirs(runtime):
            out.append(_mount(path, ["tmpfs"], ro=True, flags=None, optional=True))
        else:  # the null device of /dev bound over the file
            out.append(
                _mount(
                    path, ["tmpfs"], "/null", ro=None, flags=None, super_options=None, optional=True, device_of="/dev"
                )
            )
    for path in rd.readonly_paths(runtime):
        out.append(
            _mount(
                path, ["proc"], path.removeprefix("/proc"), ro=True, flags=("nodev", "noexec", "nosuid"), optional=True
            )
        )
    return out


def inventory(p: Profile, runtime: str, workload: Workload | None = None) -> list[dict[str, Any]]:
    """Every mount the sandbox may have, in no particular order (mountinfo gives the order)."""
    if runtime == "runsc":  # the sentry's own filesystems, as it prints them
        from sandproof import mountplan_gvisor  # noqa: PLC0415 - it imports this module's _mount

        return mountplan_gvisor.inventory(p, workload)
    # the root may receive the host's mount events (a slave, as Docker's is); nothing may be shared
    out = [
        _mount("/", "*", "*", ro=p.filesystem.read_only_rootfs, flags=(), super_options=None, propagation=("master",))
    ]
    out += _kernel_filesystems(p, runtime)
    out += [_tmpfs(t, runtime) for t in p.filesystem.tmpfs]
    if runtime == "kubernetes":
        # the pod's emptyDir (medium Memory): a tmpfs the kubelet sizes from sizeLimit; its other
        # options are the kubelet's (pkg/volume/emptydir)
        out.append(_mount(p.filesystem.output, ["tmpfs"], "*", ro=False, flags=None, super_options=None))
        return [*out, *_kubelet_mounts(p), *_masks(p, runtime)]
    binds = [(p.filesystem.input, "ro"), *((b.target, b.mode) for b in p.filesystem.binds)]
    out += [_mount(point, "*", "*", ro=mode == "ro", flags=(), super_options=None) for point, mode in binds]
    # /out is attest's own bounded tmpfs (outdir.py), not any host directory: its exact
    # options show it is that one, and that the profile's bound holds
    out.append(_mount(p.filesystem.output, ["tmpfs"], ro=False, flags=(), super_options=output_options(p)))
    if runtime == "docker":
        for path in rd.DOCKER_ETC_FILES:
            name = path.rsplit("/", 1)[1]
            # Docker's own files, from its state directory: not any host file of that name
            root = rf"re:/.*/containers/[0-9a-f]{{64}}/{re.escape(name)}"
            out.append(_mount(path, "*", root, ro=p.filesystem.read_only_rootfs, flags=(), super_options=None))
    if runtime == "podman":
        for path in rd.PODMAN_ETC_FILES:
            name = path.rsplit("/", 1)[1]
            # podman's own files, from the container's userdata under its runroot
            root = rf"re:/.*/[a-z]+-containers/[0-9a-f]{{64}}/userdata/{re.escape(name)}"
            ro = p.filesystem.read_only_rootfs or path == "/run/.containerenv"
            out.append(_mount(path, "*", root, ro=ro, flags=rd.PODMAN_ETC_FLAGS, super_options=None))
    if workload is not None:
        # the carried harness (issue 11): read-only, exactly the runtime's bind flags
        flags = carried.MOUNT_FLAGS[runtime]
        # its root is the tree harness_mount.build names by the digest: not any other directory
        root = "*/harness/" + workload.harness_digest.removeprefix("sha256:")[:32]
        out.append(_mount(carried.MOUNT_POINT, "*", root, ro=True, flags=flags, super_options=None))
    out += _masks(p, runtime)
    return out


def _kubelet_mounts(p: Profile) -> list[dict[str, Any]]:
    """What the kubelet and containerd's CRI bind into every container of a pod (documented,
    not measured here: no cluster answers on this machine). /etc files: the kubelet's
    etc-hosts and the sandbox's hostname and resolv.conf (pkg/kubelet/kubelet_pods.go
    makeMounts, containerd pkg/cri/server container_create_linux.go); the termination-message
    file (terminationMessagePath); /dev/shm from the pod sandbox; the input files as subPath
    binds of the ConfigMap (render/k8s.py)."""
    out = [_mount(path, "*", "*", ro=None, flags=None, super_options=None) for path in rd.DOCKER_ETC_FILES]
    out.append(_mount("/dev/termination-log", "*", "*", ro=False, flags=None, super_options=None))
    out.append(_mount("/dev/shm", ["tmpfs"], "*", ro=False, flags=None, super_options=None))
    for name in ("packet.json", "sandproof-plan.json"):
        out.append(_mount(f"{p.filesystem.input}/{name}", "*", "*", ro=True, flags=None, super_options=None))
    return out


def kernel_paths(p: Profile, runtime: str = "docker") -> dict[str, Any]:
    """What PR-KPATH-1 looks at: the runtime's masked and read-only paths (none when privileged).
    Under gVisor (``sentry``) a path whose mount flags the sentry does not show (no statfs on its
    procfs, no flag on its sysfs) may prove itself by a refused write instead; nowhere else."""
    out: dict[str, Any] = {"masked": [], "read_only": []}
    if not p.security.privileged:
        out = {"masked": list(rd.masked_paths(runtime)), "read_only": list(rd.readonly_paths(runtime))}
    if runtime == "runsc":
        out["sentry"] = True
    return out
