"""Renders that run as printed (issue 13): ``render docker|podman|oci --in DIR --out DIR`` writes
what the command needs, and the command printed, run through a shell exactly as printed,
gives a bundle whose every probe PASSes against the profile."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandproof import contract, plan, profile
from sandproof.cli import main
from sandproof.inspector.wire import BUNDLE_NAME, Verdict
from sandproof.render import runnable
from sandproof.verify import verify_file
from sandproof.weaken.core import replaced
from tests.conftest import RUN_DATE

DEFAULT = profile.load("default")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The test's cwd; a tmpfs a render mounted at its out directory is unmounted after."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    for out in tmp_path.glob("*out*"):
        if os.path.ismount(out):
            subprocess.run(["umount", str(out)], check=True)


def _rendered(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    assert main(["render", *argv, "--in", "in", "--out", "out", "--run-date", RUN_DATE]) == 0
    cap = capsys.readouterr()
    return cap.out.strip(), cap.err


def test_input_holds_the_packet_and_the_runtimes_plan(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runnable, "docker_image", lambda p: f"loaded {p.image.name} (test)")
    line, err = _rendered(capsys, "docker")
    assert sorted(os.listdir(workdir / "in")) == [contract.INPUT_PACKET[0], plan.PLAN_NAME]
    written = json.loads((workdir / "in" / plan.PLAN_NAME).read_bytes())
    assert written == plan.build(DEFAULT, "docker")
    assert f"seccomp={workdir}/{DEFAULT.seccomp.file_name}" in line
    assert f"-v {workdir}/in:/in:ro -v {workdir}/out:/out:rw" in line
    assert (workdir / DEFAULT.seccomp.file_name).is_file()
    st = (workdir / "out").stat()
    assert (st.st_uid, st.st_gid) == (DEFAULT.user.uid, DEFAULT.user.gid)
    assert all(ln.startswith("sandproof: ") for ln in err.splitlines())
    assert main(["render", "docker", "--in", "in", "--out", "out"]) == 0  # again: the empty mount is reused
    (workdir / "out" / "left-over").write_text("x")
    assert main(["render", "docker", "--in", "in", "--out", "out"]) == 2
    assert "not empty" in capsys.readouterr().err


def test_foreign_input_files_refused(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "in").mkdir()
    (workdir / "in" / "secret.txt").write_text("x")
    assert main(["render", "oci", "--in", "in", "--out", "out"]) == 2
    assert "holds secret.txt" in capsys.readouterr().err
    assert main(["render", "docker", "--in", "in"]) == 2  # both or neither


def test_render_plan_is_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    for runtime in ("docker", "runc"):
        assert main(["render", "plan", "--runtime", runtime]) == 0
        assert json.loads(capsys.readouterr().out) == plan.build(DEFAULT, runtime)


def _all_probes_pass(bundle: Path, runtime: str) -> None:
    """Every probe PASSes; what stays open is only what an inside bundle alone cannot show
    (the outside facts attest merges: image digest, seccomp hash, venue, PR-DYNIMPORT)."""
    report = verify_file(bundle, DEFAULT)
    assert report.probes
    assert [p.probe_id for p in report.probes if p.verdict != Verdict.PASS] == []
    assert {c.name for c in report.checks if c.verdict != Verdict.PASS} <= {"outside-facts"}
    assert {p.probe_id for p in report.probes} >= set(plan.expectations(DEFAULT, runtime))


@pytest.mark.engine
@pytest.mark.parametrize(("artifact", "runtime"), [("docker", "docker"), ("oci", "runc"), ("podman", "podman")])
def test_printed_command_runs_as_printed(
    artifact: str, runtime: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line, _ = _rendered(capsys, artifact)
    proc = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=300, check=False)
    if artifact == "docker" and "No such image" in proc.stderr + proc.stdout:  # another test swapped the tag
        line, _ = _rendered(capsys, artifact)
        proc = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    _all_probes_pass(workdir / "out" / BUNDLE_NAME, runtime)


@pytest.mark.engine("runc")  # builds the image runc runs
def test_a_copied_image_is_closed_to_other_users(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A writable root makes the OCI render copy the image beside --in, setuid files and owners
    kept: under a directory others can enter, any local user could run the image's setuid-root
    files on the host. The copy sits in a directory only root enters, as attest's does."""
    (workdir / "in").mkdir()
    os.chmod(workdir, 0o755)  # noqa: S103 - a directory others may enter, as a user's often is
    writable = replaced(DEFAULT, "filesystem", read_only_rootfs=False)
    prepared = runnable.prepare(writable, "runc", in_dir="in", out_dir="out")
    argv, _ = runnable.oci_argv(writable, prepared, RUN_DATE)
    bundle = workdir / "oci-bundle"
    assert str(bundle) in argv
    root = json.loads((bundle / "config.json").read_bytes())["root"]["path"]
    assert Path(root).is_relative_to(bundle)  # a copy, not the shared tree
    assert bundle.stat().st_mode & 0o777 == 0o700
