"""The engine-view check FAILs for each compared field changed alone, and names it.

The documents are the engines' own answers for the recorded passing runs
(``tests/assets/engine``, written by ``tests.assets.record`` with the bundles beside them):
each case changes one field of the real document the way a daemon default, a hostile engine
or a careless flag would, records it as attest does, and verifies the bundle.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from sandproof import bundle, engineview, profile, verify
from sandproof.engineview import check as engine_check
from sandproof.engineview.core import differences
from sandproof.engineview.docker import compact
from sandproof.inspector import judge
from sandproof.model import EvidenceBundle
from tests.conftest import ASSETS, asset_json

DEFAULT = profile.load("default")
Doc = dict[str, Any]
Edit = Callable[[Doc], None]


def _doc(runtime: str) -> Doc:
    data = json.loads((ASSETS / "engine" / f"{runtime}-default.json").read_text())
    assert isinstance(data, dict)
    return data


def _with_view(evidence: Doc, runtime: str, raw: Doc) -> Doc:
    out = copy.deepcopy(evidence)
    out["engine_view"] = {**engineview.ADAPTERS[runtime].record(raw), "source": evidence["engine_view"]["source"]}
    return out


def _diffs(evidence: Doc) -> list[str]:
    data = bundle.from_mapping(evidence, "test")
    assert isinstance(data, EvidenceBundle)
    assert not isinstance(data.engine_view, msgspec.UnsetType)
    assert not isinstance(data.engine_view.fields, msgspec.UnsetType)
    adapter = engineview.ADAPTERS[data.runtime]
    facts = verify._derived(DEFAULT, data.runtime, None).facts
    ctx = engine_check.context(data, DEFAULT, facts)
    fields = dict(data.engine_view.fields)
    return differences(fields, adapter.expected(DEFAULT, ctx))


def _engine_view(evidence: Doc, *, require: bool = False) -> verify.Check:
    report = verify.verify(evidence, DEFAULT, policy=verify.Policy(require_engine_view=require))
    return next(c for c in report.checks if c.name == "engine-view")


def _names(reason: str, field: str) -> bool:
    """The reason starts with the field's name (or a part of it: ``seccomp.syscalls``)."""
    return re.match(rf"{re.escape(field)}[ .\[]", reason) is not None


def fails_naming_only(evidence: Doc, runtime: str, edit: Edit, field: str) -> None:
    """The engine's document edited once: exactly one difference, naming ``field``, in the
    comparison and in the verifier's engine-view check, which FAILs."""
    raw = _doc(runtime)
    edit(raw)
    changed = _with_view(evidence, runtime, raw)
    diffs = _diffs(changed)
    assert len(diffs) == 1, diffs
    assert _names(diffs[0], field), diffs
    seen = _engine_view(changed)
    assert seen.verdict == judge.FAIL
    assert _names(seen.reason.split(": ", 1)[1], field), seen.reason


def hc(key: str, value: object) -> Edit:
    return lambda d: d["HostConfig"].__setitem__(key, value)


def cfg(key: str, value: object) -> Edit:
    return lambda d: d["Config"].__setitem__(key, value)


def top(key: str, value: object) -> Edit:
    return lambda d: d.__setitem__(key, value)


def _seccomp_without(name: str) -> Edit:
    """A rule taken away for one syscall: the kernel refuses an unprivileged kexec_load anyway
    (CAP_SYS_BOOT), so no probe inside sees it; the engine's copy of the policy does."""

    def edit(d: Doc) -> None:
        opts = d["HostConfig"]["SecurityOpt"]
        policy = json.loads(opts[1].removeprefix("seccomp="))
        for rule in policy["syscalls"]:
            rule["names"] = [n for n in rule["names"] if n != name]
        opts[1] = "seccomp=" + json.dumps(policy, separators=(",", ":"))

    return edit


def _add(key: str, item: object, where: str = "HostConfig") -> Edit:
    return lambda d: (d[where] if where else d)[key].append(item)


def _bind_mode(d: Doc) -> None:
    d["HostConfig"]["Binds"] = [b.replace(":/in:ro", ":/in:rw") for b in d["HostConfig"]["Binds"]]


# edits of the OCI config beside an inspect document (Docker's and podman's alike)


def oci(key: str, value: object) -> Edit:
    return lambda d: d["OCIConfig"]["linux"].__setitem__(key, value)


