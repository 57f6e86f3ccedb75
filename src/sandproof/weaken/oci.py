"""Weakenings of fields of the OCI runtime config that runc 1.1.5 honours and neither a profile
nor a ``docker run`` flag can say (runtime-spec config.md, config-linux.md): runc is given them
as an edited ``config.json``. Each was run for real on runc 1.1.5 (see the notes per entry).
Not here, for runc 1.1.5 (Debian 12) on this host refuses or ignores them: ``process.terminal``
(runc run opens its caller's /dev/tty), apparmorProfile, selinuxLabel, mountLabel (no LSM),
seccomp ``flags`` ("seccomp flags are not yet supported by runc"), cpu realtime (the parent has
no RT budget), hugepageLimits, network, rdma (no such v1 controller mounted), unified (cgroup
v1), intelRdt (no resctrl), a time namespace; ioPriority, scheduler, personality, timeOffsets
and memory.kernel/kernelTCP are fields runc 1.1.5 does not read (added in 1.2, or deprecated).

- ``linux.cgroupsPath`` under another parent than sandproof's: the container's limits hang
  under another tree (Docker's here: its containers' parent), where that tree's owner, or a
  delegated user, may raise or join them. Nothing inside tells (a cgroup namespace shows "/"),
  and before, the engine view and the "rendered" check took the parent from the recorded config.
- ``linux.cgroupsPath`` naming another container's cgroup (another ID than runc's own): the
  sandbox would share that cgroup's budget. runc's state keeps the ID it ran.
- ``annotations``: runc 1.1 keeps them as labels in its state and acts on some
  (``org.systemd.property.*`` become unit properties under ``--systemd-cgroup``); they were
  declared inert with the ``bundle=`` label. Under the cgroupfs driver of this host they change
  nothing inside, which is why only the engine view can show them.
- ``linux.seccomp.listenerPath``: runc hands the filter's notification fd to a host process at
  that socket, which then answers every SCMP_ACT_NOTIFY call for the sandbox (seccomp_unotify(2)).
  With no NOTIFY rule runc 1.1.5 never connects; the engine view compared neither the path nor
  its metadata.
- the same with a rule turned to SCMP_ACT_NOTIFY and an agent listening there that lets every
  such call run (SECCOMP_USER_NOTIF_FLAG_CONTINUE): the policy's rule is still there, its
  answer is the host's. Caught inside (socket succeeds) and by the view (the rule's action).
- ``process.capabilities.ambient`` (with inheritable and permitted): the non-root harness holds
  CAP_NET_RAW in its effective set across exec; Docker has no flag for ambient capabilities.
- the cgroupfs mounted read-write: with a cgroup namespace runc then also chowns the cgroup to
  the sandbox's user (specconv ``OwnerUID``, cgroup v2), which the view now lists and compares.
- ``linux.rootfsPropagation`` shared: the sandbox's mounts propagate to the host's peer group.
- a ``startContainer`` hook: runc runs it inside the container, before the process, with runc
  init's privileges (runtime-spec config.md "startContainer Hooks").
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sandproof.runtime.interface import Mutation
from sandproof.weaken import notify
from sandproof.weaken.core import Weakening, oci_edit

RUNC = ("runc",)
VIEW = "engine-view"
DOCKER_PARENT = "/docker"
"""Docker's cgroupfs parent of its containers (moby daemon: cgroup-parent default "/docker")."""


def _cgroup_under(parent: str) -> Mutation:
    def edit(cfg: dict[str, Any]) -> None:
        cid = cfg["linux"]["cgroupsPath"].rsplit("/", 1)[-1]
        cfg["linux"]["cgroupsPath"] = f"{parent}/{cid}"

    return oci_edit(edit)


def _cgroup_of_another(cfg: dict[str, Any]) -> None:
    parent = cfg["linux"]["cgroupsPath"].rsplit("/", 1)[0]
    cfg["linux"]["cgroupsPath"] = f"{parent}/sandproof-000000000000"


def _annotations(cfg: dict[str, Any]) -> None:
    cfg["annotations"] = {"org.systemd.property.Delegate": "true"}


def _listener(cfg: dict[str, Any]) -> None:
    cfg["linux"]["seccomp"] |= {"listenerPath": "/run/sandproof-agent.sock", "listenerMetadata": "agent"}


