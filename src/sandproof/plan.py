"""The probe plan: what each probe does and expects, derived from the profile.

The plan reaches the harness through the read-only input directory; the verifier
derives it again from the profile and never takes an expectation from a bundle.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from sandproof import caps, contract, imagespec, imagetree, mountplan, runtime_defaults, seccomp, sweep, sweepgroups
from sandproof.inspector import catalog
from sandproof.inspector.judges import limits
from sandproof.inspector.judges.limits import CGROUP_FILES
from sandproof.profile import Profile
from sandproof.workload import carried, treefacts
from sandproof.workload.carried import Workload

PLAN_NAME = "sandproof-plan.json"
RUNTIMES = ("docker", "runc", "runsc", "podman", "kubernetes")
"""The runtimes a plan can be compiled for: each has its own documented defaults
(``runtime_defaults``), so the same profile implies a slightly different sandbox on each."""
PROBE_TIMEOUT_S = 3.0
CONNECT_TIMEOUT_S = 2.0


def input_entries() -> dict[str, str | None]:
    """What attest puts in the input directory: the packet (by sha256) and the plan (whose
    own hash the harness reports as plan_sha256)."""
    name, data = contract.INPUT_PACKET
    return {name: hashlib.sha256(data).hexdigest(), PLAN_NAME: None}


def env_names(profile: Profile, runtime: str, workload: Workload | None = None) -> list[str]:
    """The exact environment: the profile's names and the runtime's own (never an env file's),
    and the carried harness's own LC_ALL (carried.ENV) when carried into a user's image."""
    own = carried.env(profile.environment.variables) if workload else {}
    return sorted({*profile.environment.variables, *runtime_defaults.ENV_NAMES[runtime], *own})


def dev_expect(profile: Profile, runtime: str) -> dict[str, Any]:
    """The runtime's device nodes, plus the mount points under /dev the profile implies."""
    nodes = dict(runtime_defaults.DEV_NODES)
    nodes["/dev/mqueue"] = "dir 1777"
    if runtime == "runsc":
        nodes.update(runtime_defaults.SENTRY_DEV_NODES)
    if profile.ipc.mode != "none":
        nodes["/dev/shm"] = "dir 1777"
    if runtime == "kubernetes":  # the kubelet's termination-message file (kubelet_pods.go makeMounts: 0666)
        nodes["/dev/termination-log"] = "reg 0666"
    return {
        "nodes": dict(sorted(nodes.items())),
        "optional": runtime_defaults.DEV_OPTIONAL,
        "devices_list": sorted(runtime_defaults.DEVICES_CGROUP[runtime]),
    }


def runtime_errno(profile: Profile, syscall: str) -> str | None:
    """The errno the runtime's seccomp filter answers for a syscall, if it denies it."""
    return seccomp.runtime_answer(profile, syscall)


def guard_errno(profile: Profile, syscall: str) -> str | None:
    g = profile.seccomp.inprocess
    return g.errno if g is not None and syscall in g.deny else None


def _denial(profile: Profile, syscall: str, fallback_layer: str) -> tuple[list[str], str]:
    if (e := guard_errno(profile, syscall)) is not None:
        return [e], "inprocess-seccomp (L2)"
    if (e := runtime_errno(profile, syscall)) is not None:
        return [e], "runtime-seccomp"
    # nothing in the profile denies it: the kernel's own answer for an unprivileged caller
    return ["EPERM"], fallback_layer


def probes(profile: Profile, runtime: str, workload: Workload | None = None) -> list[dict[str, Any]]:
    host, port = profile.network.probe_target
    net_errnos = {"ENETUNREACH"}  # no route: a network namespace with only lo
    sock_errnos, sock_layer = _denial(profile, "socket", "network-namespace")
    if runtime_errno(profile, "socket") or guard_errno(profile, "socket"):
        net_errnos |= set(sock_errnos)
    exec_errnos, exec_layer = _denial(profile, "execve", "none")
    ptrace_errnos, ptrace_layer = _denial(profile, "ptrace", "capabilities")
    # the sandbox's working directory is the image's: the user's WorkingDir when carried
    workdir = (workload.cwd if workload else profile.image.workdir).rstrip("/")
    kpaths = mountplan.kernel_paths(profile, runtime)
    refused = runtime_defaults.WRITE_REFUSED[runtime]
    by_mkdir = {"mkdir": True} if runtime in runtime_defaults.WRITE_BY_MKDIR else {}
    # the sentry prints an empty optional-fields column (mountplan_gvisor.py)
    gvisor_format = {"format": "gvisor"} if runtime == "runsc" else {}
    own = runtime_defaults.env_values(imagespec.PATH_ENV.split("=", 1)[1], imagespec.home_of(profile.user.uid))
    ours = set(runtime_defaults.ENV_NAMES[runtime]) - set(profile.environment.variables)
    runtime_values = {k: v for k, v in own.items() if k in ours}
    if workload is not None:  # its value too: LC_ALL=C.UTF-8 would read the image's locale
        runtime_values |= carried.env(profile.environment.variables)
    env_expect = {
        "names": env_names(profile, runtime, workload),
        "runtime_values": runtime_values,
        "hostname": runtime_defaults.HOSTNAME[runtime] if profile.namespaces.uts == "private" else None,
    }
    mounts = mountplan.inventory(profile, runtime, workload)
    rows: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        (
            "PR-NET-1",
            "runtime-seccomp" if runtime_errno(profile, "socket") else "network-namespace",
            {"host": host, "port": port, "timeout": CONNECT_TIMEOUT_S},
            {"errno_in": sorted(net_errnos)},
        ),
        ("PR-NET-2", "network-namespace", *_net_namespace(profile, runtime)),
        ("PR-SOCK-1", sock_layer, {}, {"errno_in": sock_errnos}),
        ("PR-ENV-1", "runtime-environment", {"runtime_values": runtime_values}, env_expect),
        ("PR-FS-RO-IN", "mount", {"path": f"{profile.filesystem.input}/__probe", **by_mkdir}, {"errno_in": refused}),
        ("PR-IN-1", "mount (input)", {"dir": profile.filesystem.input}, {"entries": input_entries()}),
        # before PR-FS-OUT-OK writes there: /out is a fresh directory, nothing of the host's in it
        ("PR-OUT-1", "mount (output)", {"dir": profile.filesystem.output}, {"entries": {}}),
        ("PR-FS-ESC-1", "mount (read-only rootfs)", {"path": "/etc/__probe", **by_mkdir}, {"errno_in": refused}),
        ("PR-FS-ESC-2", "mount (read-only rootfs)", {"path": f"{workdir}/__probe", **by_mkdir}, {"errno_in": refused}),
        ("PR-FS-OUT-OK", "mount", {"path": f"{profile.filesystem.output}/.pr-fs-out-ok"}, {"succeeds": True}),
        ("PR-EXEC-1", exec_layer, {}, {"errno_in": exec_errnos}),
        ("PR-MOUNT-1", "mount", {}, {"mounts": mounts, **gvisor_format}),
        ("PR-KPATH-1", "runtime (masked and read-only paths)", kpaths, kpaths),
        ("PR-DEV-1", "runtime (devices)", {"root": "/dev"}, dev_expect(profile, runtime)),
        ("PR-SOCK-DOCKER", "mount", {"paths": list(catalog.ENGINE_SOCKETS)}, {"absent": list(catalog.ENGINE_SOCKETS)}),
        ("PR-PTRACE-1", ptrace_layer, {}, {"errno_in": ptrace_errnos}),
    ]
    rows += system_rows(profile, runtime, workload)
    rootfs = rootfs_expect(profile, runtime, mounts, workload)
    rows.append(("PR-ROOTFS-1", "image", walk_params(runtime, workload), rootfs))
    rows += limit_rows(profile, runtime, workload)
    files = {"paths": list(runtime_defaults.RUNTIME_FILES)}
    rows.append(("PR-ETC-1", "runtime (its own files)", files, runtime_files(profile, runtime, workload)))
    # last, so every library the harness loads along the way is mapped when it looks
    rows.append(("PR-INTEGRITY-1", "image", {}, {"files": mappable_files(workload)}))
    out = []
    for pid, layer, params, expect in rows:
        info = catalog.PROBES[pid]
        out.append(
            {
                "probe_id": pid,
                "kind": info.kind,
                "operation": info.operation,
                "requirement": info.requirement,
                "layer": layer,
                "params": params,
                "expect": expect,
            }
        )
    return out