def oci_top(key: str, value: object) -> Edit:
    return lambda d: d["OCIConfig"].__setitem__(key, value)


def oci_proc(key: str, value: object) -> Edit:
    return lambda d: d["OCIConfig"]["process"].__setitem__(key, value)


def oci_user(key: str, value: object) -> Edit:
    return lambda d: d["OCIConfig"]["process"]["user"].__setitem__(key, value)


def oci_res(key: str, value: object) -> Edit:
    return lambda d: d["OCIConfig"]["linux"]["resources"].__setitem__(key, value)


def oci_mount(dest: str, option_edit: Any) -> Edit:
    def edit(d: Doc) -> None:
        m = next(m for m in d["OCIConfig"]["mounts"] if m["destination"] == dest)
        m["options"] = option_edit(m["options"])

    return edit


def oci_dev_last(d: Doc) -> None:
    """/dev mounted after /dev/pts (and /dev/mqueue): the same mounts, the deeper ones hidden."""
    mounts = d["OCIConfig"]["mounts"]
    mounts.append(mounts.pop(next(i for i, m in enumerate(mounts) if m["destination"] == "/dev")))


def oci_seccomp_without(name: str) -> Edit:
    """A rule taken away in the policy the engine handed runc (its inspect unchanged)."""

    def edit(d: Doc) -> None:
        for rule in d["OCIConfig"]["linux"]["seccomp"]["syscalls"]:
            rule["names"] = [n for n in rule["names"] if n != name]

    return edit


OCI_LINUX_CASES: dict[str, list[tuple[str, Edit]]] = {
    # what both engines write in the OCI config's linux and neither inspect keeps
    "OCIConfig.linux.sysctl": [("sysctl", oci("sysctl", {"net.ipv4.ip_unprivileged_port_start": "0"}))],
    "OCIConfig.linux.maskedPaths": [
        ("unmask-kcore", lambda d: d["OCIConfig"]["linux"]["maskedPaths"].remove("/proc/kcore"))
    ],
    "OCIConfig.linux.readonlyPaths": [
        ("proc-sys-rw", lambda d: d["OCIConfig"]["linux"]["readonlyPaths"].remove("/proc/sys"))
    ],
    "OCIConfig.linux.devices": [
        ("device", oci("devices", [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]))
    ],
}


def _ulimit(d: Doc) -> None:
    nofile = next(u for u in d["HostConfig"]["Ulimits"] if u["Name"] == "nofile")
    nofile["Hard"] = 1048576


