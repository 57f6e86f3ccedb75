"""Every cross-field refusal of the profile loader, one test each (issue 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandproof import plan, profile, profilecheck, seccomp, sweep
from sandproof.cli import main
from sandproof.errors import ProfileError

DEFAULT = profile.load("default").text
RULES_TAIL = '"userfaultfd", "pidfd_getfd", "kcmp",'
GUARD = 'deny = ["execve", "execveat"]'


def _parse(old: str, new: str, text: str = DEFAULT) -> profile.Profile:
    assert old in text
    return profile.parse(text.replace(old, new, 1), "p.toml")


def _refused(old: str, new: str, *match: str) -> str:
    with pytest.raises(ProfileError) as err:
        _parse(old, new)
    msg = err.value.message
    assert msg.startswith("profile p.toml: key '"), msg
    assert "\n" not in msg
    for m in match:
        assert m in msg, msg
    return msg


def test_shipped_profiles_pass_every_check() -> None:
    for name in profile.SHIPPED:
        profilecheck.check(profile.load(name))


def test_unknown_syscall_name_with_hint() -> None:
    _refused('"kcmp",', '"kcmp", "ptarce",', "'seccomp.rules[0].names'", "'ptarce'", "did you mean 'ptrace'")


def test_unknown_syscall_in_the_guard() -> None:
    _refused(GUARD, 'deny = ["execve", "exceveat"]', "'seccomp.inprocess.deny'", "did you mean 'execveat'")


def test_name_missing_on_one_architecture_names_it_and_the_arch() -> None:
    # open exists on x86_64 only (asm-generic has openat alone)
    _refused('"kcmp",', '"kcmp", "open",', "'open' does not exist on aarch64", "seccomp.arch_specific")


def test_arch_specific_lets_a_name_through_where_it_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sweep.BASE_ARGS, "open", [0, 0, 0])
    text = DEFAULT.replace('"kcmp",', '"kcmp", "open",').replace(
        "deny_clone_namespaces = true", 'deny_clone_namespaces = true\narch_specific = ["open"]'
    )
    p = profile.parse(text, "p.toml")
    assert p.seccomp.arch_specific == ("open",)
    assert "open" in seccomp.render(p).decode()


def test_arch_specific_must_name_a_syscall() -> None:
    _refused(
        "deny_clone_namespaces = true",
        'deny_clone_namespaces = true\narch_specific = ["opne"]',
        "'seccomp.arch_specific[0]'",
        "did you mean 'open'",
    )


def test_a_single_architecture_needs_no_exception() -> None:
    p = _parse('architectures = ["x86_64", "aarch64"]', 'architectures = ["x86_64"]')
    assert p.seccomp.architectures == ("x86_64",)


@pytest.mark.parametrize(("old", "new", "key"), [(RULES_TAIL, f'{RULES_TAIL} "getpid",', "seccomp.rules[0].names")])
def test_denied_call_without_a_sweep_entry(old: str, new: str, key: str) -> None:
    _refused(old, new, f"'{key}'", "'getpid' has no entry", "BASE_ARGS in src/sandproof/sweep.py")


def test_guard_denial_without_a_sweep_entry() -> None:
    _refused(GUARD, 'deny = ["execve", "execveat", "getppid"]', "'seccomp.inprocess.deny'", "'getppid' has no entry")


def test_unknown_errno_with_hint() -> None:
    _refused('errno = "ENOSYS"', 'errno = "ENOSYSS"', "'seccomp.rules[1].errno'", "did you mean 'ENOSYS'")
    _refused('errno = "EPERM"\n', 'errno = "EPREM"\n', "'seccomp.inprocess.errno'", "did you mean 'EPERM'")


def test_one_rule_per_syscall() -> None:
    _refused('names = ["clone3"]', 'names = ["clone3", "socket"]', "'seccomp.rules[1].names'", "'socket' is also in")


def test_clone_in_a_rule_while_denied_by_flag() -> None:
    _refused('"kcmp",', '"kcmp", "clone",', "deny_clone_namespaces")
    text = DEFAULT.replace("deny_clone_namespaces = true", "deny_clone_namespaces = false")
    p = _parse('"kcmp",', '"kcmp", "clone",', text)
    plan.build(p, "docker")  # clone has a sweep entry: it plans


def test_memory_above_swap() -> None:
    with pytest.raises(ProfileError, match=r"'resources.memory_swap': expected at least memory"):
        _parse('memory_swap = "256m"', 'memory_swap = "128m"')


def test_writable_path_without_a_mount() -> None:
    _refused('{ path = "/tmp", reason', '{ path = "/data", reason', "'filesystem.writable[1].path'", "'/data'")


def test_writable_path_on_a_read_only_tmpfs() -> None:
    _refused('{ path = "/tmp", reason', '{ path = "/dev/mqueue", reason', "writable mount behind it")


def test_writable_path_under_a_tmpfs_or_on_a_writable_rootfs() -> None:
    _parse('{ path = "/tmp", reason', '{ path = "/tmp/cache", reason')
    text = DEFAULT.replace("read_only_rootfs = true", "read_only_rootfs = false")
    _parse('{ path = "/tmp", reason', '{ path = "/data", reason', text)


def test_the_read_only_input_is_not_writable() -> None:
    # the input is always mounted read-only (its mode is no key: the input-rw weakening is a run mutation)
    _refused('{ path = "/tmp", reason', '{ path = "/in/x", reason', "'filesystem.writable[1].path'")
    with pytest.raises(ProfileError, match=r"unknown key 'filesystem.output_mode' in \[filesystem\]"):
        _parse('output = "/out"', 'output = "/out"\noutput_mode = "ro"')


def test_bind_source_is_checked_on_the_running_host_only(tmp_path: Path) -> None:
    bind = '\nbinds = [{ source = "/nonexistent/src", target = "/data", mode = "ro" }]\n[security]'
    p = _parse("\n[security]", bind)  # a verifier elsewhere loads it
    with pytest.raises(ProfileError, match=r"'filesystem.binds\[0\].source': expected a path that exists"):
        profilecheck.host(p)
    profilecheck.host(_parse("/nonexistent/src", str(tmp_path), DEFAULT.replace("\n[security]", bind, 1)))


def test_attest_refuses_a_missing_bind_source_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "p.toml"
    bind = '\nbinds = [{ source = "/nope", target = "/d", mode = "ro" }]\n[security]'
    f.write_text(DEFAULT.replace("\n[security]", bind))
    assert main(["attest", "--profile", str(f), "--out", str(tmp_path / "o"), "--runtime", "runc"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "filesystem.binds[0].source" in err
    assert not (tmp_path / "o").exists()


def test_env_file_must_exist_on_the_running_host() -> None:
    p = _parse("variables = {}", 'variables = {}\nenv_file = "/nonexistent/env"')
    with pytest.raises(ProfileError, match=r"environment\.env_file"):
        profilecheck.host(p)
    profilecheck.host(profile.load("b4-prime-seed"))  # /dev/null


def test_error_is_one_line_whatever_the_file_holds() -> None:
    for key in ('"a\\nb"', '"\\u001b[32mPASS"', '"zero\\u200bwidth"'):
        with pytest.raises(ProfileError) as err:
            profile.parse(f"{key} = 1\n" + DEFAULT, "p.toml")
        assert err.value.message.isprintable(), err.value.message


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("capabilities = []", 'capabilities = ["CAP_FOO"]', "security.capabilities"),
        ("cpus = 1.0", "cpus = nan", "resources.cpus"),
        ("cpus = 1.0", "cpus = inf", "resources.cpus"),
        ("uid = 65532", "uid = 99999999999999999999", "user.uid"),
        ('"size=16m"', '"size=lots"', "filesystem.tmpfs[0].options"),
        ('"size=16m"', '"size=16m", "mode=abc"', "filesystem.tmpfs[0].options"),
        ("variables = {}", 'variables = { "A=B" = "x" }', "environment.variables.A=B"),
        ('{ path = "/tmp", options', '{ path = "/", options', "filesystem.tmpfs[0].path"),
        ('input = "/in"', 'input = "/out"', "filesystem.output"),
        ('{ path = "/dev/mqueue"', '{ path = "/tmp"', "filesystem.tmpfs[1].path"),
        ("[image]\n", '[image]\ncontainer_name = "a b"\n', "image.container_name"),
        ('input = "/in"', 'input = "/in:x"', "filesystem.input"),
    ],
)
def test_values_that_crashed_a_renderer_or_the_engine(old: str, new: str, key: str) -> None:
    """Each of these loaded before and then crashed rendering or the plan, or the engine refused it."""
    _refused(old, new, f"'{key}'")