def runtime_files(profile: Profile, runtime: str, workload: Workload | None = None) -> dict[str, Any]:
    """PR-ETC-1: each file's exact text (judges/etcfiles.py), or None where the runtime writes
    none and the image has none (sandproof's image has no /etc/hosts, hostname or resolv.conf).
    What the plan cannot know is named so: the host's own files under the host's network, a
    user's image's own, the kubelet's (not measured here)."""
    unplanned = {"unplanned": "the image's own, not compared"} if workload else None
    files: dict[str, Any] = dict.fromkeys(runtime_defaults.RUNTIME_FILES, unplanned)
    host = {"unplanned": "the host's own (network host), not compared"}
    if runtime == "docker":
        files["/etc/hosts"] = runtime_defaults.DOCKER_HOSTS if profile.network.mode == "none" else host
        files["/etc/resolv.conf"] = runtime_defaults.DOCKER_RESOLV if profile.network.mode == "none" else host
        files["/etc/hostname"] = "<hostname>\n"
        # never Docker's: only an image (not sandproof's) or a bind could put it there
        files["/run/.containerenv"] = unplanned
    elif runtime == "podman":
        files["/etc/hosts"] = runtime_defaults.PODMAN_HOSTS if profile.network.mode == "none" else host
        if profile.network.mode != "none":
            files["/etc/resolv.conf"] = host
        files["/etc/hostname"] = "<hostname>"  # podman writes no newline (measured, 4.3.1)
        files["/run/.containerenv"] = ""  # "engine=...name=..." only for --privileged (libpod)
    elif runtime == "kubernetes":
        files |= {path: {"unplanned": "the kubelet's, not measured here"} for path in runtime_defaults.DOCKER_ETC_FILES}
    name = re.escape(profile.image.container_name) if profile.image.container_name else "sandproof-[0-9a-f]{16}"
    return {"files": files, "name": name}


