"""Podman's view: ``podman container inspect`` of the running container, read after it
started and before ``--rm`` removed it, and the OCI config podman wrote for it and handed
runc (``OCIConfig``: the file at the inspect's ``OCIConfigPath``, runtime/watch.py ``podman_cli``).

The document is Docker's shape (libpod/define/container_inspect.go) but filled by libpod, and
in podman 4.3.1 (measured here) some of it is not what the container got:
- SecurityOpt holds ``seccomp=<path>``, the file's path and not its content: the policy
  podman loaded from it is compared in the OCI config (``linux.seccomp``: the rendered
  policy's own JSON, measured equal here), as Docker's is in its SecurityOpt.
- IpcMode is "shareable" for every --ipc (none, private, host), CgroupMode is "host" until
  the container runs, and there is no Sysctls, MaskedPaths, ReadonlyPaths,
  DeviceCgroupRules or Init field at all (--sysctl, --security-opt unmask=, --device-cgroup-rule
  leave the document unchanged): sysctls and masked and read-only paths are compared in the
  OCI config (``linux.sysctl``, ``linux.maskedPaths``, ``linux.readonlyPaths``), device rules
  in its ``linux.resources`` and an init in its ``process.args`` (engineview/podman_oci.py,
  which compares the rest of what podman handed runc: process, mounts, root, namespaces,
  resources, cgroup path, annotations).
- CapDrop lists every default capability dropped (not "ALL"), Ulimits are named RLIMIT_*,
  binds and tmpfs carry podman's added options, the image ID has no "sha256:".
"""

from __future__ import annotations

import json

from sandproof import runtime_defaults as rd
from sandproof.engineview import podman_oci
from sandproof.engineview.core import COMPARED, Context, Expected, Inert, Matches, OneOf
from sandproof.engineview.docker import _limit, _seccomp_text
from sandproof.engineview.inspect import (
    ENGINE_CHOSEN,
    EVERY_RUN,
    OCI_CONFIG,
    OCI_LINUX,
    SHARED_LISTING,
    UNSET_IO_AND_REALTIME,
    Inspect,
    Shape,
    unset,
)
from sandproof.profile import Profile
from sandproof.workload.carried import MOUNT_POINT

