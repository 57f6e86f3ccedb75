"""Docker's engine view beside its inspect: the OCI config dockerd handed runc
(``engineview/docker_oci.py``, read from the task's bundle by runtime/watch.py). Each compared
field of the recorded config (tests/assets/engine/docker-default.json ``OCIConfig``, Docker
20.10 here) changed alone FAILs naming it, with the inspect unchanged: what a daemon.json
setting or a runtime wrapper changes and ``docker inspect`` does not show."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandproof import engineview
from sandproof.engineview import docker_oci
from sandproof.engineview.inspect import OCI_CONFIG
from sandproof.runtime import watch
from tests.test_engineview import (
    OCI_LINUX_CASES,
    Doc,
    Edit,
    _diffs,
    _doc,
    _with_view,
    fails_naming_only,
    oci,
    oci_dev_last,
    oci_mount,
    oci_proc,
    oci_res,
    oci_seccomp_without,
    oci_top,
    oci_user,
)


def _caps(key: str, value: list[str]) -> Edit:
    return lambda d: d["OCIConfig"]["process"].setdefault("capabilities", {}).__setitem__(key, value)


def _add_mount(dest: str, source: str) -> Edit:
    return lambda d: d["OCIConfig"]["mounts"].append(
        {"destination": dest, "type": "bind", "source": source, "options": ["rbind", "rprivate"]}
    )


def _rlimit(d: Doc) -> None:
    """daemon.json ``default-ulimits`` for a name the profile leaves out (here: "as" unlimited)."""
    d["OCIConfig"]["process"]["rlimits"].append({"type": "RLIMIT_AS", "soft": 2**64 - 1, "hard": 2**64 - 1})


def _hook(d: Doc) -> None:
    """A runtime wrapper's hook (daemon.json ``runtimes`` naming a wrapper that adds one)."""
    d["OCIConfig"]["hooks"]["createContainer"] = [{"path": "/usr/bin/nvidia-container-runtime-hook"}]


def _hook_elsewhere(d: Doc) -> None:
    d["OCIConfig"]["hooks"]["prestart"][0]["path"] = "/tmp/setkey"


def _init(d: Doc) -> None:
    """daemon.json ``init: true``: docker-init is the sandbox's first process (HostConfig.Init stays null)."""
    d["OCIConfig"]["process"]["args"][:0] = ["/sbin/docker-init", "--"]


