"""Hostile sandboxes through the real host path, on Docker and on runc (tests/hostile.py):
the host stays bounded, clean and quiet whatever the sandbox does."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from sandproof import attest, cleanup, contract, leftover, profile, receipt, receipt_check
from sandproof.cli import main
from sandproof.runtime import docker as docker_rt
from sandproof.runtime import podman as podman_rt
from sandproof.runtime import runc as runc_rt
from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import replaced
from tests import hostile
from tests.conftest import RUN_DATE

RUNTIMES = ("docker", "runc")
EVIDENCE = f"sandbox-attestation-evidence-local-{RUN_DATE}.json"
# anything a terminal would act on: C0 but newline, DEL, C1, bidi and zero-width format characters
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

pytestmark = pytest.mark.engine


def _evidence(out: Path) -> dict[str, Any]:
    data = json.loads((out / EVIDENCE).read_text())
    assert isinstance(data, dict)
    return data


def _work_dir(ev: dict[str, Any]) -> Path:
    """The run's scratch directory on the host, from the recorded argv."""
    if ev["runtime"] in ("docker", "podman"):
        vol = ev["argv"][ev["argv"].index("-v") + 1]
        return Path(vol.split(":")[0]).parent
    return Path(ev["argv"][ev["argv"].index("--bundle") + 1]).parent


def _gone(runtime: str, argv: list[str]) -> bool:
    if runtime == "docker":
        return not docker_rt.alive("docker", argv[argv.index("--name") + 1])
    if runtime == "podman":  # sandproof's own storage; the container binds the run's /out
        return not podman_rt.Podman().containers_using(_work_dir({"runtime": runtime, "argv": argv}) / "out")
    root = contract.RUNSC_STATE_ROOT if runtime == "runsc" else runc_rt.STATE_ROOT
    state = subprocess.run([runtime, "--root", root, "state", argv[-1]], capture_output=True, check=False)
    if runtime == "runsc":  # and no process of it left (its sentry names the container)
        return state.returncode != 0 and not _running(argv[-1])
    return state.returncode != 0