def mappable_files(workload: Workload | None) -> dict[str, str]:
    """The locked files the harness process may map: carried into a user's image it maps
    only the tree at MOUNT_POINT (its own loader, libraries and interpreter), never the image's."""
    files = imagespec.locked_mappable_files()
    if workload is None:
        return files
    return {carried.MOUNT_POINT + path: digest for path, digest in files.items()}


def world_writable(profile: Profile) -> list[str]:
    """The only world-writable directories the walk may find: the mount points of the
    profile's own tmpfs mounts left at tmpfs's default mode 1777 (mm/shmem.c), and the
    runtime's /dev/shm and /dev/mqueue (1777, both tmpfs or mqueue of this container alone)."""
    out = {t.path for t in profile.filesystem.tmpfs if not any(o.startswith("mode=") for o in t.options)}
    out |= {
        t.path for t in profile.filesystem.tmpfs for o in t.options if o.startswith("mode=") and int(o[5:], 8) & 0o002
    }
    out.add("/dev/mqueue")
    if profile.ipc.mode != "none":
        out.add("/dev/shm")
    return sorted(out)


def effective_caps(profile: Profile) -> list[str]:
    """The capabilities the profile grants the sandbox's bounding set."""
    if profile.security.privileged:
        return list(caps.ALL)
    base = [] if profile.security.cap_drop_all else list(caps.ENGINE_DEFAULT)
    return sorted({caps.normal(c) for c in [*base, *profile.security.capabilities]}, key=caps.ALL.index)


def _denied(profile: Profile) -> dict[str, str]:
    """Every syscall either layer denies, with the errno it answers (the guard stacks last)."""
    out = seccomp.rule_answers(profile)
    if profile.seccomp.inprocess:
        out.update(dict.fromkeys(profile.seccomp.inprocess.deny, profile.seccomp.inprocess.errno))
    return out


def _answers(profile: Profile) -> dict[str, dict[str, str | None]]:
    """arch -> syscall -> what the runtime's filter answers, the L2 guard stacked on top."""
    g = profile.seccomp.inprocess
    guard = dict.fromkeys(g.deny, g.errno) if g is not None else {}
    out = {}
    for arch in profile.seccomp.architectures:
        got = seccomp.answers(profile, arch)
        out[arch] = {**got, **{n: e for n, e in guard.items() if n in got}}
    return out


