"""PR-HOSTK-1 (the host's kernel settings every sandbox shares) judged on recorded observations,
its allowed values in the profile, and the host lock that keeps a host-wide weakening from
running under another run."""

from __future__ import annotations

import copy
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest

from sandproof import hostlock, plan, profile, profiletoml, runtime_defaults, weaken
from sandproof.errors import ProfileError
from sandproof.inspector import judge
from sandproof.weaken import hostkernel
from tests.conftest import judge_planned, recorded_observation

DEFAULT = profile.load("default")


def _obs(runtime: str = "docker") -> dict[str, Any]:
    return recorded_observation("runsc-default" if runtime == "runsc" else f"{runtime}-default-pass", "PR-HOSTK-1")


@pytest.mark.parametrize("runtime", ["docker", "runc"])
def test_the_recorded_runs_pass(runtime: str) -> None:
    v = judge_planned("PR-HOSTK-1", _obs(runtime), runtime)
    assert v.verdict == judge.PASS, v
    assert "randomize_va_space 2" in v.reason
    assert "each 0" in v.reason


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("kernel.randomize_va_space", "0", "kernel.randomize_va_space is 0, allowed [2]"),
        ("kernel.randomize_va_space", "1", "kernel.randomize_va_space is 1, allowed [2]"),
        ("kernel.perf_event_paranoid", "1", "kernel.perf_event_paranoid is 1, allowed 2 or more"),
        ("kernel.perf_event_paranoid", "-1", "kernel.perf_event_paranoid is -1"),
        ("kernel.unprivileged_bpf_disabled", "0", "kernel.unprivileged_bpf_disabled is 0"),
        ("kernel.dmesg_restrict", "0", "kernel.dmesg_restrict is 0"),
        ("fs.suid_dumpable", "1", "fs.suid_dumpable is 1, allowed [0, 2]"),
        ("fs.protected_hardlinks", "0", "fs.protected_hardlinks is 0"),
        ("vm.mmap_min_addr", "0", "vm.mmap_min_addr is 0, allowed 4096 or more"),
        ("vm.mmap_min_addr", None, "vm.mmap_min_addr is missing or unreadable"),
        ("kernel.randomize_va_space", " 2", "not an integer"),
        ("kernel.randomize_va_space", "2\n0", "not an integer"),
    ],
)
def test_each_disallowed_or_missing_value_fails_named(name: str, value: str | None, said: str) -> None:
    obs = _obs()
    obs["values"][name] = value
    v = judge_planned("PR-HOSTK-1", obs)
    assert v.verdict == judge.FAIL, v
    assert said in v.reason


@pytest.mark.parametrize(
    ("pattern", "verdict", "said"),
    [
        ("core", judge.PASS, "core dumps to files ('core')"),
        ("/var/crash/core.%e.%p", judge.PASS, "core dumps to files"),
        ("|/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -- %E", judge.PASS, "piped to /usr/share"),
        ("|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h", judge.PASS, "systemd-coredump"),
        ("|/bin/false %p", judge.FAIL, "pipes every crash, in any sandbox, to '/bin/false'"),
        ("|/tmp/usr/share/apport/apport", judge.FAIL, "to '/tmp/usr/share/apport/apport'"),
        ("|", judge.FAIL, "to ''"),
        (None, judge.FAIL, "kernel.core_pattern is missing or unreadable"),
        (7, judge.FAIL, "kernel.core_pattern is missing or unreadable"),
    ],
)
def test_core_pattern_is_a_file_or_a_pipe_to_a_distributions_handler(pattern: object, verdict: str, said: str) -> None:
    """A pipe runs its helper as root on the host for every crash in a sandbox (fs/coredump.c)."""
    obs = _obs()
    assert obs["core_pattern"] == "core"  # this host's
    obs["core_pattern"] = pattern
    v = judge_planned("PR-HOSTK-1", obs)
    assert v.verdict == verdict, v
    assert said in v.reason


