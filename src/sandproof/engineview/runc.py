"""runc's view: the libcontainer config runc really used, from the container's
``state.json`` under its ``--root`` (read while ``runc run`` runs; it deletes the file when
the container exits), beside the OCI config it was given.

runc translates the OCI config into libcontainer's (libcontainer/specconv/spec_linux.go
CreateLibcontainerConfig): mount options become flags, seccomp names become numbers, its
default devices and device rules are added. The expectation here does the same translation
on the config the profile renders, so a difference is runc's (or whoever wrote the state),
not a spelling. runc 1.1 keeps rlimits, the environment and the user in the init process's
config, not in state.json: the OCI config it was given holds them, and the "rendered" check
already binds that whole config to the profile, so they are not compared a second time here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from sandproof import runtime_defaults
from sandproof.engineview.core import COMPARED, Adapter, Context, Expected, Inert
from sandproof.inspector import syscalls
from sandproof.profile import Profile
from sandproof.render import oci
from sandproof.render import runc as render_runc

# linux/mount.h; runc specconv parseMountOptions: option -> (clears, flag)
MS = {"RDONLY": 1, "NOSUID": 2, "NODEV": 4, "NOEXEC": 8, "SYNCHRONOUS": 16, "REMOUNT": 32, "MANDLOCK": 64}
MS |= {"DIRSYNC": 128, "NOATIME": 1024, "NODIRATIME": 2048, "BIND": 4096, "REC": 16384, "SILENT": 32768}
MS |= {"POSIXACL": 1 << 16, "UNBINDABLE": 1 << 17, "PRIVATE": 1 << 18, "SLAVE": 1 << 19, "SHARED": 1 << 20}
MS |= {"RELATIME": 1 << 21, "I_VERSION": 1 << 23, "STRICTATIME": 1 << 24, "LAZYTIME": 1 << 25}
_SETS = {"ro": "RDONLY", "nosuid": "NOSUID", "nodev": "NODEV", "noexec": "NOEXEC", "sync": "SYNCHRONOUS"}
_SETS |= {"remount": "REMOUNT", "mand": "MANDLOCK", "dirsync": "DIRSYNC", "noatime": "NOATIME", "bind": "BIND"}
_SETS |= {"nodiratime": "NODIRATIME", "silent": "SILENT", "acl": "POSIXACL", "relatime": "RELATIME"}
_SETS |= {"iversion": "I_VERSION", "strictatime": "STRICTATIME", "lazytime": "LAZYTIME"}
_CLEARS = {"rw": "RDONLY", "suid": "NOSUID", "dev": "NODEV", "exec": "NOEXEC", "async": "SYNCHRONOUS"}
_CLEARS |= {"nomand": "MANDLOCK", "atime": "NOATIME", "diratime": "NODIRATIME", "loud": "SILENT"}
_CLEARS |= {"noacl": "POSIXACL", "norelatime": "RELATIME", "noiversion": "I_VERSION"}
_CLEARS |= {"nostrictatime": "STRICTATIME", "nolazytime": "LAZYTIME"}
_PROPAGATION = {"private": "PRIVATE", "shared": "SHARED", "slave": "SLAVE", "unbindable": "UNBINDABLE"}

# libcontainer/configs: Action and Operator are iota + 1; libcontainer/seccomp/config.go archs
ACTIONS = ("KILL", "ERRNO", "TRAP", "ALLOW", "TRACE", "LOG", "NOTIFY", "KILL_THREAD", "KILL_PROCESS")
OPERATORS = ("EQ", "NE", "GT", "GE", "LT", "LE", "MASKED_EQ")
# (libseccomp's names for the architectures, as Go's GOARCH)
ARCHES = {syscalls.SCMP_ARCH["x86_64"]: "amd64", syscalls.SCMP_ARCH["aarch64"]: "arm64"}
NAMESPACES = {"pid": "NEWPID", "network": "NEWNET", "mount": "NEWNS", "ipc": "NEWIPC", "uts": "NEWUTS"}
NAMESPACES |= {"cgroup": "NEWCGROUP", "user": "NEWUSER"}
_CGROUP_FIELDS: tuple[str, ...] = (
    "memory",
    "memory_swap",
    "memory_reservation",
    "cpu_shares",
    "cpu_quota",
    "cpu_period",
)
_CGROUP_FIELDS += ("cpuset_cpus", "pids_limit", "oom_kill_disable", "memory_swappiness", "path")
_CGROUP_UNSET: dict[str, object] = {
    # no profile sets them (the OCI render writes none): a share of the host beyond the
    # profile, or a cgroup v2 file written as asked (unified), as engineview/inspect.py's
    "blkio_weight": 0,
    "blkio_leaf_weight": 0,
    "blkio_weight_device": [],
    "blkio_throttle_read_bps_device": [],
    "blkio_throttle_write_bps_device": [],
    "blkio_throttle_read_iops_device": [],
    "blkio_throttle_write_iops_device": [],
    "cpu_rt_period": 0,
    "cpu_rt_quota": 0,
    "cpuset_mems": "",
    "hugetlb_limit": [],
    "net_cls_classid_u": 0,
    "net_prio_ifpriomap": [],
    "rdma": {},
    "unified": {},
    # the uid runc chowns the cgroup to (delegation): only for a cgroup namespace whose cgroupfs
    # is mounted read-write (runc 1.1.5 libcontainer/specconv/spec_linux.go), which no profile asks
    "owner_uid": None,
}
_MOUNT_UNSET: dict[str, object] = {
    # commands runc runs on the host around a mount, recursive mount attributes, an SELinux
    # relabel of the host's files, runc's copy-up: none in any profile's config
    "premount_cmds": [],
    "postmount_cmds": [],
    "rec_attr": None,
    "relabel": "",
    "extensions": 0,
}
_BUNDLE_LABEL = "bundle="
_IN_STATE = Inert("runc's record of this run (its ID, pid, times, the paths it made), not the sandbox's shape")
LISTING: dict[str, str | Inert] = {
    **{f"config.{k}": COMPARED for k in ("readonlyfs", "devices", "namespaces", "capabilities", "oom_score_adj")},
    **{f"config.{k}": COMPARED for k in ("mask_paths", "readonly_paths", "sysctl", "seccomp", "no_new_privileges")},
    **{f"config.{k}": COMPARED for k in ("apparmor_profile", "process_label", "mount_label", "Hooks")},
    **{f"config.{k}": COMPARED for k in ("uid_mappings", "gid_mappings", "rootPropagation", "hostname")},
    **{f"config.{k}": COMPARED for k in ("no_new_keyring", "no_pivot_root", "umask")},
    **{f"config.mounts[].{k}": COMPARED for k in ("destination", "device", "source", "flags", "propagation_flags")},
    **{f"config.mounts[].{k}": COMPARED for k in ("data", *_MOUNT_UNSET)},
    **{f"config.cgroups.{k}": COMPARED for k in ("devices", *_CGROUP_FIELDS, *_CGROUP_UNSET)},
    "config.cgroups.cpu_weight": Inert("runc's cgroup v2 form of cpu_shares (compared), derived from it"),
    "config.cgroups.Rootless": Inert("runc runs without root: it then may fail to set a limit, which the probes see"),
    "config.cgroups.Systemd": Inert("the host's cgroup driver: where, not what, the limits are"),
    "config.cgroups.scope_prefix": Inert("the systemd unit's name prefix (systemd driver only)"),
    "config.cgroups.freezer": Inert("the freezer's state (THAWED, FROZEN): the run's lifecycle"),
    "config.rootfs": Inert("the bundle's rootfs directory on the host, per run"),
    # the config's annotations, as KEY=VALUE, and runc's own bundle=PATH (the bundle's path on
    # the host, per run: left out); runc 1.1 acts on some (org.systemd.property.* as unit
    # properties with --systemd-cgroup), and no profile has any (specconv CreateLibcontainerConfig)
    "config.labels": COMPARED,
    "config.networks": Inert("runc 1.1 sets up only the loopback from it; the network namespace is compared"),
    "config.routes": Inert("routes for networks runc 1.1 no longer makes (loopback only)"),
    "config.parent_death_signal": Inert("the signal the init gets when runc dies: ends the run, grants nothing"),
    "config.version": Inert("the runtime-spec version of the config runc was given"),
    "cgroup_paths": _IN_STATE,
    "namespace_paths": _IN_STATE,
    "external_descriptors": _IN_STATE,
    "created": _IN_STATE,
    # the container's ID: its cgroup is CGROUP_PARENT/ID (render/runc.py cgroup), so the ID
    # the run recorded (the config's cgroupsPath, the argv's last word) must be runc's
    "id": COMPARED,
    "init_process_pid": _IN_STATE,
    "init_process_start": _IN_STATE,
    "intel_rdt_path": Inert("follows config.intel_rdt, which no profile sets (it would be unlisted)"),
    "rootless": Inert("runc was run without root; the user namespace's mappings are compared"),
}
"""Every field of runc 1.1's state.json (libcontainer/container_linux.go State and
configs.Config): compared, or inert and why (engineview/core.py ``unlisted``)."""
_CAP_SETS = ("Bounding", "Effective", "Inheritable", "Permitted", "Ambient")


def mount_options(options: list[str]) -> tuple[int, list[int], str]:
    """flags, propagation flags and data, as runc parses an OCI mount's options."""
    flags, propagation, data = 0, [], []
    for o in options:
        rec = o.startswith("r") and o[1:] in _PROPAGATION
        if o in _SETS:
            flags |= MS[_SETS[o]]
        elif o in _CLEARS:
            flags &= ~MS[_CLEARS[o]]
        elif o == "rbind":
            flags |= MS["BIND"] | MS["REC"]
        elif o in _PROPAGATION or rec:
            propagation.append(MS[_PROPAGATION[o[1:] if rec else o]] | (MS["REC"] if rec else 0))
        elif o != "defaults":
            data.append(o)
    return flags, propagation, ",".join(data)