def walk_params(runtime: str, workload: Workload | None) -> dict[str, Any]:
    """The shared walk's parameters (one run serves every walk row): it also digests the root
    filesystem for PR-ROOTFS-1 (in a user's image, when its record holds the image's tree)."""
    if workload is not None and not workload.rootfs:
        return {"limit": 200_000}
    fresh = [
        p
        for p in runtime_defaults.ROOTFS_FRESH
        if any(o.startswith(p + "|") for o in runtime_defaults.ROOTFS_OWN[runtime])
    ]
    return {"limit": 200_000, "rootfs": {"fresh": fresh}}


def hidden_dirs(profile: Profile, runtime: str, workload: Workload | None) -> dict[str, list[str]]:
    """The directories the walk cannot see into, as the profile's user: our image's layout, or
    a user's image's from its record (our layout's when an older record holds no tree)."""
    uid, gid = profile.user.uid, profile.user.gid
    if workload is not None and workload.rootfs:
        points = [str(m["point"]) for m in mountplan.inventory(profile, runtime, workload)]
        got = treefacts.hidden(workload.rootfs, points, runtime_defaults.ROOTFS_OWN[runtime], uid, gid)
        if got is not None:
            return got
    return {"unlistable": imagespec.unlistable(uid, gid), "searchable": imagespec.searchable(uid, gid)}


def rootfs_expect(
    profile: Profile, runtime: str, mounts: list[dict[str, Any]], workload: Workload | None = None
) -> dict[str, Any]:
    """PR-ROOTFS-1: the image's tree as built, per top-level entry, less the mount points (a
    user's image: as its workload record holds it, seen as the profile's user sees it)."""
    if runtime in runtime_defaults.ROOTFS_UNMATCHED:
        return {"unverified": runtime_defaults.ROOTFS_UNMATCHED[runtime]}
    own = runtime_defaults.ROOTFS_OWN[runtime]
    if workload is not None:
        points = [str(m["point"]) for m in mounts]
        return treefacts.expected(workload.rootfs, points, own, profile.user.uid, profile.user.gid)
    hidden = {
        "unlistable": imagespec.unlistable(profile.user.uid, profile.user.gid),
        "searchable": imagespec.searchable(profile.user.uid, profile.user.gid),
    }
    got = imagetree.expected(profile.image.workdir, [str(m["point"]) for m in mounts], own)
    return {"unverified": got} if isinstance(got, str) else {"digests": got, **hidden}