def test_a_value_read_but_not_planned_fails_and_one_not_read_is_an_error() -> None:
    obs = _obs()
    obs["values"]["kernel.sysrq"] = "1"
    assert judge_planned("PR-HOSTK-1", obs).verdict == judge.FAIL
    obs = _obs()
    del obs["values"]["kernel.dmesg_restrict"]
    assert judge_planned("PR-HOSTK-1", obs).verdict == judge.ERROR


@pytest.mark.parametrize(
    ("kallsyms", "verdict", "said"),
    [
        ({"lines": 100, "malformed": 0, "nonzero": 100}, judge.FAIL, "100 of 100 kernel addresses"),
        ({"lines": 100, "malformed": 0, "nonzero": 1}, judge.FAIL, "1 of 100"),
        ({"errno": "ENOENT"}, judge.FAIL, "could not be read (ENOENT)"),
        ({"errno": "EACCES"}, judge.FAIL, "could not be read (EACCES)"),
        ({"lines": 0, "malformed": 0, "nonzero": 0}, judge.FAIL, "not the kernel's table"),
        ({"lines": 5, "malformed": 5, "nonzero": 0}, judge.FAIL, "not the kernel's table"),
        ({"lines": "5", "malformed": 0, "nonzero": 0}, judge.PASS, "5 addresses, each 0"),
        ({"lines": 5.0, "malformed": 0, "nonzero": 0}, judge.ERROR, ""),
        ({"lines": 5, "nonzero": 0}, judge.ERROR, ""),
        ("zero", judge.ERROR, ""),
    ],
)
def test_kallsyms_is_judged_by_what_it_shows(kallsyms: object, verdict: str, said: str) -> None:
    obs = _obs()
    obs["kallsyms"] = kallsyms
    v = judge_planned("PR-HOSTK-1", obs)
    assert v.verdict == verdict, v
    assert said in v.reason


@pytest.mark.parametrize("edit", ["no values", "values a list", "expect empty", "spec not a table"])
def test_malformed_input_is_never_a_pass(edit: str) -> None:
    row = copy.deepcopy(next(r for r in plan.probes(DEFAULT, "docker") if r["probe_id"] == "PR-HOSTK-1"))
    obs = _obs()
    if edit == "no values":
        del obs["values"]
    elif edit == "values a list":
        obs["values"] = list(obs["values"])
    elif edit == "expect empty":
        row["expect"]["allowed"] = {}
    else:
        row["expect"]["allowed"]["vm.mmap_min_addr"] = 4096
    assert judge.judge("hostk", row["expect"], obs).verdict == judge.ERROR


def test_runsc_shows_its_own_proc_sys_and_is_unverified_with_the_reason() -> None:
    """Measured: gVisor's /proc/sys shows only vm.mmap_min_addr of these and has no /proc/kallsyms."""
    obs = _obs("runsc")
    assert obs["kallsyms"] == {"errno": "ENOENT"}
    assert {n for n, v in obs["values"].items() if v is not None} == {"vm.mmap_min_addr"}
    v = judge_planned("PR-HOSTK-1", obs, "runsc")
    assert v.verdict == judge.UNVERIFIED, v
    phrase, why = runtime_defaults.RUNSC_UNVERIFIED["PR-HOSTK-1"]
    assert phrase in v.reason
    assert why[:40] in v.reason
    obs["values"]["kernel.randomize_va_space"] = "0"  # what gVisor does show is judged
    assert judge_planned("PR-HOSTK-1", obs, "runsc").verdict == judge.FAIL
    obs = _obs("runsc")
    obs["kallsyms"] = {"lines": 10, "malformed": 0, "nonzero": 0}
    assert judge_planned("PR-HOSTK-1", obs, "runsc").verdict == judge.FAIL


def _profile(table: str) -> profile.Profile:
    text = profile.load("default").text.replace("[sysctls]\n", f"[sysctls]\n\n[host_kernel]\n{table}\n", 1)
    return profile.parse(text, "test.toml")