def _ambient(cfg: dict[str, Any]) -> None:
    for kind in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        cfg["process"]["capabilities"][kind] = ["CAP_NET_RAW"]


def _cgroupfs_rw(cfg: dict[str, Any]) -> None:
    m = next(m for m in cfg["mounts"] if m["destination"] == "/sys/fs/cgroup")
    m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]


def _rootfs_shared(cfg: dict[str, Any]) -> None:
    cfg["linux"]["rootfsPropagation"] = "shared"


@contextlib.contextmanager
def _answered_by_host(_runtime: str) -> Iterator[Mutation]:
    """socket's rule turned to SCMP_ACT_NOTIFY, and a host agent (weaken/notify.py) at the
    listener path that lets every such call through: the filter holds, on paper."""
    with tempfile.TemporaryDirectory(prefix="sandproof-agent-") as tmp:
        path = str(Path(tmp) / "agent.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        stop = threading.Event()
        agent = threading.Thread(target=notify.serve, args=(server, stop), daemon=True)
        agent.start()

        def edit(cfg: dict[str, Any]) -> None:
            sc = cfg["linux"]["seccomp"]
            rules = [{**r, "names": [n for n in r["names"] if n != "socket"]} for r in sc["syscalls"]]
            sc["syscalls"] = [r for r in rules if r["names"]] + [{"names": ["socket"], "action": "SCMP_ACT_NOTIFY"}]
            sc["listenerPath"] = path

        try:
            yield oci_edit(edit)
        finally:
            stop.set()
            agent.join(timeout=5)
            server.close()


def _start_hook(cfg: dict[str, Any]) -> None:
    # the path resolves in the container (the image's python): runc init runs it, not the host
    cfg["hooks"] = {"startContainer": [{"path": "/usr/bin/python3", "args": ["python3", "-c", "pass"]}]}


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "runc-cgroup-elsewhere",
        VIEW,
        "linux.cgroupsPath under Docker's parent, not sandproof's: the limits hang under another tree",
        mutation=_cgroup_under(DOCKER_PARENT),
        runtimes=RUNC,
    ),
    Weakening(
        "runc-cgroup-of-another",
        VIEW,
        "linux.cgroupsPath naming another container's cgroup: its budget shared",
        mutation=oci_edit(_cgroup_of_another),
        runtimes=RUNC,
    ),
    Weakening(
        "runc-annotations",
        VIEW,
        "an annotation runc turns into a systemd unit property (org.systemd.property.Delegate)",
        mutation=oci_edit(_annotations),
        runtimes=RUNC,
    ),
    Weakening(
        "runc-seccomp-listener",
        VIEW,
        "linux.seccomp.listenerPath: a host process named to answer the filter's notifications",
        mutation=oci_edit(_listener),
        runtimes=RUNC,
    ),
    Weakening(
        "runc-ambient-cap",
        "PR-CAP-1",
        "CAP_NET_RAW ambient (and inheritable, permitted): the non-root harness holds it across exec",
        mutation=oci_edit(_ambient),
        runtimes=RUNC,
    ),
    Weakening(
        "cgroupfs-rw",
        "PR-MOUNT-1",
        "/sys/fs/cgroup mounted read-write (runc then chowns a v2 cgroup to the sandbox's user)",
        mutation=oci_edit(_cgroupfs_rw),
        runtimes=RUNC,
    ),
    Weakening(
        "runc-rootfs-shared",
        VIEW,
        "linux.rootfsPropagation shared: the sandbox's mounts propagate to the host's peers",
        mutation=oci_edit(_rootfs_shared),
        runtimes=RUNC,
    ),
    Weakening(
        "runc-seccomp-notify-agent",
        "PR-SOCK-1",
        "socket's rule SCMP_ACT_NOTIFY, answered by a host agent at listenerPath that lets each call run",
        setup=_answered_by_host,
        runtimes=RUNC,
    ),
    Weakening(
        "runc-start-hook",
        VIEW,
        "a startContainer hook: a program runc init runs inside the container before the harness",
        mutation=oci_edit(_start_hook),
        runtimes=RUNC,
    ),
)
