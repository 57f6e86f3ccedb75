"""Process tree, namespaces, rlimits, sysctls, OOM killer and cpu shares: the profile knobs
(load errors, docker argv, OCI config) and the judges on recorded observations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandproof import plan, profile
from sandproof.errors import ProfileError
from sandproof.inspector import judge
from sandproof.inspector.judges import limits
from sandproof.render import docker, oci
from tests.conftest import judge_planned as _judge
from tests.conftest import planned_row as _row
from tests.conftest import recorded_observation as _obs

DEFAULT = profile.load("default")
RUNS = ("docker-default-pass", "runc-default-pass")
NEW = ("PR-PROC-1", "PR-NS-CGROUP", "PR-NS-USER", "PR-RLIMIT-1", "PR-SYSCTL-1", "PR-CG-OOM", "PR-CG-SHARES")


def _write(tmp_path: Path, old: str, new: str) -> str:
    text = DEFAULT.text.replace(old, new, 1)
    assert text != DEFAULT.text
    f = tmp_path / "p.toml"
    f.write_text(text)
    return str(f)


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("core = 0 ", "coer = 0 ", "did you mean 'core'"),
        ("nofile = 1024", "nofile = -1", "resources.ulimits.nofile"),
        ("nofile = 1024", "nofile = { soft = 2048, hard = 1024 }", "soft limit no higher than the hard"),
        ("nofile = 1024", "nofile = { soft = 1, hardd = 2 }", "did you mean 'hard'"),
        ('cgroup = "private"', 'cgroup = "shared"', "namespaces.cgroup"),
        ('user = "host"', 'user = "private"', "namespaces.user"),
        ("cpu_shares = 512", "cpu_shares = 1", "2..262144"),
        ("oom_kill_disable = false", 'oom_kill_disable = "no"', "true or false"),
        ('memory_swap = "256m"', 'memory_swap = "128m"', "at least memory"),
        ("[sysctls]\n", '[sysctls]\n"kernel.shmmaxx" = "1"\n', "did you mean 'kernel.shmmax'"),
        ("[sysctls]\n", '[sysctls]\n"vm.swappiness" = "1"\n', "namespaced sysctl"),
        ("[sysctls]\n", '[sysctls]\n"net.core.somaxconn" = ["1"]\n', "a string or integer"),
    ],
)
def test_bad_knobs_refused_at_load(tmp_path: Path, old: str, new: str, needle: str) -> None:
    with pytest.raises(ProfileError) as err:
        profile.load(_write(tmp_path, old, new))
    assert needle in err.value.message


def test_net_sysctl_refused_with_host_network(tmp_path: Path) -> None:
    path = _write(tmp_path, "[sysctls]\n", '[sysctls]\n"net.core.somaxconn" = 1\n')
    assert profile.load(path).sysctls == {"net.core.somaxconn": "1"}
    text = Path(path).read_text().replace('mode = "none"', 'mode = "host"', 1)
    Path(path).write_text(text)
    with pytest.raises(ProfileError, match="shared with the host"):
        profile.load(path)


def test_default_declares_every_rlimit() -> None:
    assert set(DEFAULT.resources.ulimits) == set(limits.RLIMIT_NAMES)
    assert len(limits.RLIMIT_NAMES) == 16
    assert DEFAULT.resources.ulimits["core"] == (0, 0)
    assert DEFAULT.resources.ulimits["as"] == (limits.UNLIMITED, limits.UNLIMITED)
    assert DEFAULT.namespaces.cgroup == "private"
    assert DEFAULT.namespaces.user == "host"


def test_docker_flags() -> None:
    argv = docker.argv(DEFAULT, in_dir="I", out_dir="O", seccomp_file="S", run_date="D")
    line = " ".join(argv)
    for flag in ("--cgroupns private", "--userns host", "--cpu-shares 512", "--ulimit core=0:0"):
        assert flag in line
    assert "--ulimit rss=-1:-1" in line  # unlimited
    assert "--ulimit as=" not in line  # docker has no "as"
    assert "--oom-kill-disable" not in argv
    assert sum(a == "--ulimit" for a in argv) == 15
    weak = profile.parse(DEFAULT.text.replace("[sysctls]\n", '[sysctls]\n"kernel.msgmax" = 65536\n'), "t")
    assert "kernel.msgmax=65536" in docker.argv(weak, in_dir="I", out_dir="O", seccomp_file="S", run_date="D")


def test_docker_cannot_set_address_space() -> None:
    weak = profile.parse(DEFAULT.text.replace('as = "unlimited"', "as = 1073741824"), "t")
    with pytest.raises(ProfileError, match="only runc"):
        docker.argv(weak, in_dir="I", out_dir="O", seccomp_file="S", run_date="D")


def test_seed_renders_none_of_the_new_flags() -> None:
    seed = profile.load("b4-prime-seed")
    line = " ".join(docker.argv(seed, in_dir="I", out_dir="O", seccomp_file="S", run_date="D"))
    for flag in ("--cgroupns", "--userns", "--ulimit", "--cpu-shares", "--sysctl"):
        assert flag not in line


def test_oci_config() -> None:
    cfg = oci.config(DEFAULT, in_dir="I", out_dir="O", run_date="D")
    assert {"type": "cgroup"} in cfg["linux"]["namespaces"]
    assert not any(n["type"] == "user" for n in cfg["linux"]["namespaces"])
    rl = {r["type"]: (r["soft"], r["hard"]) for r in cfg["process"]["rlimits"]}
    assert len(rl) == 16
    assert rl["RLIMIT_NOFILE"] == (1024, 1024)
    assert rl["RLIMIT_AS"][0] == limits.UNLIMITED
    assert cfg["linux"]["resources"]["cpu"]["shares"] == 512
    assert "disableOOMKiller" not in cfg["linux"]["resources"]["memory"]
    assert "sysctl" not in cfg["linux"]  # runc adds none itself
    weak = profile.parse(DEFAULT.text.replace("oom_kill_disable = false", "oom_kill_disable = true"), "t")
    assert oci.config(weak, in_dir="I", out_dir="O", run_date="D")["linux"]["resources"]["memory"]["disableOOMKiller"]


def test_sysctl_expectation_per_runtime() -> None:
    dk, _ = plan.sysctls(DEFAULT, "docker")
    rc, optional = plan.sysctls(DEFAULT, "runc")
    assert dk["net.ipv4.ip_unprivileged_port_start"] == "0"
    assert rc["net.ipv4.ip_unprivileged_port_start"] == "1024"
    assert dk["net.ipv4.ping_group_range"] == "0 2147483647"
    assert rc["net.ipv4.ping_group_range"] == "1 0"
    assert "net.ipv4.ping_group_range" in optional  # a kernel default, absent on some kernels
    set_ = profile.parse(DEFAULT.text.replace("[sysctls]\n", '[sysctls]\n"net.ipv4.ping_group_range" = "0 0"\n'), "t")
    values, optional = plan.sysctls(set_, "docker")
    assert values["net.ipv4.ping_group_range"] == "0 0"
    assert "net.ipv4.ping_group_range" not in optional


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("probe_id", NEW)
def test_recorded_observations_pass(run: str, probe_id: str) -> None:
    assert _judge(probe_id, _obs(run, probe_id), run.split("-", maxsplit=1)[0]).verdict == judge.PASS


def _init(o: dict[str, Any]) -> None:
    start = o["startup"]
    harness = start["processes"]["1"]
    start["processes"] = {"1": {"ppid": 0, "cmdline": ["/sbin/docker-init", "--", *harness["cmdline"]]}, "7": harness}
    start["self"] = 7


@pytest.mark.parametrize(
    ("probe_id", "change", "verdict"),
    [
        ("PR-PROC-1", _init, judge.FAIL),
        ("PR-PROC-1", lambda o: o["startup"]["processes"].update({"9": {"ppid": 0, "cmdline": ["sleep"]}}), judge.FAIL),
        ("PR-PROC-1", lambda o: o["live"].update({"12": 0}), judge.FAIL),  # joined from outside (docker exec)
        ("PR-PROC-1", lambda o: o["startup"]["processes"]["1"].update(cmdline=["sh"]), judge.FAIL),
        ("PR-PROC-1", lambda o: o.update(startup=None), judge.ERROR),
        ("PR-NS-CGROUP", lambda o: o.update(link="cgroup:[4026531835]"), judge.FAIL),
        ("PR-NS-CGROUP", lambda o: o.update(cgroup="1:cpu:/docker/abc\n0::/docker/abc\n"), judge.FAIL),
        ("PR-NS-CGROUP", lambda o: o.update(cgroup=""), judge.ERROR),
        ("PR-NS-USER", lambda o: o.update(uid_map="0 100000 65536\n"), judge.FAIL),
        ("PR-NS-USER", lambda o: o.update(gid_map=None), judge.ERROR),
        ("PR-RLIMIT-1", lambda o: o["limits"].update(core=["0", "unlimited"]), judge.FAIL),
        ("PR-RLIMIT-1", lambda o: o["limits"].pop("nofile"), judge.ERROR),
        ("PR-RLIMIT-1", lambda o: o.update(limits={}), judge.ERROR),
        ("PR-SYSCTL-1", lambda o: o["values"].update({"kernel.shmmni": "32768"}), judge.FAIL),
        ("PR-SYSCTL-1", lambda o: o["values"].update({"net.ipv4.ping_group_range": None}), judge.FAIL),
        ("PR-SYSCTL-1", lambda o: o["values"].update({"net.core.somaxconn": None}), judge.PASS),  # older kernel
        ("PR-SYSCTL-1", lambda o: o["values"].pop("kernel.sem"), judge.ERROR),
        ("PR-CG-OOM", lambda o: o["files"].update({limits.OOM_FILE: "oom_kill_disable 1\nunder_oom 0\n"}), judge.FAIL),
        ("PR-CG-OOM", lambda o: o["files"].update({limits.OOM_FILE: "garbage"}), judge.ERROR),
        ("PR-CG-SHARES", lambda o: o["files"].update({limits.SHARES_FILES[0]: "1024"}), judge.FAIL),
        ("PR-CG-SHARES", lambda o: o.update(files=dict.fromkeys(o["files"])), judge.UNVERIFIED),
    ],
)
def test_weakened_observations_do_not_pass(probe_id: str, change: Any, verdict: str) -> None:
    obs = _obs("docker-default-pass", probe_id)
    change(obs)
    assert _judge(probe_id, obs).verdict == verdict


def test_undeclared_rlimit_is_unverified() -> None:
    row = _row("PR-RLIMIT-1")
    expect = {"limits": {**row["expect"]["limits"], "locks": None}}
    assert judge.judge("rlimits", expect, _obs("runc-default-pass", "PR-RLIMIT-1")).verdict == judge.UNVERIFIED


def test_cgroup_v2_oom_and_weight() -> None:
    v2 = {
        "files": {
            limits.V2_MARKER: "cpu memory pids",
            limits.WEIGHT_FILE: str(limits.v2_weight(512)),
            limits.OOM_SCORE_ADJ: "0",
        }
    }
    want = {"oom_kill_disable": False, "oom_score_adj": 0}
    assert judge.judge("cg_oom", want, v2).verdict == judge.PASS
    assert judge.judge("cg_oom", {**want, "oom_kill_disable": True}, v2).verdict == judge.UNVERIFIED
    raised = {"files": {**v2["files"], limits.OOM_SCORE_ADJ: "500"}}
    assert "oom_score_adj is 500" in judge.judge("cg_oom", want, raised).reason
    assert judge.judge("cg_shares", {"shares": 512}, v2).verdict == judge.PASS
    assert judge.judge("cg_shares", {"shares": 0}, v2).verdict == judge.FAIL  # weight 100 expected
    assert limits.v2_weight(1024) == 39  # runc's conversion


def test_parse_limits() -> None:
    text = (
        "Limit                     Soft Limit           Hard Limit           Units     \n"
        "Max core file size        0                    unlimited            bytes     \n"
        "Max nice priority         0                    0                    \n"
    )
    assert limits.parse_limits(text) == {"core": ["0", "unlimited"], "nice": ["0", "0"]}


BFQ_V1 = "/sys/fs/cgroup/blkio/blkio.bfq.weight"
BFQ_V1_DEVICE = "/sys/fs/cgroup/blkio/blkio.bfq.weight_device"
CFQ_V1, CFQ_V1_DEVICE = "/sys/fs/cgroup/blkio/blkio.weight", "/sys/fs/cgroup/blkio/blkio.weight_device"
CFQ_LEAF, CFQ_LEAF_DEVICE = "/sys/fs/cgroup/blkio/blkio.leaf_weight", "/sys/fs/cgroup/blkio/blkio.leaf_weight_device"


@pytest.mark.parametrize(
    ("edit", "verdict", "said"),
    [
        ({}, judge.PASS, "blkio.bfq.weight, blkio.bfq.weight_device at the kernel's default"),
        ({BFQ_V1: "1000\n"}, judge.FAIL, "blkio.bfq.weight is '1000', expected '100'"),
        ({BFQ_V1_DEVICE: "default 100\n7:0 1000\n"}, judge.FAIL, "blkio.bfq.weight_device is 'default 100\\n7:0 1000'"),
        ({BFQ_V1: None, BFQ_V1_DEVICE: None}, judge.PASS, "no block I/O weight here"),
        # CFQ (before Linux 5.0): its own default, device lines only
        ({CFQ_V1: "500\n", CFQ_V1_DEVICE: ""}, judge.PASS, "blkio.weight, blkio.weight_device at"),
        ({CFQ_V1: "1000\n"}, judge.FAIL, "blkio.weight is '1000', expected '500'"),
        ({CFQ_V1_DEVICE: "8:0 1000\n"}, judge.FAIL, "blkio.weight_device is '8:0 1000'"),
        # CFQ's leaf weights (OCI blockIO.leafWeight): the same default, no device line
        ({CFQ_LEAF: "500\n", CFQ_LEAF_DEVICE: ""}, judge.PASS, "blkio.leaf_weight, blkio.leaf_weight_device at"),
        ({CFQ_LEAF: "1000\n"}, judge.FAIL, "blkio.leaf_weight is '1000', expected '500'"),
        ({CFQ_LEAF_DEVICE: "8:0 1000\n"}, judge.FAIL, "blkio.leaf_weight_device is '8:0 1000'"),
        # cgroup v2: BFQ's and blk-iocost's, a "default" line then one per device
        ({"/sys/fs/cgroup/io.weight": "default 100\n"}, judge.PASS, "io.weight"),
        ({"/sys/fs/cgroup/io.bfq.weight": "default 10000\n"}, judge.FAIL, "io.bfq.weight is 'default 10000'"),
        ({"/sys/fs/cgroup/io.weight": "default 100\n8:0 10000\n"}, judge.FAIL, "io.weight is"),
    ],
)
def test_block_io_weights_are_the_kernels_default(edit: dict[str, str | None], verdict: str, said: str) -> None:
    """PR-CG-SHARES: every block I/O weight file there at the kernel's default for a new cgroup,
    no weight given to one device; on the real Docker record first."""
    obs = _obs("docker-default-pass", "PR-CG-SHARES")
    assert obs["files"][BFQ_V1] == "100\n"  # recorded from a real run on this kernel (BFQ, cgroup v1)
    obs["files"].update(edit)
    got = judge.judge("cg_shares", _row("PR-CG-SHARES")["expect"], obs)
    assert got.verdict == verdict, got.reason
    assert said in got.reason


def test_a_wrong_block_io_weight_fails_even_where_the_cpu_shares_cannot_be_read() -> None:
    obs = {"files": {BFQ_V1: "1000\n"}}
    assert judge.judge("cg_shares", {"shares": 512}, obs).verdict == judge.FAIL
    assert judge.judge("cg_shares", {"shares": 512}, {"files": {BFQ_V1: "100\n"}}).verdict == judge.UNVERIFIED


@pytest.mark.parametrize("value", [1000, 100, ["100"], {"v": "100"}, True])
def test_a_cgroup_file_recorded_as_anything_but_text_is_malformed(value: object) -> None:
    """Review 17: a value that is not text was dropped as "not there", so blkio.bfq.weight
    recorded as the number 1000 PASSed; it is ERROR, for every cgroup judge."""
    obs = _obs("docker-default-pass", "PR-CG-SHARES")
    obs["files"][BFQ_V1] = value
    got = judge.judge("cg_shares", _row("PR-CG-SHARES")["expect"], obs)
    assert got.verdict == judge.ERROR, got.reason
    assert "neither text nor null" in got.reason


@pytest.mark.parametrize("value", [" 100\n", "100 \n", "100\n\n", "0100\n", "default 100\n", "100", "100\r\n"])
def test_a_weight_is_read_as_the_kernel_writes_it(value: str) -> None:
    obs = _obs("docker-default-pass", "PR-CG-SHARES")
    obs["files"][BFQ_V1] = value
    assert judge.judge("cg_shares", _row("PR-CG-SHARES")["expect"], obs).verdict == judge.FAIL