def test_a_profile_changes_one_allowed_set_and_keeps_the_others() -> None:
    p = _profile('"fs.protected_symlinks" = [1]\n"kernel.perf_event_paranoid" = { min = 3 }')
    assert p.host_kernel["fs.protected_symlinks"] == (1,)
    assert p.host_kernel["kernel.perf_event_paranoid"] == {"min": 3}
    assert p.host_kernel["kernel.randomize_va_space"] == (2,)
    assert p.digest != DEFAULT.digest
    row = next(r for r in plan.probes(p, "docker") if r["probe_id"] == "PR-HOSTK-1")
    assert row["expect"]["allowed"]["fs.protected_symlinks"] == {"in": [1]}
    obs = _obs()
    v = judge.judge("hostk", row["expect"], obs)
    assert v.verdict == judge.FAIL
    assert "fs.protected_symlinks is 0, allowed [1]" in v.reason


def test_the_default_leaves_the_digest_of_every_earlier_profile() -> None:
    assert _profile("").digest == DEFAULT.digest
    assert DEFAULT.host_kernel == runtime_defaults.HOST_KERNEL


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ('"kernel.randomize_va_spaces" = [2]', "did you mean 'kernel.randomize_va_space'"),
        ("kernel.randomize_va_space = [2]", "quote a dotted name"),
        ('"vm.mmap_min_addr" = []', "a non-empty list of integers"),
        ('"vm.mmap_min_addr" = ["4096"]', "a non-empty list of integers"),
        ('"vm.mmap_min_addr" = { min = "4096" }', "with an integer N"),
        ('"vm.mmap_min_addr" = { max = 4096 }', "max"),
        ('"vm.mmap_min_addr" = 4096', "a list of the values allowed"),
    ],
)
def test_a_mistaken_key_is_refused_naming_it(table: str, said: str) -> None:
    with pytest.raises(ProfileError, match="host_kernel") as caught:
        _profile(table)
    assert said in str(caught.value)


def test_the_weakenings_are_host_wide_and_aimed_at_the_probe() -> None:
    host = {w.name: w for w in weaken.WEAKENINGS if w.host_wide}
    assert {"aslr-off-host", "perf-paranoid-host", "core-pipe-host"} <= set(host)
    assert all(w.probe_id == "PR-HOSTK-1" and w.setup is not None for w in host.values())


# the host lock, between real processes


def _hold(kind: str, lock: str, started: Any, release: Any) -> None:
    """Hold the lock until told. Events only: a multiprocessing.Queue's feeder thread shares one
    write lock between processes, and a holder killed while its feeder held it left the next
    process hanging at its exit (flaky under load, seen once on a fresh clone)."""
    os.environ[hostlock.LOCK_ENV] = lock
    with hostlock.shared() if kind == "shared" else hostlock.exclusive():
        started.set()
        release.wait(30)


def _wait_for_flock(file: Path, kind: str) -> None:
    """Until some process holds a flock of ``kind`` (READ, WRITE) on ``file`` (/proc/locks)."""
    inode = f":{file.stat().st_ino if file.exists() else -1} "
    for _ in range(3000):
        if not file.exists():
            time.sleep(0.01)
            continue
        inode = f":{file.stat().st_ino} "
        if any("FLOCK" in ln and kind in ln and inode in ln for ln in Path("/proc/locks").read_text().splitlines()):
            return
        time.sleep(0.01)
    raise AssertionError(f"no {kind} flock on {file} ({inode})")


def _start(kind: str, lock: Path) -> tuple[Any, Any, Any]:
    ctx = multiprocessing.get_context("fork")
    started, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(kind, str(lock), started, release))
    proc.start()
    return proc, started, release


def test_a_writer_waits_for_a_reader_of_another_process_and_blocks_new_ones(tmp_path: Path) -> None:
    lock = tmp_path / "host.lock"
    reader, r_in, r_go = _start("shared", lock)
    assert r_in.wait(30)
    writer, w_in, w_go = _start("exclusive", lock)
    _wait_for_flock(lock.with_suffix(".gate"), "WRITE")  # the writer is queued: it holds the gate
    assert not w_in.is_set()  # and waits for the reader
    late, l_in, l_go = _start("shared", lock)
    assert not l_in.wait(0.2)  # a new reader waits behind the queued writer
    r_go.set()
    assert w_in.wait(30)
    assert not l_in.is_set()  # the writer holds the lock: the late reader is still out
    w_go.set()
    assert l_in.wait(30)
    l_go.set()
    for p in (reader, writer, late):
        p.join(30)
        assert p.exitcode == 0
    # each "in" seen while the others' holds said so (Events, not a queue: its order across
    # processes is the order its feeder threads flush, not the order of the puts)