SHARED: dict[str, list[tuple[str, Edit]]] = {
    # the fields each inspect document records alike, the value every profile's run has
    # (compared since the allow-list: before it, nobody had listed them)
    "HostConfig.Cgroup": [("cgroup-of-another", hc("Cgroup", "container:other"))],
    "HostConfig.CpuCount": [("cpu-count", hc("CpuCount", 4))],
    "HostConfig.CpuPercent": [("cpu-percent", hc("CpuPercent", 100))],
    "HostConfig.IOMaximumBandwidth": [("io-maxbandwidth", hc("IOMaximumBandwidth", 1 << 30))],
    "HostConfig.IOMaximumIOps": [("io-maxiops", hc("IOMaximumIOps", 1 << 20))],
    "HostConfig.Isolation": [("isolation", hc("Isolation", "hyperv"))],
    "HostConfig.KernelMemory": [("kernel-memory", hc("KernelMemory", 1 << 30))],
    "HostConfig.Links": [("link", hc("Links", ["/db:/sandproof/db"]))],
    "HostConfig.VolumeDriver": [("volume-driver", hc("VolumeDriver", "convoy"))],
    "HostConfig.AutoRemove": [("kept", hc("AutoRemove", False))],
    "HostConfig.LogConfig.Config": [
        ("log-opt", lambda d: d["HostConfig"]["LogConfig"].__setitem__("Config", {"max-size": "1g"}))
    ],
    "Mounts.Propagation": [("rshared", lambda d: d["Mounts"][0].__setitem__("Propagation", "rshared"))],
    "ExecIDs": [("exec", top("ExecIDs", ["0" * 64]))],
    "Config.AttachStdin": [("attach-stdin", cfg("AttachStdin", True))],
    "Config.StdinOnce": [("stdin-once", cfg("StdinOnce", True))],
    "Config.Volumes": [("image-volume-declared", cfg("Volumes", {"/data": {}}))],
}
DOCKER: dict[str, list[tuple[str, Edit]]] = {
    **SHARED,
    "HostConfig.KernelMemoryTCP": [("kernel-memory-tcp", hc("KernelMemoryTCP", 1 << 30))],
    "HostConfig.RestartPolicy": [("restart", hc("RestartPolicy", {"Name": "always", "MaximumRetryCount": 0}))],
    "HostConfig.Privileged": [("privileged", hc("Privileged", True))],
    "HostConfig.ReadonlyRootfs": [("writable-root", hc("ReadonlyRootfs", False))],
    "HostConfig.PublishAllPorts": [("publish-all", hc("PublishAllPorts", True))],
    "HostConfig.NetworkMode": [("host-network", hc("NetworkMode", "host"))],
    "HostConfig.IpcMode": [("host-ipc", hc("IpcMode", "host"))],
    "HostConfig.PidMode": [("host-pid", hc("PidMode", "host"))],
    "HostConfig.UTSMode": [("host-uts", hc("UTSMode", "host"))],
    "HostConfig.UsernsMode": [("userns-remap", hc("UsernsMode", ""))],
    "HostConfig.CgroupnsMode": [("host-cgroupns", hc("CgroupnsMode", "host"))],
    "HostConfig.Init": [("init", hc("Init", True))],
    "HostConfig.OomKillDisable": [("oom-kill-disable", hc("OomKillDisable", True))],
    "HostConfig.OomScoreAdj": [("oom-score-adj", hc("OomScoreAdj", -500))],
    "HostConfig.CpuShares": [("cpu-shares", hc("CpuShares", 1024))],
    "HostConfig.NanoCpus": [("cpus", hc("NanoCpus", 2_000_000_000))],
    "HostConfig.CpuQuota": [("cpu-quota", hc("CpuQuota", 400_000))],
    "HostConfig.CpuPeriod": [("cpu-period", hc("CpuPeriod", 10_000))],
    "HostConfig.CpusetCpus": [("cpuset", hc("CpusetCpus", "0"))],
    "HostConfig.Memory": [("memory", hc("Memory", 1 << 30))],
    "HostConfig.MemorySwap": [("swap", hc("MemorySwap", -1))],
    "HostConfig.MemoryReservation": [("memory-reservation", hc("MemoryReservation", 1 << 20))],
    "HostConfig.MemorySwappiness": [("swappiness", hc("MemorySwappiness", 60))],
    "HostConfig.PidsLimit": [("no-pids-limit", hc("PidsLimit", None))],
    "HostConfig.ShmSize": [("shm-size", hc("ShmSize", 1 << 30))],
    "HostConfig.Runtime": [("runtime", hc("Runtime", "io.containerd.runc.v2.unsafe"))],
    "HostConfig.CgroupParent": [("cgroup-parent", hc("CgroupParent", "/system.slice"))],
    "HostConfig.BlkioWeight": [("blkio-weight", hc("BlkioWeight", 1000))],
    "HostConfig.BlkioWeightDevice": [
        ("blkio-weight-device", hc("BlkioWeightDevice", [{"Path": "/dev/sda", "Weight": 1000}]))
    ],
    "HostConfig.BlkioDeviceReadBps": [("device-read-bps", hc("BlkioDeviceReadBps", [{"Path": "/dev/sda", "Rate": 1}]))],
    "HostConfig.BlkioDeviceWriteBps": [
        ("device-write-bps", hc("BlkioDeviceWriteBps", [{"Path": "/dev/sda", "Rate": 1}]))
    ],
    "HostConfig.BlkioDeviceReadIOps": [
        ("device-read-iops", hc("BlkioDeviceReadIOps", [{"Path": "/dev/sda", "Rate": 1}]))
    ],
    "HostConfig.BlkioDeviceWriteIOps": [
        ("device-write-iops", hc("BlkioDeviceWriteIOps", [{"Path": "/dev/sda", "Rate": 1}]))
    ],
    "HostConfig.CpuRealtimePeriod": [("cpu-rt-period", hc("CpuRealtimePeriod", 1000000))],
    "HostConfig.CpuRealtimeRuntime": [("cpu-rt-runtime", hc("CpuRealtimeRuntime", 950000))],
    "HostConfig.CpusetMems": [("cpuset-mems", hc("CpusetMems", "0"))],
    "HostConfig.CapAdd": [("cap-add", hc("CapAdd", ["SYS_ADMIN"]))],
    "HostConfig.CapDrop": [("no-cap-drop", hc("CapDrop", None))],
    "HostConfig.SecurityOpt": [
        ("seccomp-rule-removed", _seccomp_without("kexec_load")),
        ("apparmor-unconfined", _add("SecurityOpt", "apparmor=unconfined")),
        ("no-new-privileges-dropped", lambda d: d["HostConfig"]["SecurityOpt"].pop(0)),
    ],
    "HostConfig.MaskedPaths": [("systempaths-unconfined", hc("MaskedPaths", None))],
    "HostConfig.ReadonlyPaths": [("readonly-paths", hc("ReadonlyPaths", ["/proc/sys"]))],
    "HostConfig.Sysctls": [("sysctl", hc("Sysctls", {"net.ipv4.ip_forward": "1"}))],
    "HostConfig.Devices": [
        (
            "device",
            hc("Devices", [{"PathOnHost": "/dev/kmsg", "PathInContainer": "/dev/kmsg", "CgroupPermissions": "r"}]),
        )
    ],
    "HostConfig.DeviceCgroupRules": [("device-cgroup-rule", hc("DeviceCgroupRules", ["c 1:11 rwm"]))],
    "HostConfig.DeviceRequests": [("gpus", hc("DeviceRequests", [{"Driver": "nvidia", "Count": -1}]))],
    "HostConfig.Binds": [("input-rw", _bind_mode)],
    "HostConfig.Tmpfs": [("tmp-exec", lambda d: d["HostConfig"]["Tmpfs"].__setitem__("/tmp", "rw,exec,size=16m"))],
    "HostConfig.PortBindings": [("publish", hc("PortBindings", {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}))],
    "HostConfig.GroupAdd": [("group-add", hc("GroupAdd", ["0"]))],
    "HostConfig.VolumesFrom": [("volumes-from", hc("VolumesFrom", ["other"]))],
    "HostConfig.ExtraHosts": [("add-host", hc("ExtraHosts", ["vault.corp:10.9.8.7"]))],
    "HostConfig.Dns": [("dns", hc("Dns", ["10.9.8.7"]))],
    "HostConfig.DnsSearch": [("dns-search", hc("DnsSearch", ["corp.internal"]))],
    "HostConfig.DnsOptions": [("dns-option", hc("DnsOptions", ["ndots:9"]))],
    "HostConfig.Ulimits": [("ulimit", _ulimit)],
    "HostConfig.Mounts": [("mount", hc("Mounts", [{"Type": "bind", "Source": "/etc", "Target": "/etc2"}]))],
    "HostConfig.LogConfig.Type": [("log-driver", hc("LogConfig", {"Type": "json-file", "Config": {}}))],
    "Mounts": [
        ("image-volume", _add("Mounts", {"Type": "volume", "Source": "/v", "Destination": "/data", "RW": True}, ""))
    ],
    "AppArmorProfile": [("apparmor-profile", top("AppArmorProfile", "unconfined"))],
    "ProcessLabel": [("selinux-spc", top("ProcessLabel", "system_u:system_r:spc_t:s0"))],
    "MountLabel": [("selinux-mount", top("MountLabel", "system_u:object_r:unlabeled_t:s0"))],
    "Image": [("image", top("Image", "sha256:" + "0" * 64))],
    "Config.User": [("root", cfg("User", "0:0"))],
    "Config.OpenStdin": [("stdin-open", cfg("OpenStdin", True))],
    "Config.Tty": [("tty", cfg("Tty", True))],
    "Config.Healthcheck": [("health-cmd", cfg("Healthcheck", {"Test": ["CMD-SHELL", "cat /out/*"]}))],
    "Config.Domainname": [("domainname", cfg("Domainname", "corp.internal"))],
    "Config.Env": [("env", _add("Env", "AWS_SECRET_ACCESS_KEY=<value>", "Config"))],
    "Config.ExposedPorts": [("expose", cfg("ExposedPorts", {"80/tcp": {}}))],
}