def system_rows(
    profile: Profile, runtime: str, workload: Workload | None = None
) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    mask, zero = caps.mask(effective_caps(profile)), "0" * 16
    # a user other than root keeps nothing but in the bounding set (Docker, runc), except on
    # podman, which gives it what the profile adds in every set, ambient too, so that it holds
    # them across its exec (pkg/specgen/generate/security_linux.go; measured 4.3.1)
    own = caps.mask([caps.normal(c) for c in profile.security.capabilities]) if runtime == "podman" else zero
    sets = {
        "CapInh": zero if profile.user.uid == 0 else own,
        "CapPrm": mask if profile.user.uid == 0 else own,
        "CapEff": mask if profile.user.uid == 0 else own,
        "CapBnd": mask,
        "CapAmb": zero if profile.user.uid == 0 else own,
    }
    denied = _denied(profile)
    clone_errno = seccomp.clone_namespace_errno(profile)
    sweep_params = sweep.plan_row(denied, clone_errno, sweepgroups.groups)
    if profile.seccomp.default_action == "errno":  # an allowlist: every syscall of the table, once
        table = sweep.table_row(_answers(profile), profile.seccomp.default_errno or "EPERM", clone_errno)
        sweep_params[0]["table"], sweep_params[1]["table"] = table
    scratch = next((t.path for t in profile.filesystem.tmpfs if t.has("noexec") and not t.has("ro")), "/tmp")
    walk = walk_params(runtime, workload)
    stdio = runtime_defaults.STDIO_TARGETS
    unenforced = unenforced_limits(runtime)
    if runtime == "runsc":
        stdio = f"{stdio}|{runtime_defaults.RUNSC_STDIO_TARGETS}"

    def sentry(ns: str) -> dict[str, bool]:
        # gVisor: the IPC, UTS and time namespaces are the sentry's own (its clocks its own
        # timekeeper's), with no /proc/self/ns link
        return {"sentry": True} if runtime == "runsc" and ns in ("ipc", "uts", "time") else {}

    hidden = hidden_dirs(profile, runtime, workload)
    return [
        (
            "PR-ID-1",
            "runtime (user)",
            {"fields": ["Uid", "Gid", "Groups", "Umask"]},
            {
                "uid": profile.user.uid,
                "gid": profile.user.gid,
                "groups": [profile.user.gid],
                "umask": profile.user.umask,
            },
        ),
        ("PR-CAP-1", "capabilities", {"fields": list(sets)}, {"equal": sets}),
        (
            "PR-NNP-1",
            "runtime (no-new-privileges)",
            {"fields": ["NoNewPrivs"]},
            {"equal": {"NoNewPrivs": "1" if profile.security.no_new_privileges else "0"}},
        ),
        (
            "PR-SECCOMP-1",
            "runtime-seccomp",
            {"fields": ["Seccomp", "Seccomp_filters"]},
            {"equal": {"Seccomp": "2"}, "at_least": {"Seccomp_filters": 1}},
        ),
        ("PR-SECCOMP-SWEEP", "runtime-seccomp + inprocess-seccomp (L2)", *sweep_params),
        (
            "PR-SECCOMP-ABI",
            "runtime-seccomp (architectures)",
            {},
            {
                "allowed": {
                    "i386": "x86" in profile.seccomp.architectures,
                    "x32": "x32" in profile.seccomp.architectures,
                }
            },
        ),
        ("PR-THREAD-1", "runtime-seccomp", {}, {"outcome": "started"}),
        (
            "PR-USERNS-1",
            "runtime-seccomp",
            {"routes": ["unshare", "clone", "clone3"]},
            {
                "routes": {
                    "unshare": [denied.get("unshare", "EPERM")],
                    "clone": [clone_errno or "EPERM"],
                    "clone3": [denied.get("clone3", "EPERM")],
                }
            },
        ),
        *((f"PR-NS-{ns.upper()}", "namespace", {"ns": ns}, {"ns": ns, **sentry(ns)}) for ns in ("pid", "ipc", "uts")),
        ("PR-NS-TIME", "runtime (caller)", {"ns": "time"}, {"ns": "time", "initial": True, **sentry("time")}),
        ("PR-TMP-NOEXEC", "mount (tmpfs noexec)", {"dir": scratch}, {"errno_in": ["EPERM"]}),
        (
            "PR-SUID-1",
            "image + mount",
            walk,
            {"collect": "setid", "also": ["devices"], "allowed": [], **hidden},
        ),
        ("PR-SOCK-ANY", "mount", walk, {"collect": "sockets", "allowed": [], **hidden}),
        (
            "PR-WW-1",
            "image + mount",
            walk,
            {"collect": "world_writable", "allowed": world_writable(profile), **hidden},
        ),
        ("PR-FCAP-1", "image + mount", walk, {"collect": "file_caps", "allowed": [], **hidden}),
        (
            "PR-FD-1",
            "runtime",
            {},
            {
                "allowed": [0, 1, 2],
                "stdio": stdio,
                "stdin": "eof",
                "stdio_kinds": runtime_defaults.STDIO_KINDS[runtime],
            },
        ),
        (
            "PR-CG-PIDS",
            "cgroup",
            {"paths": list(CGROUP_FILES["pids"])},
            {"want": {"pids": profile.resources.pids}, **unenforced},
        ),
        (
            "PR-CG-MEM",
            "cgroup",
            {"paths": [*CGROUP_FILES["memory"], *CGROUP_FILES["memory_swap"]]},
            {
                "want": {"memory": profile.resources.memory.bytes, "memory_swap": profile.resources.memory_swap.bytes},
                **unenforced,
            },
        ),
        (
            "PR-CG-CPU",
            "cgroup",
            {"paths": list(CGROUP_FILES["cpu"])},
            {
                "want": {"cpus": profile.resources.cpus},
                **({"period_us": runtime_defaults.CFS_PERIOD_US} if profile.resources.cpus else {}),
                **unenforced,
            },
        ),
    ]


