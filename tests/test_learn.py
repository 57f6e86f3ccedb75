"""``sandproof learn``: the trace reader on a recorded shape, the learned profile's text and
that it loads as an allowlist, and real traced runs of the example on runc."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandproof import doctor, profile, seccomp
from sandproof.cli import main
from sandproof.workload import images, learned_profile, trace
from sandproof.workload import learn as learning
from sandproof.workload.learn import Learned, Run, learn

DEFAULT = profile.load("default")
EXAMPLE_IN = Path(__file__).resolve().parents[1] / "examples" / "packet-inspector" / "in"

# The shape of a real `strace -f -qq --pidns-translation` log (no ABI switch in it) of `runc run`, trimmed: runc's
# parent (100), runc init (200, with a thread 201), the filter, the exec, a forked child.
LOG = """\
100  execve("/usr/sbin/runc", ["runc", "run"], 0x7ffc /* 36 vars */) = 0
100  clone3({flags=CLONE_VM|CLONE_THREAD, child_tid=0x1} => {parent_tid=[101]}, 88) = 101
200  execveat(6, "", ["runc", "init"], 0x232a /* 8 vars */, AT_EMPTY_PATH) = 0
200  mount("", "/", 0xc0000b2cac, MS_REC|MS_SLAVE, NULL) = 0
200  clone3({flags=CLONE_VM|CLONE_THREAD, child_tid=0x2} <unfinished ...>
101  epoll_pwait(4,  <unfinished ...>
200  <... clone3 resumed> => {parent_tid=[2 /* 201 in strace's PID NS */]}, 88) = 2 /* 201 in strace's PID NS */
200  prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {len=154, filter=0xc0000ef000}) = 0
201  nanosleep({tv_sec=0, tv_nsec=20000},  <unfinished ...>
200  getpid()                          = 1 /* 200 in strace's PID NS */
101  <... epoll_pwait resumed>[], 128, 0, NULL, 0) = 0
201  --- SIGURG {si_signo=SIGURG, si_code=SI_USER, si_pid=0, si_uid=0} ---
201  rt_sigreturn({mask=[]} <unfinished ...>
200  execve("/usr/bin/python3.11", ["/usr/bin/python3.11", "-I"], 0xc000 /* 2 vars */ <unfinished ...>
201  <... rt_sigreturn resumed>)       = ?
200  <... execve resumed>)             = 0
200  openat(AT_FDCWD, "/in/a.json", O_RDONLY|O_CLOEXEC) = 3
101  futex(0x1, FUTEX_WAIT, 0, NULL)   = 0
200  clone(child_stack=NULL, flags=CLONE_VM|CLONE_VFORK|SIGCHLD) = 5 /* 202 in strace's PID NS */
202  socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = -1 EPERM (Operation not permitted)
200  exit_group(1)                     = ?
"""


def test_trace_counts_from_the_entrypoints_exec() -> None:
    got = trace.parse(LOG, "/usr/bin/python3.11")
    assert got.exec_found
    assert not got.other_abi
    # the forked child (202) counts; runc's parent (100, 101) and its setup (mount) do not
    assert got.workload == {"execve", "openat", "clone", "socket", "exit_group"}
    # runc's init and its thread after the filter, up to the exec
    assert got.runtime == {"getpid", "nanosleep", "rt_sigreturn", "execve"}


def test_trace_without_the_exec_says_so() -> None:
    got = trace.parse(LOG, "/bin/other")
    assert (got.exec_found, got.workload) == (False, frozenset())
    assert trace.parse("300  write(1, ...) = 1\n[ Process PID=300 runs in 32 bit mode. ]\n", "/x").other_abi


# Recorded (trimmed) with learn.STRACE (strace 6.1, Debian 12) from a Python that writes strace's own
# words to stdout, has them in its argv, then makes one i386 call (nice, int 0x80): strace's
# own ABI lines stand alone after the pid; the workload's text only ever appears quoted.
ABI_QUOTED = """\
19373 execve("/usr/bin/python3", ["/usr/bin/python3", "/tmp/a.py", "runs in 32 bit mode"], 0x7ffd /* 35 vars */) = 0
19373 write(1, "[ Process PID=1 runs in 32 bit m"..., 56) = 56
19373 write(1, "runs in x32 mode\\n", 17)    = 17
"""
ABI_SWITCH = """\
19373 [ Process PID=19373 runs in 32 bit mode. ]
19373 nice(0)                           = 0
19373 [ Process PID=19373 runs in 64 bit mode. ]
19373 exit_group(0)                     = ?
"""


def test_the_workloads_own_words_are_not_an_abi_switch() -> None:
    """Review 13 #8: the workload printing (or passing) "runs in 32 bit mode" is not strace's line."""
    got = trace.parse(ABI_QUOTED, "/usr/bin/python3")
    assert got.exec_found
    assert not got.other_abi
    assert got.workload == {"execve", "write"}


