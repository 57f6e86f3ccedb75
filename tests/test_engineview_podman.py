"""Podman's engine view (``engineview/podman.py``): each compared field of the recorded
``podman container inspect`` (tests/assets/engine/podman-default.json, root podman 4.3.1)
changed alone FAILs naming it; the unchanged document PASSes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandproof import engineview, verify
from sandproof.engineview.inspect import OCI_CONFIG, Inspect, project
from sandproof.inspector import judge
from sandproof.runtime import watch
from tests.conftest import asset_json
from tests.test_engineview import (
    DEFAULT,
    OCI_LINUX_CASES,
    SHARED,
    Doc,
    Edit,
    _add,
    _diffs,
    _doc,
    _engine_view,
    _with_view,
    cfg,
    fails_naming_only,
    hc,
    oci,
    oci_dev_last,
    oci_mount,
    oci_proc,
    oci_res,
    oci_seccomp_without,
    oci_top,
    oci_user,
    top,
)


@pytest.fixture
def podman_pass() -> dict[str, Any]:
    return asset_json("podman-default-pass.json")


def _bind_mode(d: Doc) -> None:
    d["HostConfig"]["Binds"] = [b.replace(":/in:ro,", ":/in:rw,") for b in d["HostConfig"]["Binds"]]


def _ulimit(d: Doc) -> None:
    nofile = next(u for u in d["HostConfig"]["Ulimits"] if u["Name"] == "RLIMIT_NOFILE")
    nofile["Hard"] = 1048576


def _seccomp_file(d: Doc) -> None:
    # another file than the argv's (the one whose sha256 the evidence records)
    opts = d["HostConfig"]["SecurityOpt"]
    opts[1] = "seccomp=/etc/containers/seccomp.json"


def _oci_add(key: str, item: object) -> Edit:
    return lambda d: d["OCIConfig"][key].append(item)


def _init(d: Doc) -> None:
    """--init (containers.conf init = true): catatonit is the sandbox's first process."""
    d["OCIConfig"]["process"]["args"][:0] = ["/run/podman-init", "--"]


def _caps(key: str, value: list[str]) -> Edit:
    return lambda d: d["OCIConfig"]["process"]["capabilities"].__setitem__(key, value)


def _rlimit(d: Doc) -> None:
    nofile = next(r for r in d["OCIConfig"]["process"]["rlimits"] if r["type"] == "RLIMIT_NOFILE")
    nofile["hard"] = 1048576


def _host_file(dest: str) -> dict[str, object]:
    return {"destination": dest, "type": "bind", "source": dest, "options": ["rbind", "ro"]}


