"""Judges of the newer probes, on observations recorded from real Docker and runc runs,
then on the same observations changed the way a weakened sandbox changes them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sandproof import plan, profile
from sandproof.inspector import judge
from tests.conftest import asset_json

EXPECT = {r["probe_id"]: r for r in plan.probes(profile.load("default"), "docker")}
RUNS = ("docker-default-pass", "runc-default-pass")


def _obs(run: str, probe_id: str) -> dict[str, Any]:
    rec = next(r for r in asset_json(f"{run}.json")["probes"] if r["probe_id"] == probe_id)
    return copy.deepcopy(rec["observation"])


def _judge(probe_id: str, obs: dict[str, Any]) -> judge.Judgement:
    row = EXPECT[probe_id]
    return judge.judge(row["kind"], row["expect"], obs)


NEW = (
    "PR-ID-1",
    "PR-CAP-1",
    "PR-NNP-1",
    "PR-SECCOMP-1",
    "PR-SECCOMP-SWEEP",
    "PR-SECCOMP-ABI",
    "PR-THREAD-1",
    "PR-USERNS-1",
    "PR-NS-PID",
    "PR-NS-IPC",
    "PR-NS-UTS",
    "PR-NS-TIME",
    "PR-TMP-NOEXEC",
    "PR-SUID-1",
    "PR-SOCK-ANY",
    "PR-FD-1",
    "PR-CG-PIDS",
    "PR-CG-MEM",
    "PR-CG-CPU",
)


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("probe_id", NEW)
def test_recorded_observations_pass(run: str, probe_id: str) -> None:
    row = next(r for r in plan.probes(profile.load("default"), run.partition("-")[0]) if r["probe_id"] == probe_id)
    assert judge.judge(row["kind"], row["expect"], _obs(run, probe_id)).verdict == judge.PASS


@pytest.mark.parametrize(
    ("probe_id", "change", "verdict"),
    [
        ("PR-ID-1", lambda o: o["status"].update(Uid="0\t0\t0\t0"), judge.FAIL),
        ("PR-ID-1", lambda o: o["status"].update(Groups="65532 27"), judge.FAIL),
        ("PR-CAP-1", lambda o: o["status"].update(CapBnd="00000000a80425fb"), judge.FAIL),
        ("PR-NNP-1", lambda o: o["status"].update(NoNewPrivs="0"), judge.FAIL),
        ("PR-SECCOMP-1", lambda o: o["status"].update(Seccomp="0", Seccomp_filters="0"), judge.FAIL),
        ("PR-THREAD-1", lambda o: o.update(outcome="error", message="can't start new thread"), judge.FAIL),
        (
            "PR-USERNS-1",
            lambda o: o["routes"].update(clone={"outcome": "created", "errno": None, "ret": 42}),
            judge.FAIL,
        ),
        (
            "PR-USERNS-1",
            lambda o: o["routes"].update(clone3={"outcome": "error", "errno": "EPERM", "ret": -1}),
            judge.FAIL,
        ),
        # the raw return contradicts the outcome recorded beside it: neither is believed
        ("PR-USERNS-1", lambda o: o["routes"]["unshare"].update(ret=0), judge.ERROR),
        ("PR-USERNS-1", lambda o: o["routes"]["clone3"].update(ret=-1), judge.ERROR),  # -1 is EPERM, not ENOSYS
        ("PR-USERNS-1", lambda o: o["routes"]["clone"].update(outcome="created"), judge.ERROR),
        ("PR-NS-PID", lambda o: o.update(link="pid:[4026531836]"), judge.FAIL),
        ("PR-NS-IPC", lambda o: o.update(link="ipc:[4026531839]"), judge.FAIL),
        ("PR-NS-UTS", lambda o: o.update(link="uts:[4026531838]"), judge.FAIL),
        ("PR-NS-UTS", lambda o: o.update(link="net:[1]"), judge.ERROR),
        # a caller's own time namespace (unshare --time), for the sandbox or only its children
        ("PR-NS-TIME", lambda o: o.update(link="time:[4026532177]"), judge.FAIL),
        ("PR-NS-TIME", lambda o: o.update(children="time:[4026532177]"), judge.FAIL),
        ("PR-NS-TIME", lambda o: o.update(children=None), judge.ERROR),
        ("PR-NS-TIME", lambda o: o.update(link="pid:[4026531834]"), judge.ERROR),
        # /proc/self/ns as no kernel lists it: a name it has not, out of order, or without the probed one
        ("PR-NS-UTS", lambda o: o.update(listed=[*o["listed"], "utsx"]), judge.ERROR),
        ("PR-NS-UTS", lambda o: o.update(listed=sorted(o["listed"], reverse=True)), judge.ERROR),
        ("PR-NS-PID", lambda o: o.update(listed=[n for n in o["listed"] if n != "pid"]), judge.ERROR),
        # a success recorded with an errno, or with more than the probe writes
        ("PR-THREAD-1", lambda o: o.update(errno="EPERM"), judge.ERROR),
        ("PR-FS-OUT-OK", lambda o: o.update(message="written elsewhere"), judge.ERROR),
        ("PR-TMP-NOEXEC", lambda o: o.update(outcome="mapped", errno=None), judge.FAIL),
        ("PR-SUID-1", lambda o: o["setid"].append("/usr/bin/su"), judge.FAIL),
        ("PR-SUID-1", lambda o: o.update(complete=False), judge.UNVERIFIED),
        ("PR-SOCK-ANY", lambda o: o["sockets"].append("/var/tmp/engine.sock"), judge.FAIL),
        ("PR-FD-1", lambda o: o["fds"].append(7), judge.FAIL),
    ],
)
def test_weakened_observations_do_not_pass(probe_id: str, change: Any, verdict: str) -> None:
    obs = _obs("docker-default-pass", probe_id)
    change(obs)
    assert _judge(probe_id, obs).verdict == verdict


V1_LIMITS = {  # cgroup v1 files as a limited container shows them
    "/sys/fs/cgroup/pids/pids.max": "64",
    "/sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456",
    "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes": "268435456",
    "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "100000",
    "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000",
}
V2_LIMITS = {  # the same limits on cgroup v2 (memory.swap.max counts swap alone)
    "/sys/fs/cgroup/pids.max": "64",
    "/sys/fs/cgroup/memory.max": "268435456",
    "/sys/fs/cgroup/memory.swap.max": "0",
    "/sys/fs/cgroup/cpu.max": "100000 100000",
}


@pytest.mark.parametrize("files", [V1_LIMITS, V2_LIMITS], ids=["v1", "v2"])
def test_cgroup_limits_v1_and_v2(files: dict[str, str]) -> None:
    for probe_id in ("PR-CG-PIDS", "PR-CG-MEM", "PR-CG-CPU"):
        assert _judge(probe_id, {"files": files}).verdict == judge.PASS, probe_id
    unlimited = {k: ("max" if v != "100000" else v) for k, v in files.items()}
    unlimited.update({k: "9223372036854771712" for k in files if "memory" in k and "v1" not in k and "memory/" in k})
    unlimited.update({k: "-1" for k in files if k.endswith("cfs_quota_us")})
    unlimited.update({k: "max 100000" for k in files if k.endswith("cpu.max")})
    for probe_id in ("PR-CG-PIDS", "PR-CG-MEM", "PR-CG-CPU"):
        assert _judge(probe_id, {"files": unlimited}).verdict == judge.FAIL, probe_id
    assert _judge("PR-CG-PIDS", {"files": {}}).verdict == judge.UNVERIFIED
