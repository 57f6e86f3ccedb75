"""What dockerd handed runc, not only what its inspect says: the OCI config in the task's
bundle (``OCIConfig``, runtime/watch.py ``read_oci_config``), whose every field is compared.

dockerd builds it at start (moby daemon/oci_linux.go createSpec over oci/defaults.go
DefaultLinuxSpec) and merges in what the daemon was configured with, none of which the
inspect shows: a daemon.json ``default-ulimits`` (process.rlimits), ``seccomp-profile``
(linux.seccomp where the argv names none), ``no-new-privileges``, ``userns-remap``
(linux.uidMappings), ``default-cgroupns-mode``, ``exec-opts`` (the cgroup driver:
linux.cgroupsPath), ``init-path``, a runtime wrapper's hooks. So the expectation is runc's own
(``render/oci.py``'s config for the profile), with what Docker 20.10 does differently stated
here as data, each measured in the config it wrote here and read in moby's source (v20.10):
- env: PATH and HOSTNAME (daemon container/container.go CreateDaemonEnvironment); HOME is
  runc's, added at exec; no umask (20.10 has no --umask);
- ``user.additionalGids`` holds the primary gid (oci_linux.go getUser: the user's groups);
- capabilities: a non-root user's only in the bounding set, root's in bounding, effective and
  permitted, never inheritable (oci/oci.go SetCapabilities, since 20.10.14: CVE-2022-24769);
  empty sets are left out of the file;
- the hostname is the container ID's first 12 digits (daemon/create.go, unless --hostname);
- mounts: /sys/fs/cgroup's mode first (oci/defaults.go), -v binds ``rbind`` with ``ro`` or
  nothing, then ``rprivate`` (volume/mounts/linux_parser.go), --tmpfs ``rprivate`` first
  (oci_linux.go WithMounts), /etc/resolv.conf, /etc/hostname and /etc/hosts bound from
  ``<data root>/containers/<ID>/``, read-only with a read-only root (container_operations_unix.go);
  the mounts sorted by depth (daemon/volumes.go sortMounts: order only matters across depths);
- a prestart hook of dockerd's own binary for a network namespace of the container's own
  (oci_linux.go WithLibnetwork: ``libnetwork-setkey``, the exec root, the ID, the network
  controller's short ID);
- resources: the device rules of oci/defaults.go (deny all, allow null, zero, urandom,
  random, tty, console, deny fuse), a block-I/O weight and CPU shares of 0 when unset, the
  OOM killer's flag always (oci_linux.go WithResources);
- the cgroup path: ``/docker/<ID>`` (cgroupfs) or ``system.slice:docker:<ID>`` (systemd).
The environment's values are never read (names only), nor the root's path (its storage's).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sandproof import runtime_defaults as rd
from sandproof import seccomp
from sandproof.engineview import podman_oci
from sandproof.engineview.core import COMPARED, Context, Expected, Inert, Matches, OneOf
from sandproof.engineview.inspect import ENGINE_CHOSEN, OCI_CONFIG, either, obj
from sandproof.engineview.podman_oci import ID, PROCESS, SHM, by_depth, named, runc_config
from sandproof.plan import effective_caps, process_args
from sandproof.profile import Profile
from sandproof.render import oci
from sandproof.workload.carried import MOUNT_POINT

F = f"{OCI_CONFIG}."
DATA_ROOT = "<DATA_ROOT>"
"""dockerd's data root in a mount's source (/var/lib/docker, ``--data-root``): the projection
writes this for the part before ``/containers/<ID>/``, a directory only dockerd names by the ID."""
HOOK_PATTERN = re.escape(
    json.dumps(
        {"prestart": [{"args": ["libnetwork-setkey", "-exec-root=@ROOT", ID, "@NET"], "path": "/proc/@PID/exe"}]},
        separators=(",", ":"),
        sort_keys=True,
    )
)
for _tok, _re in (("@ROOT", r'/[^"\\]*'), ("@NET", "[0-9a-f]{12}"), ("@PID", "[0-9]+")):
    HOOK_PATTERN = HOOK_PATTERN.replace(re.escape(_tok), _re)
"""The one hook dockerd adds (moby daemon/oci_linux.go WithLibnetwork): its own binary
(``/proc/<dockerd's pid>/exe``) with ``libnetwork-setkey``, its exec root, the container's ID
and the network controller's short ID, as the config's compact JSON. Anything else (a
runtime wrapper's hook, another kind) changes the text."""
_OWN_FILES = ("/etc/resolv.conf", "/etc/hostname", "/etc/hosts")
_DATA_DIR = re.compile(r"^/.*?/containers/")
LISTING: dict[str, str | Inert] = {
    **{f"{F}process.{k}": COMPARED for k in (*PROCESS, "env")},
    f"{F}root.readonly": COMPARED,
    f"{F}root.path": ENGINE_CHOSEN,
    f"{F}hostname": COMPARED,
    f"{F}mounts": COMPARED,
    f"{F}hooks": COMPARED,
    f"{F}annotations": COMPARED,
    f"{F}linux.namespaces": COMPARED,
    f"{F}linux.resources": COMPARED,
    f"{F}linux.cgroupsPath": COMPARED,
    f"{F}linux.seccomp": COMPARED,
    f"{F}linux.sysctl": COMPARED,
    f"{F}linux.maskedPaths": COMPARED,
    f"{F}linux.readonlyPaths": COMPARED,
    f"{F}linux.devices": COMPARED,
    f"{F}linux.uidMappings": COMPARED,
    f"{F}linux.gidMappings": COMPARED,
    f"{F}linux.mountLabel": COMPARED,
    f"{F}ociVersion": Inert("the runtime-spec version the config is written in"),
}
"""Every field of the OCI config beside Docker's inspect: compared, or inert and why (any
other, a ``linux.intelRdt``, a ``process.scheduler``, FAILs as unlisted)."""


def _source(m: Mapping[str, Any], ident: str) -> str:
    source = str(m.get("source", ""))
    if ident and f"/containers/{ident}/" in source:
        source = _DATA_DIR.sub(f"{DATA_ROOT}/containers/", source, count=1)
    return named(source, ident)


def project(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The compared fields of the OCI config beside the inspect document ``raw``: podman's
    (engineview/podman_oci.py ``project``, with dockerd's data root in a source, the hostname
    as its ID's prefix) and the hooks (the ``linux`` fields of ``inspect.OCI_LINUX`` are projected by
    engineview/inspect.py)."""
    fields = podman_oci.project(raw, _source)
    cfg = obj(raw[OCI_CONFIG])
    ident = str(raw.get("Id", ""))
    hooks = json.dumps(either(cfg.get("hooks"), {}), separators=(",", ":"), sort_keys=True)
    fields[f"{F}hooks"] = named(hooks, ident)
    return fields


def _mounts(p: Profile, runc: list[dict[str, Any]]) -> Expected:
    """runc's config's mounts as dockerd writes them; two lists where the profile leaves the
    IPC mode to the engine (private: a tmpfs /dev/shm; shareable: one bound from its data root)."""
    tmpfs = {t.path for t in p.filesystem.tmpfs}
    out, shm = [], None
    for m in runc:
        dest, kind, source, options = m["destination"], m["type"], m["source"], list(m["options"])
        if dest == MOUNT_POINT and kind == "bind":  # --mount ...,readonly (workload/carried.py)
            options = ["rbind", "ro", "rprivate"]
        elif kind == "bind":  # -v SRC:DST:MODE
            options = ["rbind", *(["ro"] if "ro" in options else []), "rprivate"]
        elif dest in tmpfs:
            options = ["rprivate", *options]
        elif dest == "/sys/fs/cgroup":  # oci/defaults.go: the mode first, no relatime; none privileged
            options = [*([] if p.security.privileged else ["ro"]), "nosuid", "noexec", "nodev"]
        elif dest == "/sys" and p.security.privileged:  # oci_linux.go clearReadOnly: "ro" taken out, no "rw"
            options = ["nosuid", "noexec", "nodev"]
        elif dest == SHM:  # --shm-size's default in bytes (daemon/oci_linux.go WithMounts)
            shm = [dest, kind, source, [*options[:-1], f"size={rd.DOCKER_SHM_BYTES}"]]
            continue
        out.append([dest, kind, source, options])
    read_only = ["ro"] if p.filesystem.read_only_rootfs else []
    for dest in _OWN_FILES:
        name = dest.rsplit("/", 1)[1]
        out.append([dest, "bind", f"{DATA_ROOT}/containers/{ID}/{name}", ["rbind", *read_only, "rprivate"]])
    lists = [out]
    if shm is not None:
        if p.ipc.mode == "host":
            lists = [[*out, [SHM, "bind", SHM, ["rbind", "rprivate"]]]]
        else:
            shared = [SHM, "bind", f"{DATA_ROOT}/containers/{ID}/mounts/shm", ["rbind", "rprivate"]]
            lists = [[*out, shm]] + ([[*out, shared]] if p.ipc.mode in ("engine-default", "shareable") else [])
    ordered = [by_depth(m) for m in lists]
    return ordered[0] if len(ordered) == 1 else OneOf(tuple(ordered))


def _resources(p: Profile) -> dict[str, Any]:
    r = p.resources
    cpu: dict[str, Any] = {"shares": r.cpu_shares}
    if r.cpus:
        cpu |= {"quota": round(r.cpus * oci.CPU_PERIOD), "period": oci.CPU_PERIOD}
    memory: dict[str, Any] = {"disableOOMKiller": r.oom_kill_disable}
    if r.memory.bytes:
        memory |= {"limit": r.memory.bytes, "swap": r.memory_swap.bytes}
    devices = [{"allow": True, "access": "rwm"}] if p.security.privileged else list(rd.DOCKER_DEVICE_RULES)
    out: dict[str, Any] = {"devices": devices, "memory": memory, "cpu": cpu, "blockIO": {"weight": 0}}
    if r.pids:
        out["pids"] = {"limit": r.pids}
    return out


EPERM = 1
"""What runc's filter answers for SCMP_ACT_ERRNO when the policy names no errno."""


def _as_dockerd_writes(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy as Docker 20.10 hands it to runc (measured here with a profile naming both):
    an argument's ``valueTwo`` of 0 is left out (the runtime-spec's Go struct tags it
    ``omitempty``), and ``defaultErrnoRet`` is dropped whatever it says, so runc answers EPERM.
    Left out only where it asks for EPERM, the same filter: any other errno stays expected,
    and a Docker that drops it FAILs the view (the sandbox answers EPERM, not the profile's errno)."""
    out = {k: v for k, v in policy.items() if k != "defaultErrnoRet" or v != EPERM}
    out["syscalls"] = [
        {**rule, "args": [{k: v for k, v in a.items() if k != "valueTwo" or v != 0} for a in rule["args"]]}
        if "args" in rule
        else rule
        for rule in policy.get("syscalls", [])
    ]
    if "syscalls" not in policy:
        del out["syscalls"]
    return out


PER_RUN = frozenset({f"{F}process.args", f"{F}mounts"})
"""The fields that take the run's date or directories (engineview/core.py ``expected_for``)."""


def per_run_fields(p: Profile, ctx: Context) -> dict[str, Expected]:
    return {
        f"{F}process.args": process_args(p, ctx.run_date, "docker", ctx.workload),
        f"{F}mounts": _mounts(p, oci.mounts(p, ctx.in_dir, ctx.out_dir, ctx.workload)),
    }


def expected(p: Profile, ctx: Context, env: list[str]) -> dict[str, Expected]:
    """``env``: the names the inspect's Config.Env must have (engineview/docker.py)."""
    cfg = runc_config(p, ctx)  # the policy is compared whole (linux.seccomp)
    run = per_run_fields(p, ctx)
    proc, linux = cfg["process"], cfg["linux"]
    bounding = [f"CAP_{c}" for c in sorted(effective_caps(p))]
    granted = bounding if p.user.uid == 0 else []
    namespaces = sorted([n["type"], ""] for n in linux["namespaces"])
    cgroupns = sorted([*namespaces, ["cgroup", ""]])
    private_net = p.network.mode not in ("host",) and not p.network.mode.startswith("container:")
    sec = p.security
    return {
        f"{F}process.args": run[f"{F}process.args"],
        f"{F}process.env": sorted({*env, "HOSTNAME"}),
        f"{F}process.cwd": proc["cwd"],
        f"{F}process.user": {"uid": p.user.uid, "gid": p.user.gid, "additionalGids": [p.user.gid]},
        f"{F}process.capabilities": {
            "bounding": bounding,
            "effective": granted,
            "permitted": granted,
            "inheritable": [],
            "ambient": [],
        },
        # "as": docker's --ulimit cannot say it (docker/go-units): runc leaves dockerd's own
        f"{F}process.rlimits": [r for r in proc["rlimits"] if r["type"] != "RLIMIT_AS"],
        f"{F}process.noNewPrivileges": proc["noNewPrivileges"],
        f"{F}process.terminal": False,
        f"{F}process.oomScoreAdj": proc["oomScoreAdj"],
        f"{F}process.apparmorProfile": OneOf(rd.DOCKER_APPARMOR),
        f"{F}process.selinuxLabel": Matches(rd.DOCKER_SELINUX_PROCESS),
        f"{F}root.readonly": cfg["root"]["readonly"],
        f"{F}hostname": ID if p.namespaces.uts == "private" else "",
        f"{F}mounts": run[f"{F}mounts"],
        f"{F}mounts.shadowed": [],
        f"{F}hooks": Matches(HOOK_PATTERN) if private_net else "{}",
        f"{F}annotations": [],
        f"{F}linux.namespaces": OneOf((namespaces, cgroupns))
        if p.namespaces.cgroup == "engine-default"
        else namespaces,
        f"{F}linux.resources": _resources(p),
        f"{F}linux.cgroupsPath": OneOf((f"/docker/{ID}", f"system.slice:docker:{ID}")),
        # the policy exactly (render(p) is Docker's format and the OCI one alike: dockerd copies
        # each field across, moby profiles/seccomp/seccomp_linux.go setupSeccomp, but two)
        f"{F}linux.seccomp": _as_dockerd_writes(seccomp.policy(p))
        if p.seccomp.enabled and not sec.privileged
        else None,
        f"{F}linux.sysctl": {**(rd.SYSCTLS["docker"] if private_net else {}), **p.sysctls},
        f"{F}linux.maskedPaths": [] if sec.privileged else list(rd.MASKED_PATHS),
        f"{F}linux.readonlyPaths": [] if sec.privileged else list(rd.READONLY_PATHS),
        # no device node of the host's (--device; --privileged gives every one: never a profile's PASS)
        f"{F}linux.devices": [],
        # no user namespace's mappings: a daemon's --userns-remap shows only here
        f"{F}linux.uidMappings": [],
        f"{F}linux.gidMappings": [],
        f"{F}linux.mountLabel": Matches(rd.DOCKER_SELINUX_MOUNT),
    }
