"""Weakenings that join the sandbox to something it should not share: another container's
IPC or network namespace (its SysV objects, its abstract unix sockets), an extra group, a
changed OOM score, and LSM settings that cannot change anything on a host without that LSM."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening
from sandproof.weaken.namespaces import PEER_IMAGE, PEER_SLEEP_S
from sandproof.weaken.runtime_files import without_resolv_flags

# what a neighbour leaves in its namespaces: a SysV shared memory segment, an abstract socket
SHM_PEER = (
    "import ctypes, time; libc = ctypes.CDLL('libc.so.6'); "
    "assert libc.shmget(0x53500001, 4096, 0o1600) >= 0; time.sleep({s})"
)
TCP_PEER = "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 8080)); s.listen(); time.sleep({s})"
SOCKET_PEER = (
    "import socket, time; s = socket.socket(socket.AF_UNIX); s.bind('\\0sandproof-peer'); s.listen(); time.sleep({s})"
)


def _replace_flag(flag: str, value: str) -> Callable[[list[str]], None]:
    def edit(argv: list[str]) -> None:
        argv[argv.index(flag) + 1] = value

    return edit


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@contextlib.contextmanager
def _docker_peer(code: str, flags: tuple[str, ...], join: str) -> Iterator[Mutation]:
    name = f"sandproof-peer-{uuid.uuid4().hex[:12]}"
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, "--user", "65532:65532", *flags,
         "--entrypoint", "/usr/bin/python3.11", PEER_IMAGE, "-c", code.format(s=PEER_SLEEP_S)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    try:
        time.sleep(0.5)  # let it make its object
        edit = _replace_flag(join, f"container:{name}")

        def joined(argv: list[str]) -> None:
            edit(argv)
            if join == "--network":  # the peer's network: its resolv.conf, and no --dns of ours
                without_resolv_flags(argv)

        yield Mutation(docker=joined)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False, timeout=60)


@contextlib.contextmanager
def _host_peer(code: str, ns: str, oci_type: str) -> Iterator[Mutation]:
    """A host process in a namespace of its own that holds the object; runc joins it."""
    proc = subprocess.Popen(
        ["unshare", f"--{ns}", "--fork", "--kill-child", "python3", "-c", code.format(s=PEER_SLEEP_S)]
    )
    try:
        deadline = time.monotonic() + 10
        while not (kids := _children(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.01)
        if not kids:
            raise RuntimeError(f"unshare --{ns} started no child")
        time.sleep(0.3)
        path = f"/proc/{kids[0]}/ns/{oci_type if oci_type != 'network' else 'net'}"

        def join(cfg: dict[str, Any]) -> None:
            others = [n for n in cfg["linux"]["namespaces"] if n["type"] != oci_type]
            cfg["linux"]["namespaces"] = [*others, {"type": oci_type, "path": path}]

        # runc joins it through the OCI config; podman through --ipc/--network ns:PATH
        yield Mutation(oci=join, docker=_replace_flag(f"--{oci_type}", f"ns:{path}"))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _peer(
    code: str, docker_flags: tuple[str, ...], join: str, ns: str, oci_type: str
) -> Callable[[str], contextlib.AbstractContextManager[Mutation]]:
    """A peer running ``code`` whose namespace the sandbox joins: a Docker container it joins
    by ``--{join} container:``, elsewhere a host process it joins by its /proc/PID/ns/NS."""

    @contextlib.contextmanager
    def setup(runtime: str) -> Iterator[Mutation]:
        peer = _docker_peer(code, docker_flags, join) if runtime == "docker" else _host_peer(code, ns, oci_type)
        with peer as m:
            yield m

    return setup


_ipc_peer = _peer(SHM_PEER, ("--network", "none", "--ipc", "shareable"), "--ipc", "ipc", "ipc")
_net_peer = _peer(SOCKET_PEER, ("--network", "none"), "--network", "net", "network")
_tcp_peer = _peer(TCP_PEER, ("--network", "none"), "--network", "net", "network")


def _groups(cfg: dict[str, Any]) -> None:
    cfg["process"]["user"]["additionalGids"] = [0]


def _score(cfg: dict[str, Any]) -> None:
    cfg["process"]["oomScoreAdj"] = 500


def _no_lsm(name: str, marker: str) -> Callable[[str], str | None]:
    """Measured: an LSM setting changes nothing where the kernel has no such LSM."""
    return lambda _runtime: None if os.path.exists(marker) else f"no {name} in this kernel ({marker} absent)"


def _unconfined(cfg: dict[str, Any]) -> None:
    cfg["process"]["apparmorProfile"] = "unconfined"


ENGINE_ONLY = ("docker", "podman")  # runc has no /etc/hosts or resolv.conf of its own to write


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "ipc-container",
        "PR-NS-IPC",
        "--ipc container:<peer>: the peer's SysV objects",
        setup=_ipc_peer,
    ),
    Weakening("network-container", "PR-SOCK-ANY", "--network container:<peer>: its abstract sockets", setup=_net_peer),
    Weakening(
        "network-container-tcp",
        "PR-NET-2",
        "--network container:<peer>: the peer listens on 127.0.0.1:8080 (no unix socket, no interface but lo)",
        setup=_tcp_peer,
    ),
    Weakening(
        "extra-hosts",
        "PR-ETC-1",  # the engine's view (ExtraHosts) sees it too
        "--add-host vault.corp:10.9.8.7: host-chosen names and addresses in /etc/hosts",
        mutation=Mutation(docker_args=("--add-host", "vault.corp:10.9.8.7")),
        runtimes=ENGINE_ONLY,
    ),
    Weakening(
        "dns-servers",
        "PR-ETC-1",  # the engine's view (Dns, DnsSearch) sees it too
        "--dns 10.9.8.7 --dns-search corp.internal: the internal resolver and domain in /etc/resolv.conf",
        mutation=Mutation(docker_args=("--dns", "10.9.8.7", "--dns-search", "corp.internal")),
        runtimes=("docker",),  # podman refuses --dns with --network none
    ),
    Weakening(
        "stdin-attached",
        "PR-FD-1",  # the engine view sees it too; inside, stdin is the client's pipe, not /dev/null
        "-i: the sandbox's stdin a pipe from the client (the caller's terminal or input), not /dev/null",
        mutation=Mutation(docker_args=("-i",)),
        runtimes=ENGINE_ONLY,
    ),
    Weakening(
        "health-cmd",
        "engine-view",
        "--health-cmd: a command of the host's choosing run inside the sandbox every second",
        mutation=Mutation(docker_args=("--health-cmd", "cat /out/* >/dev/null", "--health-interval", "1s")),
        runtimes=("docker",),
    ),
    Weakening(
        "group-add-root",
        "PR-ID-1",
        "--group-add 0 (root's group)",
        mutation=Mutation(docker_args=("--group-add", "0"), oci=_groups),
    ),
    Weakening(
        "oom-score-adj",
        "PR-CG-OOM",
        "--oom-score-adj 500",
        mutation=Mutation(docker_args=("--oom-score-adj", "500"), oci=_score),
    ),
    Weakening(
        "apparmor-unconfined",
        "PR-CAP-1",
        "--security-opt apparmor=unconfined",
        mutation=Mutation(docker_args=("--security-opt", "apparmor=unconfined"), oci=_unconfined),
        no_effect=_no_lsm("AppArmor", "/sys/module/apparmor"),
        runtimes=("docker", "podman"),  # runc refuses an AppArmor profile where AppArmor is off
    ),
)