DOCKER_OCI: dict[str, list[tuple[str, Edit]]] = {
    "OCIConfig.process.args": [("daemon-init", _init)],
    "OCIConfig.process.env": [("env", lambda d: d["OCIConfig"]["process"]["env"].append("LD_PRELOAD=<value>"))],
    "OCIConfig.process.cwd": [("cwd", oci_proc("cwd", "/"))],
    "OCIConfig.process.user": [("uid-0", oci_user("uid", 0)), ("group-root", oci_user("additionalGids", [65532, 0]))],
    "OCIConfig.process.capabilities": [
        ("bounding-sys-admin", _caps("bounding", ["CAP_SYS_ADMIN"])),
        ("ambient-net-raw", _caps("ambient", ["CAP_NET_RAW"])),
    ],
    "OCIConfig.process.rlimits": [
        ("default-ulimits", _rlimit),
        ("no-rlimits", lambda d: d["OCIConfig"]["process"].pop("rlimits")),
    ],
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
        ("docker-socket", _add_mount("/var/run/docker.sock", "/var/run/docker.sock")),
        ("input-rw", oci_mount("/in", lambda o: [x for x in o if x != "ro"])),
        ("tmp-exec", oci_mount("/tmp", lambda o: [x for x in o if x != "noexec"])),
        ("cgroup-rw", oci_mount("/sys/fs/cgroup", lambda o: ["rw", *o[1:]])),
        ("etc-hosts-writable", oci_mount("/etc/hosts", lambda o: [x for x in o if x != "ro"])),
        (
            "no-mqueue-cover",
            lambda d: d["OCIConfig"]["mounts"].remove(
                next(m for m in d["OCIConfig"]["mounts"] if m["destination"] == "/dev/mqueue")
            ),
        ),
    ],
    "OCIConfig.mounts.shadowed": [("dev-last", oci_dev_last)],
    "OCIConfig.hooks": [("wrapper-hook", _hook), ("setkey-elsewhere", _hook_elsewhere)],
    "OCIConfig.annotations": [
        ("systemd-property", oci_top("annotations", {"org.systemd.property.Delegate": "true"})),
    ],
    "OCIConfig.linux.namespaces": [
        ("no-cgroupns", lambda d: d["OCIConfig"]["linux"]["namespaces"].remove({"type": "cgroup"})),
        (
            "joined-pid",
            lambda d: d["OCIConfig"]["linux"]["namespaces"].__setitem__(3, {"type": "pid", "path": "/proc/1/ns/pid"}),
        ),
    ],
    "OCIConfig.linux.resources": [
        ("no-pids-limit", lambda d: d["OCIConfig"]["linux"]["resources"].pop("pids")),
        ("devices-allowed", oci_res("devices", [{"allow": True, "access": "rwm"}])),
        ("no-memory-limit", oci_res("memory", {"disableOOMKiller": False})),
        ("no-resources", oci("resources", {})),
    ],
    "OCIConfig.linux.cgroupsPath": [("cgroup-elsewhere", oci("cgroupsPath", "/system.slice/elsewhere"))],
    "OCIConfig.linux.seccomp": [
        ("seccomp-rule-removed", oci_seccomp_without("kexec_load")),
        ("daemon-seccomp-unconfined", lambda d: d["OCIConfig"]["linux"].pop("seccomp")),
    ],
    **OCI_LINUX_CASES,
    "OCIConfig.linux.uidMappings": [
        ("userns-remap", oci("uidMappings", [{"containerID": 0, "hostID": 100000, "size": 65536}]))
    ],
    "OCIConfig.linux.gidMappings": [
        ("userns-remap", oci("gidMappings", [{"containerID": 0, "hostID": 100000, "size": 65536}]))
    ],
    "OCIConfig.linux.mountLabel": [("mount-label", oci("mountLabel", "system_u:object_r:unlabeled_t:s0"))],
}
UNLISTED: dict[str, Edit] = {
    # fields no listing names: an engine (or a wrapper) that writes one FAILs until it is declared
    "OCIConfig.process.scheduler": oci_proc("scheduler", {"policy": "SCHED_FIFO", "priority": 99}),
    "OCIConfig.linux.intelRdt": oci("intelRdt", {"closID": "host"}),
    "OCIConfig.linux.rootfsPropagation": oci("rootfsPropagation", "rshared"),
    "OCIConfig.vm": oci_top("vm", {"hypervisor": {"path": "/usr/bin/qemu"}}),
}


@pytest.fixture
def docker_pass() -> dict[str, Any]:
    data = json.loads((Path(__file__).parent / "assets/bundles/docker-default-pass.json").read_text())
    assert isinstance(data, dict)
    return data


def test_every_compared_oci_field_has_a_case(docker_pass: dict[str, Any]) -> None:
    assert {f for f in docker_pass["engine_view"]["fields"] if f.startswith("OCIConfig.")} == set(DOCKER_OCI)


@pytest.mark.parametrize(
    ("field", "edit"), [pytest.param(f, e, id=f"docker-{f}-{n}") for f, es in DOCKER_OCI.items() for n, e in es]
)
def test_each_oci_field_changed_alone_fails_naming_it(field: str, edit: Edit, docker_pass: dict[str, Any]) -> None:
    fails_naming_only(docker_pass, "docker", edit, field)


@pytest.mark.parametrize(("field", "edit"), [pytest.param(f, e, id=f) for f, e in UNLISTED.items()])
def test_an_unlisted_oci_field_fails_naming_it(field: str, edit: Edit, docker_pass: dict[str, Any]) -> None:
    raw = _doc("docker")
    edit(raw)
    diffs = _diffs(_with_view(docker_pass, "docker", raw))
    assert diffs == [f"{field} is recorded but neither compared nor declared inert"]