PODMAN: dict[str, list[tuple[str, Edit]]] = {
    **SHARED,
    "HostConfig.DiskQuota": [("disk-quota", hc("DiskQuota", 1 << 40))],
    "HostConfig.CgroupConf": [("cgroup-conf", hc("CgroupConf", {"memory.high": "max"}))],
    "HostConfig.Cgroups": [("cgroups-disabled", hc("Cgroups", "disabled"))],
    "HostConfig.RestartPolicy": [("restart", hc("RestartPolicy", {"Name": "always", "MaximumRetryCount": 0}))],
    "Config.Healthcheck": [("health-cmd", cfg("Healthcheck", {"Test": ["CMD-SHELL", "cat /out/*"]}))],
    "BoundingCaps": [("bounding-sys-admin", top("BoundingCaps", ["CAP_SYS_ADMIN"]))],
    "EffectiveCaps": [("effective-sys-admin", top("EffectiveCaps", ["CAP_SYS_ADMIN"]))],
    "HostConfig.Privileged": [("privileged", hc("Privileged", True))],
    "HostConfig.ReadonlyRootfs": [("writable-root", hc("ReadonlyRootfs", False))],
    "HostConfig.PublishAllPorts": [("publish-all", hc("PublishAllPorts", True))],
    "HostConfig.NetworkMode": [("host-network", hc("NetworkMode", "host"))],
    "HostConfig.PidMode": [("host-pid", hc("PidMode", "host"))],
    "HostConfig.UTSMode": [("host-uts", hc("UTSMode", "host"))],
    "HostConfig.UsernsMode": [("userns-keep-id", hc("UsernsMode", "keep-id"))],
    "HostConfig.CgroupMode": [("host-cgroupns", hc("CgroupMode", "host"))],
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
    "HostConfig.PidsLimit": [("no-pids-limit", hc("PidsLimit", 0))],
    "HostConfig.ShmSize": [("shm-size", hc("ShmSize", 1 << 30))],
    "HostConfig.Runtime": [("runtime", hc("Runtime", "krun"))],
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
    "HostConfig.CapAdd": [("cap-add", hc("CapAdd", ["CAP_SYS_ADMIN"]))],
    "HostConfig.CapDrop": [("cap-kept", lambda d: d["HostConfig"]["CapDrop"].remove("CAP_NET_RAW"))],
    "HostConfig.SecurityOpt": [
        ("seccomp-file", _seccomp_file),
        ("seccomp-unconfined", lambda d: d["HostConfig"]["SecurityOpt"].__setitem__(1, "seccomp=unconfined")),
        ("apparmor-unconfined", _add("SecurityOpt", "apparmor=unconfined")),
        ("no-new-privileges-dropped", lambda d: d["HostConfig"]["SecurityOpt"].pop(0)),
    ],
    "HostConfig.Devices": [
        ("device", hc("Devices", [{"PathOnHost": "/dev/kmsg", "PathInContainer": "/dev/kmsg"}])),
    ],
    "HostConfig.Binds": [("input-rw", _bind_mode)],
    "HostConfig.Tmpfs": [
        ("tmp-exec", lambda d: d["HostConfig"]["Tmpfs"].__setitem__("/tmp", "rw,exec,size=16m,rprivate,tmpcopyup"))
    ],
    "HostConfig.PortBindings": [("publish", hc("PortBindings", {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}))],
    "HostConfig.GroupAdd": [("group-add", hc("GroupAdd", ["0"]))],
    "HostConfig.VolumesFrom": [("volumes-from", hc("VolumesFrom", ["other"]))],
    "HostConfig.ExtraHosts": [("add-host", hc("ExtraHosts", ["vault.corp:10.9.8.7"]))],
    "HostConfig.Dns": [("dns", hc("Dns", ["10.9.8.7"]))],
    "HostConfig.DnsSearch": [("dns-search", hc("DnsSearch", ["corp.internal"]))],
    "HostConfig.DnsOptions": [("dns-option", hc("DnsOptions", ["ndots:9"]))],
    "HostConfig.Ulimits": [("ulimit", _ulimit)],
    "HostConfig.LogConfig.Type": [("log-driver", hc("LogConfig", {"Type": "k8s-file", "Config": None}))],
    "Mounts": [
        ("image-volume", _add("Mounts", {"Type": "volume", "Source": "/v", "Destination": "/data", "RW": True}, ""))
    ],
    "AppArmorProfile": [("apparmor-profile", top("AppArmorProfile", "unconfined"))],
    "ProcessLabel": [("selinux-spc", top("ProcessLabel", "system_u:system_r:spc_t:s0"))],
    "MountLabel": [("selinux-mount", top("MountLabel", "system_u:object_r:unlabeled_t:s0"))],
    "OCIRuntime": [("oci-runtime", top("OCIRuntime", "crun"))],
    "Image": [("image", top("Image", "0" * 64))],
    "Config.User": [("root", cfg("User", "0:0"))],
    "Config.OpenStdin": [("stdin-open", cfg("OpenStdin", True))],
    "Config.Tty": [("tty", cfg("Tty", True))],
    "Config.Umask": [("umask", cfg("Umask", "0000"))],
    "Config.Env": [("env", _add("Env", "AWS_SECRET_ACCESS_KEY=<value>", "Config"))],
    "Config.ExposedPorts": [("expose", cfg("ExposedPorts", {"80/tcp": {}}))],
    # the OCI config podman wrote and handed runc: what its inspect does not keep
    "OCIConfig.linux.seccomp": [
        ("seccomp-rule-removed", oci_seccomp_without("swapoff")),
        ("no-seccomp", lambda d: d["OCIConfig"]["linux"].pop("seccomp")),
    ],
    **OCI_LINUX_CASES,
    "OCIConfig.linux.uidMappings": [("uidmap", oci("uidMappings", [{"containerID": 0, "hostID": 0, "size": 1}]))],
    "OCIConfig.linux.gidMappings": [("gidmap", oci("gidMappings", [{"containerID": 0, "hostID": 0, "size": 1}]))],
    "OCIConfig.linux.mountLabel": [("mount-label", oci("mountLabel", "system_u:object_r:unlabeled_t:s0"))],
    # what podman handed runc, beside what its inspect says (engineview/podman_oci.py)
    "OCIConfig.process.args": [("init", _init)],
    "OCIConfig.process.env": [("env", lambda d: d["OCIConfig"]["process"]["env"].append("LD_PRELOAD=<value>"))],
    "OCIConfig.process.cwd": [("cwd", oci_proc("cwd", "/"))],
    "OCIConfig.process.user": [("uid-0", oci_user("uid", 0)), ("group-root", oci_user("additionalGids", [65532, 0]))],
    "OCIConfig.process.capabilities": [
        ("bounding-sys-admin", _caps("bounding", ["CAP_SYS_ADMIN"])),
        ("ambient-net-raw", _caps("ambient", ["CAP_NET_RAW"])),
    ],
    "OCIConfig.process.rlimits": [("nofile", _rlimit), ("no-rlimits", oci_proc("rlimits", []))],
    "OCIConfig.process.noNewPrivileges": [("no-new-privileges-off", oci_proc("noNewPrivileges", False))],
    "OCIConfig.process.terminal": [("terminal", oci_proc("terminal", True))],
    "OCIConfig.process.oomScoreAdj": [("oom-score-adj", oci_proc("oomScoreAdj", -1000))],
    "OCIConfig.process.apparmorProfile": [("apparmor-unconfined", oci_proc("apparmorProfile", "unconfined"))],
    "OCIConfig.process.selinuxLabel": [("selinux-spc", oci_proc("selinuxLabel", "system_u:system_r:spc_t:s0"))],
    "OCIConfig.root.readonly": [("writable-root", lambda d: d["OCIConfig"]["root"].__setitem__("readonly", False))],
    "OCIConfig.hostname": [
        ("hostname", oci_top("hostname", "vault")),
        # the engine's shape, not this container's ID (weaken/engine.py hostname-hex-chosen)
        ("hostname-hex", oci_top("hostname", "0123456789ab")),
    ],
    "OCIConfig.mounts": [
        ("localtime", _oci_add("mounts", _host_file("/etc/localtime"))),
        ("input-rw", oci_mount("/in", lambda o: ["rw", *o[1:]])),
        ("tmp-exec", oci_mount("/tmp", lambda o: [x for x in o if x != "noexec"])),
        ("cgroup-rw", oci_mount("/sys/fs/cgroup", lambda o: [*o[:-1], "rw"])),
        ("etc-hosts-writable", oci_mount("/etc/hosts", lambda o: o[:2])),
        (
            "no-mqueue-cover",
            lambda d: d["OCIConfig"]["mounts"].remove(
                next(m for m in d["OCIConfig"]["mounts"] if m["destination"] == "/dev/mqueue")
            ),
        ),
    ],
    "OCIConfig.mounts.shadowed": [("dev-last", oci_dev_last)],
    "OCIConfig.annotations": [
        (
            "systemd-property",
            lambda d: d["OCIConfig"]["annotations"].__setitem__("org.systemd.property.Delegate", "true"),
        )
    ],
    "OCIConfig.linux.namespaces": [
        ("host-network", lambda d: d["OCIConfig"]["linux"]["namespaces"].remove({"type": "network"})),
        (
            "joined-pid",
            lambda d: d["OCIConfig"]["linux"]["namespaces"].__setitem__(0, {"type": "pid", "path": "/proc/1/ns/pid"}),
        ),
    ],
    "OCIConfig.linux.resources": [
        ("no-pids-limit", lambda d: d["OCIConfig"]["linux"]["resources"].pop("pids")),
        ("devices-allowed", oci_res("devices", [{"allow": True, "access": "rwm"}])),
        ("no-resources", oci("resources", {})),
    ],
    "OCIConfig.linux.cgroupsPath": [("cgroup-elsewhere", oci("cgroupsPath", "/system.slice/elsewhere"))],
}


