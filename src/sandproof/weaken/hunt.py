"""Weakenings an audit of the suite found missing (notes: /work/notes/hunt.md): each is a single
change of the run the suite did not make before, run on Docker and runc, and caught by the probe
it names for the reason the note gives.

- flags given after the render's, where the CLI's last value wins: ``--security-opt
  no-new-privileges=false`` (moby daemon/oci_linux.go WithNoNewPrivileges: the last one read
  counts), ``--ipc shareable`` (any other container may join the sandbox's IPC namespace);
- Docker's run options the engine applies outside the sandbox: a log driver that keeps
  everything the sandbox prints on the host's disk, a cgroup parent of the caller's choosing,
  SELinux labelling off (recorded even where there is no SELinux, as AppArmor is);
- a user-defined bridge network: an interface and a route out (the engine's default network
  where dockerd has its ``bridge``; this one is made for the run);
- ``-t``: the sandbox's standard descriptors a terminal the engine holds;
- the primary group root (``--user 65532:0``, process.user.gid), socket's seccomp rule made
  SCMP_ACT_TRACE (a tracer on the host then decides each call; with none, ENOSYS);
- runc: one masked path left unmasked, one read-only path left writable, /dev world-writable
  (an executable 64 MiB tmpfs: runc's /dev has no noexec), a device node with no cgroup rule,
  a bind under the root filesystem in the caller's own mount namespace (runc copies it),
  a block I/O weight (runc 1.1 writes blkio.bfq.weight where there is no blkio.weight);
- host-wide kernel settings PR-HOSTK-1 reads and no weakening had changed before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sandproof.profile import Profile, Tmpfs
from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening, docker_flags, oci_edit, replaced
from sandproof.weaken.filesystem import unlisted
from sandproof.weaken.hostkernel import _file, _host, _unchangeable, host_sysctl

DOCKER, RUNC, TESTED = ("docker",), ("runc",), ("docker", "runc")
VIEW = "engine-view"


@contextlib.contextmanager
def _bridge(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - docker only
    """A user-defined bridge network made for the run, in place of ``--network none``."""
    name = f"sandproof-weak-{uuid.uuid4().hex[:12]}"
    subprocess.run(["docker", "network", "create", name], capture_output=True, check=True, timeout=60)
    try:

        def edit(argv: list[str]) -> None:
            argv[argv.index("--network") + 1] = name

        yield Mutation(docker=edit)
    finally:
        subprocess.run(["docker", "network", "rm", name], capture_output=True, check=False, timeout=60)


@contextlib.contextmanager
def _cgroup_parent(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - docker only
    """sandproof's own runc parent: no cgroup is left behind that another run does not use.
    The systemd driver takes only a slice name (moby daemon/daemon_unix.go verifyPlatformContainerSettings)."""
    driver = subprocess.run(
        ["docker", "info", "--format", "{{.CgroupDriver}}"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    yield docker_flags("--cgroup-parent", "sandproof.slice" if driver == "systemd" else "/sandproof")


def _mqueue_rw(p: Profile) -> Profile:
    tmpfs = tuple(
        Tmpfs(t.path, tuple("rw" if o == "ro" else o for o in t.options)) if t.path == "/dev/mqueue" else t
        for t in p.filesystem.tmpfs
    )
    return replaced(p, "filesystem", tmpfs=tmpfs)


def _gid_root_docker(argv: list[str]) -> None:
    i = argv.index("--user") + 1
    argv[i] = f"{argv[i].split(':')[0]}:0"


def _gid_root_oci(cfg: dict[str, Any]) -> None:
    cfg["process"]["user"]["gid"] = 0


def _traced(name: str) -> Mutation:
    """``name``'s rule turned to SCMP_ACT_TRACE: a ptracer on the host (PTRACE_O_TRACESECCOMP)
    decides each call; with none attached the kernel answers ENOSYS (seccomp(2))."""

    def edit(policy: dict[str, Any]) -> None:
        rules = [{**r, "names": [n for n in r["names"] if n != name]} for r in policy["syscalls"]]
        policy["syscalls"] = [*(r for r in rules if r["names"]), {"names": [name], "action": "SCMP_ACT_TRACE"}]

    return Mutation(seccomp=edit)


def _dev_world_writable(cfg: dict[str, Any]) -> None:
    m = next(m for m in cfg["mounts"] if m["destination"] == "/dev")
    m["options"] = ["mode=1777" if o.startswith("mode=") else o for o in m["options"]]


def _node_without_rule(cfg: dict[str, Any]) -> None:
    node = {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600, "uid": 0, "gid": 0}
    cfg["linux"].setdefault("devices", []).append(node)


def _blkio_weight(cfg: dict[str, Any]) -> None:
    cfg["linux"]["resources"]["blockIO"] = {"weight": 1000}  # the most; the kernel's default is 100


# run by the caller's own python in a mount namespace of its own: a bind onto the root filesystem
# runc is about to use (its bundle's config.json says where), then runc itself
CALLER_BIND = (
    "import json, os, subprocess, sys\n"
    "source, argv = sys.argv[1], sys.argv[2:]\n"
    "bundle = argv[argv.index('--bundle') + 1]\n"
    "with open(os.path.join(bundle, 'config.json')) as f:\n"
    "    root = os.path.join(bundle, json.load(f)['root']['path'])\n"
    "subprocess.run(['mount', '--bind', source, os.path.join(root, 'home')], check=True)\n"
    "os.execvp(argv[0], argv)\n"
)


@contextlib.contextmanager
def _caller_bind(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - runc only
    source = Path(tempfile.mkdtemp(prefix="sandproof-weak-"))
    source.chmod(0o755)
    (source / "host-notes.txt").write_text("a file of the host\n")
    try:
        private = ("unshare", "--mount", "--propagation", "private")
        yield Mutation(caller=(*private, sys.executable, "-c", CALLER_BIND, str(source)))
    finally:
        shutil.rmtree(source, ignore_errors=True)


BPF = "kernel.unprivileged_bpf_disabled"


def _bpf_locked(runtime: str) -> str | None:
    """hostkernel's reason (unreadable, or already 0), and the one value that cannot change."""
    if (why := _unchangeable(BPF, "0")(runtime)) is not None:
        return why
    if _file(BPF).read_text().strip() == "1":  # kernel.rst: 1 cannot be changed until reboot
        return f"{BPF} is 1 on this host: off until reboot, nothing to turn on"
    return None


