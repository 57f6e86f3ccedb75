"""Weakenings of the filesystem view: extra mounts anywhere (read-only ones included), tmpfs
flags and options, masked and read-only kernel paths, device nodes and the devices cgroup,
and sockets hidden where a walk cannot list them."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sandproof.inspector.judges import mounts
from sandproof.profile import Profile, Tmpfs
from sandproof.profilecheck import under
from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening, bind, oci_edit, replaced, set_fields
from sandproof.workload.images import FILE_CAP_NET_RAW


def _tmpfs(path: str, *options: str) -> Callable[[Profile], Profile]:
    return lambda p: replaced(p, "filesystem", tmpfs=(*p.filesystem.tmpfs, Tmpfs(path, options)))


def _tmp_options(change: Callable[[tuple[str, ...]], tuple[str, ...]]) -> Callable[[Profile], Profile]:
    def apply(p: Profile) -> Profile:
        tmpfs = tuple(Tmpfs(t.path, change(t.options)) if t.path == "/tmp" else t for t in p.filesystem.tmpfs)
        return replaced(p, "filesystem", tmpfs=tmpfs)

    return apply


def _without(flag: str, positive: str) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    # Docker's --tmpfs adds noexec,nosuid,nodev by itself: say the positive flag explicitly
    return lambda opts: (*(o for o in opts if o != flag), positive)


def _no_mqueue_cover(p: Profile) -> Profile:
    return replaced(p, "filesystem", tmpfs=tuple(t for t in p.filesystem.tmpfs if t.path != "/dev/mqueue"))


@contextlib.contextmanager
def _host_dir(build: Callable[[Path], None]) -> Iterator[Path]:
    """A scratch directory on the host, built by ``build``, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="sandproof-weak-"))
    root.chmod(0o755)
    try:
        build(root)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _bind_setup(target: str, build: Callable[[Path], None], mode: str = "ro") -> Callable[[str], Any]:
    """A host directory built at run time, bound at ``target``; the same on both runtimes."""

    @contextlib.contextmanager
    def setup(runtime: str) -> Iterator[Mutation]:
        with _host_dir(build) as src:
            if runtime in ("docker", "podman"):
                yield Mutation(docker_args=("-v", f"{src}:{target}:{mode}"))
            else:
                yield Mutation(oci=oci_bind(str(src), target, mode))

    return setup


def oci_bind(source: str, target: str, mode: str = "ro") -> Callable[[dict[str, Any]], None]:
    """An OCI config edit: the host's ``source`` bound at ``target`` (``mode``: ro or rw)."""

    def edit(cfg: dict[str, Any]) -> None:
        cfg["mounts"].append(
            {"destination": target, "type": "bind", "source": source, "options": ["rbind", "rprivate", mode]}
        )

    return edit


def _world_writable_subdir(root: Path) -> None:
    (root / "drop").mkdir()
    (root / "drop").chmod(0o1777)  # files written here persist on the host


def _file_with_capability(root: Path) -> None:
    (root / "pinger").write_bytes(b"#!/bin/sh\n")
    (root / "pinger").chmod(0o755)
    os.setxattr(root / "pinger", "security.capability", FILE_CAP_NET_RAW)  # setcap cap_net_raw+ep


def _world_writable_readonly(root: Path) -> None:
    (root / "drop").mkdir()
    (root / "drop").chmod(0o777)  # read-only here, but a careless image's dir of everyone's


def _socket_in_0711(root: Path) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(root / "agent.sock"))  # kept on disk after close: reachable by name
    s.close()
    root.chmod(0o711)  # searchable, not listable


@contextlib.contextmanager
def _named_volume(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - docker only
    name = f"sandproof-weak-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "volume", "create", name], capture_output=True, check=True)
    try:
        yield Mutation(docker_args=("-v", f"{name}:/cache"))
    finally:
        subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True, check=False)


def _device(path: str, kind: str, major: int, minor: int) -> Mutation:
    """One host device node handed in: Docker's --device, runc's linux.devices + cgroup rule."""

    def edit(cfg: dict[str, Any]) -> None:
        node = {"path": path, "type": kind, "major": major, "minor": minor, "fileMode": 0o600, "uid": 0, "gid": 0}
        cfg["linux"].setdefault("devices", []).append(node)
        rule = {"allow": True, "type": kind, "major": major, "minor": minor, "access": "rwm"}
        cfg["linux"]["resources"]["devices"].append(rule)

    return Mutation(docker_args=("--device", path), oci=edit)