_CGROUP_SET: dict[str, object] = {
    "blkio_weight": 1000,
    "blkio_leaf_weight": 1000,
    "blkio_weight_device": [{"major": 8, "minor": 0, "weight": 1000, "leafWeight": 0}],
    "blkio_throttle_read_bps_device": [{"major": 8, "minor": 0, "rate": 1}],
    "blkio_throttle_write_bps_device": [{"major": 8, "minor": 0, "rate": 1}],
    "blkio_throttle_read_iops_device": [{"major": 8, "minor": 0, "rate": 1}],
    "blkio_throttle_write_iops_device": [{"major": 8, "minor": 0, "rate": 1}],
    "cpu_rt_period": 1000000,
    "cpu_rt_quota": 950000,
    "cpuset_mems": "0",
    "hugetlb_limit": [{"page_size": "2MB", "limit": 1 << 30}],
    "net_cls_classid_u": 0x100001,
    "net_prio_ifpriomap": [{"interface": "eth0", "priority": 7}],
    "rdma": {"mlx5_0": {"hca_handles": 3}},
    "unified": {"memory.max": "max"},
    "owner_uid": 65532,
}


def c(key: str, value: object) -> Edit:
    return lambda d: d["config"].__setitem__(key, value)


def cg(key: str, value: object) -> Edit:
    return lambda d: d["config"]["cgroups"].__setitem__(key, value)


