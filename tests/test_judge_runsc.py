"""gVisor's judge paths on a real runsc bundle (tests/assets/bundles/runsc-default.json,
recorded by ``python -m tests.assets.record runsc``): the fields gVisor's /proc lacks shown by
prctl, the sentry's own namespaces, writes refused by mkdir, limits runsc does not enforce;
then the same observations forged one field at a time, which must FAIL."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from sandproof import plan, profile, runtime_defaults, verify
from sandproof.inspector import judge
from tests.conftest import asset_json
from tests.forge import by_id, make_consistent

DEFAULT = profile.load("default")
ROWS = {r["probe_id"]: r for r in plan.probes(DEFAULT, "runsc")}
BUNDLE = "runsc-default.json"
Edit = Callable[[dict[str, Any]], object]


def _obs(probe_id: str) -> dict[str, Any]:
    rec = next(r for r in asset_json(BUNDLE)["probes"] if r["probe_id"] == probe_id)
    return copy.deepcopy(rec["observation"])


def _judge(probe_id: str, obs: dict[str, Any]) -> judge.Judgement:
    row = ROWS[probe_id]
    return judge.judge(row["kind"], row["expect"], obs)


def test_the_bundle_ran_under_gvisor() -> None:
    b = asset_json(BUNDLE)
    assert b["runtime"] == "runsc"
    assert b["runtime_platform"] == "ptrace"
    assert "--oci-seccomp" in b["argv"]


def test_verify_recomputes_exactly_the_documented_gvisor_fails() -> None:
    report = verify.verify(asset_json(BUNDLE), DEFAULT)
    failing = {p.probe_id: p.reason for p in report.probes if p.verdict != judge.PASS}
    assert set(failing) == runtime_defaults.RUNSC_NOT_PASSING
    for pid, (phrase, _why) in runtime_defaults.RUNSC_TRUE_FAILS.items():
        assert phrase in failing[pid], (pid, failing[pid])
    assert all(c.verdict == judge.PASS for c in report.checks), [c for c in report.checks if c.verdict != "PASS"]


@pytest.mark.parametrize(("probe_id", "field"), [("PR-NNP-1", "NoNewPrivs"), ("PR-CAP-1", "CapAmb")])
def test_a_field_gvisor_does_not_print_is_shown_by_prctl(probe_id: str, field: str) -> None:
    obs = _obs(probe_id)
    assert obs["status"][field] is None  # gVisor's /proc/self/status has no such line
    v = _judge(probe_id, obs)
    assert v.verdict == judge.PASS
    assert f"{field} by prctl" in v.reason


def test_seccomp_filter_count_from_mode_2_by_status_and_prctl() -> None:
    obs = _obs("PR-SECCOMP-1")
    assert obs["status"]["Seccomp_filters"] is None
    assert _judge("PR-SECCOMP-1", obs).verdict == judge.PASS
    for where in ("status", "prctl"):  # either answer alone is not enough
        forged = copy.deepcopy(obs)
        forged[where]["Seccomp"] = "0"
        assert _judge("PR-SECCOMP-1", forged).verdict == judge.FAIL, where


FORGED: dict[str, tuple[str, Edit]] = {
    "prctl-nnp-0": ("PR-NNP-1", lambda o: o["prctl"].update(NoNewPrivs="0")),
    "status-nnp-0": ("PR-NNP-1", lambda o: o["status"].update(NoNewPrivs="0")),  # /proc and prctl disagree
    "prctl-cap-amb": ("PR-CAP-1", lambda o: o["prctl"].update(CapAmb="0000000000200000")),
    "ns-listed-host-ipc": ("PR-NS-IPC", lambda o: o.update(listed=["ipc", "net", "pid", "user"])),
    # the host's UTS link, listed as the kernel would list it (a bare link is no listing: ERROR)
    "ns-uts-link-initial": ("PR-NS-UTS", lambda o: o.update(link="uts:[4026531838]", listed=[*o["listed"], "uts"])),
    "ns-cgroup-paths": ("PR-NS-CGROUP", lambda o: o.update(cgroup="0::/docker/abc\n")),
    "ns-cgroup-listed": ("PR-NS-CGROUP", lambda o: o.update(listed=["cgroup", "net", "pid", "user"])),
    "ns-time-listed": ("PR-NS-TIME", lambda o: o.update(listed=["net", "pid", "time", "user"])),
    "write-eacces": ("PR-FS-ESC-1", lambda o: o.update(errno="EACCES")),
    "write-succeeded": ("PR-FS-RO-IN", lambda o: o.update(errno=None, outcome="wrote")),
}


@pytest.mark.parametrize("name", sorted(FORGED))
def test_one_forged_field_fails(name: str) -> None:
    probe_id, edit = FORGED[name]
    obs = _obs(probe_id)
    assert _judge(probe_id, obs).verdict == judge.PASS
    edit(obs)
    assert _judge(probe_id, obs).verdict == judge.FAIL, name


def test_sentry_namespaces_pass_only_under_the_runsc_plan() -> None:
    """A missing link is gVisor's truth only where the plan says runsc; on runc it is no evidence."""
    runc = {r["probe_id"]: r for r in plan.probes(DEFAULT, "runc")}
    for pid in ("PR-NS-IPC", "PR-NS-UTS", "PR-NS-TIME", "PR-NS-CGROUP"):
        assert ROWS[pid]["expect"]["sentry"] is True
        assert _judge(pid, _obs(pid)).verdict == judge.PASS
        assert judge.judge(runc[pid]["kind"], runc[pid]["expect"], _obs(pid)).verdict != judge.PASS, pid