def test_the_record_never_holds_an_environment_value() -> None:
    raw = _doc("docker")
    raw[OCI_CONFIG]["process"]["env"] = ["PATH=/secret/value", "TOKEN=sandproof-canary-value"]
    view = engineview.ADAPTERS["docker"].record(raw)
    assert view["fields"]["OCIConfig.process.env"] == ["PATH", "TOKEN"]
    assert "sandproof-canary-value" not in json.dumps(view)


def test_without_the_oci_config_the_view_is_a_problem() -> None:
    """A view without the spec cannot rule out what the daemon merged in: a FAIL with why."""
    raw = {k: v for k, v in _doc("docker").items() if k != OCI_CONFIG}
    view = engineview.ADAPTERS["docker"].record(raw)
    assert view["problem"] == "the engine's document has another shape: 'OCIConfig'"
    assert "fields" not in view


def test_the_config_is_read_from_containerds_task_directory_by_the_containers_id(tmp_path: Path) -> None:
    """dockerd's own containerd first (the socket's exec root), then the host's; never a path
    the engine's document names."""
    own, system = tmp_path / "own", tmp_path / "system"
    ident = "ab" * 32
    (system / ident).mkdir(parents=True)
    (system / ident / "config.json").write_text('{"linux": {}}')
    assert watch.read_oci_config([own, system], ident) == {"linux": {}}
    (own / ident).mkdir(parents=True)
    (own / ident / "config.json").write_text('{"linux": {"sysctl": {}}}')
    assert watch.read_oci_config([own, system], ident) == {"linux": {"sysctl": {}}}
    assert watch.read_oci_config([own, system], "../" + ident) == "the start event names no container ID"
    gone = watch.read_oci_config([own, system], "cd" * 32)
    assert isinstance(gone, str)
    assert gone.count("could not be read: No such file or directory") == 2
    (own / ident / "config.json").write_text("[]")
    assert str(watch.read_oci_config([own], ident)).endswith("is not an object")


def test_the_roots_follow_the_engines_socket() -> None:
    tasks = "containerd/daemon/io.containerd.runtime.v2.task/moby"
    assert watch.docker_oci_roots("/var/run/docker.sock") == [
        Path(f"/var/run/docker/{tasks}"),
        Path("/run/containerd/io.containerd.runtime.v2.task/moby"),
    ]
    assert watch.docker_oci_roots("/run/user/1000/docker.sock")[0] == Path(f"/run/user/1000/docker/{tasks}")


def test_a_remote_engine_records_why_its_config_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    started = {"Id": "ab" * 32, "State": {"StartedAt": "2026-11-28T00:00:00Z"}}
    monkeypatch.setattr(watch, "_poll_inspect", lambda *_: lambda _stop: started)
    view = watch.docker_cli("docker", "sandproof-x", {"DOCKER_HOST": "tcp://10.0.0.1:2376"}).finish()
    assert view["problem"].startswith("Docker's OCI config cannot be read: the engine at tcp://10.0.0.1:2376")


def test_the_policy_as_docker_writes_it() -> None:
    """Measured on Docker 20.10: a valueTwo of 0 is left out, defaultErrnoRet dropped. EPERM,
    what runc answers without one, is the same filter; another errno is still expected, so a
    Docker that drops it FAILs the view (its sandbox answers EPERM)."""
    rule = {"names": ["clone"], "action": "SCMP_ACT_ALLOW"}
    policy = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "syscalls": [
            {**rule, "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {**rule, "args": [{"index": 0, "value": 8, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        ],
    }
    assert docker_oci._as_dockerd_writes(policy) == {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {**rule, "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_MASKED_EQ"}]},
            {**rule, "args": [{"index": 0, "value": 8, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        ],
    }
    assert docker_oci._as_dockerd_writes({**policy, "defaultErrnoRet": 38})["defaultErrnoRet"] == 38
    assert docker_oci._as_dockerd_writes({"defaultAction": "SCMP_ACT_ALLOW"}) == {"defaultAction": "SCMP_ACT_ALLOW"}