def _input_rw(d: Doc) -> None:
    m = next(m for m in d["config"]["mounts"] if m["destination"] == "/in")
    m["flags"] &= ~1  # MS_RDONLY


def _state_seccomp_without(name: str) -> Edit:
    def edit(d: Doc) -> None:
        sc = d["config"]["seccomp"]
        sc["syscalls"] = [s for s in sc["syscalls"] if s["name"] != name]

    return edit


def _no_netns(d: Doc) -> None:
    d["config"]["namespaces"] = [n for n in d["config"]["namespaces"] if n["type"] != "NEWNET"]


RUNC: dict[str, list[tuple[str, Edit]]] = {
    "readonlyfs": [("writable-root", c("readonlyfs", False))],
    "mounts": [("input-rw", _input_rw)],
    "devices": [
        (
            "device",
            lambda d: d["config"]["devices"].append({**d["config"]["devices"][0], "path": "/dev/kmsg", "minor": 11}),
        )
    ],
    "cgroups.devices": [
        (
            "device-rule",
            lambda d: d["config"]["cgroups"]["devices"].append({**d["config"]["cgroups"]["devices"][0], "allow": True}),
        )
    ],
    "cgroups.memory": [("memory", cg("memory", 1 << 30))],
    "cgroups.memory_swap": [("swap", cg("memory_swap", -1))],
    "cgroups.memory_reservation": [("memory-reservation", cg("memory_reservation", 1 << 20))],
    "cgroups.cpu_shares": [("cpu-shares", cg("cpu_shares", 1024))],
    "cgroups.cpu_quota": [("cpu-quota", cg("cpu_quota", -1))],
    "cgroups.cpu_period": [("cpu-period", cg("cpu_period", 10_000))],
    "cgroups.cpuset_cpus": [("cpuset", cg("cpuset_cpus", "0"))],
    "cgroups.pids_limit": [("no-pids-limit", cg("pids_limit", 0))],
    "cgroups.oom_kill_disable": [("oom-kill-disable", cg("oom_kill_disable", True))],
    "cgroups.memory_swappiness": [("swappiness", cg("memory_swappiness", 60))],
    "cgroups.path": [
        ("cgroup-path", cg("path", "/")),
        # the run's own ID under another parent (the recorded config said the same: ctx.cgroup)
        ("cgroup-elsewhere", lambda d: d["config"]["cgroups"].__setitem__("path", f"/elsewhere/{d['id']}")),
    ],
    "id": [("other-container", lambda d: d.__setitem__("id", "sandproof-000000000000"))],
    "labels": [("annotation", lambda d: d["config"]["labels"].append("org.systemd.property.Delegate=true"))],
    "namespaces": [("host-network", _no_netns)],
    "capabilities": [("cap-bounding", lambda d: d["config"]["capabilities"]["Bounding"].append("CAP_SYS_ADMIN"))],
    "oom_score_adj": [("oom-score-adj", c("oom_score_adj", -999))],
    "mask_paths": [("systempaths-unconfined", c("mask_paths", None))],
    "readonly_paths": [("readonly-paths", c("readonly_paths", []))],
    "sysctl": [("sysctl", c("sysctl", {"net.ipv4.ip_forward": "1"}))],
    "seccomp": [
        ("seccomp-rule-removed", _state_seccomp_without("kexec_load")),
        ("no-seccomp", c("seccomp", None)),
        ("listener", lambda d: d["config"]["seccomp"].__setitem__("listener_path", "/run/agent.sock")),
    ],
    "no_new_privileges": [("no-new-privileges", c("no_new_privileges", False))],
    "apparmor_profile": [("apparmor-unconfined", c("apparmor_profile", "unconfined"))],
    "process_label": [("selinux-spc", c("process_label", "system_u:system_r:spc_t:s0"))],
    "mount_label": [("selinux-mount", c("mount_label", "system_u:object_r:unlabeled_t:s0"))],
    "hooks": [("hook", lambda d: d["config"]["Hooks"].__setitem__("createRuntime", [{"path": "/bin/sh"}]))],
    "uid_mappings": [("uid-map", c("uid_mappings", [{"container_id": 0, "host_id": 0, "size": 1}]))],
    "gid_mappings": [("gid-map", c("gid_mappings", [{"container_id": 0, "host_id": 0, "size": 1}]))],
    "rootPropagation": [("root-shared", c("rootPropagation", (1 << 20) | (1 << 14)))],
    "hostname": [("hostname", c("hostname", "host"))],
    "no_new_keyring": [("no-new-keyring", c("no_new_keyring", True))],
    "no_pivot_root": [("no-pivot", c("no_pivot_root", True))],
    "umask": [("umask", c("umask", 0))],
    "mounts.unset": [
        ("premount-cmd", lambda d: d["config"]["mounts"][0].__setitem__("premount_cmds", [{"path": "/bin/sh"}])),
        ("copy-up", lambda d: d["config"]["mounts"][0].__setitem__("extensions", 2)),
    ],
    **{f"cgroups.{k}": [(k, cg(k, v))] for k, v in _CGROUP_SET.items()},
}


