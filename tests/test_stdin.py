"""The sandbox's standard input ends at once (PR-FD-1): runc hands fd 0 a pipe of its own and
copies its caller's stdin into it, so a pipe there says nothing; what it gives does. An audit
found host data on runc's stdin read inside with every probe PASSing (/work/notes/hunt.md)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandproof import profile, verify
from sandproof.cli import main
from sandproof.inspector import judge
from sandproof.inspector.wire import Verdict
from sandproof.render import runnable
from tests.conftest import RUN_DATE

ASSETS = Path(__file__).parent / "assets" / "bundles"
DEFAULT = profile.load("default")


def _runc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((ASSETS / "runc-default-pass.json").read_bytes())
    return doc


def _record(doc: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in doc["probes"] if r["probe_id"] == "PR-FD-1")


@pytest.mark.parametrize("state", ["data", "open", "closed", "error EIO"])
def test_anything_but_an_end_fails(state: str) -> None:
    rec = _record(_runc())
    assert rec["observation"]["stdin"] == "eof"
    assert judge.judge("fds", rec["expected"], rec["observation"]).verdict == Verdict.PASS
    got = judge.judge("fds", rec["expected"], {**rec["observation"], "stdin": state})
    assert got == (Verdict.FAIL, f"standard input gave {state!r}, expected 'eof' at once: the host reaches it")
    missing = {k: v for k, v in rec["observation"].items() if k != "stdin"}
    assert judge.judge("fds", rec["expected"], missing).verdict == Verdict.ERROR
    for odd in (1, None, ["eof"]):
        assert judge.judge("fds", rec["expected"], {**rec["observation"], "stdin": odd}).verdict == Verdict.ERROR


def test_the_recorded_bundle_with_host_data_on_stdin_fails() -> None:
    doc = _runc()
    both = copy.deepcopy(doc)
    _record(both)["observation"]["stdin"] = "data"
    both["raw"]["startup"]["stdin"] = "data"
    report = verify.verify(both, DEFAULT)
    assert {p.probe_id for p in report.probes if p.verdict != Verdict.PASS} == {"PR-FD-1"}
    only_probe = copy.deepcopy(doc)  # the startup snapshot still says eof: a contradiction
    _record(only_probe)["observation"]["stdin"] = "data"
    fd1 = next(p for p in verify.verify(only_probe, DEFAULT).probes if p.probe_id == "PR-FD-1")
    assert fd1.verdict == Verdict.FAIL
    assert "raw.startup.fds contradicts the probe's observation" in fd1.reason


def _state(**popen: Any) -> str:
    code = "from sandproof.inspector.probes import startup; startup.STDIN_WAIT_S = 0.3; print(startup.stdin_state())"
    return str(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, **popen).stdout)


def test_what_fd_0_gives_is_told_apart() -> None:
    assert _state(stdin=subprocess.DEVNULL).strip() == "eof"
    assert _state(input="a host line\n").strip() == "data"
    held = subprocess.Popen(["sleep", "30"], stdout=subprocess.PIPE)  # a writer that never writes
    try:
        assert held.stdout is not None
        assert _state(stdin=held.stdout).strip() == "open"
    finally:
        held.kill()
        held.wait()
        if held.stdout is not None:
            held.stdout.close()
    closed = "import os; os.close(0); from sandproof.inspector.probes import startup; print(startup.stdin_state())"
    out = subprocess.run([sys.executable, "-c", closed], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "closed"


def test_render_oci_prints_stdin_from_dev_null(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runnable, "oci_argv", lambda *_: (["runc", "run", "x"], ("wrote x",)))
    assert main(["render", "oci", "--in", "in", "--out", "out", "--run-date", RUN_DATE]) == 0
    assert capsys.readouterr().out.strip() == "runc run x </dev/null"
    for out in tmp_path.glob("out"):
        subprocess.run(["umount", str(out)], check=False, capture_output=True)


def test_a_standard_descriptor_of_another_kind_or_mode_fails() -> None:
    """Review 16: runsc hands its caller's descriptors on, a host file read-write among them,
    and names each ``host:[N]``; at its end a read gives EOF as the null device's does. The
    file type and access mode tell them apart."""
    rec = _record(_runc())
    assert rec["observation"]["stdio"] == {"0": "fifo r", "1": "fifo w", "2": "fifo w"}
    for fd, odd in (("0", "reg rw"), ("0", "fifo rw"), ("1", "sock rw"), ("2", "chr 136:0 rw"), ("1", "error EBADF")):
        obs = {**rec["observation"], "stdio": {**rec["observation"]["stdio"], fd: odd}}
        got = judge.judge("fds", rec["expected"], obs)
        assert got.verdict == Verdict.FAIL
        assert got.reason.startswith(f"standard descriptors are {{{fd!r}: {odd!r}}}")
    missing = {k: v for k, v in rec["observation"].items() if k != "stdio"}
    assert judge.judge("fds", rec["expected"], missing).verdict == Verdict.ERROR
    assert judge.judge("fds", rec["expected"], {**rec["observation"], "stdio": {"0": 1}}).verdict == Verdict.ERROR


def test_the_file_type_and_access_mode_are_the_kernels(tmp_path: Path) -> None:
    code = "import json; from sandproof.inspector.probes import startup; print(json.dumps(startup.stdio()))"
    victim = tmp_path / "host-file"
    victim.write_bytes(b"")
    with victim.open("r+b") as f:
        out = subprocess.run([sys.executable, "-c", code], stdin=f, capture_output=True, text=True, check=True).stdout
    modes = json.loads(out)
    assert modes["0"] == "reg rw"
    assert modes["1"] == modes["2"] == "fifo w"  # capture_output's pipes, write-only in the child
    out = subprocess.run(
        [sys.executable, "-c", code], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out)["0"].startswith("chr 1:3 ")


def test_a_stdio_record_without_each_standard_descriptor_is_malformed() -> None:
    """The probe records 0, 1 and 2: one missing (or one more) is a malformed record, ERROR,
    not a FAIL naming a descriptor as None (the final read of the change)."""
    rec = _record(_runc())
    stdio = rec["observation"]["stdio"]
    for odd in ({"0": stdio["0"], "1": stdio["1"]}, {**stdio, "3": "fifo w"}):
        got = judge.judge("fds", rec["expected"], {**rec["observation"], "stdio": odd})
        assert got.verdict == Verdict.ERROR, got
