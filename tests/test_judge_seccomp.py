"""The seccomp judges on observations recorded from real Docker and runc runs, then on
the same observations changed the way a tuned or widened filter changes them."""

from __future__ import annotations

from typing import Any

import pytest

from sandproof import sweep
from sandproof.inspector import judge
from tests.conftest import judge_planned as _judge
from tests.conftest import planned_row as _row
from tests.conftest import recorded_observation as _obs

RUNS = ("docker-default-pass", "runc-default-pass")


def _attempt(obs: dict[str, Any], name: str, cls: str) -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in obs["attempts"] if a["name"] == name and a["class"] == cls)
    return found


@pytest.mark.parametrize("run", RUNS)
def test_recorded_sweep_passes_and_tried_every_class(run: str) -> None:
    obs = _obs(run, "PR-SECCOMP-SWEEP")
    v = _judge("PR-SECCOMP-SWEEP", obs)
    assert v.verdict == judge.PASS, v.reason
    assert "drawn at random" in v.reason
    drawn = [a for a in obs["attempts"] if a["class"] == "random"]
    assert {a["name"] for a in drawn} == set(sweep.RANDOM_DRAWS)
    assert all("args" in a for a in drawn)  # the draws are in the evidence


@pytest.mark.parametrize(
    ("name", "cls", "answer", "named"),
    [
        (
            "socket",
            "AF_INET/SOCK_STREAM, high bits",
            {"ret": 7, "errno": None},
            "socket(AF_INET/SOCK_STREAM, high bits) returned 7",
        ),
        ("socket", "AF_NETLINK/SOCK_RAW, high bits", {"ret": -93, "errno": "EPROTONOSUPPORT"}, "socket(AF_NETLINK"),
        ("clone", "CLONE_NEWUSER|SIGCHLD, high bits", {"ret": 41, "errno": None}, "clone(CLONE_NEWUSER|SIGCHLD, high"),
        ("ptrace", "SEIZE", {"ret": -3, "errno": "ESRCH"}, "ptrace(SEIZE) ESRCH"),
        ("io_uring_setup", "IORING_SETUP_SQPOLL", {"ret": 7, "errno": None}, "io_uring_setup(IORING_SETUP_SQPOLL)"),
        ("clone3", "no args", {"ret": -1, "errno": "EPERM"}, "clone3(no args) EPERM, expected ENOSYS"),
    ],
)
def test_one_class_let_through_fails_and_is_named(name: str, cls: str, answer: dict[str, Any], named: str) -> None:
    obs = _obs("docker-default-pass", "PR-SECCOMP-SWEEP")
    _attempt(obs, name, cls).update(answer)
    v = _judge("PR-SECCOMP-SWEEP", obs)
    assert v.verdict == judge.FAIL
    assert named in v.reason


def test_a_random_draw_let_through_fails_with_its_arguments() -> None:
    obs = _obs("runc-default-pass", "PR-SECCOMP-SWEEP")
    drawn = next(a for a in obs["attempts"] if a["class"] == "random" and a["name"] == "socket")
    drawn.update(ret=5, errno=None)
    v = _judge("PR-SECCOMP-SWEEP", obs)
    assert v.verdict == judge.FAIL
    assert f"socket(random {drawn['args']}) returned 5" in v.reason


@pytest.mark.parametrize(
    "change",
    [
        lambda o: o["attempts"].remove(_attempt(o, "socket", "AF_UNIX/SOCK_STREAM, high bits")),
        lambda o: o.update(attempts=[a for a in o["attempts"] if a["class"] != "random" or a["name"] != "clone"]),
        lambda o: o["attempts"].append({"name": "getpid", "class": "base", "ret": -1, "errno": "EPERM"}),
        lambda o: o["attempts"].append({"name": "socket", "class": "x", "errno": "EPERM"}),
        lambda o: o.update(attempts="none"),
        lambda o: o.pop("attempts"),
    ],
)
def test_missing_class_draw_or_malformed_attempt_is_error(change: Any) -> None:
    obs = _obs("docker-default-pass", "PR-SECCOMP-SWEEP")
    change(obs)
    assert _judge("PR-SECCOMP-SWEEP", obs).verdict == judge.ERROR