def _cgroup_rule(rule: str, oci_rule: dict[str, Any]) -> Mutation:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["linux"]["resources"]["devices"].append(oci_rule)

    return Mutation(docker_args=("--device-cgroup-rule", rule), oci=edit)


def _unmask(cfg: dict[str, Any]) -> None:
    cfg["linux"]["maskedPaths"] = []
    cfg["linux"]["readonlyPaths"] = []


def unlisted(key: str, *paths: str) -> Callable[[dict[str, Any]], None]:
    """An OCI config edit: ``paths`` (every path, when none is named) taken off runc's list
    ``linux.key``: ``maskedPaths`` (left visible) or ``readonlyPaths`` (left writable)."""

    def edit(cfg: dict[str, Any]) -> None:
        cfg["linux"][key] = [p for p in cfg["linux"][key] if p not in paths] if paths else []

    return edit


def _stack_tmp(cfg: dict[str, Any]) -> None:
    cfg["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "size=4k"]})


def _sys_rw(cfg: dict[str, Any]) -> None:
    for m in cfg["mounts"]:
        if m["destination"] == "/sys":
            m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]


def _proc_exec(cfg: dict[str, Any]) -> None:
    for m in cfg["mounts"]:
        if m["destination"] == "/proc":
            m["options"] = ["nosuid", "nodev"]


def _swap_source(point: str, fill: Callable[[str], str]) -> Mutation:
    """Bind ``point`` from another host directory: ``fill`` gets the source attest made and
    returns the one to use (Docker's -v entry or runc's mount edited)."""

    def docker(argv: list[str]) -> None:
        i = next(i for i, a in enumerate(argv) if a.startswith("/") and f":{point}:" in a)
        source, _, rest = argv[i].partition(":")
        argv[i] = f"{fill(source)}:{rest}"

    def oci(cfg: dict[str, Any]) -> None:
        m = next(m for m in cfg["mounts"] if m["destination"] == point)
        m["source"] = fill(m["source"])

    return Mutation(docker=docker, oci=oci)


