"""What podman handed runc, not only what libpod says it did: the OCI config beside podman's
inspect (``OCI_CONFIG``, the file runc was given), its process, mounts, root, namespaces,
resources, cgroup path and annotations compared exactly.

The expectation is runc's own: ``render/oci.py``'s config for the same profile (the one
``engineview/runc.py`` holds runc's state against), with what podman 4.3.1 does differently
stated here as data, each measured in the config it wrote here and read in its source
(containers/podman v4.3.1):
- the image's ``python`` is not looked up (runc's config names /usr/bin/python);
- ``user.additionalGids`` holds the primary gid (libpod container_internal_common.go
  ``AddProcessAdditionalGid(execUser.Gid)``; with "uid:gid" no group of the image's is added);
- a non-root user keeps what --cap-add names in every set, not only the bounding one, and
  without --cap-drop ALL the bounding set is podman's default (pkg/specgen/generate/
  security_linux.go); empty sets are left out of the file;
- no ``oomScoreAdj`` without --oom-score-adj (pkg/specgen/generate/oci_linux.go): runc leaves
  the one conmon has (the probe inside reads it);
- the hostname is the container ID's first 12 digits, with a UTS namespace of its own
  (libpod container_internal_linux.go);
- its own mounts (``_ETC``): /etc/hostname, /etc/hosts and /run/.containerenv (and
  /etc/resolv.conf with a network), bound from the container's run directory, read-only with
  a read-only root (libpod container_internal_common.go ``range c.state.BindMounts``), /dev/shm
  from its storage's directory (private IPC); /dev noexec; the cgroup mount rprivate; the
  options its --tmpfs and -v add; the mounts sorted by depth, in no stable order within one
  (``sortMounts`` after Go's map walk: measured, /tmp before or after /in);
- its cgroup path (libpod container_internal_linux.go ``getOCICgroupPath``) and annotations.
The environment's values are never read (names only), nor the root's path (its storage's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sandproof import imagespec
from sandproof import runtime_defaults as rd
from sandproof.engineview.core import COMPARED, Context, Expected, Inert, Matches, OneOf
from sandproof.engineview.inspect import ENGINE_CHOSEN, OCI_CONFIG, either, obj
from sandproof.plan import process_args
from sandproof.profile import Profile
from sandproof.profilecheck import under
from sandproof.render import oci
from sandproof.workload import carried

ID = "<ID>"
"""The container's ID in a path of the OCI config, as the projection writes it: the inspect's
own ``Id`` (so the expectation can name the path the ID is in)."""
CAP_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")
PROCESS: dict[str, object] = {
    # field -> its value when the file leaves it out
    "args": [],
    "cwd": "",
    "user": {},
    "capabilities": {},
    "rlimits": [],
    "noNewPrivileges": False,
    "terminal": False,  # a terminal: the host's pty, the client's input
    "oomScoreAdj": None,
    "apparmorProfile": "",
    "selinuxLabel": "",
}
ANNOTATIONS = (
    # what libpod writes for every container (pkg/specgen/generate, libpod/container_internal
    # _common.go), measured: runc 1.1 reads only org.systemd.property.* (the systemd unit's
    # properties, opencontainers/runc docs/systemd-properties.md), and a name of any other
    # kind is some other runtime's instruction (crun's run.oci.*): the names are compared
    "io.container.manager",
    "io.kubernetes.cri-o.Created",
    "io.kubernetes.cri-o.TTY",
    "io.podman.annotations.autoremove",
    "io.podman.annotations.init",
    "io.podman.annotations.privileged",
    "io.podman.annotations.publish-all",
    "io.podman.annotations.seccomp",
    "org.opencontainers.image.stopSignal",
)
_ETC = {"/etc/hostname": "hostname", "/etc/hosts": "hosts", "/run/.containerenv": ".containerenv"}
"""podman's own files, bound from ``<run root>/<driver>-containers/<ID>/userdata/``."""
_READ_ONLY_BIND = ["ro", "nosuid", "noexec", "nodev"]
_OPTIONS: dict[str, Callable[[list[str]], list[str]]] = {
    # runc's config's options for these -> podman's (measured, 4.3.1): /dev noexec too, the
    # cgroup mount rprivate first
    "/dev": lambda o: [*o[:1], "noexec", *o[1:]],
    "/sys/fs/cgroup": lambda o: ["rprivate", *o],
}
F = f"{OCI_CONFIG}."
LISTING: dict[str, str | Inert] = {
    **{f"{F}process.{k}": COMPARED for k in (*PROCESS, "env")},
    f"{F}root.readonly": COMPARED,
    f"{F}root.path": ENGINE_CHOSEN,
    f"{F}hostname": COMPARED,
    f"{F}mounts": COMPARED,
    f"{F}annotations": COMPARED,
    f"{F}linux.namespaces": COMPARED,
    f"{F}linux.resources": COMPARED,
    f"{F}linux.cgroupsPath": COMPARED,
}
"""The OCI config's fields this module compares (engineview/podman.py lists the rest)."""