def test_a_shared_holder_asking_for_it_exclusively_does_not_wait_for_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(hostlock.LOCK_ENV, str(tmp_path / "host.lock"))
    with hostlock.shared():
        assert hostlock.held() == "shared"
        with hostlock.exclusive():
            assert hostlock.held() == "exclusive"
        assert hostlock.held() == "shared"
    assert hostlock.held() is None


def test_a_value_a_dead_writer_left_is_restored_by_the_next_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(hostlock.LOCK_ENV, str(tmp_path / "host.lock"))
    knob = tmp_path / "randomize_va_space"
    knob.write_text("2\n")
    with hostlock.exclusive():
        hostlock.remember(knob, knob.read_text())
        knob.write_text("0")  # the writer is killed here: no finally runs
    with hostlock.shared():
        assert knob.read_text() == "2\n"
    assert not (tmp_path / "host.restore").exists()


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    lock = tmp_path / "host.lock"
    writer, w_in, _ = _start("exclusive", lock)
    assert w_in.wait(30)
    writer.kill()
    writer.join(30)
    reader, r_in, r_go = _start("shared", lock)
    assert r_in.wait(30)
    r_go.set()
    reader.join(30)
    assert reader.exitcode == 0


def test_a_host_weakening_restores_the_value_on_ctrl_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hostlock.LOCK_ENV, str(tmp_path / "host.lock"))
    knob = tmp_path / "randomize_va_space"
    knob.write_text("2\n")
    monkeypatch.setattr(hostkernel, "_file", lambda _name: knob)
    setup = hostkernel.host_sysctl("kernel.randomize_va_space", "0")
    seen = []

    def interrupted() -> None:
        with setup("runc"):
            seen.append((knob.read_text(), hostlock.held()))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert seen == [("0", "exclusive")]
    assert knob.read_text() == "2\n"
    assert hostlock.held() is None
    assert not (tmp_path / "host.restore").exists()


def test_a_host_weakening_says_when_the_host_already_has_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    knob = tmp_path / "perf_event_paranoid"
    monkeypatch.setattr(hostkernel, "_file", lambda _name: knob)
    knob.write_text("1\n")
    w = next(w for w in weaken.WEAKENINGS if w.name == "perf-paranoid-host")
    assert "already 1" in (w.no_effect("runc") or "")
    knob.write_text("2\n")
    assert w.no_effect("runc") is None


def test_a_changed_host_kernel_table_is_written_and_loads_back_the_same() -> None:
    p = _profile('"fs.protected_symlinks" = [1]\n"vm.mmap_min_addr" = { min = 65536 }')
    text = profiletoml.dumps(p)
    assert '"vm.mmap_min_addr" = { min = 65536 }' in text
    again = profile.parse(text, "again.toml")
    assert again.host_kernel == p.host_kernel
    assert again.digest == p.digest
    assert "host_kernel: not set" in profiletoml.dumps(DEFAULT)


def test_the_lock_lives_in_this_users_own_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/run/lock is world-writable: a directory of the name another user made first (or a link,
    or one others may write) is refused, since the journal in it names files root writes back."""
    monkeypatch.delenv(hostlock.LOCK_ENV, raising=False)
    monkeypatch.setattr(hostlock, "DEFAULT_DIR", tmp_path)
    name = tmp_path / f"sandproof-host-{os.geteuid()}"
    assert hostlock.private_dir() == name
    assert (name.stat().st_mode & 0o777) == 0o700
    assert hostlock.path() == name / "host.lock"
    name.chmod(0o777)
    assert hostlock.private_dir() is None
    name.rmdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    name.symlink_to(tmp_path / "elsewhere")
    assert hostlock.private_dir() is None