def test_straces_own_abi_line_is_one() -> None:
    got = trace.parse(ABI_QUOTED + ABI_SWITCH, "/usr/bin/python3")
    assert got.other_abi
    assert got.workload == {"execve", "write", "exit_group"}  # the i386 nice is not a native name


_I386_NICE = """\
import ctypes, mmap, os
os.write(1, b"runs in 32 bit mode\\n")
# push rbx; xor ebx, ebx; mov eax, 34 (i386 nice); int 0x80; pop rbx; ret
code = bytes([0x53, 0x31, 0xDB, 0xB8, 34, 0, 0, 0, 0xCD, 0x80, 0x5B, 0xC3])
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(code)
ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))()
"""


def test_learns_strace_flags_keep_the_abi_line(tmp_path: Path) -> None:
    """-qq (and the default with -o) keep strace's personality line out of the log: a 32-bit
    call would be read as the native name of the same number, and never refused. (The test
    command installs strace; the i386 call needs x86_64, as every machine it runs on is.)"""
    assert shutil.which("strace") is not None, "strace: the test command installs it"
    assert platform.machine() == "x86_64", "the int 0x80 call below is x86_64's"
    log = tmp_path / "strace.log"
    subprocess.run(
        [*learning.STRACE, "-o", str(log), sys.executable, "-c", _I386_NICE], check=True, capture_output=True
    )
    got = trace.parse(log.read_text(), sys.executable)
    assert got.exec_found
    assert got.other_abi
    assert "nice" not in got.workload
    assert "write" in got.workload


def _learned() -> Learned:
    runs = (
        Run(0, 0.1, frozenset({"read", "execve", "clone3"}), frozenset({"futex", "execve"}), ""),
        Run(0, 0.1, frozenset({"read", "execve", "write"}), frozenset({"execve"}), ""),
    )
    return Learned("x86_64", ("/bin/true",), "sha256:" + "a" * 64, runs, frozenset({"clone3"}), 0.2)


def test_allowlist_names_the_runs_and_keeps_the_profiles_denials() -> None:
    learned = _learned()
    assert learned.allow() == {"execve": [1, 2], "futex": [1], "read": [1, 2], "write": [2]}
    assert learned.runtime_only() == {"futex"}
    text = learned_profile.render(DEFAULT, learned, "learned")
    assert '  "futex",  # run 1; runc\'s init after its filter, before the exec' in text
    assert '  "read",   # all runs' in text
    assert '  "write",  # run 2' in text
    assert '{ errno = "ENOSYS", names = ["clone3"] }' in text  # clone3 stays ENOSYS, not allowed
    assert "tried but denied by the base profile's rules (left denied): clone3" in text
    assert text.count("[seccomp.inprocess]") == 1
    header, body = text.split("\n", 2)[:2], text.split("\n", 2)[2]
    assert header[0].startswith("# Written by `sandproof learn` from profile shipped:default")
    assert body.split("[seccomp]")[0] == DEFAULT.text.split("[seccomp]")[0].replace(
        'name = "default"', 'name = "learned"'
    )


