"""Docker's view: the container's inspect document (GET /containers/{id}/json, or
``docker inspect``), read after the engine started the container and before ``--rm`` removed it.

The inspect document is what the daemon stored and handed to runc, after the CLI parsed the
argv and the daemon added its own defaults: a daemon.json ``default-ulimits``, a
``seccomp-profile``, ``--userns-remap``, a default runtime, an image ``VOLUME`` all show
here and in no argv. Beside it, the OCI config dockerd handed runc (engineview/docker_oci.py):
what the daemon merged in at start and the inspect does not show. Field names are moby's
(api/types/container HostConfig and Config, 20.10); Podman's inspect shares most of them: one
projection reads both (engineview/inspect.py).
"""

from __future__ import annotations

import re
from typing import Any

from sandproof import runtime_defaults, seccomp
from sandproof.engineview import docker_oci
from sandproof.engineview.core import COMPARED, Context, Expected, Inert, Matches, OneOf
from sandproof.engineview.inspect import (
    EVERY_RUN,
    OCI_LINUX,
    SHARED_LISTING,
    UNSET_IO_AND_REALTIME,
    Inspect,
    Shape,
    unset,
)
from sandproof.inspector.judges.limits import UNLIMITED
from sandproof.profile import Profile
from sandproof.workload import carried
from sandproof.workload.carried import MOUNT_POINT

# HostConfig fields kept as they are, an absent or null one read as this empty value
_PLAIN: dict[str, object] = {
    **UNSET_IO_AND_REALTIME,
    **EVERY_RUN,
    "KernelMemoryTCP": 0,
    "RestartPolicy": {"MaximumRetryCount": 0, "Name": "no"},  # the sandbox started again after it ends
    "Privileged": False,
    "ReadonlyRootfs": False,
    "PublishAllPorts": False,
    "NetworkMode": "",
    "IpcMode": "",
    "PidMode": "",
    "UTSMode": "",
    "UsernsMode": "",
    "CgroupnsMode": "",
    "Init": None,
    "OomKillDisable": False,
    "OomScoreAdj": 0,
    "CpuShares": 0,
    "NanoCpus": 0,
    "CpuQuota": 0,
    "CpuPeriod": 0,
    "CpusetCpus": "",
    "Memory": 0,
    "MemorySwap": 0,
    "MemoryReservation": 0,
    "MemorySwappiness": None,
    "PidsLimit": None,
    "ShmSize": 0,
    "Runtime": "",
    "CgroupParent": "",
    "CapAdd": [],
    "CapDrop": [],
    "SecurityOpt": [],
    "MaskedPaths": [],
    "ReadonlyPaths": [],
    "Sysctls": {},
    "Devices": [],
    "DeviceCgroupRules": [],
    "DeviceRequests": [],
    "Binds": [],
    "Tmpfs": {},
    "PortBindings": {},
    "GroupAdd": [],
    "VolumesFrom": [],
    # what the CLI writes into /etc/hosts and /etc/resolv.conf (--add-host, --dns*): host-chosen
    # names and addresses no probe can tell from the host's own (measured: only the argv showed them)
    "ExtraHosts": [],
    "Dns": [],
    "DnsSearch": [],
    "DnsOptions": [],
}


LISTING: dict[str, str | Inert] = {
    **SHARED_LISTING,
    **{f"HostConfig.{k}": COMPARED for k in _PLAIN},
    "HostConfig.Mounts": COMPARED,
    "Config.Healthcheck": COMPARED,
    "LogPath": Inert("the engine's log file on the host (the log driver, none, is compared)"),
    "Platform": Inert("the image's operating system, linux for every image that runs here"),
    "Config.ArgsEscaped": Inert("only read by Windows"),
    "Config.Shell": Inert("only read by docker build"),
    **docker_oci.LISTING,
}
"""Every field of Docker's inspect document (moby api/types ContainerJSON, 20.10): compared,
or inert and why. A field it does not name FAILs the view (engineview/core.py ``unlisted``)."""


def compact(text: bytes) -> bytes:
    """Go's ``json.Compact``: the Docker CLI reads ``--security-opt seccomp=FILE`` and sends
    the file's JSON compacted (docker/cli opts/parse.go parseSecurityOpts), whitespace outside
    strings removed and nothing else changed; the daemon stores that text as it came."""
    return _TOKENS.sub(lambda m: m.group(1) or b"", text)


