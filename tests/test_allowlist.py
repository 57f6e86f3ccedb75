"""Seccomp allowlists (issue 11, seed §4b): the model's keys and refusals, the rendered filter
(floors, the clone condition, no rule that acts as the default, runc's ENOSYS past the last
name), the plan's table sweep and its judge; on real engines, learn -> load -> attest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandproof import contract, plan, profile, runtime_defaults, seccomp, sweep, tomldata
from sandproof.cli import main
from sandproof.errors import ProfileError
from sandproof.image import build
from sandproof.inspector import judge, syscalls
from sandproof.workload import trace
from sandproof.workload.learn import learn
from tests.conftest import RUN_DATE

LEARNED = profile.load("learned-example")
DEFAULT_TEXT = profile.load("default").text
SECCOMP = """[seccomp]
file_name = "s.json"
default_action = "errno"
default_errno = "EPERM"
architectures = ["x86_64"]
deny_clone_namespaces = true
rules = [{ errno = "ENOSYS", names = ["clone3"] }]

[seccomp.allow]
x86_64 = ["read", "write"]
"""


def _with(seccomp_table: str, tmp_path: Path) -> profile.Profile:
    head = DEFAULT_TEXT[: DEFAULT_TEXT.index("[seccomp]")]
    path = tmp_path / "p.toml"
    path.write_text(head + seccomp_table)
    return profile.load(str(path))


def test_an_allowlist_loads_and_keeps_the_default_profiles_digest(tmp_path: Path) -> None:
    p = _with(SECCOMP, tmp_path)
    assert (p.seccomp.default_action, p.seccomp.default_errno) == ("errno", "EPERM")
    assert p.seccomp.allow == {"x86_64": ("read", "write")}
    # the new keys stay out of the digest at their defaults: old bundles still verify
    default = profile.load("default")
    assert default.seccomp.allow == {}
    assert {"allow", "default_errno"}.isdisjoint(tomldata.canonical(default)["seccomp"])
    # as before the keys (98b95825...) but for mount_setattr and, since, the process-memory calls denied
    assert default.digest == "e10124a98c20fa1a90e74fb008897500c7daa704e7e76018a613fafebbfbdf3b"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("x86_64 = [", "x86_46 = ["), r"unknown key 'seccomp\.allow\.x86_46'.*did you mean 'x86_64'"),
        (('"read", "write"', '"read", "wrte"'), r"seccomp\.allow\.x86_64'.*'wrte'.*did you mean 'write'"),
        (('"read", "write"', '"read", "read"'), r"each syscall once, got read"),
        (('"read", "write"', '"read", "clone3"'), r"allowed or denied, not both; 'clone3' is in rules\[0\]"),
        (('default_errno = "EPERM"\n', ""), r"seccomp\.default_errno.*required"),
        (('default_errno = "EPERM"', 'default_errno = "EPREM"'), r"did you mean 'EPERM'"),
        (('default_action = "errno"', 'default_action = "allow"'), r"no default errno while"),
        (('architectures = ["x86_64"]', 'architectures = ["x86_64", "aarch64"]'), r"seccomp\.allow\.aarch64"),
        (('default_action = "errno"', 'default_action = "deny"'), r"one of allow, errno"),
    ],
)
def test_an_allowlist_is_refused_naming_the_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        _with(SECCOMP.replace(*change), tmp_path)


def test_one_rule_serves_every_architecture_so_the_lists_must_agree(tmp_path: Path) -> None:
    text = SECCOMP.replace('["x86_64"]', '["x86_64", "aarch64"]') + 'aarch64 = ["read"]\n'
    with pytest.raises(ProfileError, match=r"seccomp\.allow\.aarch64.*missing: write"):
        _with(text, tmp_path)
    # open exists on x86_64 only: it need not (cannot) be listed for aarch64
    both = text.replace('aarch64 = ["read"]', 'aarch64 = ["read", "write"]')
    both = both.replace('x86_64 = ["read", "write"]', 'x86_64 = ["read", "write", "open"]')
    assert _with(both, tmp_path).seccomp.allow["x86_64"] == ("read", "write", "open")


def test_the_filter_is_the_list_plus_both_floors(tmp_path: Path) -> None:
    p = _with(SECCOMP, tmp_path)
    policy = seccomp.policy(p)
    assert (policy["defaultAction"], policy["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", 1)
    allow, clone, clone3 = policy["syscalls"]
    floors = runtime_defaults.SECCOMP_RUNTIME_FLOOR | runtime_defaults.SECCOMP_HARNESS_FLOOR
    want = {n for n in {"read", "write", *floors} if syscalls.exists(n, "x86_64")} - {"clone"}
    assert set(allow["names"]) == want
    assert allow["action"] == "SCMP_ACT_ALLOW"
    # clone only without a namespace flag: one masked test on the whole set
    assert clone["args"] == [{"index": 0, "value": seccomp.NAMESPACE_MASK, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    assert sum(syscalls.CLONE_NAMESPACE_FLAGS.values()) == seccomp.NAMESPACE_MASK
    assert clone3 == {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}


def test_a_rule_that_acts_as_the_default_is_not_rendered(tmp_path: Path) -> None:
    """runc skips it silently (libcontainer/seccomp/seccomp_linux.go matchCall)."""
    p = _with(
        SECCOMP.replace('[{ errno = "ENOSYS"', '[{ errno = "EPERM", names = ["socket"] }, { errno = "ENOSYS"'), tmp_path
    )
    rendered = seccomp.policy(p)["syscalls"]
    assert not any("socket" in r["names"] for r in rendered)
    assert seccomp.answers(p, "x86_64")["socket"] == "EPERM"


def test_past_the_last_named_syscall_runc_answers_enosys(tmp_path: Path) -> None:
    p = _with(SECCOMP, tmp_path)
    got = seccomp.answers(p, "x86_64")
    last = syscalls.number("clone3", "x86_64")  # the highest name the JSON holds
    assert got["pidfd_getfd"] == "ENOSYS"
    assert syscalls.number("pidfd_getfd", "x86_64") > last
    assert got["memfd_create"] == "EPERM"
    assert got["read"] is None
    # an ENOSYS default has no stub: everything outside is ENOSYS anyway
    enosys = _with(SECCOMP.replace('"EPERM"', '"ENOSYS"'), tmp_path)
    assert seccomp.answers(enosys, "x86_64")["memfd_create"] == "ENOSYS"


def test_the_plan_sweeps_the_whole_table_for_an_allowlist() -> None:
    row = plan.expectations(LEARNED, "runc")["PR-SECCOMP-SWEEP"]
    want = row["expect"]["table"]["arches"]["x86_64"]
    assert set(want) == set(syscalls.TABLES["x86_64"])
    assert row["params"]["table"]["arches"]["x86_64"] == sorted(want)
    allowed = {n for n, e in want.items() if e is None}
    assert allowed == seccomp.allowed(LEARNED, "x86_64") - {"clone", "execve"}
    assert want["clone"] == "EPERM"  # TABLE_ARGS carry the namespace flags
    assert want["execve"] == "EPERM"  # the L2 guard stacks on top
    assert "table" not in plan.expectations(profile.load("default"), "runc")["PR-SECCOMP-SWEEP"]["expect"]


def _obs(answers: dict[str, str]) -> dict[str, object]:
    return {"arch": "x86_64", "attempts": [], "groups": [], "table": {"arch": "x86_64", "answers": answers}}


def _expect() -> dict[str, object]:
    answers = {
        "x86_64": {"read": None, "write": None, "memfd_create": "EPERM", "vhangup": "EPERM", "pidfd_getfd": "ENOSYS"}
    }
    params, expect = sweep.table_row(answers, "EPERM", None)
    assert params["arches"] == {"x86_64": sorted(answers["x86_64"])}
    return {"errno": {}, "classes": {}, "groups": {}, "random": {}, "indistinct": [], "table": expect}


GOOD = {"read": "EBADF", "write": "EBADF", "memfd_create": "EPERM", "vhangup": "EPERM", "pidfd_getfd": "ENOSYS"}


def test_the_table_judge_passes_the_exact_answers() -> None:
    got = judge.judge("sweep", _expect(), _obs(GOOD))
    assert got.verdict == "PASS", got.reason
    assert "3 syscalls outside the allowlist refused as configured (1 where the kernel says EPERM first)" in got.reason


@pytest.mark.parametrize(
    ("changes", "verdict", "reason"),
    [
        ({"memfd_create": "EINVAL"}, "FAIL", "memfd_create answered EINVAL, expected EPERM"),
        ({"pidfd_getfd": "EPERM"}, "FAIL", "pidfd_getfd answered EPERM, expected ENOSYS"),
        ({"write": "EPERM"}, "FAIL", "syscalls the profile allows refused with EPERM on x86_64: write"),
        ({"vhangup": "ok"}, "FAIL", "vhangup answered ok"),
        ({"extra": "EPERM"}, "ERROR", "not planned ['extra']"),
    ],
)
def test_the_table_judge_names_what_is_extra_or_missing(changes: dict[str, str], verdict: str, reason: str) -> None:
    got = judge.judge("sweep", _expect(), _obs({**GOOD, **changes}))
    assert (got.verdict, reason in got.reason) == (verdict, True), got.reason


def test_the_table_judge_refuses_what_was_not_tried() -> None:
    partial = {k: v for k, v in GOOD.items() if k != "read"}
    assert judge.judge("sweep", _expect(), _obs(partial)).verdict == "ERROR"
    other = _obs(GOOD)
    other["table"] = {"arch": "aarch64", "answers": GOOD}
    assert judge.judge("sweep", _expect(), other).verdict == "ERROR"
    assert (
        judge.judge("sweep", _expect(), {**_obs(GOOD), "table": {"arch": "x86_64", "answers": {"read": 1}}}).verdict
        == "ERROR"
    )


def test_the_trace_leaves_out_calls_made_in_a_foreign_abi() -> None:
    log = (
        '9  execve("/bin/x", ["/bin/x"], 0x0 /* 0 vars */) = 0\n'
        "[ Process PID=9 runs in 32 bit mode. ]\n"
        "9  getppid()                         = -1 EPERM (Operation not permitted)\n"
        "[ Process PID=9 runs in 64 bit mode. ]\n"
        "9  exit_group(0)                     = ?\n"
    )
    got = trace.parse(log, "/bin/x")
    assert got.other_abi
    assert got.workload == {"execve", "exit_group"}


@pytest.mark.engine("runc")  # learn traces runc
def test_the_harness_needs_no_more_than_its_floor(tmp_path: Path) -> None:
    """Learn the inspector itself with the default profile's plan, as the floor was measured."""
    base = profile.load("default")
    plan_doc = plan.build(base, "runc")
    (tmp_path / plan.PLAN_NAME).write_text(json.dumps({**plan_doc, "run_date": RUN_DATE}))
    name, data = contract.INPUT_PACKET
    (tmp_path / name).write_bytes(data)
    tmp_path.chmod(0o755)
    # this tree's inspector as built, the layers runc's attest unpacks: the reproducible build
    # is the very image Docker would hold under the tag (image.ensure_docker loads these bytes),
    # without asking Docker for it (its tag is swapped by the Docker tests running meanwhile)
    learned = learn(base, build(base), plan.harness_args(base, RUN_DATE), runs=2, in_dir=tmp_path, foreign_abi=True)
    tried_only = {"execveat"}  # the guard's denial, tried by PR-EXEC-1's siblings
    needed = set(learned.allow()) - runtime_defaults.SECCOMP_RUNTIME_FLOOR - tried_only
    extra = needed - runtime_defaults.SECCOMP_HARNESS_FLOOR
    said = [(i, sorted(r.workload & extra), sorted(r.runtime & extra), r.exit_code) for i, r in enumerate(learned.runs)]
    assert not extra, (sorted(extra), said)


@pytest.mark.engine
@pytest.mark.parametrize("runtime", ["docker", "runc"])
def test_learn_then_attest_under_the_learned_profile(
    runtime: str, learned_example: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    learned = learned_example  # `sandproof learn` of the example (its exit code is asserted there)
    p = profile.load(str(learned))
    assert p.seccomp.default_action == "errno"
    out = tmp_path / "out"
    assert (
        main(["attest", "--profile", str(learned), "--runtime", runtime, "--out", str(out), "--run-date", RUN_DATE])
        == 0
    )
    assert "PASS: " in capsys.readouterr().out
    inside = json.loads((out / "sandbox-attestation-inside.json").read_text())
    sweep_row = next(r for r in inside["probes"] if r["probe_id"] == "PR-SECCOMP-SWEEP")
    assert sweep_row["verdict"] == "PASS"
    answers = sweep_row["observation"]["table"]["answers"]
    allowed = seccomp.allowed(p, "x86_64")
    outside = set(syscalls.TABLES["x86_64"]) - allowed
    # every syscall outside the list was tried and refused: EPERM, or ENOSYS past runc's last name
    assert outside <= set(answers)
    assert all(answers[n] in ("EPERM", "ENOSYS") for n in outside), {n: answers[n] for n in outside}