def test_writes_are_refused_by_mkdir_with_erofs() -> None:
    for pid in ("PR-FS-RO-IN", "PR-FS-ESC-1", "PR-FS-ESC-2"):
        assert ROWS[pid]["params"]["mkdir"] is True
        assert ROWS[pid]["expect"] == {"errno_in": runtime_defaults.WRITE_REFUSED["runsc"]}
        assert _judge(pid, _obs(pid)).verdict == judge.PASS


@pytest.mark.parametrize("probe_id", ["PR-CG-PIDS", "PR-CG-MEM", "PR-CG-CPU", "PR-CG-OOM", "PR-CG-SHARES"])
def test_unenforced_limits_fail_naming_the_reason(probe_id: str) -> None:
    assert ROWS[probe_id]["expect"]["unenforced"] == runtime_defaults.CGROUPS_UNENFORCED["runsc"]
    v = _judge(probe_id, _obs(probe_id))
    assert v.verdict == judge.FAIL
    assert runtime_defaults.CGROUPS_UNENFORCED["runsc"] in v.reason


def _bundle_with(probe_id: str, edit: Edit) -> verify.Report:
    b = copy.deepcopy(asset_json(BUNDLE))
    edit(by_id(b)[probe_id]["observation"])
    return verify.verify(make_consistent(b), DEFAULT)


def test_the_attacker_alone_changes_nothing() -> None:
    report = _bundle_with("PR-NNP-1", lambda _obs: None)
    assert {p.probe_id for p in report.probes if p.verdict != judge.PASS} == runtime_defaults.RUNSC_NOT_PASSING


@pytest.mark.parametrize("name", ["prctl-nnp-0", "prctl-cap-amb", "ns-uts-link-initial", "write-eacces"])
def test_a_consistently_forged_bundle_fails_on_its_edit(name: str) -> None:
    """The attacker recomputes every verdict and the summary: the edited fact itself still FAILs."""
    probe_id, edit = FORGED[name]
    report = _bundle_with(probe_id, edit)
    assert report.verdict == judge.FAIL
    assert {p.probe_id: p.verdict for p in report.probes}[probe_id] == judge.FAIL


def _mount_edit(old: str, new: str) -> Edit:
    return lambda o: o.update(mountinfo=o["mountinfo"].replace(old, new, 1))


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        ("tmp-exec", _mount_edit("/tmp rw,noexec", "/tmp rw")),
        ("tmp-oversized", _mount_edit("size=16m", "size=1g")),
        ("root-rw", _mount_edit(" / ro  - 9p none ro,", " / rw  - 9p none rw,")),
        ("in-rw", _mount_edit("/in ro  - 9p none ro,", "/in rw  - 9p none rw,")),
        ("extra-mount", lambda o: o.update(mountinfo=o["mountinfo"] + "17 8 0:16 / /data rw  - tmpfs none rw\n")),
        ("shared", _mount_edit("/out rw  - ", "/out rw shared:1 - ")),
    ],
)
def test_the_sentry_mount_inventory_fails_a_forged_line(name: str, edit: Edit) -> None:
    obs = _obs("PR-MOUNT-1")
    assert _judge("PR-MOUNT-1", obs).verdict == judge.PASS
    edit(obs)
    assert _judge("PR-MOUNT-1", obs).verdict == judge.FAIL, name


def test_gvisor_mountinfo_is_read_only_under_the_runsc_plan() -> None:
    """The empty optional-fields column is gVisor's text: under runc's plan it does not parse."""
    runc = next(r for r in plan.probes(DEFAULT, "runc") if r["probe_id"] == "PR-MOUNT-1")
    v = judge.judge(runc["kind"], runc["expect"], _obs("PR-MOUNT-1"))
    assert v.verdict == judge.FAIL
    assert "does not parse" in v.reason


def test_a_refused_write_stands_in_for_a_hidden_flag_under_gvisor_only() -> None:
    """gVisor's procfs has no statfs and its sysfs shows no flag: there a write it refuses
    proves the path read-only or masked. Under runc's plan the same observation (a non-root
    write refused with EACCES says nothing of the mount) FAILs."""
    obs = _obs("PR-KPATH-1")
    assert _judge("PR-KPATH-1", obs).verdict == "PASS"
    runc_row = next(r for r in plan.probes(DEFAULT, "runc") if r["probe_id"] == "PR-KPATH-1")
    assert "sentry" not in runc_row["expect"]
    verdict, reason = judge.judge(runc_row["kind"], runc_row["expect"], obs)
    assert verdict == "FAIL"
    assert "/proc/sys is not read-only" in reason
    assert "/sys/firmware is not masked" in reason