_TOKENS = re.compile(rb'("(?:[^"\\]|\\.)*")|[ \t\r\n]+')
"""A JSON string (kept whole, escapes and all), or a run of whitespace outside one."""
_RENDERED: dict[str, str] = {}
"""The compacted policy per profile digest: a verification judges many bundles of one profile."""


def _seccomp_text(p: Profile) -> str:
    if p.digest not in _RENDERED:
        if len(_RENDERED) > 16:
            _RENDERED.clear()
        _RENDERED[p.digest] = compact(seccomp.render(p)).decode()
    return _RENDERED[p.digest]


class DockerInspect(Inspect):
    runtime = "docker"
    source = "GET /containers/{id}/json"
    listing = LISTING
    # the CLI builds Binds from a Go map of the -v values (docker/cli container/opts.go
    # parse: ``for bind := range copts.volumes.GetMap()``): their order changes run to run
    shape = Shape(
        _PLAIN,
        unordered=("Binds", "CapAdd"),
        top=("AppArmorProfile", "ProcessLabel", "MountLabel"),
        config=("User", "Domainname", "OpenStdin", "Tty", "Healthcheck"),
        host_mounts=True,
        oci_linux=OCI_LINUX,
        oci=docker_oci.project,
    )

    per_run = frozenset({"HostConfig.Binds", "Mounts", *docker_oci.PER_RUN})

    def per_run_fields(self, profile: Profile, ctx: Context) -> dict[str, Expected]:
        return {**_bind_fields(profile, ctx), **docker_oci.per_run_fields(profile, ctx)}

    def expected(self, profile: Profile, ctx: Context) -> dict[str, Expected]:
        p, r = profile, profile.resources
        want: dict[str, Expected] = {f"HostConfig.{k}": v for k, v in _PLAIN.items()}
        want.update(unset())
        want.update(_host_config(p, ctx))
        own_env = carried.env(p.environment.variables) if ctx.workload else {}  # the carried harness's LC_ALL
        no_limit = OneOf((None, 0, -1))  # -1 is the API's "unlimited"
        want.update(
            {
                "HostConfig.OomKillDisable": r.oom_kill_disable,
                "HostConfig.OomScoreAdj": runtime_defaults.OOM_SCORE_ADJ,
                "HostConfig.CpuShares": r.cpu_shares,
                "HostConfig.NanoCpus": round(r.cpus * 1e9),
                "HostConfig.Memory": r.memory.bytes,
                "HostConfig.MemorySwap": r.memory_swap.bytes if r.memory.bytes else 0,
                "HostConfig.PidsLimit": r.pids or no_limit,
                "HostConfig.ShmSize": runtime_defaults.DOCKER_SHM_BYTES,
                "HostConfig.Init": OneOf((None, False)),
                # --isolation default, the only value Linux takes (moby daemon_unix.go), is no isolation asked
                "HostConfig.Isolation": OneOf(("", "default")),
                "HostConfig.Ulimits": [
                    {"Name": n, "Soft": _limit(s), "Hard": _limit(h)}
                    for n, (s, h) in sorted(r.ulimits.items())
                    if n != "as"
                ],
                "HostConfig.LogConfig.Type": "none",
                "AppArmorProfile": OneOf(runtime_defaults.DOCKER_APPARMOR),
                "ProcessLabel": Matches(runtime_defaults.DOCKER_SELINUX_PROCESS),
                "MountLabel": Matches(runtime_defaults.DOCKER_SELINUX_MOUNT),
                "Image": ctx.workload.image_id if ctx.workload else ctx.image_id,
                "Config.User": f"{p.user.uid}:{p.user.gid}",
                "Config.Domainname": "",
                # stdin held open to the client (-i) or a terminal (-t): a channel from the host
                # the profile never opened (the sandbox's stdin is otherwise /dev/null)
                "Config.OpenStdin": False,
                "Config.Tty": False,
                # --health-cmd: the engine runs a command of the host's choosing inside the sandbox,
                # as its user, outside the harness's tree, every interval (an image's HEALTHCHECK too)
                # (a user's image runs with --no-healthcheck: the engine records the test NONE)
                "Config.Healthcheck": ["NONE"] if ctx.workload else OneOf(("", None)),
                "Config.Env": sorted({"PATH", *p.environment.variables, *own_env}),
                # the image's EXPOSE lines, as its config (hashed to the image ID) says: nothing else
                "Config.ExposedPorts": carried.exposed_ports(ctx.workload) if ctx.workload else [],
            }
        )
        want.update(docker_oci.expected(p, ctx, ["PATH", *p.environment.variables, *own_env]))
        return want