def test_the_recorded_podman_view_is_what_the_profile_says(podman_pass: dict[str, Any]) -> None:
    assert _with_view(podman_pass, "podman", _doc("podman"))["engine_view"] == podman_pass["engine_view"]
    assert _diffs(podman_pass) == []
    seen = _engine_view(podman_pass)
    assert seen.verdict == judge.PASS, seen.reason


def test_every_compared_podman_field_has_a_case(podman_pass: dict[str, Any]) -> None:
    assert set(podman_pass["engine_view"]["fields"]) == set(PODMAN)


@pytest.mark.parametrize(
    ("field", "edit"), [pytest.param(f, e, id=f"podman-{f}-{n}") for f, es in PODMAN.items() for n, e in es]
)
def test_each_podman_field_changed_alone_fails_naming_it(field: str, edit: Edit, podman_pass: dict[str, Any]) -> None:
    fails_naming_only(podman_pass, "podman", edit, field)


def test_podman_records_the_seccomp_files_path_not_its_policy() -> None:
    # podman 4.3.1's inspect keeps the --security-opt value as given: the policy's content is
    # not in the document, so the view compares the path (the argv's file) and nothing more
    opts = _doc("podman")["HostConfig"]["SecurityOpt"]
    assert opts[0] == "no-new-privileges"
    assert opts[1].startswith("seccomp=/")
    assert opts[1].endswith(".json")


