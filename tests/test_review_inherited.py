"""The fifth-wave review's fixes, on recorded observations: what the runtime's caller hands down
(PR-SCHED-1), another process's sockets in the network namespace (PR-NET-2), the CFS period
(PR-CG-CPU), the NIS domain name (PR-SYSCTL-1), and the sweep's real-argument classes."""

from __future__ import annotations

from typing import Any

import pytest

from sandproof import plan, profile, sweep
from sandproof.inspector import judge
from sandproof.inspector.judges import limits
from sandproof.inspector.probes import startup
from tests.conftest import judge_planned as _judge
from tests.conftest import planned_row as _row
from tests.conftest import recorded_observation as _obs

DEFAULT = profile.load("default")
RUNS = ("docker-default-pass", "runc-default-pass", "podman-default-pass", "runsc-default")
RUNTIME = {"docker-default-pass": "docker", "runc-default-pass": "runc", "podman-default-pass": "podman"}
RUNTIME["runsc-default"] = "runsc"
SOCKSTAT_LISTENER = (
    "sockets: used 2\nTCP: inuse 1 orphan 0 tw 0 alloc 2 mem 227\nUDP: inuse 0 mem 0\nUDPLITE: inuse 0\n"
    "RAW: inuse 0\nFRAG: inuse 0 memory 0\n"
)
PING_SOCKET = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer\n"
    " 0: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000 65532 0 1 2 0 0\n"
)


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("probe_id", ["PR-SCHED-1", "PR-NET-2", "PR-SYSCTL-1"])
def test_recorded_runs_pass(run: str, probe_id: str) -> None:
    assert _judge(probe_id, _obs(run, probe_id), RUNTIME[run]).verdict == judge.PASS


def _set_prctl(key: str, value: str | None) -> Any:
    def change(o: dict[str, Any]) -> None:
        if value is None:
            o["prctl"].pop(key)
        else:
            o["prctl"][key] = value

    return change


@pytest.mark.parametrize(
    ("probe_id", "change", "verdict"),
    [
        ("PR-SCHED-1", _set_prctl("Personality", "00040000"), judge.FAIL),  # setarch -R: ASLR off
        ("PR-SCHED-1", _set_prctl("Personality", "00400000"), judge.FAIL),  # READ_IMPLIES_EXEC
        ("PR-SCHED-1", _set_prctl("Nice", "-15"), judge.FAIL),
        ("PR-SCHED-1", _set_prctl("Nice", "-0"), judge.FAIL),
        ("PR-SCHED-1", _set_prctl("SchedPolicy", "1"), judge.FAIL),  # SCHED_FIFO
        ("PR-SCHED-1", _set_prctl("IoPrio", "8192"), judge.FAIL),  # ionice -c1: real time
        ("PR-SCHED-1", _set_prctl("IoPrio", "16384"), judge.FAIL),  # ionice -c2 -n0
        ("PR-SCHED-1", _set_prctl("MemoryMerge", "1"), judge.FAIL),  # every page offered to KSM
        ("PR-SCHED-1", _set_prctl("Nice", "20"), judge.FAIL),  # not a nice value
        ("PR-SCHED-1", _set_prctl("IoPrio", "16387"), judge.FAIL),  # ionice -c2 -n3: above nice 0's
        # a caller that lowered its own priority (a CI runner under nice, ionice -c3, chrt -b)
        ("PR-SCHED-1", _set_prctl("Nice", "19"), judge.PASS),
        ("PR-SCHED-1", _set_prctl("IoPrio", "16391"), judge.PASS),  # best effort at nice 19's level
        ("PR-SCHED-1", _set_prctl("IoPrio", "24576"), judge.PASS),  # ionice -c3: idle
        ("PR-SCHED-1", _set_prctl("SchedPolicy", "3"), judge.PASS),  # SCHED_BATCH
        ("PR-SCHED-1", _set_prctl("SchedPolicy", "5"), judge.PASS),  # SCHED_IDLE
        ("PR-SCHED-1", _set_prctl("Personality", None), judge.FAIL),  # not asked: never a PASS
        ("PR-NET-2", lambda o: o["sockets"].update(sockstat=SOCKSTAT_LISTENER), judge.FAIL),
        ("PR-NET-2", lambda o: o["sockets"].update(icmp=PING_SOCKET), judge.FAIL),
        ("PR-NET-2", lambda o: o["sockets"].update(sockstat="TCP: inuse x"), judge.ERROR),
        ("PR-NET-2", lambda o: o["sockets"].pop("icmp"), judge.ERROR),
        ("PR-NET-2", lambda o: o["sockets"].update(icmp6=7), judge.ERROR),
        ("PR-NET-2", lambda o: o.pop("sockets"), judge.UNVERIFIED),  # a harness before: never a PASS
        ("PR-NET-2", lambda o: o["sockets"].update(sockstat=None), judge.ERROR),  # unread: nothing was seen
        ("PR-NET-2", lambda o: o["sockets"].update(packet=None), judge.PASS),  # a kernel without it
        ("PR-SYSCTL-1", lambda o: o["values"].update({"kernel.domainname": "corp.internal"}), judge.FAIL),
    ],
)
def test_weakened_observations_do_not_pass(probe_id: str, change: Any, verdict: str) -> None:
    obs = _obs("runc-default-pass", probe_id)
    change(obs)
    assert _judge(probe_id, obs, "runc").verdict == verdict