def _depth(destination: str) -> int:
    return sum(1 for part in destination.split("/") if part not in ("", "."))


def by_depth(mounts: list[list[Any]]) -> list[list[Any]]:
    """Mounts (``[destination, ...]``) in an order that is the same whatever the engine's order
    within one depth: runc mounts in the file's order, and only the order across depths matters
    (a mount over a deeper one hides it)."""
    return sorted(mounts, key=lambda m: (_depth(str(m[0])), str(m[0]), str(m)))


def named(text: str, ident: str) -> str:
    """``text`` with the container's ID ``ident`` written as ``ID``."""
    return text.replace(ident, ID) if ident else text


def _source(m: Mapping[str, Any], ident: str) -> str:
    return named(str(m.get("source", "")), ident)


def project(raw: Mapping[str, Any], source: Callable[[Mapping[str, Any], str], str] = _source) -> dict[str, Any]:
    """The compared fields of the OCI config beside the inspect document ``raw`` (``source``: a
    mount's source as the projection writes it, given the container's ID)."""
    cfg = obj(raw[OCI_CONFIG])
    ident = str(raw.get("Id", ""))
    proc, linux = obj(either(cfg.get("process"), {})), obj(either(cfg.get("linux"), {}))
    fields: dict[str, Any] = {f"{F}process.{k}": either(proc.get(k), empty) for k, empty in PROCESS.items()}
    fields[f"{F}process.env"] = sorted(str(e).split("=", 1)[0] for e in either(proc.get("env"), []))
    caps = obj(fields[f"{F}process.capabilities"])
    fields[f"{F}process.capabilities"] = {k: sorted(either(caps.get(k), [])) for k in CAP_SETS}
    fields[f"{F}process.rlimits"] = sorted(fields[f"{F}process.rlimits"], key=lambda r: str(r.get("type")))
    fields[f"{F}root.readonly"] = obj(either(cfg.get("root"), {})).get("readonly", False)
    # the container's own ID prefix is written ID: another 12 hex digits (--hostname) are a
    # host-chosen name, which the pattern alone let through (weaken/engine.py hostname-hex-chosen)
    hostname = str(cfg.get("hostname", ""))
    fields[f"{F}hostname"] = ID if ident and hostname == ident[:12] else hostname
    mounts = [
        [m.get("destination"), m.get("type"), source(m, ident), m.get("options", [])]
        for m in either(cfg.get("mounts"), [])
    ]
    fields[f"{F}mounts"] = by_depth(mounts)  # podman's order within a depth follows a Go map's walk
    fields[f"{F}mounts.shadowed"] = [
        [later[0], earlier[0]]
        for i, earlier in enumerate(mounts)
        for later in mounts[i + 1 :]
        if under(str(earlier[0]), str(later[0]))
    ]
    fields[f"{F}annotations"] = sorted(either(cfg.get("annotations"), {}))
    fields[f"{F}linux.namespaces"] = sorted(
        [n.get("type"), n.get("path", "")] for n in either(linux.get("namespaces"), [])
    )
    fields[f"{F}linux.resources"] = either(linux.get("resources"), {})
    fields[f"{F}linux.cgroupsPath"] = named(str(linux.get("cgroupsPath", "")), ident)
    return fields


def env_names(p: Profile, ctx: Context) -> list[str]:
    """The variables podman puts in the config: its own, HOME only from the user's passwd entry
    (with --passwd=false it makes none up: measured 4.3.1, uid 1000 of our image got no HOME,
    which runc's init then sets to "/"), and the profile's. A user's image: as its passwd says,
    which the evidence does not record, so HOME is expected as for a listed user."""
    listed = ctx.workload is not None or p.user.uid in imagespec.HOMES
    own = [n for n in rd.ENV_NAMES["podman"] if n != "HOME" or listed]
    harness = carried.env(p.environment.variables) if ctx.workload else {}  # the carried harness's LC_ALL
    return sorted({*own, *p.environment.variables, *harness})


def caps(p: Profile) -> tuple[list[str], list[str], list[str]]:
    """The bounding and effective sets podman gives the process, and the capabilities the
    profile adds: a non-root user keeps only those (pkg/specgen/generate/security_linux.go)."""
    added = sorted(f"CAP_{c.upper().removeprefix('CAP_')}" for c in p.security.capabilities)
    bounding = added if p.security.cap_drop_all else sorted({*rd.PODMAN_CAPS, *added})
    return bounding, bounding if p.user.uid == 0 else added, added


def rlimits(p: Profile, rootless: bool) -> list[tuple[str, int, int]]:
    """(name, soft, hard) podman asks runc for: the profile's but "as" (docker's --ulimit
    cannot say it), and, as root, its own nofile and nproc where the profile says none."""
    limits = {n: v for n, v in p.resources.ulimits.items() if n != "as"}
    if not rootless:
        for name, default in rd.PODMAN_DEFAULT_RLIMITS.items():
            limits.setdefault(name, (default, default))
    return sorted((n, s, h) for n, (s, h) in limits.items())