SOCKET_TABLES = ["sockstat", "sockstat6", "icmp", "icmp6", "packet"]
"""PR-NET-2's per-namespace socket counts and tables beside unix (PR-SOCK-ANY reads that one):
sockstat's "inuse" per protocol (net/ipv4/proc.c sockstat_seq_show: TCP, UDP, UDP-Lite and raw
sockets of this namespace; reading /proc/net/tcp walks the host's whole hash, 3 ms a table,
measured), and the ping and packet sockets sockstat does not count."""
SENTRY_SOCKET_TABLES = ["tcp", "tcp6", "udp", "udp6"]
"""runsc: gVisor has no sockstat (measured, runsc 20221219); its tables hold its own sockets only."""


def _net_namespace(profile: Profile, runtime: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """PR-NET-2: only the loopback; with no network, no socket either (the harness makes none)."""
    if profile.network.mode != "none":
        return {}, {"interfaces_subset": ["lo"]}
    tables = SENTRY_SOCKET_TABLES if runtime == "runsc" else SOCKET_TABLES
    return {"socket_tables": tables}, {
        "interfaces_subset": ["lo"],
        "socket_tables": tables,
        "required": tables[:2],  # every kernel with IPv4 and IPv6 shows these: unread, nothing was seen
        "sockets": [],
    }


def unenforced_limits(runtime: str) -> dict[str, str]:
    """The cgroup rows' note where the runtime applies no cgroup limit (their judges FAIL it)."""
    why = runtime_defaults.CGROUPS_UNENFORCED.get(runtime)
    return {"unenforced": why} if why else {}


def process_args(profile: Profile, run_date: str, runtime: str, workload: Workload | None = None) -> list[str]:
    """The sandbox's first process: the image's entrypoint and the harness's arguments;
    carried into a user's image, the mounted loader starting the mounted interpreter."""
    if workload is not None:
        return carried.harness_argv(*harness_args(profile, run_date))
    args = [*profile.image.entrypoint, *harness_args(profile, run_date)]
    if runtime == "kubernetes":  # the pod's /out goes with the pod: the bundle comes in its log
        args.append("--stdout-bundle")
    if runtime in ("runc", "runsc") and args[0] == "python":  # the image's PATH lookup: OCI runtimes do not search PATH
        args[0] = "/usr/bin/python"
    return args


def _limit(value: int) -> str:
    return "unlimited" if value == limits.UNLIMITED else str(value)


def sysctls(profile: Profile, runtime: str) -> tuple[dict[str, str], list[str]]:
    """Every namespaced sysctl the probe reads, with its value: a fresh namespace's, then what
    the runtime sets itself, then the profile's. The second list: kernel defaults a kernel
    may not have at all (older or built without the protocol)."""
    values: dict[str, str] = {}
    if profile.ipc.mode != "host":
        values.update(runtime_defaults.KERNEL_IPC_SYSCTLS)
    if profile.namespaces.uts != "host":
        values.update(runtime_defaults.KERNEL_UTS_SYSCTLS)
    if profile.network.mode != "host":
        values.update(runtime_defaults.KERNEL_NET_SYSCTLS)
        if runtime == "runsc":
            values.update(runtime_defaults.SENTRY_NET_SYSCTLS)
        values.update(runtime_defaults.SYSCTLS[runtime])
    shown = {**runtime_defaults.SYSCTLS[runtime], **(runtime_defaults.SENTRY_NET_SYSCTLS if runtime == "runsc" else {})}
    optional = sorted(n for n in values if n not in shown)
    values.update(profile.sysctls)
    return dict(sorted(values.items())), [n for n in optional if n not in profile.sysctls]


def host_kernel(profile: Profile, runtime: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """PR-HOSTK-1's params and expectation: every host-wide setting the profile allows values
    for (runtime_defaults.HOST_KERNEL unless it says otherwise), what /proc/kallsyms shows and
    where a crash's core goes (kernel.core_pattern: runtime_defaults.HOST_CORE_HELPERS)."""
    allowed = {
        name: {"in": list(spec)} if isinstance(spec, tuple) else {"min": spec["min"]}
        for name, spec in sorted(profile.host_kernel.items())
    }
    expect: dict[str, Any] = {
        "allowed": allowed,
        "kallsyms": runtime_defaults.HOST_KALLSYMS[runtime],
        "core_pattern": {"helpers": list(runtime_defaults.HOST_CORE_HELPERS)},
    }
    unshown = runtime_defaults.SENTRY_HOST_KERNEL_UNSHOWN if runtime == "runsc" else ()
    if unshown:
        names = sorted({*(n for n in allowed if n in unshown), "kernel.core_pattern"})
        expect |= {"unshown": names, "unshown_why": runtime_defaults.SENTRY_WHY}
    return {"names": list(allowed), "core_pattern": True}, expect


def _score_adj(profile: Profile, runtime: str) -> dict[str, Any]:
    """Docker's and runc's 0 (runtime_defaults.OOM_SCORE_ADJ); on Kubernetes the kubelet's
    value for the rendered pod's QoS class, a range when it depends on the node."""
    if runtime != "kubernetes":
        return {"oom_score_adj": runtime_defaults.OOM_SCORE_ADJ}
    from sandproof.render import k8s  # noqa: PLC0415 - render/k8s.py imports this module

    low, high = k8s.oom_score_adj(profile)
    return {"oom_score_adj": low} if low == high else {"oom_score_adj_in": [low, high]}


def limit_rows(
    profile: Profile, runtime: str, workload: Workload | None = None
) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    argv: list[str | None] = list(process_args(profile, "RUN-DATE", runtime, workload))
    argv[argv.index("--run-date") + 1] = None  # the run date is the harness's argument, not the plan's
    identity = [[0, 0, 4294967295]]  # no user namespace: the initial one's map (kernel/user.c init_user_ns)
    values, optional = sysctls(profile, runtime)
    declared = {
        n: [_limit(v) for v in profile.resources.ulimits[n]] if n in profile.resources.ulimits else None
        for n in limits.RLIMIT_NAMES
    }
    return [
        # and where it starts: the image's workdir (a carried harness: the user image's)
        (
            "PR-PROC-1",
            "namespace (pid)",
            {},
            {"argv": argv, "cwd": workload.cwd if workload else profile.image.workdir},
        ),
        (
            "PR-NS-CGROUP",
            "namespace",
            {},
            {"mode": profile.namespaces.cgroup, **({"sentry": True} if runtime == "runsc" else {})},
        ),
        ("PR-NS-USER", "namespace (user)", {}, {"uid_map": identity, "gid_map": identity}),
        ("PR-RLIMIT-1", "runtime (rlimits)", {}, {"limits": declared}),
        (
            "PR-SCHED-1",
            "runtime (inherited)",
            {"fields": list(runtime_defaults.INHERITED)},
            {
                "equal": {
                    k: v
                    for k, v in runtime_defaults.INHERITED.items()
                    if k not in runtime_defaults.INHERITED_LOWER
                    and (runtime != "runsc" or k not in runtime_defaults.SENTRY_UNSHOWN_INHERITED)
                },
                "one_of": {
                    k: list(v)
                    for k, v in runtime_defaults.INHERITED_LOWER.items()
                    if runtime != "runsc" or k not in runtime_defaults.SENTRY_UNSHOWN_INHERITED
                },
            },
        ),
        ("PR-SYSCTL-1", "runtime (sysctls)", {"names": list(values)}, {"values": values, "optional": optional}),
        ("PR-HOSTK-1", "host kernel", *host_kernel(profile, runtime)),
        (
            "PR-CG-OOM",
            "cgroup",
            {"paths": [limits.OOM_FILE, limits.V2_MARKER, limits.OOM_SCORE_ADJ]},
            {
                "oom_kill_disable": profile.resources.oom_kill_disable,
                **_score_adj(profile, runtime),
                **unenforced_limits(runtime),
            },
        ),
        (
            "PR-CG-SHARES",
            "cgroup",
            {"paths": [*limits.SHARES_FILES, limits.WEIGHT_FILE, *limits.IO_WEIGHTS]},
            {"shares": profile.resources.cpu_shares, **unenforced_limits(runtime)},
        ),
    ]


def harness_args(profile: Profile, run_date: str) -> list[str]:
    """The harness's arguments: the seed's two flags, then what differs from its defaults."""
    args = ["--attest", "--run-date", run_date]
    if profile.filesystem.input != "/in":
        args += ["--plan", f"{profile.filesystem.input}/{PLAN_NAME}"]
    if profile.filesystem.output != "/out":
        args += ["--out", profile.filesystem.output]
    g = profile.seccomp.inprocess
    if g is not None:
        args += ["--guard", f"{','.join(g.deny)}:{g.errno}"]
    return args


def build(profile: Profile, runtime: str, workload: Workload | None = None) -> dict[str, Any]:
    """The plan the harness runs in ``runtime``'s sandbox for ``profile`` (in ``workload``'s
    image when given: its facts then name the plan, so its hash binds them)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"no plan for runtime {runtime!r}")
    if workload is not None and runtime not in carried.MOUNT_FLAGS:  # Kubernetes: a hostPath PSS forbids
        raise ValueError(f"runtime {runtime!r} cannot carry the harness into a user's image")
    body: dict[str, Any] = {
        "profile": profile.name,
        "profile_sha256": profile.digest,
        "runtime": runtime,
        "probe_timeout": PROBE_TIMEOUT_S,
        "probes": probes(profile, runtime, workload),
    }
    if workload is not None:
        body["workload"] = {"image_id": workload.image_id, "harness_digest": workload.harness_digest}
    body["sha256"] = digest(body)
    return body


@dataclass(frozen=True)
class Compiled:
    """A profile's plan for one runtime, compiled once per run and passed down: the file the
    harness reads from /in, the evidence's ``expected_plan_sha256`` and the expectations are
    this one value (it was rebuilt at each use, eight times in one attest)."""

    plan: dict[str, Any]
    """The plan, with its own ``sha256``; read it, never edit it."""
    text: bytes
    """The exact bytes written into the sandbox's input directory."""

    @property
    def sha256(self) -> str:
        return str(self.plan["sha256"])

    @property
    def runtime(self) -> str:
        return str(self.plan["runtime"])

    def expectations(self) -> dict[str, dict[str, Any]]:
        """probe_id -> plan row."""
        return {p["probe_id"]: p for p in self.plan["probes"]}


def compiled(profile: Profile, runtime: str, workload: Workload | None = None) -> Compiled:
    """``build`` and its serialisation, once: what attest hands to every step of one run. The
    harness parses the file (UTF-8) and reports the ``sha256`` field inside it, never a hash of
    its bytes, so they are orjson's (~0.05 ms; json.dumps took ~0.5 ms)."""
    body = build(profile, runtime, workload)
    return Compiled(body, orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE))


def digest(plan: dict[str, Any]) -> str:
    """sha256 of the plan without its own digest and run date, canonical JSON: the bytes of
    ``json.dumps(sort_keys=True, separators=(",", ":"))``, written by orjson wherever its
    text is the same (0.05 ms against 0.6 ms, before every run); where it could differ
    (non-ASCII, integers past 64 bits, floats below 1e-4: "0.00001" and "1.5e-7" for json's
    "1e-05" and "1.5e-07"), by json itself."""
    core = {k: v for k, v in plan.items() if k not in ("sha256", "run_date")}
    try:
        text = orjson.dumps(core, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        text = b"\x80"
    if not text.isascii() or float_differs(text):
        text = json.dumps(core, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(text).hexdigest()


def float_differs(text: bytes) -> bool:
    """Where orjson's text could differ from json.dumps's: a float below 1e-4 ("0.00001" for
    "1e-05") or with a one-digit negative exponent ("1.2e-7" for "1.2e-07"). A string holding
    the same characters only costs the slower path. (``bytes.find`` here, not a regex: the
    regex took 1.3 ms on a 127 KB bundle, 20x orjson's whole encoding.)"""
    if b"0.0000" in text:
        return True
    at = text.find(b"e-")
    while at > 0:
        if text[at - 1 : at].isdigit() and text[at + 2 : at + 3].isdigit():
            return True
        at = text.find(b"e-", at + 2)
    return False


def expectations(profile: Profile, runtime: str, workload: Workload | None = None) -> dict[str, dict[str, Any]]:
    """probe_id -> plan row, for the verifier."""
    return {p["probe_id"]: p for p in probes(profile, runtime, workload)}