def _up(runtime: str, argv: list[str]) -> bool:
    """Held by the engine; on runsc, its sentry runs the workload (a sandbox killed while still
    "created" went away with the client that was creating it)."""
    if runtime != "runsc":
        return not _gone(runtime, argv)
    state = subprocess.run(
        ["runsc", "--root", contract.RUNSC_STATE_ROOT, "state", argv[-1]], capture_output=True, check=False
    )
    return state.returncode == 0 and json.loads(state.stdout).get("status") == "running"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_out_is_bounded_in_bytes_and_files(runtime: str, tmp_path: Path) -> None:
    result = hostile.run("fill-out", runtime, tmp_path)
    ev = _evidence(tmp_path)
    assert result.report.verdict == "FAIL"
    assert ev["host"]["output"] == {"limit_bytes": 16 << 20, "limit_files": 1024, "bounded": True}
    wrote = next(ln for ln in ev["stderr_tail"] if ln.startswith("WROTE"))
    nbytes, nfiles = (int(x) for x in re.findall(r"\d+", wrote))
    assert nbytes <= (16 << 20) + (1 << 20)  # the sandbox was stopped at the bound (ENOSPC), not the host's disk
    assert nfiles <= 1024
    assert not _work_dir(ev).exists()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_5000_level_tree_is_cleaned_up(runtime: str, tmp_path: Path) -> None:
    roomy = replaced(profile.load("default"), "filesystem", output_files=8000)
    hostile.run("deep-tree", runtime, tmp_path, prof=roomy)
    ev = _evidence(tmp_path)
    assert "DEPTH 5000" in ev["stderr_tail"]
    assert not _work_dir(ev).exists()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_stdout_flood_is_counted_not_kept(runtime: str, tmp_path: Path) -> None:
    hostile.run("flood-stdout", runtime, tmp_path)
    ev = _evidence(tmp_path)
    assert ev["host"]["stdout_bytes"] == 400 * ((1 << 20) + 1)
    if runtime == "docker":  # no json-file log of the flood on the host's disk
        assert ev["argv"][3:5] == ["--log-driver", "none"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_peak_rss_under_a_400_mb_flood_is_bounded(runtime: str) -> None:
    """Loosely: the benchmark prints the figure (benchmarks/hostile_rss.py)."""
    out = subprocess.run(
        [sys.executable, "-m", "tests.hostile", "flood-stdout", "--runtime", runtime],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    peak = float(re.findall(r"peak RSS ([\d.]+) MiB", out)[0])
    assert peak <= 128, out[-2000:]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(
    "name", ["bundle-x", "bundle-probes-5", "bundle-deep", "marker-no-probes", "marker-truncated", "control-chars"]
)
def test_hostile_output_is_a_fail_never_a_traceback_nor_raw_text(
    runtime: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(attest, "attest", functools.partial(attest.attest, mutation=hostile.mutation(name)))
    out = tmp_path / "out"
    code = main(["attest", "--runtime", runtime, "--out", str(out), "--run-date", RUN_DATE])
    printed = capsys.readouterr()
    assert code == 1, printed.err
    assert "Traceback" not in printed.out + printed.err
    assert not RAW_CONTROL.search(printed.out + printed.err)
    assert not RAW_CONTROL.search((out / "report.md").read_text())
    ev = _evidence(out)
    assert ev["container_started"] is False
    if name.startswith("bundle"):
        assert "the inside bundle was refused" in printed.out
        assert ev["host"]["inside_problem"]
    if name == "control-chars":
        assert any("\\x1b[2J" in ln for ln in ev["stderr_tail"])


UP_WITHIN_S = 120.0
"""How long the engine may take to bring a container up: an upper bound, never a measured time."""


def _wait_until_up(runtime: str, argv: list[str]) -> None:
    """Until the engine holds the container: its start takes longer on a loaded machine (a
    fixed sleep of 2 s assumed the engine is always that fast), so wait for the fact, not a time."""
    deadline = time.monotonic() + UP_WITHIN_S
    while not _up(runtime, argv):
        assert time.monotonic() < deadline, f"the container was not up within {UP_WITHIN_S:g}s"
        time.sleep(0.05)


class _Interrupt:
    """Ctrl-C (a KeyboardInterrupt in the main thread) once the spied run's container is up:
    not at a fixed time, which on a loaded machine came before the run had even started."""

    def __init__(self, runtime: str, seen: list[list[str]]) -> None:
        self.runtime, self.seen = runtime, seen
        self.main = threading.get_ident()
        self.done = threading.Event()
        self.was_up = False
        self.thread = threading.Thread(target=self._fire, daemon=True)

    def _fire(self) -> None:
        deadline = time.monotonic() + UP_WITHIN_S
        while not self.seen and not self.done.wait(0.05) and time.monotonic() < deadline:
            pass
        if self.seen:
            with contextlib.suppress(AssertionError):  # not up in time: interrupt anyway, the test says so
                _wait_until_up(self.runtime, self.seen[0])
                self.was_up = True
        if not self.done.is_set():
            signal.pthread_kill(self.main, signal.SIGALRM)

    def __enter__(self) -> _Interrupt:
        def fire(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        self.previous = signal.signal(signal.SIGALRM, fire)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        signal.signal(signal.SIGALRM, self.previous)


def _spy(runtime: str, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    module = docker_rt if runtime == "docker" else runc_rt
    seen: list[list[str]] = []
    real = module.supervise

    def spy(argv: list[str], **kwargs: Any) -> Any:
        seen.append(list(argv))
        return real(argv, **kwargs)

    monkeypatch.setattr(module, "supervise", spy)
    return seen


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_timeout_kills_and_removes_the_container(
    runtime: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = _spy(runtime, monkeypatch)
    monkeypatch.setattr(attest, "attest", functools.partial(attest.attest, mutation=hostile.mutation("hang")))
    out = tmp_path / "out"
    args = ["attest", "--runtime", runtime, "--out", str(out), "--run-date", RUN_DATE, "--timeout", "3"]
    assert main(args) == 1
    assert "timed out after 3s" in capsys.readouterr().err
    ev = _evidence(out)
    assert ev["container_exit"] == 124
    assert ev["host"]["timed_out"] is True
    assert _gone(runtime, seen[0])
    assert not _work_dir(ev).exists()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ctrl_c_kills_and_removes_the_container(runtime: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy(runtime, monkeypatch)
    with _Interrupt(runtime, seen) as interrupt, pytest.raises(KeyboardInterrupt):
        hostile.run("hang", runtime, tmp_path)
    assert interrupt.was_up  # interrupted while the container ran
    assert _gone(runtime, seen[0])
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_an_engine_refusal_is_exit_2_with_the_engines_message(
    runtime: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def swap_below_memory(cfg: dict[str, Any]) -> None:
        cfg["linux"]["resources"]["memory"]["swap"] = 1 << 20

    impossible = (
        Mutation(docker_args=("--memory", "64m", "--memory-swap", "32m"))
        if runtime == "docker"
        else Mutation(oci=swap_below_memory)
    )
    monkeypatch.setattr(attest, "attest", functools.partial(attest.attest, mutation=impossible))
    code = main(["attest", "--runtime", runtime, "--out", str(tmp_path / "out"), "--run-date", RUN_DATE])
    err = capsys.readouterr().err
    assert code == 2
    assert "the engine refused the sandbox" in err
    expected = "Minimum memoryswap limit" if runtime == "docker" else "runc run failed"
    assert expected in err


_DRIVER = """
import functools, json, sys
from sandproof import attest
from sandproof.cli import main
from sandproof.runtime import docker, podman, runc
from tests import hostile

def spying(real):
    def spy(argv, **kwargs):
        print("ARGV " + json.dumps(list(argv)), file=sys.stderr, flush=True)
        return real(argv, **kwargs)
    return spy

docker.supervise, runc.supervise = spying(docker.supervise), spying(runc.supervise)
podman.supervise = spying(podman.supervise)
attest.attest = functools.partial(attest.attest, mutation=hostile.mutation("hang"))
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_sigterm_to_the_cli_leaves_no_container(runtime: str, tmp_path: Path) -> None:
    """A cancelled CI job sends SIGTERM: the same cleanup as Ctrl-C, in a real process."""
    args = ["attest", "--runtime", runtime, "--out", str(tmp_path / "out"), "--run-date", RUN_DATE]
    with subprocess.Popen([sys.executable, "-c", _DRIVER, *args], stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        argv = next(json.loads(ln[5:]) for ln in proc.stderr if ln.startswith("ARGV "))
        _wait_until_up(runtime, argv)
        proc.send_signal(signal.SIGTERM)
        err = proc.stderr.read()
        assert proc.wait(60) == 2, err
    assert "interrupted" in err
    assert "Traceback" not in err
    assert _gone(runtime, argv)
    assert not _work_dir({"runtime": runtime, "argv": argv}).exists()


def _checked_receipt(got: Any, out: Path) -> dict[str, Any]:
    """The receipt of a hostile run: written, in its own schema, consistent, and the copy
    beside it hashing as recorded."""
    doc: dict[str, Any] = got.receipt
    assert receipt.shape_problem(doc) is None
    assert receipt_check._consistency(doc).verdict == "PASS"
    assert receipt_check.outputs_check(doc, out / "out").verdict == "PASS"
    return doc


def _host_bytes(top: Path) -> int:
    """Bytes of distinct files below ``top`` (a hard link counted once), never following a link."""
    seen = {}
    for d, _dirs, names in os.walk(top):
        for n in names:
            st = os.lstat(os.path.join(d, n))
            seen[(st.st_dev, st.st_ino)] = st.st_blocks * 512
    return sum(seen.values())


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_run_copies_no_more_than_the_bounded_out_held(runtime: str, tmp_path: Path) -> None:
    """400 hard links to a 15 MiB file and 400 sparse 16 MiB files fit the 16 MiB tmpfs; a
    plain copy wrote each link and each hole out in full (~12.5 GiB here, 16 GiB at 1,023)."""
    got = hostile.run_workload("amplify-out", runtime, tmp_path / "o", tmp_path / "in")
    doc = _checked_receipt(got, tmp_path / "o")
    assert "LINKS 400 SPARSE 400" in doc["stderr"]["tail"]
    limit = doc["output_limit"]
    assert _host_bytes(tmp_path / "o" / "out") <= limit["limit_bytes"]
    assert limit["left_out"] == 400  # every sparse file: the link's 15 MiB left no room for 16 more
    assert os.lstat(tmp_path / "o" / "out" / "a").st_nlink == 401  # links stay links on the host


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_run_lists_a_tree_past_the_recursion_limit_and_path_max(runtime: str, tmp_path: Path) -> None:
    """1,000 nested directories raised RecursionError, 250-byte names past them ENAMETOOLONG:
    no receipt at all. Now everything up to PATH_MAX is listed and copied, the rest counted."""
    try:
        got = hostile.run_workload("nested-out", runtime, tmp_path / "o", tmp_path / "in")
        doc = _checked_receipt(got, tmp_path / "o")
    finally:  # pytest removes old temporary directories with shutil.rmtree: RecursionError at this depth
        cleanup.remove_tree(tmp_path / "o")
    assert got.exit_code == 0
    assert "DEPTH 1020" in doc["stderr"]["tail"]
    paths = [e["path"] for e in doc["outputs"]]
    assert "/".join(["d"] * 1000) in paths
    assert max(len(p.encode()) for p in paths) <= 4095
    assert doc["output_limit"]["left_out"] == 2  # the name not in UTF-8, the first directory past PATH_MAX
    assert not any("not-utf8" in p for p in paths)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_run_copies_bytes_never_modes_links_fifos_or_xattrs(runtime: str, tmp_path: Path) -> None:
    got = hostile.run_workload("special-out", runtime, tmp_path / "o", tmp_path / "in")
    doc = _checked_receipt(got, tmp_path / "o")
    assert "SPECIAL done" in doc["stderr"]["tail"]
    kinds = {e["path"]: e["type"] for e in doc["outputs"]}
    assert kinds == {
        "a\nb\x1b[2J": "file",
        "fifo": "other",
        "locked": "dir",
        "locked/in": "file",
        "shadow": "symlink",
        "suid": "file",
    }
    copy = tmp_path / "o" / "out"
    assert sorted(p.name for p in copy.iterdir()) == ["a\nb\x1b[2J", "locked", "suid"]
    assert os.lstat(copy / "suid").st_mode & 0o7000 == 0  # the sandbox's setuid bits stay inside
    assert os.listxattr(copy / "suid", follow_symlinks=False) == []
    assert (copy / "locked" / "in").read_text() == "x"


_LEARN_DRIVER = """
import sys
from sandproof.cli import main
from sandproof.workload import sandbox

real = sandbox.run_runc

def spy(cfg, work, **kwargs):
    print("WORK " + str(work), file=sys.stderr, flush=True)
    return real(cfg, work, **kwargs)

sandbox.run_runc = spy
sys.exit(main(sys.argv[1:]))
"""


def _runc_holds(work: Path) -> bool:
    """Whether runc's state names a bundle in ``work`` (runc labels each container bundle=PATH)."""
    try:
        ids = os.listdir(runc_rt.STATE_ROOT)
    except OSError:
        return False
    for cid in ids:
        with contextlib.suppress(OSError, ValueError):
            labels = json.loads((Path(runc_rt.STATE_ROOT) / cid / "state.json").read_text())["config"]["labels"]
            if any(label.startswith(f"bundle={work}/") for label in labels):
                return True
    return False


def test_a_sigkilled_learn_is_cleaned_up_by_the_next_run(tmp_path: Path) -> None:
    """learn's traced runs (a writable root: an overlay of the image in each bundle) left their
    container, overlay and bounded /out behind when learn was killed outright (review 11)."""
    text = (Path(profile.__file__).parent / "profiles" / "default.toml").read_text()
    (tmp_path / "rw.toml").write_text(text.replace("read_only_rootfs = true", "read_only_rootfs = false"))
    args = ["learn", "--profile", str(tmp_path / "rw.toml"), "--image", "busybox", "--runs", "1"]
    args += ["--out", str(tmp_path / "learned.toml"), "--", "/bin/sleep", "600"]
    with subprocess.Popen([sys.executable, "-c", _LEARN_DRIVER, *args], stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        work = Path(next(ln[5:].strip() for ln in proc.stderr if ln.startswith("WORK ")))
        deadline = time.monotonic() + UP_WITHIN_S
        while not _runc_holds(work):
            assert time.monotonic() < deadline, "learn's container was not up"
            time.sleep(0.05)
        proc.kill()
        proc.wait(60)
    # what SIGKILL left (the container, its overlay, /out, the directory) is not asserted: any run
    # another test starts meanwhile reaps it first
    leftover.reap()  # what the next run does first
    deadline = time.monotonic() + UP_WITHIN_S
    while work.exists() or _runc_holds(work):  # or another test's run, reaping it right now
        assert time.monotonic() < deadline, f"{work} or its container is still there"
        time.sleep(0.05)
    assert str(work) not in Path("/proc/self/mounts").read_text()


WRITABLE_ROOT = "writable-root"
"""A profile whose root is writable: runc runs it on an overlay of the image (overlay.py),
mounted on the host beside the bundle."""


@pytest.mark.parametrize(
    ("runtime", "edit"), [*((r, None) for r in (*RUNTIMES, "podman", "runsc")), ("runc", WRITABLE_ROOT)]
)
def test_a_sigkilled_run_is_cleaned_up_by_the_next(runtime: str, edit: str | None, tmp_path: Path) -> None:
    """SIGKILL runs no ``finally``: the sandbox went on running (its client orphaned), its /out
    stayed mounted and its scratch directory stayed in /tmp. The next run removes all of it,
    runc's overlay of the image included."""
    args = ["attest", "--runtime", runtime, "--out", str(tmp_path / "out"), "--run-date", RUN_DATE]
    if edit == WRITABLE_ROOT:
        text = (Path(profile.__file__).parent / "profiles" / "default.toml").read_text()
        (tmp_path / "rw.toml").write_text(text.replace("read_only_rootfs = true", "read_only_rootfs = false"))
        args += ["--profile", str(tmp_path / "rw.toml")]
    with subprocess.Popen([sys.executable, "-c", _DRIVER, *args], stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        argv = next(json.loads(ln[5:]) for ln in proc.stderr if ln.startswith("ARGV "))
        _wait_until_up(runtime, argv)
        proc.kill()
        proc.wait(60)
    if runtime == "runsc":  # a job's hard stop kills its whole tree: runsc's client too, which leaves
        _kill_client(argv)  # its state behind (its sandbox, attached, dies with it or lingers)
    work = _work_dir({"runtime": runtime, "argv": argv})
    # what a SIGKILL left, before leftover.py: the container up, /out mounted, the directory
    # there (not asserted: any attest another test starts meanwhile reaps it first)
    leftover.reap()  # what the next run does first
    deadline = time.monotonic() + UP_WITHIN_S
    while work.exists() or not _gone(runtime, argv):  # or another test's run, reaping it right now
        assert time.monotonic() < deadline, f"{work} or its container is still there"
        time.sleep(0.05)
    assert str(work) not in Path("/proc/self/mounts").read_text()
    mine = leftover.scratch("sandproof-run-")  # a live run's directory is never taken
    try:
        assert mine not in leftover.reap()
        assert mine.is_dir()
    finally:
        leftover.remove(mine)


def _kill_client(argv: list[str]) -> None:
    """The runtime's own client process, ``argv`` itself (not the sandbox it started)."""
    for pid in _running(argv[-1]):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1] == [a.encode() for a in argv]:
                os.kill(pid, signal.SIGKILL)


def _running(marker: str) -> list[int]:
    """Host processes whose command line names ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
    return found


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_daemon_dies_with_the_workload_before_out_is_read(runtime: str, tmp_path: Path) -> None:
    """The host reads /out only once nothing in the sandbox can change it: the pid namespace's
    init exits only after the kernel has killed and reaped every other task in it
    (kernel/pid_namespace.c zap_pid_ns_processes), and the engine's client returns after that."""
    got = hostile.run_workload("daemon-out", runtime, tmp_path / "o", tmp_path / "in")
    doc = _checked_receipt(got, tmp_path / "o")
    assert "MAIN exits" in doc["stderr"]["tail"]
    assert not _running("/in/daemon-out.py")
    assert [e["path"] for e in doc["outputs"]] in (["daemon"], ["daemon", "daemon.tmp"])


def _loops() -> set[str]:
    """The loop devices attached now."""
    listed = subprocess.run(["losetup", "--list", "--noheadings", "--output", "NAME"], capture_output=True, check=True)
    return set(listed.stdout.decode().split())


def test_sigterm_to_selftest_undoes_a_weakenings_host_setup() -> None:
    """Review 17: a cancelled job's SIGTERM stopped `selftest` with blkio-weight-device's loop
    device still attached and switched to BFQ (Ctrl-C undid it). SIGTERM is Ctrl-C there too."""
    argv = [sys.executable, "-m", "sandproof", "selftest", "--runtime", "runc", "--only", "blkio-weight-device"]
    before = _loops()
    with subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        next(ln for ln in proc.stderr if "[1/1] blkio-weight-device" in ln)  # its setup comes next
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            attached = _loops() - before
            if attached:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the weakening never attached its loop device")
        proc.send_signal(signal.SIGTERM)
        err = proc.stderr.read()
        assert proc.wait(60) == 2, err
    assert "interrupted" in err
    assert "Traceback" not in err
    assert _loops() <= before
    for name in attached:
        assert "[bfq]" not in Path(f"/sys/block/{Path(name).name}/queue/scheduler").read_text()