_PLAIN: dict[str, object] = {
    **UNSET_IO_AND_REALTIME,
    **EVERY_RUN,
    "DiskQuota": 0,
    "CgroupConf": {},  # --cgroup-conf: any cgroup v2 file written as asked, past every limit above
    "Cgroups": "default",  # --cgroups disabled|no-conmon|split: none puts the limits elsewhere
    "RestartPolicy": {"MaximumRetryCount": 0, "Name": ""},
    "Privileged": False,
    "ReadonlyRootfs": False,
    "PublishAllPorts": False,
    "NetworkMode": "",
    "PidMode": "",
    "UTSMode": "",
    "UsernsMode": "",
    "CgroupMode": "",
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
    "MemorySwappiness": -1,
    "PidsLimit": 0,
    "ShmSize": 0,
    "Runtime": "",
    "CgroupParent": "",
    "CapAdd": [],
    "CapDrop": [],
    "SecurityOpt": [],
    "Devices": [],
    "Binds": [],
    "Tmpfs": {},
    "PortBindings": {},
    "GroupAdd": [],
    "VolumesFrom": [],
    # --add-host, --dns*: what /etc/hosts and /etc/resolv.conf get (engineview/docker.py)
    "ExtraHosts": [],
    "Dns": [],
    "DnsSearch": [],
    "DnsOptions": [],
}
LISTING: dict[str, str | Inert] = {
    **SHARED_LISTING,
    **{f"HostConfig.{k}": COMPARED for k in _PLAIN},
    "OCIRuntime": COMPARED,
    "BoundingCaps": COMPARED,
    "EffectiveCaps": COMPARED,
    "Config.Umask": COMPARED,
    "Config.Healthcheck": COMPARED,
    "Mounts[].Driver": Inert("a volume's driver: a volume is a Type (compared) no profile has"),
    "Mounts[].Options": Inert("podman's bind options, in HostConfig.Binds too (compared)"),
    "HostConfig.LogConfig.Path": Inert("a log file on the host: the driver is none (compared)"),
    "HostConfig.LogConfig.Size": Inert("a log file's size limit: the driver is none (compared)"),
    "HostConfig.LogConfig.Tag": Inert("a log line's tag: the driver is none (compared)"),
    "HostConfig.IpcMode": Inert("shareable for every --ipc in 4.3.1 (measured): the IPC namespace is probed inside"),
    "HostConfig.CgroupManager": Inert(
        "the host's cgroup driver (cgroupfs or systemd): where, not what, the limits are"
    ),
    "ConmonPidFile": ENGINE_CHOSEN,
    "PidFile": ENGINE_CHOSEN,
    "StaticDir": ENGINE_CHOSEN,
    "OCIConfigPath": ENGINE_CHOSEN,
    "Rootfs": Inert("set only for --rootfs (an exploded rootfs instead of an image): Image is compared"),
    "ImageDigest": Inert("the image's manifest digest; what ran is Image (compared)"),
    "ImageName": Inert("the image as the client named it; what ran is Image (compared)"),
    "Dependencies": Inert("containers podman starts before this one: none share a namespace unless a *Mode says so"),
    "IsInfra": Inert("a pod's infra container: this one is in no pod (Pod)"),
    "IsService": Inert("a kube play service container: bookkeeping"),
    "Pod": Inert("the pod's ID: a pod's shared namespaces show in the *Mode fields (compared)"),
    "Namespace": Inert("libpod's namespace for names (not a kernel one)"),
    "Config.Annotations": Inert("libpod's copy of the annotations it hands runc: their names are compared there"),
    "Config.CreateCommand": Inert("the argv podman was given, recorded in the evidence (rendered check)"),
    "Config.HealthcheckOnFailureAction": Inert("acts only on a healthcheck; one would show as Config.Healthcheck"),
    "Config.Passwd": Inert(
        "whether podman may add the user to a copy of /etc/passwd (render/podman.py says no): one it added "
        "would be a bind mount, compared in the OCI config's mounts"
    ),
    "Config.Timeout": Inert("podman stops the container after it: ends the run, grants nothing"),
    "Config.sdNotifyMode": Inert("systemd notify: the socket is passed only when NOTIFY_SOCKET is set (Config.Env)"),
    f"{OCI_CONFIG}.linux.seccomp": COMPARED,
    f"{OCI_CONFIG}.linux.sysctl": COMPARED,
    f"{OCI_CONFIG}.linux.maskedPaths": COMPARED,
    f"{OCI_CONFIG}.linux.readonlyPaths": COMPARED,
    f"{OCI_CONFIG}.linux.devices": COMPARED,
    f"{OCI_CONFIG}.linux.uidMappings": COMPARED,
    f"{OCI_CONFIG}.linux.gidMappings": COMPARED,
    f"{OCI_CONFIG}.linux.mountLabel": COMPARED,
    **podman_oci.LISTING,
    f"{OCI_CONFIG}.ociVersion": Inert("the runtime-spec version the config is written in"),
}
"""Every field of ``podman container inspect`` (libpod/define/container_inspect.go, 4.3.1) and
of the OCI config beside it: compared, or inert and why (engineview/core.py ``unlisted``)."""
CPU_PERIOD_US = 100_000
"""podman --cpus sets CpuQuota over this period (pkg/specgen/generate: the CFS default)."""