@contextlib.contextmanager
def _bpf_on(runtime: str) -> Iterator[Mutation]:
    if _bpf_locked(runtime) is not None:  # a write would fail (EPERM) or change nothing
        yield Mutation()
        return
    with host_sysctl(BPF, "0")(runtime) as mutation:
        yield mutation


def _tested(w: Weakening) -> Weakening:
    return dataclasses.replace(w, runtimes=TESTED)


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "network-user-bridge",
        "PR-NET-2",
        "a user-defined bridge network instead of --network none: eth0 and a route out",
        setup=_bridge,
        runtimes=DOCKER,
    ),
    Weakening(
        "ipc-shareable",
        "PR-MOUNT-1",
        "--ipc shareable after the render's --ipc none: a 1777 /dev/shm, and any container may join the IPC namespace",
        mutation=docker_flags("--ipc", "shareable"),
        runtimes=DOCKER,
    ),
    Weakening(
        "log-driver-json-file",
        VIEW,
        "--log-driver json-file: everything the sandbox prints kept on the host's disk, unbounded",
        mutation=docker_flags("--log-driver", "json-file"),
        runtimes=DOCKER,
    ),
    Weakening(
        "cgroup-parent",
        VIEW,
        "--cgroup-parent of the caller's choosing: its limits under another tree (runc-cgroup-elsewhere on Docker)",
        setup=_cgroup_parent,
        runtimes=DOCKER,
    ),
    Weakening(
        "selinux-label-disable-recorded",
        VIEW,
        "--security-opt label=disable, where the host may have no SELinux to turn off",
        mutation=docker_flags("--security-opt", "label=disable"),
        runtimes=DOCKER,
    ),
    Weakening(
        "tty-allocated",
        "PR-FD-1",
        "-t: stdin, stdout and stderr a pseudo-terminal the engine holds, not pipes or /dev/null",
        mutation=docker_flags("-t"),
        runtimes=DOCKER,
    ),
    Weakening(
        "nnp-negated-later",
        "PR-NNP-1",
        "--security-opt no-new-privileges=false after the render's no-new-privileges: the last one counts",
        mutation=docker_flags("--security-opt", "no-new-privileges=false"),
        runtimes=DOCKER,
    ),
    Weakening(
        "mqueue-cover-rw",
        "PR-MOUNT-1",
        "the tmpfs covering /dev/mqueue mounted read-write: a writable 1777 directory no profile lists",
        apply=_mqueue_rw,
        runtimes=TESTED,
    ),
    Weakening(
        "gid-root",
        "PR-ID-1",
        "the primary group root (--user 65532:0, process.user.gid 0): root's group-writable files",
        mutation=Mutation(docker=_gid_root_docker, oci=_gid_root_oci),
        runtimes=TESTED,
    ),
    Weakening(
        "seccomp-socket-trace",
        "PR-SOCK-1",
        "socket's rule SCMP_ACT_TRACE: a tracer on the host would decide each call (ENOSYS with none)",
        mutation=_traced("socket"),
        runtimes=TESTED,
    ),
    Weakening(
        "unmasked-sys-firmware",
        "PR-KPATH-1",
        "/sys/firmware alone left unmasked (the firmware's tables: ACPI, DMI, EFI variables)",
        mutation=oci_edit(unlisted("maskedPaths", "/sys/firmware")),
        runtimes=RUNC,
    ),
    Weakening(
        "proc-irq-writable",
        "PR-KPATH-1",
        "/proc/irq alone left writable (interrupt affinity of the host's devices, for root)",
        mutation=oci_edit(unlisted("readonlyPaths", "/proc/irq")),
        runtimes=RUNC,
    ),
    Weakening(
        "dev-world-writable",
        "PR-MOUNT-1",
        "/dev mounted mode=1777: a 64 MiB writable tmpfs without noexec",
        mutation=oci_edit(_dev_world_writable),
        runtimes=RUNC,
    ),
    Weakening(
        "device-node-without-rule",
        "PR-DEV-1",
        "linux.devices /dev/kmsg with no devices-cgroup rule: the host's node made, its open refused",
        mutation=oci_edit(_node_without_rule),
        runtimes=RUNC,
    ),
    Weakening(
        "caller-mount-under-rootfs",
        "PR-MOUNT-1",
        "runc run in its caller's own mount namespace holding a bind under the root filesystem: runc copies it in",
        setup=_caller_bind,
        runtimes=RUNC,
    ),
    Weakening(
        "blkio-weight-raised",
        "PR-CG-SHARES",
        "linux.resources.blockIO.weight 1000: the most of the disk under BFQ",
        mutation=oci_edit(_blkio_weight),
        runtimes=RUNC,
    ),
    _tested(
        _host(
            "dmesg-unrestricted-host",
            "kernel.dmesg_restrict",
            "0",
            "PR-HOSTK-1",
            "the host's kernel.dmesg_restrict 0: any user reads the kernel log",
        )
    ),
    _tested(
        _host(
            "suid-dumpable-host",
            "fs.suid_dumpable",
            "1",
            "PR-HOSTK-1",
            "the host's fs.suid_dumpable 1: processes that changed credentials dump core and stay ptrace-able",
        )
    ),
    _tested(
        _host(
            "hardlinks-unprotected-host",
            "fs.protected_hardlinks",
            "0",
            "PR-HOSTK-1",
            "the host's fs.protected_hardlinks 0: any user hard-links files it cannot write",
        )
    ),
    _tested(
        _host(
            "mmap-min-addr-host",
            "vm.mmap_min_addr",
            "0",
            "PR-HOSTK-1",
            "the host's vm.mmap_min_addr 0: page 0 mappable, the kernel's NULL dereferences exploitable",
        )
    ),
    Weakening(
        "bpf-unprivileged-host",
        "PR-HOSTK-1",
        "the host's kernel.unprivileged_bpf_disabled 0: any user loads BPF programs",
        setup=_bpf_on,
        runtimes=TESTED,
        no_effect=_bpf_locked,
        host_wide=True,
    ),
)