# runc's state keeps no rlimits, environment or user: the config it was given holds them,
# and the "rendered" check binds that config to the profile (said once, not again here)
GIVEN: dict[str, list[tuple[str, Callable[[Doc], None]]]] = {
    "process.rlimits": [("rlimit", lambda b: b["oci_config"]["process"]["rlimits"].pop())],
    "process.env": [("env", lambda b: b["oci_config"]["process"]["env"].append("GH_TOKEN"))],
    "process.user": [("root", lambda b: b["oci_config"]["process"].__setitem__("user", {"uid": 0, "gid": 0}))],
}


def _cases(runtime: str, table: dict[str, list[tuple[str, Edit]]]) -> list[Any]:
    return [pytest.param(runtime, f, e, id=f"{runtime}-{f}-{n}") for f, edits in table.items() for n, e in edits]


@pytest.mark.parametrize("runtime", ["docker", "runc"])
def test_the_recorded_views_are_what_the_profile_says(
    runtime: str, docker_pass: dict[str, Any], runc_pass: dict[str, Any]
) -> None:
    evidence = docker_pass if runtime == "docker" else runc_pass
    # the record in the bundle is the projection of the document the engine answered
    assert _with_view(evidence, runtime, _doc(runtime))["engine_view"] == evidence["engine_view"]
    assert _diffs(evidence) == []
    seen = _engine_view(evidence)
    assert seen.verdict == judge.PASS, seen.reason


def test_every_compared_field_has_a_case(docker_pass: dict[str, Any], runc_pass: dict[str, Any]) -> None:
    # the OCI config beside Docker's inspect: its cases are tests/test_engineview_docker_oci.py's
    assert {f for f in docker_pass["engine_view"]["fields"] if not f.startswith("OCIConfig.")} == set(DOCKER)
    assert set(runc_pass["engine_view"]["fields"]) == set(RUNC)


@pytest.mark.parametrize(("runtime", "field", "edit"), [*_cases("docker", DOCKER), *_cases("runc", RUNC)])
def test_each_field_changed_alone_fails_naming_it(
    runtime: str, field: str, edit: Edit, docker_pass: dict[str, Any], runc_pass: dict[str, Any]
) -> None:
    fails_naming_only(docker_pass if runtime == "docker" else runc_pass, runtime, edit, field)