def _num(value: object) -> str:
    return "*" if value in (-1, None) else str(value)


def _rule(kind: object, major: object, minor: object, access: object, allow: object) -> str:
    """A device cgroup rule as devices.list writes it, and whether it allows or denies."""
    return f"{kind} {_num(major)}:{_num(minor)} {access} {'allow' if allow else 'deny'}"


def _first_then_sorted(rules: list[str]) -> list[str]:
    # the first rule (deny everything) decides what the others mean; the allows are a set
    return rules[:1] + sorted(rules[1:])


def _seccomp(policy: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    calls = [
        {
            "name": name,
            "action": ACTIONS.index(rule["action"].removeprefix("SCMP_ACT_")) + 1,
            "errnoRet": rule.get("errnoRet"),
            "args": [
                {
                    "index": a["index"],
                    "value": a["value"],
                    "value_two": a.get("valueTwo", 0),
                    "op": OPERATORS.index(a["op"].removeprefix("SCMP_CMP_")) + 1,
                }
                for a in rule.get("args") or []
            ],
        }
        for rule in policy["syscalls"]
        for name in rule["names"]
    ]
    return {
        "default_action": ACTIONS.index(policy["defaultAction"].removeprefix("SCMP_ACT_")) + 1,
        "default_errno_ret": policy.get("defaultErrnoRet"),
        "architectures": [ARCHES.get(a, a) for a in policy.get("architectures") or []],
        "syscalls": calls,
        "listener_path": policy.get("listenerPath", ""),
        "listener_metadata": policy.get("listenerMetadata", ""),
    }


_STATE_SECCOMP: dict[str, bytes] = {}
"""The profile's policy as runc's state keeps it, per profile digest, as JSON (each bundle
gets its own copy): ~300 rules converted again for every runc bundle took ~80 us."""


def _state_seccomp(profile: Profile, policy: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``_seccomp`` of the profile's own policy (never of a bundle's)."""
    if policy is None:
        return None
    if profile.digest not in _STATE_SECCOMP:
        if len(_STATE_SECCOMP) > 16:
            _STATE_SECCOMP.clear()
        _STATE_SECCOMP[profile.digest] = orjson.dumps(_seccomp(policy))
    copy: dict[str, Any] = orjson.loads(_STATE_SECCOMP[profile.digest])
    return copy


class RuncState(Adapter):
    runtime = "runc"
    source = "runc state.json"
    listing = LISTING

    def project(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        c = raw["config"]
        cg = c["cgroups"]
        sc = c.get("seccomp")
        return {
            "readonlyfs": c.get("readonlyfs", False),
            "mounts": [
                _mount(
                    m["destination"], m["device"], m["source"], m["flags"], m.get("propagation_flags") or [], m["data"]
                )
                for m in c["mounts"]
            ],
            "devices": sorted(
                [d["path"], chr(d["type"]), d["major"], d["minor"], d["file_mode"], d["uid"], d["gid"]]
                for d in c.get("devices") or []
            ),
            "cgroups.devices": _first_then_sorted(
                [
                    _rule(chr(d["type"]), d["major"], d["minor"], d["permissions"], d["allow"])
                    for d in cg.get("devices") or []
                ]
            ),
            **{f"cgroups.{k}": cg.get(k) for k in _CGROUP_FIELDS},
            **{f"cgroups.{k}": _either(cg.get(k), empty) for k, empty in _CGROUP_UNSET.items()},
            "mounts.unset": [
                [m["destination"], k, m.get(k)]
                for m in c["mounts"]
                for k, empty in _MOUNT_UNSET.items()
                if _either(m.get(k), empty) != empty
            ],
            "namespaces": sorted([n["type"], n.get("path", "")] for n in c.get("namespaces") or []),
            "capabilities": {k: sorted((c.get("capabilities") or {}).get(k) or []) for k in _CAP_SETS},
            "oom_score_adj": c.get("oom_score_adj"),
            "mask_paths": c.get("mask_paths") or [],
            "readonly_paths": c.get("readonly_paths") or [],
            "sysctl": c.get("sysctl") or {},
            "seccomp": None
            if sc is None
            else {k: sc.get(k) for k in ("default_action", "default_errno_ret")}
            | {
                "architectures": sc.get("architectures") or [],
                "syscalls": [_call(s) for s in sc.get("syscalls") or []],
                # a host process (runc connects to the path) is handed the notification fd: it
                # answers the calls of every SCMP_ACT_NOTIFY rule for the sandbox (seccomp_unotify(2))
                "listener_path": sc.get("listener_path", ""),
                "listener_metadata": sc.get("listener_metadata", ""),
            },
            "no_new_privileges": c.get("no_new_privileges", False),
            "apparmor_profile": c.get("apparmor_profile", ""),
            "process_label": c.get("process_label", ""),
            "mount_label": c.get("mount_label", ""),
            "hooks": {k: v for k, v in (c.get("Hooks") or {}).items() if v},
            "uid_mappings": c.get("uid_mappings") or [],
            "gid_mappings": c.get("gid_mappings") or [],
            "rootPropagation": c.get("rootPropagation", 0),
            "hostname": c.get("hostname", ""),
            "no_new_keyring": c.get("no_new_keyring", False),
            "no_pivot_root": c.get("no_pivot_root", False),
            "umask": c.get("umask"),
            "labels": sorted(x for x in c.get("labels") or [] if not x.startswith(_BUNDLE_LABEL)),
            "id": raw["id"],
        }

    per_run = frozenset({"mounts", "cgroups.path", "id"})

    def per_run_fields(self, profile: Profile, ctx: Context) -> dict[str, Expected]:
        container_id = ctx.cgroup.rsplit("/", 1)[-1]  # the recorded run's (provenance binds it to the argv)
        return {
            "mounts": _state_mounts(oci.mounts(profile, ctx.in_dir, ctx.out_dir, ctx.workload)),
            # under sandproof's own parent, named for the container runc ran (the ID below), never
            # a cgroup elsewhere (another parent's limits, another owner's delegated subtree)
            "cgroups.path": render_runc.cgroup(container_id),
            "id": container_id,
        }

    def expected(self, profile: Profile, ctx: Context) -> dict[str, Expected]:
        cfg = oci.config(
            profile, in_dir=ctx.in_dir, out_dir=ctx.out_dir, run_date="", cgroup=ctx.cgroup, workload=ctx.workload
        )
        proc, linux, res = cfg["process"], cfg["linux"], cfg["linux"]["resources"]
        run = self.per_run_fields(profile, ctx)
        nodes = [(path, spec.split()) for path, spec in runtime_defaults.DEV_NODES.items()]
        devices = sorted(
            [path, "c", *map(int, f[1].split(":")), 0o666, 0, 0]
            for path, f in nodes
            if f[0] == "chr" and "/pts/" not in path
        )
        rules = [
            _rule(d.get("type", "a"), d.get("major"), d.get("minor"), d["access"], d["allow"]) for d in res["devices"]
        ]
        rules += [f"{r} allow" for r in runtime_defaults.DEVICES_CGROUP["runc"]]
        mem, cpu = res.get("memory", {}), res.get("cpu", {})
        caps = proc["capabilities"]
        return {
            "readonlyfs": cfg["root"]["readonly"],
            "mounts": run["mounts"],
            "devices": devices,
            "cgroups.devices": _first_then_sorted(rules),
            "cgroups.memory": mem.get("limit", 0),
            "cgroups.memory_swap": mem.get("swap", 0),
            "cgroups.memory_reservation": 0,
            "cgroups.cpu_shares": cpu.get("shares", 0),
            "cgroups.cpu_quota": cpu.get("quota", 0),
            "cgroups.cpu_period": cpu.get("period", 0),
            "cgroups.cpuset_cpus": "",
            "cgroups.pids_limit": res.get("pids", {}).get("limit", 0),
            "cgroups.oom_kill_disable": mem.get("disableOOMKiller", False),
            "cgroups.memory_swappiness": None,
            "cgroups.path": run["cgroups.path"],
            "namespaces": sorted([NAMESPACES[n["type"]], n.get("path", "")] for n in linux["namespaces"]),
            "capabilities": {k: sorted(caps.get(k.lower()) or []) for k in _CAP_SETS},
            "oom_score_adj": proc.get("oomScoreAdj"),
            "mask_paths": linux.get("maskedPaths", []),
            "readonly_paths": linux.get("readonlyPaths", []),
            "sysctl": linux.get("sysctl", {}),
            "seccomp": _state_seccomp(profile, linux.get("seccomp")),
            "no_new_privileges": proc.get("noNewPrivileges", False),
            "apparmor_profile": proc.get("apparmorProfile", ""),
            "process_label": proc.get("selinuxLabel", ""),
            "mount_label": linux.get("mountLabel", ""),
            "hooks": {},
            "uid_mappings": [],
            "gid_mappings": [],
            "rootPropagation": 0,
            "hostname": cfg.get("hostname", ""),
            "no_new_keyring": False,
            # --no-pivot: the root is moved, not pivoted, and the old one stays reachable (runc
            # libcontainer/rootfs_linux.go msMoveRoot; the reason runc warns against it)
            "no_pivot_root": False,
            "umask": proc["user"].get("umask"),
            "labels": sorted(f"{k}={v}" for k, v in (cfg.get("annotations") or {}).items()),
            "id": run["id"],
            **{f"cgroups.{k}": v for k, v in _CGROUP_UNSET.items()},
            "mounts.unset": [],
        }


def _state_mounts(mounts: list[dict[str, Any]]) -> list[dict[str, object]]:
    """The OCI config's mounts as libcontainer's state records them."""
    out = []
    for m in mounts:
        flags, propagation, data = mount_options(m["options"])
        device = "bind" if flags & MS["BIND"] else m["type"]
        out.append(_mount(m["destination"], device, m["source"], flags, propagation, data))
    return out


def _either(value: object, empty: object) -> object:
    return empty if value is None else value


_MOUNT_KEYS = ("destination", "device", "source", "flags", "propagation_flags", "data")


def _mount(*values: object) -> dict[str, object]:
    """A mount as libcontainer's state names its parts (the ones runc applies)."""
    return dict(zip(_MOUNT_KEYS, values, strict=True))


def _call(s: Mapping[str, Any]) -> dict[str, Any]:
    args = [{k: a.get(k) for k in ("index", "value", "value_two", "op")} for a in s.get("args") or []]
    return {"name": s["name"], "action": s["action"], "errnoRet": s.get("errnoRet"), "args": args}