class PodmanInspect(Inspect):
    runtime = "podman"
    source = "podman container inspect"
    listing = LISTING
    shape = Shape(
        _PLAIN,
        unordered=("Binds", "CapAdd", "CapDrop"),
        top=("AppArmorProfile", "ProcessLabel", "MountLabel", "OCIRuntime"),
        caps=("BoundingCaps", "EffectiveCaps"),
        config=("User", "Umask", "OpenStdin", "Tty", "Healthcheck"),
        bare_image=True,
        oci_linux=OCI_LINUX,
        oci=podman_oci.project,
    )

    def expected(self, profile: Profile, ctx: Context) -> dict[str, Expected]:
        want: dict[str, Expected] = {f"HostConfig.{k}": v for k, v in _PLAIN.items()}
        want.update(unset())
        want.update(_host_config(profile, ctx))
        want.update(_resources(profile, ctx))
        want.update(_oci_linux(profile))
        want.update(podman_oci.expected(profile, ctx))
        want.update(
            {
                "HostConfig.LogConfig.Type": "none",
                "HostConfig.Runtime": rd.PODMAN_RUNTIME[0],
                "OCIRuntime": rd.PODMAN_RUNTIME[1],
                "AppArmorProfile": Matches(rd.PODMAN_APPARMOR),
                "ProcessLabel": Matches(rd.DOCKER_SELINUX_PROCESS),
                "MountLabel": Matches(rd.DOCKER_SELINUX_MOUNT),
                "Image": ctx.workload.image_id if ctx.workload else ctx.image_id,
                "Config.User": f"{profile.user.uid}:{profile.user.gid}",
                "Config.OpenStdin": False,  # -i, -t: as engineview/docker.py
                "Config.Tty": False,
                "Config.Umask": profile.user.umask,
                # --health-cmd, an image's HEALTHCHECK: as engineview/docker.py (a user's image
                # runs with --no-healthcheck, recorded as the test NONE; none at all otherwise)
                "Config.Healthcheck": ["NONE"] if ctx.workload else OneOf(("", None)),
                "Config.Env": podman_oci.env_names(profile, ctx),
                # podman 4.3.1 keeps no image's EXPOSE here (measured: an image exposing 8080/tcp)
                "Config.ExposedPorts": [],
            }
        )
        return want


def _oci_linux(p: Profile) -> dict[str, Expected]:
    """What podman writes in the OCI config's ``linux``: the policy file's JSON as it is (podman
    converts Docker's format; the render uses none of what it converts), its own default masked
    and read-only paths (none when privileged), the profile's sysctls and podman's own."""
    sec = p.security
    return {
        f"{OCI_CONFIG}.linux.seccomp": json.loads(_seccomp_text(p)) if p.seccomp.enabled else None,
        f"{OCI_CONFIG}.linux.sysctl": {**rd.SYSCTLS["podman"], **p.sysctls},
        f"{OCI_CONFIG}.linux.maskedPaths": [] if sec.privileged else list(rd.PODMAN_MASKED_PATHS),
        f"{OCI_CONFIG}.linux.readonlyPaths": [] if sec.privileged else list(rd.PODMAN_READONLY_PATHS),
        # no device of the host's (--device) and no user namespace's mappings (--userns, --uidmap;
        # rootless runc runs inside podman's own), measured absent root and rootless
        f"{OCI_CONFIG}.linux.devices": [],
        f"{OCI_CONFIG}.linux.uidMappings": [],
        f"{OCI_CONFIG}.linux.gidMappings": [],
        f"{OCI_CONFIG}.linux.mountLabel": Matches(rd.DOCKER_SELINUX_MOUNT),
    }