@pytest.mark.parametrize("edit", [pytest.param(e, id=n) for es in GIVEN.values() for n, e in es])
def test_runc_given_config_fields_fail_once_in_rendered(edit: Callable[[Doc], None], runc_pass: dict[str, Any]) -> None:
    """A field runc keeps only in the config it was given FAILs the "rendered" check; the engine
    view, which never compares the given config, still PASSes: one FAIL, said once."""
    evidence = copy.deepcopy(runc_pass)
    edit(evidence)
    assert _diffs(evidence) == []
    checks = {c.name: c.verdict for c in verify.verify(evidence, DEFAULT).checks}
    assert checks["rendered"] == judge.FAIL
    assert checks["engine-view"] == judge.PASS


def test_seccomp_in_inspect_is_the_rendered_file_byte_for_byte() -> None:
    from sandproof import seccomp  # noqa: PLC0415

    opt = _doc("docker")["HostConfig"]["SecurityOpt"][1]
    assert opt.encode() == b"seccomp=" + compact(seccomp.render(DEFAULT))


def test_compact_is_gos_json_compact() -> None:
    assert (
        compact(b'{ "a" : [1, 2],\n "b": "x \\" y\\\\", "c": " \\n " }\n')
        == b'{"a":[1,2],"b":"x \\" y\\\\","c":" \\n "}'
    )


def test_a_bundle_before_the_engine_view_verifies_as_before(docker_pass: dict[str, Any]) -> None:
    old = {k: v for k, v in docker_pass.items() if k != "engine_view"}
    report = verify.verify(old, DEFAULT)
    assert report.verdict == judge.PASS
    assert "engine-view" not in {c.name for c in report.checks}
    row = next(r for r in report.rows if r.row.id == "SP-ENGINE-VIEW")
    assert row.verdict == "UNDEFINED"
    assert "not counted as PASS" in row.reason
    # a policy that requires the record FAILs it, saying why
    required = _engine_view(old, require=True)
    assert required.verdict == judge.FAIL
    assert "no engine view recorded" in required.reason


@pytest.mark.parametrize("name", ["docker", "runc"])
def test_a_view_taken_out_of_this_sandproofs_evidence_fails(name: str) -> None:
    # review: a weakened run only the engine's view catches (weaken/engine.py) PASSed once its
    # view was deleted, even with --profile (the inspector checked to be this sandproof's,
    # whose attest records a view, or a problem, on every docker and runc run)
    stripped = {k: v for k, v in asset_json(f"{name}-default-pass.json").items() if k != "engine_view"}
    report = verify.verify(stripped, DEFAULT, policy=verify.Policy(check_inspector=True))
    seen = next(c for c in report.checks if c.name == "engine-view")
    assert seen.verdict == judge.FAIL
    assert "removed from the evidence" in seen.reason
    assert report.verdict == judge.FAIL


def test_an_unrecorded_view_fails_with_its_reason(runc_pass: dict[str, Any]) -> None:
    evidence = copy.deepcopy(runc_pass)
    evidence["engine_view"] = engineview.problem("runc", "runc state.json", "state.json was never there")
    seen = _engine_view(evidence)
    assert seen.verdict == judge.FAIL
    assert "state.json was never there" in seen.reason
    evidence["engine_view"] = {**runc_pass["engine_view"], "runtime": "docker"}
    assert _engine_view(evidence).verdict == judge.FAIL


def test_a_document_of_another_shape_is_a_problem_record() -> None:
    view = engineview.ADAPTERS["docker"].record({"HostConfig": []})
    assert "problem" in view
    assert "fields" not in view
    big = _doc("docker")
    big["HostConfig"]["SecurityOpt"].append("x" * (1 << 20))
    assert "over" in engineview.ADAPTERS["docker"].record(big)["problem"]


def test_the_record_never_holds_an_environment_value() -> None:
    raw = _doc("docker")
    raw["Config"]["Env"] = ["PATH=/secret/value", "TOKEN=sandproof-canary-value"]
    view = engineview.ADAPTERS["docker"].record(raw)
    assert view["fields"]["Config.Env"] == ["PATH", "TOKEN"]
    assert "sandproof-canary-value" not in json.dumps(view)


def test_the_order_of_binds_is_the_clis_map_not_a_difference(docker_pass: dict[str, Any]) -> None:
    raw = _doc("docker")
    raw["HostConfig"]["Binds"].reverse()  # measured: the CLI sends them in Go map order
    assert _diffs(_with_view(docker_pass, "docker", raw)) == []