def test_the_learned_profile_loads_as_an_allowlist(tmp_path: Path) -> None:
    text = learned_profile.render(DEFAULT, _learned(), "learned")
    path = tmp_path / "learned.toml"
    path.write_text(text)
    got = profile.load(str(path))
    sc = got.seccomp
    assert (sc.default_action, sc.default_errno) == ("errno", "EPERM")
    assert sc.allow == {"x86_64": ("execve", "futex", "read", "write")}
    assert sc.rules == DEFAULT.seccomp.rules  # the base profile's denials, kept
    assert sc.inprocess == DEFAULT.seccomp.inprocess
    # every other table is the base profile's
    assert (got.filesystem, got.resources, got.network) == (DEFAULT.filesystem, DEFAULT.resources, DEFAULT.network)
    policy = seccomp.policy(got)
    assert (policy["defaultAction"], policy["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", 1)
    assert {"read", "write", "futex"} <= set(policy["syscalls"][0]["names"])


def test_the_learned_profile_leaves_the_base_profiles_waivers_out(tmp_path: Path) -> None:
    """A waiver accepted a doctor finding of the base's own filter: copied into the allowlist
    it would match nothing (shown unused) or hide a finding the allowlist really has."""
    extra = '\n[[waiver]]  # a comment after the header\nrule = "SPD005"\nreason = "a deny list, on purpose"\n'
    base = tmp_path / "base.toml"
    base.write_text(DEFAULT.text + extra)
    waived = profile.load(str(base))
    assert {w.rule for w in waived.waivers} == {"SPD050", "SPD005"}
    text = learned_profile.render(waived, _learned(), "learned")
    assert "[[waiver]]" not in text
    assert "Doctor findings accepted" not in text  # the waivers' own comment goes with them
    assert "SPD050" not in text
    assert "SPD005" not in text
    assert text.endswith('errno = "EPERM"\n')  # [seccomp.inprocess], the last table kept, intact
    path = tmp_path / "learned.toml"
    path.write_text(text)
    got = profile.load(str(path))
    assert got.waivers == ()
    assert got.seccomp.inprocess == DEFAULT.seccomp.inprocess
    result = doctor.run(str(path))
    assert result.unused_waivers == ()
    assert not [f for f in result.findings if f.waived]


def test_an_allowlist_base_gets_the_learned_list_alone(tmp_path: Path) -> None:
    path = tmp_path / "relearned.toml"
    path.write_text(learned_profile.render(profile.load("learned-example"), _learned(), "relearned"))
    assert profile.load(str(path)).seccomp.allow == {"x86_64": ("execve", "futex", "read", "write")}


def test_an_allowlist_bases_refusals_are_never_learned(tmp_path: Path) -> None:
    """Review 13 #4: what an allowlist base refused by its default action stays refused."""
    base = profile.load("learned-example")
    tried = frozenset({"read", "sethostname", "setuid", "clone3", "execve"})
    assert learning.refused_by(base, "x86_64", tried) == {"sethostname", "setuid"}  # clone3: its rule's, kept as a rule
    assert learning.refused_by(DEFAULT, "x86_64", tried) == frozenset()  # a deny list refuses by its rules alone
    runs = (Run(1, 0.1, tried, frozenset({"futex"}), ""),)
    learned = Learned(
        "x86_64",
        ("/bin/sh",),
        "sha256:" + "b" * 64,
        runs,
        frozenset({"clone3"}),
        0.1,
        tried - {"read", "clone3", "execve"},
    )
    assert learned.allow() == {"execve": [1], "futex": [1], "read": [1]}
    text = learned_profile.render(base, learned, "relearned")
    assert "# tried but denied by the base profile's default action" in text
    assert "# sethostname, setuid\n" in text
    path = tmp_path / "relearned.toml"
    path.write_text(text)
    got = profile.load(str(path))
    assert seccomp.allowed(got, "x86_64") <= seccomp.allowed(base, "x86_64")


def test_learn_is_a_command_and_refuses_zero_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["learn", "--image", "example", "--runs", "0"])
    assert exc.value.code == 2
    assert "at least 1" in capsys.readouterr().err


@pytest.mark.engine("runc")
def test_learn_the_example_on_runc() -> None:
    learned = learn(DEFAULT, images.packet_inspector(), runs=3, in_dir=EXAMPLE_IN)
    assert [r.exit_code for r in learned.runs] == [1, 1, 1]  # two of the four sample packets are invalid
    allow = learned.allow()
    # what a Python that reads files and writes a report atomically must do
    assert {"execve", "openat", "read", "write", "rename", "getdents64", "exit_group"} <= allow.keys()
    assert not allow.keys() & {"socket", "connect", "clone3", "ptrace", "mount"}
    assert all(allow.values())
    assert learned.refused == frozenset()  # a deny-list base refuses by its rules alone
    assert 20 < len(allow) < 80, sorted(allow)


@pytest.mark.engine("runc")  # learn traces runc
def test_learn_cli_writes_a_commented_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bb.toml"
    assert main(["learn", "--image", "busybox", "--runs", "2", "--out", str(out), "--", "/bin/ls", "/in"]) == 0
    assert f"{out}: " in capsys.readouterr().out
    text = out.read_text()
    assert '["/bin/ls", "/in"]' in text
    assert '  "execve",' in text
    assert '  "getdents64",' in text


@pytest.mark.engine("runc")  # learn traces runc
def test_learn_from_an_allowlist_never_allows_what_it_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 13 #4: learned-example refuses sethostname and mkdir by default-deny; the traced
    run had that filter, so they were tried and refused: never learned into the allowlist."""
    base = profile.load("learned-example")
    out = tmp_path / "relearned.toml"
    cmd = ["/bin/sh", "-c", "hostname sandproof-learn; mkdir /tmp/a"]
    args = ["learn", "--profile", "learned-example", "--image", "busybox", "--runs", "1", "--out", str(out)]
    assert main([*args, "--", *cmd]) == 0
    written = profile.load(str(out))
    allow = set(written.seccomp.allow["x86_64"])
    assert "execve" in allow
    assert not allow & {"sethostname", "mkdir"}
    assert allow <= seccomp.allowed(base, "x86_64"), sorted(allow - seccomp.allowed(base, "x86_64"))
    assert seccomp.allowed(written, "x86_64") <= seccomp.allowed(base, "x86_64")
    note = out.read_text().split("# tried but denied by the base profile's default action")[1]
    assert "sethostname" in note.split("\n\n")[0]
    err = capsys.readouterr().err
    assert "tried but denied by the base profile's default action" in err
    assert "sethostname" in err
