"""The sixth-wave adversarial review's fixes, on recorded observations: the blocked signal mask,
the ignored signals and the timer slack the runtime's caller hands down (PR-SCHED-1)."""

from __future__ import annotations

import pytest

from sandproof import runtime_defaults
from sandproof.inspector import judge
from sandproof.inspector.probes import startup
from sandproof.inspector.syscalls import machine
from tests.conftest import judge_planned as _judge
from tests.conftest import planned_row as _row
from tests.conftest import recorded_observation as _obs

RUNS = {"docker-default-pass": "docker", "runc-default-pass": "runc", "podman-default-pass": "podman"}
RUNS["runsc-default"] = "runsc"


@pytest.mark.parametrize("run", RUNS)
def test_recorded_runs_show_the_signals_and_pass(run: str) -> None:
    obs = _obs(run, "PR-SCHED-1")
    assert obs["prctl"]["SigBlk"] == runtime_defaults.INHERITED["SigBlk"]
    assert obs["prctl"]["SigIgn"] == runtime_defaults.INHERITED["SigIgn"]
    assert _judge("PR-SCHED-1", obs, RUNS[run]).verdict == judge.PASS


@pytest.mark.parametrize(
    ("key", "value", "verdict"),
    [
        ("SigBlk", "0000000000802200", judge.FAIL),  # SIGUSR1, SIGALRM, SIGXCPU blocked (measured on runc)
        ("SigBlk", "0000000000000001", judge.FAIL),  # SIGHUP blocked
        ("SigIgn", "0000000001005000", judge.FAIL),  # SIGTERM ignored as well
        ("SigIgn", "0000000000000000", judge.FAIL),  # not the interpreter's own: another harness
        ("TimerSlack", "1", judge.FAIL),  # a caller's prctl(PR_SET_TIMERSLACK, 1)
        ("TimerSlack", "0", judge.FAIL),
        ("TimerSlack", "100000", judge.FAIL),  # not a fresh login's: exactly 50 us is allowed
        ("SigBlk", None, judge.FAIL),  # not asked: never a PASS
        ("SigIgn", None, judge.FAIL),
        ("TimerSlack", None, judge.FAIL),
    ],
)
def test_handed_down_signals_and_slack_fail(key: str, value: str | None, verdict: str) -> None:
    obs = _obs("runc-default-pass", "PR-SCHED-1")
    if value is None:
        obs["prctl"].pop(key)
    else:
        obs["prctl"][key] = value
    assert _judge("PR-SCHED-1", obs, "runc").verdict == verdict


def test_a_status_line_cannot_hide_the_kernel_answer() -> None:
    """A /proc that prints an empty mask beside the kernel's real one: the two disagree."""
    obs = _obs("runc-default-pass", "PR-SCHED-1")
    obs["prctl"]["SigBlk"] = "0000000000000200"
    obs["status"]["SigBlk"] = "0000000000000000"
    assert _judge("PR-SCHED-1", obs, "runc").verdict == judge.FAIL


def test_runsc_expects_no_timer_slack() -> None:
    runsc = _row("PR-SCHED-1", "runsc")["expect"]
    assert "TimerSlack" not in runsc["equal"]
    assert runsc["equal"]["SigBlk"] == "0000000000000000"
    assert _row("PR-SCHED-1", "runc")["expect"]["equal"]["TimerSlack"] == "50000"


def test_this_process_answers_like_the_status_lines() -> None:
    """The raw answers printed as /proc/self/status prints SigBlk and SigIgn (this test's own)."""
    with open("/proc/self/status", encoding="ascii") as f:
        lines = dict(line.rstrip("\n").split(":\t", 1) for line in f if line.startswith("Sig"))
    asked = startup.signals(machine())
    assert asked == {"SigBlk": lines["SigBlk"], "SigIgn": lines["SigIgn"]}


@pytest.mark.parametrize("run", RUNS)
def test_recorded_runs_start_in_the_workdir(run: str) -> None:
    obs = _obs(run, "PR-PROC-1")
    assert obs["cwd"] == "/app"
    assert _judge("PR-PROC-1", obs, RUNS[run]).verdict == judge.PASS


@pytest.mark.parametrize(
    "cwd",
    [
        "/out",  # -w /out: relative paths land in the output
        "/",
        "/app/",  # not the path the kernel names
        "(unreachable)/sys/fs/cgroup",  # a process.cwd on a leaked host fd (CVE-2024-21626)
        None,  # unreadable or not recorded: never a PASS
    ],
)
def test_another_working_directory_fails(cwd: str | None) -> None:
    obs = _obs("docker-default-pass", "PR-PROC-1")
    obs["cwd"] = cwd
    assert _judge("PR-PROC-1", obs, "docker").verdict == judge.FAIL
    obs.pop("cwd")
    assert _judge("PR-PROC-1", obs, "docker").verdict == judge.FAIL


def test_the_workdir_is_planned_per_workload() -> None:
    assert _row("PR-PROC-1", "runc")["expect"]["cwd"] == "/app"