def test_nice_by_status_line_needs_the_kernel_answer() -> None:
    obs = _obs("runc-default-pass", "PR-SCHED-1")
    obs["prctl"]["Nice"] = "-15"
    obs["status"]["Nice"] = "0"
    assert _judge("PR-SCHED-1", obs, "runc").verdict == judge.FAIL


def test_runsc_expects_no_personality() -> None:
    runsc, runc = _row("PR-SCHED-1", "runsc")["expect"], _row("PR-SCHED-1", "runc")["expect"]
    assert "Personality" not in runsc["equal"]
    assert "IoPrio" not in {**runsc["equal"], **runsc["one_of"]}
    assert runc["equal"]["Personality"] == "00000000"
    assert "16388" in runc["one_of"]["IoPrio"]
    assert "Nice" in runsc["one_of"]


def test_a_lowered_priority_passes_whole() -> None:
    """nice 10 as a CI runner may start the suite: the kernel answers best effort at level 6 too."""
    obs = _obs("runc-default-pass", "PR-SCHED-1")
    obs["prctl"].update(Nice="10", IoPrio=str(startup.io_priority(0, "10")))
    obs["status"].pop("Nice", None)
    assert _judge("PR-SCHED-1", obs, "runc").verdict == judge.PASS


@pytest.mark.parametrize("period", ["1000000", "10000"])
def test_cfs_period_is_exact(period: str) -> None:
    # the same cpus (quota / period = 1) with another period
    v1 = {limits.CGROUP_FILES["cpu"][0]: period, limits.CGROUP_FILES["cpu"][1]: period}
    assert _judge("PR-CG-CPU", {"files": v1}).verdict == judge.FAIL
    v2 = {limits.CGROUP_FILES["cpu"][2]: f"{period} {period}"}
    assert _judge("PR-CG-CPU", {"files": v2}).verdict == judge.FAIL
    ok = {limits.CGROUP_FILES["cpu"][2]: "100000 100000"}
    assert _judge("PR-CG-CPU", {"files": ok}).verdict == judge.PASS


def test_no_network_plans_every_socket_table() -> None:
    row = _row("PR-NET-2")
    assert row["expect"]["sockets"] == []
    assert row["params"]["socket_tables"] == plan.SOCKET_TABLES


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("add_key", "type user, no such keyring"),
        ("request_key", "type user, no such keyring"),
        ("mq_unlink", "name user"),
        ("mq_notify", "fd /dev/null"),
        ("mq_timedsend", "fd /dev/null"),
        ("mq_timedreceive", "fd /dev/null"),
        ("mq_getsetattr", "fd /dev/null"),
    ],
)
def test_sweep_tries_real_arguments_beside_the_base_vector(name: str, cls: str) -> None:
    """A filter tuned to the base vector's NULL or -1 passed the sweep before these classes."""
    tried = {(n, c) for n, c, _, _ in sweep.attempts(dict.fromkeys(sweep.BASE_ARGS, "EPERM"), None)}
    assert (name, cls) in tried
    assert (name, "base") in tried


@pytest.mark.parametrize(
    ("answer", "nice", "recorded"),
    [
        (0, "0", 16388),  # Linux 6.18: no class set
        (16388, "0", 16388),  # Linux 6.1: the same, spelled out
        (0, "-15", 16385),  # no class, the level follows nice
        (8192, "0", 8192),  # real time is kept as it is
        (16384, "0", 16384),  # best effort at level 0 too
        (0, None, 0),  # no nice answered: nothing to spell out
    ],
)
def test_io_priority_spells_out_no_class(answer: int, nice: str | None, recorded: int) -> None:
    assert startup.io_priority(answer, nice) == recorded