def _limit(value: int) -> int:
    return -1 if value == UNLIMITED else value


def _security_opt(p: Profile) -> list[str]:
    """As render/docker.py orders them, seccomp's file as the CLI sends its content."""
    opts = ["no-new-privileges"] if p.security.no_new_privileges else []
    if not p.seccomp.enabled:
        return [*opts, "seccomp=unconfined"]
    return [*opts, "seccomp=" + _seccomp_text(p)]


def _resolv(p: Profile) -> dict[str, Expected]:
    """The ``--dns*`` flags sandproof renders under ``--network none`` (render/docker.py), so
    that resolv.conf holds no line of the host's; none otherwise."""
    flags = runtime_defaults.DOCKER_RESOLV_FLAGS if p.network.mode == "none" else ()
    values = dict(zip(flags[::2], flags[1::2], strict=True))
    return {
        f"HostConfig.{field}": [values[flag]] if flag in values else []
        for field, flag in (("Dns", "--dns"), ("DnsSearch", "--dns-search"), ("DnsOptions", "--dns-option"))
    }


def _binds(p: Profile, ctx: Context) -> list[tuple[str, str, str]]:
    fs = p.filesystem
    return [
        (ctx.in_dir, fs.input, "ro"),
        (ctx.out_dir, fs.output, "rw"),
        *((b.source, b.target, b.mode) for b in fs.binds),
    ]


def _own(ctx: Context) -> list[list[Any]]:
    return [["bind", ctx.workload.harness_tree, MOUNT_POINT, True]] if ctx.workload else []


def _bind_fields(p: Profile, ctx: Context) -> dict[str, Expected]:
    """The fields that name the run's own directories (``DockerInspect.per_run``)."""
    binds = _binds(p, ctx)
    mounts = [["bind", s, t, m == "rw"] for s, t, m in binds]
    mounts += [[kind, s, t, not ro] for kind, s, t, ro in _own(ctx)]
    return {"HostConfig.Binds": sorted(f"{s}:{t}:{m}" for s, t, m in binds), "Mounts": sorted(mounts)}


def _host_config(p: Profile, ctx: Context) -> dict[str, Expected]:
    fs, ns, sec = p.filesystem, p.namespaces, p.security
    bound = _bind_fields(p, ctx)
    return {
        "HostConfig.Privileged": sec.privileged,
        # written back as the daemon stores them: uppercase with the "CAP_" prefix (moby
        # oci/caps NormalizeLegacyCapabilities; measured on 20.10.24: --cap-add NET_BIND_SERVICE
        # is recorded "CAP_NET_BIND_SERVICE"), where "ALL" would stay "ALL"
        "HostConfig.CapAdd": sorted(f"CAP_{c}" for c in sec.capabilities),
        "HostConfig.CapDrop": ["ALL"] if sec.cap_drop_all else [],
        "HostConfig.SecurityOpt": _security_opt(p),
        "HostConfig.MaskedPaths": [] if sec.privileged else list(runtime_defaults.MASKED_PATHS),
        "HostConfig.ReadonlyPaths": [] if sec.privileged else list(runtime_defaults.READONLY_PATHS),
        "HostConfig.ReadonlyRootfs": fs.read_only_rootfs,
        "HostConfig.Tmpfs": {t.path: ",".join(t.options) for t in fs.tmpfs},
        "HostConfig.Binds": bound["HostConfig.Binds"],
        "HostConfig.Mounts": sorted(_own(ctx)),
        "Mounts": bound["Mounts"],
        "HostConfig.Sysctls": dict(p.sysctls),
        "HostConfig.NetworkMode": p.network.mode,
        **_resolv(p),
        "HostConfig.IpcMode": OneOf(runtime_defaults.DOCKER_IPC_DEFAULT)
        if p.ipc.mode == "engine-default"
        else p.ipc.mode,
        "HostConfig.PidMode": "host" if ns.pid == "host" else "",
        "HostConfig.UTSMode": "host" if ns.uts == "host" else "",
        "HostConfig.UsernsMode": "host" if ns.user == "host" else "",
        "HostConfig.CgroupnsMode": (
            OneOf(runtime_defaults.DOCKER_CGROUPNS_DEFAULT) if ns.cgroup == "engine-default" else ns.cgroup
        ),
        "HostConfig.Runtime": runtime_defaults.DOCKER_RUNTIME,
    }
