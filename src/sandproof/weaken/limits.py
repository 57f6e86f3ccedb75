"""Weakenings of resource limits: rlimits raised or left to the host, sysctls changed, the
OOM killer off, more CPU weight, swap, and cgroup limits raised rather than removed."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sandproof import profile
from sandproof.inspector.judges.limits import UNLIMITED, V2_MARKER, parse_limits
from sandproof.profile import Profile, Size
from sandproof.runtime import podman
from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening, docker_flags, oci_edit, replaced, set_fields


def ulimit(name: str, soft: int, hard: int | None = None) -> Callable[[Profile], Profile]:
    return lambda p: replaced(
        p, "resources", ulimits={**p.resources.ulimits, name: (soft, soft if hard is None else hard)}
    )


BLKIO_WEIGHT_V1 = Path("/sys/fs/cgroup/blkio/blkio.weight")  # CFQ's, one of judges.limits.IO_WEIGHTS
V2 = Path(V2_MARKER)
BLKIO_V1 = BLKIO_WEIGHT_V1.parent


def _weight_discarded() -> str | None:
    """Docker 20.10 and Podman 4.3 apply --blkio-weight only where cgroup v1's blkio hierarchy
    has CFQ's blkio.weight (moby pkg/sysinfo checkCgroupBlkioInfo, which Podman's copy shares;
    both print "Your kernel does not support Block I/O weight or the cgroup is not mounted.
    Weight discarded.", seen here): BFQ's blkio.bfq.weight alone, as from Linux 5.0, is not
    looked for. runc writes whichever is there (blkio-weight-raised)."""
    if V2.exists() or not BLKIO_V1.is_dir():
        return None
    if BLKIO_WEIGHT_V1.exists():
        return None
    return f"the engine discards --blkio-weight where there is no {BLKIO_WEIGHT_V1} (CFQ's; this kernel has BFQ's only)"


LOOP_CONTROL = Path("/dev/loop-control")


def _no_bfq_device(runtime: str) -> str | None:  # noqa: ARG001 - the same host for runc
    """Why no loop device can be given BFQ and a weight here, or None."""
    if shutil.which("losetup") is None or not LOOP_CONTROL.exists():
        return "no loop devices here (losetup, /dev/loop-control) to give BFQ a device of the run's own"
    v2 = V2
    if v2.exists() and "io" not in v2.read_text(encoding="ascii").split():
        return "cgroup v2 without the io controller: no block I/O weight to give"
    if not v2.exists() and not BLKIO_V1.is_dir():
        return "no block I/O cgroup here"
    # BFQ built in or loaded is listed by every multi-queue device (block/elevator.c)
    listed = [f.read_text(encoding="ascii") for f in Path("/sys/block").glob("*/queue/scheduler")]
    if not any("bfq" in line.replace("[", " ").replace("]", " ").split() for line in listed):
        return "no device here lists the BFQ scheduler (built without it, or its module not loaded)"
    return None


def _current(scheduler: Path) -> str:
    """The scheduler in use, the bracketed one: "[none] mq-deadline kyber bfq"."""
    return scheduler.read_text(encoding="ascii").split("[", 1)[-1].split("]", 1)[0]


@contextlib.contextmanager
def _bfq_device(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - runc only
    """A loop device of the run's own scheduled by BFQ (a weight per device needs BFQ on that
    device's queue: block/blk-cgroup.c blkg_conf_prep refuses a policy the queue lacks), given
    the most weight in the sandbox's cgroup: runc writes it to blkio.bfq.weight_device. Undone
    in reverse: the scheduler put back while the device is still ours, then detached; the
    backing file has no name (SIGTERM and Ctrl-C undo the rest: selftest)."""
    with tempfile.TemporaryFile(prefix="sandproof-weak-") as backing:  # no name: nothing left on disk
        backing.truncate(1 << 20)
        named = f"/proc/{os.getpid()}/fd/{backing.fileno()}"  # losetup opens the very file
        found = subprocess.run(["losetup", "--find", "--show", named], capture_output=True, check=True)
        device = found.stdout.decode().strip()
        scheduler, was = Path(f"/sys/block/{Path(device).name}/queue/scheduler"), None
        try:
            was = _current(scheduler)
            scheduler.write_text("bfq", encoding="ascii")
            rdev = os.stat(device).st_rdev
            entry = {"major": os.major(rdev), "minor": os.minor(rdev), "weight": 1000}

            def edit(cfg: dict[str, Any]) -> None:
                cfg["linux"]["resources"]["blockIO"] = {"weightDevice": [entry]}

            yield Mutation(oci=edit)
        finally:
            if was is not None:
                with contextlib.suppress(OSError):  # the loop device outlives its use: as it was
                    scheduler.write_text(was, encoding="ascii")
            subprocess.run(["losetup", "--detach", device], capture_output=True, check=False)


def reachable(name: str, value: int) -> int:
    """The raise every runtime on this host can really make: at most its own hard limit
    without CAP_SYS_RESOURCE (dockerd and containerd inherit the same limits as this process
    here), and for nproc at most pid_max, to which podman lowers its own (runtime_defaults.PID_MAX):
    what the weakening tests is the sandbox's limit above the profile's, not how far above."""
    if podman.can_raise_hard():
        return value
    with open("/proc/self/limits", encoding="ascii") as f:
        hard = parse_limits(f.read())[name][1]
    got = value if hard == "unlimited" else min(value, int(hard))
    top = podman.pid_max() if name == "nproc" else None
    return got if top is None else min(got, top)


def raised(name: str, value: int) -> Weakening:
    def apply(p: Profile) -> Profile:
        # where the host allows no raise (no_effect) the profile still says what was meant
        got = reachable(name, value)
        return ulimit(name, got if got > p.resources.ulimits.get(name, (0, 0))[1] else value)(p)

    def no_effect(_runtime: str) -> str | None:
        base = profile.load("default").resources.ulimits.get(name, (0, 0))[1]
        if reachable(name, value) <= base:
            return f"no CAP_SYS_RESOURCE here and the host's hard {name} limit is {base}: nothing to raise to"
        return None

    return Weakening(
        f"ulimit-{name}-raised", "PR-RLIMIT-1", f"--ulimit {name} raised", apply=apply, no_effect=no_effect
    )


def sysctl(name: str, value: str) -> Callable[[Profile], Profile]:
    return lambda p: dataclasses.replace(p, sysctls={**p.sysctls, name: value})


def _oci_sysctl(cfg: dict[str, Any]) -> None:
    cfg["linux"].setdefault("sysctl", {})["kernel.msgmax"] = "65536"


def _oci_shares(cfg: dict[str, Any]) -> None:
    cfg["linux"]["resources"].setdefault("cpu", {})["shares"] = 2048


RAISED = {  # a limit a workload would want raised, and the raise
    "core": UNLIMITED,  # core dumps of the sandbox's memory land on the host
    "fsize": UNLIMITED,
    "nofile": 1048576,
    "nproc": UNLIMITED,
    "memlock": UNLIMITED,
    "stack": UNLIMITED,
    "cpu": UNLIMITED,
    "data": UNLIMITED,
    "msgqueue": 819200,
    "sigpending": 1 << 20,
    "locks": UNLIMITED,
    "nice": 40,  # may raise its own priority to -20
    "rtprio": 99,  # may take real-time scheduling
    "rttime": UNLIMITED,
}
SYSCTLS = {  # namespaced sysctls changed from what a fresh namespace gives
    "kernel.shmmni": "32768",
    "kernel.msgmnb": "65536",
    "kernel.sem": "250 256000 100 1024",
    "fs.mqueue.msg_max": "1000",
    "net.core.somaxconn": "65535",
    "net.ipv4.tcp_syncookies": "0",
}

STRETCHED_PERIOD_US = 1_000_000


def _stretched_docker(argv: list[str]) -> None:
    i = argv.index("--cpus")
    argv[i : i + 2] = ["--cpu-period", str(STRETCHED_PERIOD_US), "--cpu-quota", str(STRETCHED_PERIOD_US)]


def _stretched_oci(cfg: dict[str, Any]) -> None:
    cfg["linux"]["resources"]["cpu"].update(period=STRETCHED_PERIOD_US, quota=STRETCHED_PERIOD_US)


WEAKENINGS: tuple[Weakening, ...] = (
    *(raised(name, value) for name, value in RAISED.items()),
    Weakening(
        "ulimit-nofile-hard-raised",
        "PR-RLIMIT-1",
        "nofile soft as declared, hard raised: the process can raise its own soft limit",
        apply=ulimit("nofile", 1024, reachable("nofile", 1048576)),
    ),
    Weakening(
        "ulimits-undeclared",
        "PR-RLIMIT-1",
        "no --ulimit at all: every rlimit inherited from the engine's process",
        apply=set_fields("resources", ulimits={}),
        # podman never leaves nofile and nproc to its process: it asks for 1048576, which a host
        # without CAP_SYS_RESOURCE cannot give (runtime_defaults.PODMAN_DEFAULT_RLIMITS), and
        # attest refuses such a profile up front; podman's own form of it is the next one
        runtimes=("docker", "runc"),
    ),
    Weakening(
        "ulimits-undeclared-but-podmans",
        "PR-RLIMIT-1",
        "no --ulimit but nofile and nproc (podman sets those two itself): every other rlimit inherited from podman",
        apply=lambda p: replaced(
            p, "resources", ulimits={n: v for n, v in p.resources.ulimits.items() if n in ("nofile", "nproc")}
        ),
        runtimes=("podman",),
    ),
    *(
        Weakening(f"sysctl-{name}", "PR-SYSCTL-1", f"--sysctl {name}={value}", apply=sysctl(name, value))
        for name, value in SYSCTLS.items()
    ),
    # Docker sets these two itself in a private network namespace (runtime_defaults.SYSCTLS):
    # on Docker the same value changes nothing, so they are runc's and podman's weakenings only
    Weakening(
        "sysctl-ping-group-range",
        "PR-SYSCTL-1",
        "every group may open ICMP echo sockets",
        apply=sysctl("net.ipv4.ping_group_range", "0 2147483647"),
        runtimes=("runc", "podman"),
    ),
    Weakening(
        "sysctl-unprivileged-ports",
        "PR-SYSCTL-1",
        "any user may bind ports below 1024",
        apply=sysctl("net.ipv4.ip_unprivileged_port_start", "0"),
        runtimes=("runc", "podman"),
    ),
    Weakening(
        "engine-sysctl-docker",
        "PR-SYSCTL-1",
        "--sysctl kernel.msgmax=65536 added to the run",
        mutation=docker_flags("--sysctl", "kernel.msgmax=65536"),
        runtimes=("docker", "podman"),
    ),
    Weakening(
        "engine-sysctl-oci",
        "PR-SYSCTL-1",
        "linux.sysctl kernel.msgmax=65536 added to the config",
        mutation=oci_edit(_oci_sysctl),
        runtimes=("runc",),
    ),
    Weakening(
        "oom-kill-disable", "PR-CG-OOM", "--oom-kill-disable", apply=set_fields("resources", oom_kill_disable=True)
    ),
    Weakening(
        "cpu-shares-raised", "PR-CG-SHARES", "--cpu-shares 262144", apply=set_fields("resources", cpu_shares=262144)
    ),
    Weakening(
        "cpu-shares-unset",
        "PR-CG-SHARES",
        "no --cpu-shares: the default 1024",
        apply=set_fields("resources", cpu_shares=0),
    ),
    Weakening(
        "engine-cpu-shares-docker",
        "PR-CG-SHARES",
        "--cpu-shares 2048 added to the run",
        mutation=docker_flags("--cpu-shares", "2048"),
        runtimes=("docker", "podman"),
    ),
    Weakening(
        "engine-blkio-weight",
        "PR-CG-SHARES",
        "--blkio-weight 1000 added to the run: the most of the disk under BFQ",
        mutation=docker_flags("--blkio-weight", "1000"),
        runtimes=("docker", "podman"),
        no_effect=lambda _runtime: _weight_discarded(),
    ),
    Weakening(
        "blkio-weight-device",
        "PR-CG-SHARES",
        "linux.resources.blockIO.weightDevice: weight 1000 on one device (a loop device under BFQ)",
        setup=_bfq_device,
        no_effect=_no_bfq_device,
        runtimes=("runc",),
    ),
    Weakening(
        "engine-cpu-shares-oci",
        "PR-CG-SHARES",
        "linux.resources.cpu.shares 2048 added to the config",
        mutation=oci_edit(_oci_shares),
        runtimes=("runc",),
    ),
    Weakening(
        "swap-allowed",
        "PR-CG-MEM",
        "--memory-swap 512m with --memory 256m: 256 MiB of swap",
        apply=set_fields("resources", memory_swap=Size.of("512m")),
    ),
    Weakening("pids-raised", "PR-CG-PIDS", "--pids-limit 4096", apply=set_fields("resources", pids=4096)),
    Weakening(
        "memory-raised",
        "PR-CG-MEM",
        "--memory 1g --memory-swap 1g",
        apply=set_fields("resources", memory=Size.of("1g"), memory_swap=Size.of("1g")),
    ),
    Weakening("cpus-raised", "PR-CG-CPU", "--cpus 2", apply=set_fields("resources", cpus=2.0)),
    Weakening(
        "cpu-period-stretched",
        "PR-CG-CPU",
        "--cpu-period 1000000 --cpu-quota 1000000 for --cpus 1: the same ratio, a second of every core at a time",
        mutation=Mutation(docker=_stretched_docker, oci=_stretched_oci),
    ),
)