def test_plan_keeps_the_classes_groups_do_not_cover() -> None:
    classes = _row("PR-SECCOMP-SWEEP")["expect"]["classes"]
    assert "AF_INET/SOCK_STREAM, high bits" in classes["socket"]
    assert "CLONE_NEWUSER|SIGCHLD, high bits" in classes["clone"]
    assert {"TRACEME", "ATTACH", "SEIZE", "PEEKDATA", "POKEDATA", "GETREGS"} <= set(classes["ptrace"])
    assert "IORING_SETUP_SQPOLL" in classes["io_uring_setup"]
    assert classes["connect"] == ["base"]  # its fd classes are in connect:addresses


@pytest.mark.parametrize("run", RUNS)
def test_recorded_foreign_abis_are_refused(run: str) -> None:
    obs = _obs(run, "PR-SECCOMP-ABI")
    assert obs["abis"]["i386"]["signal"] == "SIGSYS"  # libseccomp's bad-arch action: kill
    v = _judge("PR-SECCOMP-ABI", obs)
    assert v.verdict == judge.PASS, v.reason


@pytest.mark.parametrize(
    ("abi", "answer", "verdict", "said"),
    [
        ("i386", {"signal": None, "ret": 7, "errno": None}, judge.FAIL, "i386 returned 7: the call ran"),
        ("x32", {"signal": None, "ret": -38, "errno": "ENOSYS"}, judge.FAIL, "x32 ENOSYS: it reached the kernel"),
        ("x32", {"signal": None, "ret": -1, "errno": "EPERM"}, judge.PASS, "x32 refused with EPERM"),
        ("i386", {"signal": "SIGSEGV", "ret": None, "errno": None}, judge.UNVERIFIED, "killed by SIGSEGV"),
        ("i386", {"signal": None, "ret": None, "errno": None}, judge.ERROR, "neither"),
        ("x32", None, judge.ERROR, "no attempt"),
    ],
)
def test_foreign_abi_answers(abi: str, answer: Any, verdict: str, said: str) -> None:
    obs = _obs("docker-default-pass", "PR-SECCOMP-ABI")
    obs["abis"][abi] = answer
    v = _judge("PR-SECCOMP-ABI", obs)
    assert v.verdict == verdict
    assert said in v.reason


def test_foreign_abi_on_aarch64_says_what_is_not_checked() -> None:
    v = _judge("PR-SECCOMP-ABI", {"arch": "aarch64", "abis": {}})
    assert v.verdict == judge.PASS
    assert "not exercised" in v.reason
    assert _judge("PR-SECCOMP-ABI", {"arch": "riscv64"}).verdict == judge.ERROR
    assert _judge("PR-SECCOMP-ABI", {"harness_error": "no foreign-ABI observation"}).verdict == judge.ERROR


def test_an_architecture_the_profile_lists_must_get_through() -> None:
    obs = _obs("docker-default-pass", "PR-SECCOMP-ABI")
    row = _row("PR-SECCOMP-ABI")
    expect = {"allowed": {**row["expect"]["allowed"], "i386": True}}
    v = judge.judge("abi", expect, obs)
    assert v.verdict == judge.FAIL
    assert "i386 killed by SIGSYS (in the profile's architectures)" in v.reason


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda o: o["attempts"].insert(5, "not an attempt"), "no sweep attempts recorded"),
        (lambda o: o["attempts"][7].update(name=7), "a sweep attempt without name, class or return value"),
        (lambda o: o["attempts"][-1].update(ret="-1"), "a sweep attempt without name, class or return value"),
    ],
)
def test_a_malformed_attempt_anywhere_is_error_and_named(change: Any, said: str) -> None:
    obs = _obs("runc-default-pass", "PR-SECCOMP-SWEEP")
    change(obs)
    v = _judge("PR-SECCOMP-SWEEP", obs)
    assert v.verdict == judge.ERROR
    assert said in v.reason


def test_a_repeated_attempt_is_counted_as_often_as_it_was_made() -> None:
    obs = _obs("docker-default-pass", "PR-SECCOMP-SWEEP")
    before = _judge("PR-SECCOMP-SWEEP", obs)
    fixed = next(a for a in obs["attempts"] if a["class"] != "random")
    obs["attempts"].append(dict(fixed))
    after = _judge("PR-SECCOMP-SWEEP", obs)
    assert before.verdict == after.verdict == judge.PASS
    n = int(before.reason.split(" argument classes")[0].rsplit(" ", 1)[1])
    assert f" {n + 1} argument classes" in after.reason