def test_the_podman_record_never_holds_an_environment_value() -> None:
    raw = _doc("podman")
    raw["Config"]["Env"] = ["PATH=/secret/value", "TOKEN=sandproof-canary-value"]
    view = engineview.ADAPTERS["podman"].record(raw)
    assert view["fields"]["Config.Env"] == ["PATH", "TOKEN"]
    assert "sandproof-canary-value" not in json.dumps(view)


def test_a_podman_view_taken_out_of_this_sandproofs_evidence_fails() -> None:
    stripped = {k: v for k, v in asset_json("podman-default-pass.json").items() if k != "engine_view"}
    report = verify.verify(stripped, DEFAULT, policy=verify.Policy(check_inspector=True))
    seen = next(c for c in report.checks if c.name == "engine-view")
    assert seen.verdict == judge.FAIL
    assert "removed from the evidence" in seen.reason


def test_docker_and_podman_inspect_are_one_projection_their_differences_data() -> None:
    """One reading of an inspect document (engineview/inspect.py); each engine states only its Shape."""
    docker, podman = engineview.ADAPTERS["docker"], engineview.ADAPTERS["podman"]
    assert isinstance(docker, Inspect)
    assert isinstance(podman, Inspect)
    assert type(docker).project is type(podman).project is Inspect.project
    d, p = docker.shape, podman.shape
    raw = {**_doc("docker"), OCI_CONFIG: {}}
    as_docker, as_podman = project(d, raw), project(p, raw)
    differing = {k for k in as_docker.keys() | as_podman.keys() if as_docker.get(k) != as_podman.get(k)}
    plain = {k for k in d.plain.keys() | p.plain.keys() if k not in d.plain or d.plain.get(k) != p.plain.get(k)}
    stated = {f"HostConfig.{k}" for k in plain | (set(d.unordered) ^ set(p.unordered))}
    stated |= (set(d.top) ^ set(p.top)) | {f"Config.{k}" for k in set(d.config) ^ set(p.config)}
    stated |= {"HostConfig.Mounts", "Image"}  # host_mounts, bare_image
    stated |= set(d.caps) ^ set(p.caps)
    stated |= {f"{OCI_CONFIG}.linux.{k}" for k in d.oci_linux.keys() ^ p.oci_linux.keys()}
    # the OCI config's own projection: each engine's (engineview/podman_oci.py, docker_oci.py)
    assert d.oci is not None
    assert p.oci is not None
    stated |= set(p.oci(raw)) | set(d.oci(raw))
    assert differing <= stated, differing - stated


def test_podmans_oci_config_is_read_from_sandproofs_storage_by_the_containers_id(tmp_path: Path) -> None:
    """The file is found from the ID in sandproof's own storage, never at a path the document names."""
    ident = "ab" * 32
    (tmp_path / ident / "userdata").mkdir(parents=True)
    (tmp_path / ident / "userdata" / "config.json").write_text('{"linux": {"sysctl": {}}}')
    doc = {"Id": ident, "OCIConfigPath": "/etc/elsewhere.json"}
    assert watch.with_oci_config(doc, tmp_path) == {**doc, OCI_CONFIG: {"linux": {"sysctl": {}}}}
    assert watch.with_oci_config({"Id": "../" + ident}, tmp_path) == "podman's inspect names no container ID"
    gone = watch.with_oci_config({"Id": "cd" * 32}, tmp_path)
    assert isinstance(gone, str)
    assert gone.endswith("could not be read: No such file or directory")
    (tmp_path / ident / "userdata" / "config.json").write_text("[]")
    assert str(watch.with_oci_config(doc, tmp_path)).endswith("is not an object")
    # a view without the config is the engine's document of another shape: a FAIL with why
    assert "problem" in engineview.ADAPTERS["podman"].record(_doc("podman") | {OCI_CONFIG: None})