def _resources(p: Profile, ctx: Context) -> dict[str, Expected]:
    r = p.resources
    limits = {n: v for n, v in r.ulimits.items() if n != "as"}
    for name, default in rd.PODMAN_DEFAULT_RLIMITS.items():  # podman sets these two always
        limits.setdefault(name, (default, default))
    return {
        "HostConfig.OomKillDisable": r.oom_kill_disable,
        "HostConfig.OomScoreAdj": rd.OOM_SCORE_ADJ,
        "HostConfig.CpuShares": r.cpu_shares,
        "HostConfig.NanoCpus": round(r.cpus * 1e9),
        "HostConfig.CpuQuota": round(r.cpus * CPU_PERIOD_US),
        "HostConfig.CpuPeriod": CPU_PERIOD_US if r.cpus else 0,
        "HostConfig.Memory": r.memory.bytes,
        "HostConfig.MemorySwap": r.memory_swap.bytes if r.memory.bytes else 0,
        "HostConfig.PidsLimit": r.pids or 0,
        "HostConfig.ShmSize": rd.PODMAN_SHM_BYTES,
        "HostConfig.Ulimits": sorted(
            (
                {"Name": f"RLIMIT_{n.upper()}", "Soft": _limit(s), "Hard": _limit(h)}
                for n, (s, h) in limits.items()
                if not (ctx.rootless and n in rd.PODMAN_DEFAULT_RLIMITS and n not in r.ulimits)
            ),
            key=lambda u: str(u["Name"]),
        ),
    }


def _host_config(p: Profile, ctx: Context) -> dict[str, Expected]:
    fs, ns, sec = p.filesystem, p.namespaces, p.security
    binds = [
        (ctx.in_dir, fs.input, "ro"),
        (ctx.out_dir, fs.output, "rw"),
        *((b.source, b.target, b.mode) for b in fs.binds),
    ]
    if ctx.workload:  # podman lists the carried harness's --mount among the Binds too (observed, 4.3.1)
        binds.append((ctx.workload.harness_tree, MOUNT_POINT, "ro"))
    mounts = [["bind", s, t, m == "rw"] for s, t, m in binds]
    bounding, effective, caps = podman_oci.caps(p)
    seccomp = f"seccomp={ctx.seccomp_file}" if p.seccomp.enabled else "seccomp=unconfined"
    return {
        # the process's own sets (the OCI config's): a non-root user keeps only what --cap-add
        # names in its effective set (podman pkg/specgen/generate/security_linux.go)
        "BoundingCaps": bounding,
        "EffectiveCaps": effective,
        "HostConfig.Privileged": sec.privileged,
        # what the bounding set holds beyond podman's default set, and lacks of it (libpod's
        # inspect works them out so, measured 4.3.1: --cap-drop ALL --cap-add NET_BIND_SERVICE,
        # one of the defaults, reads back as no CapAdd and every other default dropped)
        "HostConfig.CapAdd": sorted(set(caps) - set(rd.PODMAN_CAPS)),
        "HostConfig.CapDrop": sorted(set(rd.PODMAN_CAPS) - set(caps)) if sec.cap_drop_all else [],
        "HostConfig.SecurityOpt": [*(["no-new-privileges"] if sec.no_new_privileges else []), seccomp],
        "HostConfig.ReadonlyRootfs": fs.read_only_rootfs,
        "HostConfig.Tmpfs": {t.path: ",".join(t.options) + rd.PODMAN_TMPFS_ADDED for t in fs.tmpfs},
        "HostConfig.Binds": sorted(f"{s}:{t}:{m}{rd.PODMAN_BIND_ADDED}" for s, t, m in binds),
        "Mounts": sorted(mounts),
        "HostConfig.NetworkMode": p.network.mode,
        "HostConfig.PidMode": "host" if ns.pid == "host" else "private",
        "HostConfig.UTSMode": "host" if ns.uts == "host" else "private",
        # --userns host and no --userns both read back as "" (measured, 4.3.1; rootless too,
        # whose user namespace is podman's own, not one of the container's): a --userns of
        # another kind (auto, keep-id, ns:) shows here
        "HostConfig.UsernsMode": "",
        "HostConfig.CgroupMode": OneOf(("host", "private")) if ns.cgroup == "engine-default" else ns.cgroup,
    }