SHM = "/dev/shm"  # noqa: S108 - the mount point, no file made


def _mounts(p: Profile, ctx: Context, runc: list[dict[str, Any]]) -> list[list[Any]]:
    tmpfs = {t.path for t in p.filesystem.tmpfs}
    out = []
    for m in runc:
        dest, kind, source, options = m["destination"], m["type"], m["source"], list(m["options"])
        if kind == "bind":  # podman's -v: the mode first, then what it adds (engineview/podman.py Binds)
            mode = next(o for o in options if o in ("ro", "rw"))
            options = [mode, *rd.PODMAN_BIND_ADDED.split(",")[1:]]
        elif dest in tmpfs:
            options += rd.PODMAN_TMPFS_ADDED.split(",")[1:]
        elif dest == SHM:  # the host's (--ipc host), else a directory in its storage (libpod runtime_ctr.go)
            kind, source = "bind", SHM if p.ipc.mode == "host" else f"{ctx.podman_static}/{ID}/userdata/shm"
            options = ["bind", "rprivate", "nosuid", "noexec", "nodev"]
        elif dest in _OPTIONS:
            options = _OPTIONS[dest](options)
        out.append([dest, kind, source, options])
    etc = dict(_ETC) | ({} if p.network.mode == "none" else {"/etc/resolv.conf": "resolv.conf"})
    read_only = _READ_ONLY_BIND if p.filesystem.read_only_rootfs else []
    for dest, name in etc.items():
        out.append([dest, "bind", f"{ctx.podman_run}/{ID}/userdata/{name}", ["bind", "rprivate", *read_only]])
    return by_depth(out)


def runc_config(p: Profile, ctx: Context) -> dict[str, Any]:
    """runc's config for the profile (``render/oci.py``), which the engine's is held against; no
    policy rendered (each engine's seccomp is compared apart) and no cgroup of runc's own."""
    return oci.config(
        p,
        in_dir=ctx.in_dir,
        out_dir=ctx.out_dir,
        run_date=ctx.run_date,
        cgroup="",
        seccomp_policy={},
        workload=ctx.workload,
    )


def expected(p: Profile, ctx: Context) -> dict[str, Expected]:
    cfg = runc_config(p, ctx)  # the seccomp policy is compared apart (engineview/podman.py)
    proc, linux = cfg["process"], cfg["linux"]
    bounding, effective, added = caps(p)
    inherited = [] if p.user.uid == 0 else added  # ambient and inheritable: the user's own (security_linux.go)
    namespaces = sorted([n["type"], ""] for n in linux["namespaces"])
    cgroupns = sorted([*namespaces, ["cgroup", ""]])
    if ctx.rootless:  # no cgroup of its own rootless on cgroupfs; systemd's user slice on v2
        cgroup: Expected = OneOf(("", f"user.slice:libpod:{ID}"))
    else:  # cgroupfs's parent, or systemd's slice (the host's cgroup manager)
        cgroup = OneOf((f"/libpod_parent/libpod-{ID}", f"machine.slice:libpod:{ID}"))
    return {
        f"{F}process.args": process_args(p, ctx.run_date, "podman", ctx.workload),
        f"{F}process.env": env_names(p, ctx),
        f"{F}process.cwd": proc["cwd"],
        f"{F}process.user": {**proc["user"], "additionalGids": [p.user.gid]},
        f"{F}process.capabilities": {
            "bounding": bounding,
            "effective": effective,
            "permitted": effective,
            "inheritable": inherited,
            "ambient": inherited,
        },
        f"{F}process.rlimits": [
            {"hard": h, "soft": s, "type": f"RLIMIT_{n.upper()}"} for n, s, h in rlimits(p, ctx.rootless)
        ],
        f"{F}process.noNewPrivileges": proc["noNewPrivileges"],
        f"{F}process.terminal": proc["terminal"],
        f"{F}process.oomScoreAdj": None,
        f"{F}process.apparmorProfile": Matches(rd.PODMAN_APPARMOR),
        f"{F}process.selinuxLabel": Matches(rd.DOCKER_SELINUX_PROCESS),
        f"{F}root.readonly": cfg["root"]["readonly"],
        f"{F}hostname": ID if p.namespaces.uts == "private" else "",
        f"{F}mounts": _mounts(p, ctx, cfg["mounts"]),
        f"{F}mounts.shadowed": [],
        f"{F}annotations": list(ANNOTATIONS),
        # the cgroup namespace without a word from the profile: podman's own default, private on
        # cgroup v2 and the host's on v1 (containers/common pkg/config/default.go)
        f"{F}linux.namespaces": OneOf((namespaces, cgroupns))
        if p.namespaces.cgroup == "engine-default"
        else namespaces,
        # rootless on cgroup v1 podman leaves it empty: the engine's word that no limit applies
        f"{F}linux.resources": linux["resources"],
        f"{F}linux.cgroupsPath": cgroup,
    }
