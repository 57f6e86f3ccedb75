"""Weakenings of the process tree and the cgroup and user namespaces: another container's
PID namespace, an injected init, the host's cgroup namespace, a user namespace."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening, docker_flags, oci_edit, set_fields

PEER_IMAGE = "sandproof/inspector:default"
PEER_SLEEP_S = 120


def _docker_peer() -> Iterator[Mutation]:
    """Another container, left running; the sandbox joins its PID namespace and can read its
    processes (and, as the same uid, their environment: the reviewer's leaked token)."""
    name = f"sandproof-peer-{uuid.uuid4().hex[:12]}"
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, "--network", "none", "--user", "65532:65532",
         "--entrypoint", "/usr/bin/python3.11", PEER_IMAGE, "-c", f"import time; time.sleep({PEER_SLEEP_S})"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    try:
        yield docker_flags("--pid", f"container:{name}")
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False, timeout=60)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _host_peer() -> Iterator[Mutation]:
    """A process in a PID namespace of its own on the host; runc is told to join it."""
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "sleep", str(PEER_SLEEP_S)])
    try:
        deadline = time.monotonic() + 10
        while not (kids := _children(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.01)
        if not kids:
            raise RuntimeError("unshare --pid started no child")
        path = f"/proc/{kids[0]}/ns/pid"

        def join(cfg: dict[str, Any]) -> None:
            ns = cfg["linux"]["namespaces"]
            cfg["linux"]["namespaces"] = [{"type": "pid", "path": path} if n["type"] == "pid" else n for n in ns]

        # runc joins it through the OCI config; podman through --pid ns:PATH (podman-run(1))
        yield Mutation(oci=join, docker_args=("--pid", f"ns:{path}"))
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # --kill-child: the sleeper dies with it
        proc.wait(timeout=10)


@contextlib.contextmanager
def _peer(runtime: str) -> Iterator[Mutation]:
    yield from (_docker_peer() if runtime == "docker" else _host_peer())


def _user_namespace(cfg: dict[str, Any]) -> None:
    # a user namespace the profile never asked for, in which the sandbox owns every namespace
    # created with it. Ids map to themselves: the unpacked rootfs lives under /root (0700), which
    # a remapped root (say host uid 100000) could not even reach
    cfg["linux"]["namespaces"].append({"type": "user"})
    for key in ("uidMappings", "gidMappings"):
        cfg["linux"][key] = [{"containerID": 0, "hostID": 0, "size": 65536}]


def _podman_user_namespace(argv: list[str]) -> None:
    """The same identity map through podman's --uidmap/--gidmap, in place of --userns host."""
    i = argv.index("--userns")
    argv[i : i + 2] = ["--uidmap", "0:0:65536", "--gidmap", "0:0:65536"]


# what docker-init (tini) does: fork, exec the real command in the child, reap and pass on its status
INIT = (
    "import os, sys\n"
    "a = sys.argv[1:]\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(a[0], a)\n"
    "sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
)


def _injected_init(cfg: dict[str, Any]) -> None:
    cfg["process"]["args"] = [cfg["process"]["args"][0], "-c", INIT, *cfg["process"]["args"]]


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "pid-container",
        "PR-PROC-1",
        "--pid container:<other>: another sandbox's processes (and their environment) visible",
        setup=_peer,
    ),
    Weakening(
        "docker-init",
        "PR-PROC-1",
        "--init: docker-init is PID 1 and the harness its child",
        mutation=docker_flags("--init"),
        runtimes=("docker",),
    ),
    Weakening(
        "podman-init",
        "PR-PROC-1",
        "--init: an init (Docker's tini here; podman's catatonit where installed) is PID 1",
        # --init-path: Debian's podman only recommends catatonit; docker.io ships tini
        mutation=docker_flags("--init", "--init-path", "/usr/bin/docker-init"),
        runtimes=("podman",),
    ),
    Weakening(
        "injected-init",
        "PR-PROC-1",
        "an init of the runtime's own wrapped around the entrypoint (runc has no --init)",
        mutation=oci_edit(_injected_init),
        runtimes=("runc",),
    ),
    Weakening(
        "cgroupns-host",
        "PR-NS-CGROUP",
        "--cgroupns host: the host's cgroup tree",
        apply=set_fields("namespaces", cgroup="host"),
    ),
    Weakening(
        "user-namespace",
        "PR-NS-USER",
        "a user namespace mapping ids 0-65535 (Docker makes one only with dockerd --userns-remap)",
        mutation=Mutation(oci=_user_namespace, docker=_podman_user_namespace),
        runtimes=("runc", "podman"),
    ),
)