def _input_copy(extra: Callable[[Path], None]) -> Callable[[str], Any]:
    """/in bound from a copy of attest's input directory with something more in it."""

    @contextlib.contextmanager
    def setup(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
        with _host_dir(lambda _root: None) as copy:

            def fill(source: str) -> str:
                shutil.copytree(source, copy / "in", symlinks=True)
                extra(copy / "in")
                return str(copy / "in")

            yield _swap_source("/in", fill)

    return setup


def _console(d: Path) -> None:
    # a bind has no nodev: the host's console, opened by the sandbox user through /in/console
    os.mknod(d / "console", 0o666 | stat.S_IFCHR, os.makedev(5, 1))


def _host_secret(d: Path) -> None:
    (d / "host-notes.txt").write_text("a file of the host beside the plan\n")


@contextlib.contextmanager
def _output_on_host_disk(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
    """/out bound from a plain host directory instead of attest's bounded tmpfs. A directory
    named like the bundle makes the harness fall back to stdout, so the run still reports."""
    with _host_dir(lambda _root: None) as d:
        (d / "out").mkdir()
        (d / "out").chmod(0o1777)
        (d / "out" / "sandbox-attestation-inside.json").mkdir()
        yield _swap_source("/out", lambda _source: str(d / "out"))


def _prefilled(source: str) -> str:
    """The same source (attest's own tmpfs, its mount unchanged), a host file written into it
    first: the sandbox reads what the host left there (found by an audit: weaken/hunt.py's
    notes), a way in beside /in."""
    (Path(source) / "left-by-the-host.txt").write_text("a host file the sandbox must not see\n")
    return source


def _propagation(point: str, mode: str) -> Callable[[dict[str, Any]], None]:
    def edit(cfg: dict[str, Any]) -> None:
        m = next(m for m in cfg["mounts"] if m["destination"] == point)
        m["options"] = [mode if o == "rprivate" else o for o in m["options"]]

    return edit


def _private_host_root(_runtime: str) -> str | None:
    """A slave mount receives events from its master: measured, with none when the host's mount
    holding /in's source (attest's scratch directory under the temp dir: leftover.scratch) is
    private, not shared (review 15: the host's / was read instead, whatever held the source)."""
    return _private_mount_of(os.path.realpath(tempfile.gettempdir()))


def _private_mount_of(path: str, mountinfo: str = "/proc/self/mountinfo") -> str | None:
    with open(mountinfo, encoding="utf-8") as f:
        # the mount on top at each point (a later mount over a point hides the earlier one), read
        # leniently: the strict reading refuses the host's nsfs binds (root "net:[...]", not a
        # path: /run/docker/netns/*), files that hold no path below them
        on_top = mounts.visible(f.read())
    point = max((p for p in on_top if under(path, p)), key=len, default=None)  # the deepest
    if point is not None and "shared" in on_top[point].tags:
        return None
    return (
        f"the host's {point or path}, which holds /in's source, is a private mount, so a slave bind of it has no master"
    )


RUNC = ("runc",)
# podman's --security-opt unmask=PATHS (podman-run(1)) drops paths from both of its lists,
# masked and read-only: what runc's weakenings do by editing the config
UNMASKING = ("runc", "podman")
DOCKER = ("docker",)
M, K, D, S = "PR-MOUNT-1", "PR-KPATH-1", "PR-DEV-1", "PR-SOCK-ANY"
TMP_INODES = "nr_inodes=0"

WEAKENINGS: tuple[Weakening, ...] = (
    # extra mounts, read-only ones included, anywhere
    Weakening("host-etc-ro", M, "the host's /etc mounted read-only at /mnt/etc", apply=bind("/etc", "/mnt/etc", "ro")),
    Weakening("host-log-ro", M, "the host's /var/log read-only at /srv/log", apply=bind("/var/log", "/srv/log", "ro")),
    Weakening("host-proc", M, "the host's /proc bound at /hostproc", apply=bind("/proc", "/hostproc", "ro")),
    Weakening(
        "host-dir-world-writable",
        M,
        "a root-owned host dir with a world-writable subdir (files persist on the host)",
        setup=_bind_setup("/srv/share", _world_writable_subdir, "rw"),
    ),
    Weakening("named-volume", M, "a named volume at /cache", setup=_named_volume, runtimes=DOCKER),
    Weakening("extra-tmpfs-ro", M, "an extra read-only tmpfs at /srv", apply=_tmpfs("/srv", "ro", "size=1m")),
    Weakening("tmpfs-under-tmp", M, "a tmpfs inside /tmp", apply=_tmpfs("/tmp/inner", "rw", "size=1m")),
    Weakening(
        "bind-under-in",
        M,
        "a host file bound over a file inside /in",
        apply=bind("/etc/hostname", "/in/packet.json", "ro"),
    ),
    Weakening("bind-under-out", M, "a host dir bound inside /out", apply=bind("/var/log", "/out/log", "ro")),
    Weakening("bind-under-usr", M, "a host dir bound inside /usr", apply=bind("/etc", "/usr/local/etc", "ro")),
    Weakening(
        "bind-over-etc-file", M, "a host file bound over /etc/passwd", apply=bind("/etc/passwd", "/etc/passwd", "ro")
    ),
    Weakening("tmp-suid", M, "/tmp without nosuid", apply=_tmp_options(_without("nosuid", "suid"))),
    Weakening("tmp-dev", M, "/tmp without nodev", apply=_tmp_options(_without("nodev", "dev"))),
    Weakening(
        "tmp-unlimited-inodes",
        M,
        "/tmp with nr_inodes=0 (no inode limit)",
        apply=_tmp_options(lambda o: (*o, TMP_INODES)),
        # podman refuses the option itself: 'unknown mount option "nr_inodes=0"' (exit 125)
        runtimes=("docker", "runc"),
    ),
    Weakening("tmp-mode-0777", M, "/tmp with mode 0777", apply=_tmp_options(lambda o: (*o, "mode=0777"))),
    Weakening("mqueue-uncovered", M, "/dev/mqueue left as the engine's writable mqueue", apply=_no_mqueue_cover),
    Weakening("tmp-stacked", M, "a second tmpfs stacked on /tmp", mutation=oci_edit(_stack_tmp), runtimes=RUNC),
    Weakening("sys-rw", M, "/sys mounted read-write", mutation=oci_edit(_sys_rw), runtimes=RUNC),
    Weakening("proc-exec", M, "/proc mounted without noexec", mutation=oci_edit(_proc_exec), runtimes=RUNC),
    # masked and read-only kernel paths
    Weakening(
        "systempaths-unconfined",
        K,
        "nothing masked, nothing read-only under /proc and /sys",
        mutation=Mutation(docker_args=("--security-opt", "systempaths=unconfined"), oci=_unmask),
    ),
    Weakening(
        "unmasked-paths",
        K,
        "masked paths left visible",
        mutation=Mutation(
            oci=unlisted("maskedPaths"), docker_args=("--security-opt", "unmask=/proc/keys:/proc/timer_list")
        ),
        runtimes=UNMASKING,
    ),
    Weakening(
        "proc-sys-writable",
        K,
        "read-only /proc paths left writable",
        mutation=Mutation(oci=unlisted("readonlyPaths"), docker_args=("--security-opt", "unmask=/proc/sys")),
        runtimes=UNMASKING,
    ),
    # devices
    Weakening(
        "device-kmsg", D, "--device /dev/kmsg (the host's kernel log)", mutation=_device("/dev/kmsg", "c", 1, 11)
    ),
    Weakening("device-fuse", D, "--device /dev/fuse", mutation=_device("/dev/fuse", "c", 10, 229)),
    Weakening("device-kvm", D, "--device /dev/kvm", mutation=_device("/dev/kvm", "c", 10, 232)),
    Weakening("device-tun", D, "--device /dev/net/tun", mutation=_device("/dev/net/tun", "c", 10, 200)),
    Weakening("device-block", D, "a host block device", mutation=_device("/dev/loop0", "b", 7, 0)),
    Weakening(
        "device-cgroup-all",
        D,
        "--device-cgroup-rule 'a *:* rwm'",
        mutation=_cgroup_rule("a *:* rwm", {"allow": True, "access": "rwm"}),
    ),
    Weakening(
        "device-cgroup-fuse",
        D,
        "--device-cgroup-rule 'c 10:229 rwm'",
        mutation=_cgroup_rule("c 10:229 rwm", {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"}),
    ),
    # sockets where no listing shows them
    Weakening(
        "socket-in-0711-dir",
        S,
        "an agent socket in a searchable, unlistable dir (mode 0711)",
        setup=_bind_setup("/srv/agent", _socket_in_0711),
    ),
    Weakening(
        "host-network-unix",
        S,
        "--network host: the host's unix sockets are bound in the namespace",
        apply=set_fields("network", mode="host"),
    ),
    Weakening(
        "file-capability",
        "PR-FCAP-1",
        "a file with a capability (setcap cap_net_raw+ep), bound read-only at /srv/tools",
        setup=_bind_setup("/srv/tools", _file_with_capability),
    ),
    Weakening(
        "world-writable-dir-ro",
        "PR-WW-1",
        "a world-writable directory (0777) on a read-only bind at /srv/share",
        setup=_bind_setup("/srv/share", _world_writable_readonly),
    ),
    Weakening(
        "in-device-nodes",
        "PR-SUID-1",
        "/in bound from a dir holding a device node (host console)",
        setup=_input_copy(_console),
    ),
    Weakening(
        "etc-hosts-from-host",
        M,
        "the host's /etc/hosts bound over the engine's",
        apply=bind("/etc/hosts", "/etc/hosts", "ro"),
        runtimes=("docker", "podman"),
    ),
    Weakening(
        "out-rshared",
        M,
        "/out bound with shared propagation",
        mutation=oci_edit(_propagation("/out", "rshared")),
        runtimes=RUNC,
    ),
    Weakening(
        "in-rslave",
        M,
        "/in bound as a slave of the host's mounts",
        mutation=oci_edit(_propagation("/in", "rslave")),
        runtimes=RUNC,
        no_effect=_private_host_root,
    ),
    Weakening(
        "in-host-dir",
        "PR-IN-1",
        "/in bound from a host dir holding more than the plan and packet",
        setup=_input_copy(_host_secret),
    ),
    Weakening(
        "out-on-host-disk", M, "/out bound from the host's disk, not the bounded tmpfs", setup=_output_on_host_disk
    ),
    Weakening(
        "out-prefilled",
        "PR-OUT-1",
        "/out is attest's own bounded tmpfs, but holds a host file when the sandbox starts",
        mutation=_swap_source("/out", _prefilled),
    ),
)
