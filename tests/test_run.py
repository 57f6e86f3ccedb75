"""``sandproof run`` on real Docker and runc: the packet-inspector example with its exit code
passed through and its report hashed into the receipt; the example changed to open a socket
or exec a binary it wrote, denied, with the receipt saying so; a time limit; and the loop
attest -> run --require-attested -> verify receipt with the profile's own image."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from sandproof import attest, image, outdir, profile, receipt
from sandproof.cli import main
from sandproof.inspector.wire import Verdict
from sandproof.workload import images
from sandproof.workload import run as workrun

pytestmark = pytest.mark.engine
DEFAULT = profile.load("default")
RUNTIMES = ("docker", "runc")
WITH_PODMAN = (*RUNTIMES, "podman")  # where a podman run costs little more than the test itself
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "packet-inspector"
HOSTILE = '''"""The packet inspector, changed: before its work it tries what the sandbox must deny."""
import os, socket, sys
sys.path.insert(0, "/app")
import packet_inspector

if sys.argv[1] == "socket":
    socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # seccomp: EPERM
elif sys.argv[1] == "exec":
    with open("/tmp/tool", "wb") as f:  # a binary it brings along, copied from the image
        f.write(open("/usr/bin/python3.11", "rb").read())
    os.chmod("/tmp/tool", 0o755)
    os.execv("/tmp/tool", ["/tmp/tool", "-c", "print('escaped')"])  # /tmp is noexec: EACCES
raise SystemExit(packet_inspector.main([]))
'''


def _run(
    runtime: str,
    img: image.Image,
    out: Path,
    cmd: tuple[str, ...] = (),
    prof: profile.Profile = DEFAULT,
    **kw: object,
) -> workrun.Outcome:
    rt = attest.select_runtime(runtime)
    return workrun.run(prof, img, cmd, runtime=rt, out=out, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("runtime", WITH_PODMAN)
def test_example_exit_code_passes_through_and_its_report_is_hashed(runtime: str, tmp_path: Path) -> None:
    got = _run(runtime, images.packet_inspector(), tmp_path / "o", in_dir=EXAMPLE / "in")
    doc = got.receipt
    assert got.exit_code == doc["exit_code"] == 1  # two of the four samples are invalid
    assert doc["stdout"] == {"bytes": 39, "tail": "packet-inspector: 4 packets, 2 invalid\n"}
    report = (tmp_path / "o" / "out" / "report.json").read_bytes()
    assert doc["outputs"] == [
        {"path": "report.json", "type": "file", "bytes": len(report), "sha256": hashlib.sha256(report).hexdigest()}
    ]
    assert [e["path"] for e in doc["inputs"]] == sorted(p.name for p in (EXAMPLE / "in").iterdir())
    assert receipt.shape_problem(doc) is None
    assert json.loads((tmp_path / "o" / "receipt.json").read_bytes()) == doc
    assert doc["runtime"]["name"] == runtime
    assert not doc["timed_out"]
    assert not doc["refused"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> image.Image:
    app = tmp_path_factory.mktemp("hostile-app")
    shutil.copy(EXAMPLE / "app" / "packet_inspector.py", app)
    (app / "hostile.py").write_text(HOSTILE)
    entry = ("/usr/bin/python3.11", "-I", "-S", "-B", "/app/hostile.py")
    return images.app("sandproof/example-hostile:test", app, entry)


@pytest.mark.parametrize("runtime", WITH_PODMAN)
@pytest.mark.parametrize(
    ("what", "says"),
    [("socket", "PermissionError: [Errno 1] Operation not permitted"), ("exec", "PermissionError: [Errno 13]")],
)
def test_the_example_changed_to_escape_is_denied_and_the_receipt_says_so(
    runtime: str, what: str, says: str, hostile: image.Image, tmp_path: Path
) -> None:
    got = _run(runtime, hostile, tmp_path / "o", (what,), in_dir=EXAMPLE / "in")
    doc = got.receipt
    assert got.exit_code == doc["exit_code"] == 1  # Python's exit code for an uncaught exception
    assert says in doc["stderr"]["tail"], doc["stderr"]
    assert doc["stderr"]["bytes"] >= len(doc["stderr"]["tail"].encode()) > 0
    assert "escaped" not in doc["stdout"]["tail"]
    assert doc["outputs"] == []  # it never reached its report


@pytest.mark.parametrize("runtime", WITH_PODMAN)
def test_a_workload_past_its_time_limit_is_killed(runtime: str, tmp_path: Path) -> None:
    got = _run(runtime, images.busybox(), tmp_path / "o", ("sleep", "30"), timeout_s=1.5)
    assert (got.exit_code, got.receipt["timed_out"]) == (124, True)
    assert got.receipt["wall_s"] < 15


@pytest.mark.parametrize("runtime", WITH_PODMAN)
def test_attest_run_verify_loop_with_the_profiles_own_image(runtime: str, tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    att = attest.attest(DEFAULT, runtime=runtime, out=tmp_path / "att", run_date=today)
    assert att.report.verdict == Verdict.PASS
    bundle = str(att.evidence_path)
    out = tmp_path / "o"
    cmd = ["--entrypoint", "/usr/bin/python3.11", "--", "-c", "open('/out/r.txt', 'w').write('done')"]
    argv = ["run", "--image", "inspector", "--runtime", runtime, "--require-attested", bundle, "--out", str(out)]
    assert main([*argv, *cmd]) == 0
    assert main(["verify", str(out / "receipt.json"), "--attestation", bundle]) == 0
    doc = json.loads((out / "receipt.json").read_bytes())
    assert doc["attestation"]["sha256"] == hashlib.sha256(att.evidence_path.read_bytes()).hexdigest()
    (out / "out" / "r.txt").write_text("edited")  # an output changed after the run
    assert main(["verify", str(out / "receipt.json"), "--attestation", bundle]) == 1
    (out / "out" / "r.txt").write_text("done")
    if runtime != "runc":  # one flag more in the recorded argv: not the attested sandbox
        doc["sandbox"]["argv"].insert(doc["sandbox"]["argv"].index("--rm"), "--privileged")
        (out / "receipt.json").write_text(json.dumps(doc))
        assert main(["verify", str(out / "receipt.json"), "--attestation", bundle]) == 1


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_require_attested_refuses_another_image(
    runtime: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = Path(__file__).parent / "assets" / "bundles" / f"{runtime}-default-pass.json"
    out = tmp_path / "o"
    argv = ["run", "--image", "example", "--runtime", runtime, "--require-attested", str(bundle), "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("sandproof: error: --require-attested: refused to start: ")
    assert not out.exists()


@pytest.mark.engine("docker")
def test_require_attested_refuses_a_retagged_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The attestation binds the image ID, not the name: a tag moved to another image after
    ``attest --image TAG`` is refused, naming both IDs (the run resolves the tag once and runs
    that ID, so a tag moved after the check cannot swap the image either)."""
    import subprocess  # noqa: PLC0415 - only this test moves a tag

    today = dt.datetime.now(dt.UTC).date().isoformat()
    tag = f"sandproof-test/retagged:{tmp_path.name[-12:].lower()}"
    first, other = images.busybox(), images.flawed("ww")
    for img in (first, other):
        image.ensure_docker(img)
    subprocess.run(["docker", "tag", first.image_id, tag], check=True)
    try:
        att = tmp_path / "att"
        assert main(["attest", "--image", tag, "--runtime", "docker", "--out", str(att), "--run-date", today]) == 0
        bundle = str(next(att.glob("sandbox-attestation-evidence-*.json")))
        argv = ["run", "--image", tag, "--runtime", "docker", "--require-attested", bundle]
        assert main([*argv, "--out", str(tmp_path / "o1"), "--", "/bin/true"]) == 0
        subprocess.run(["docker", "tag", other.image_id, tag], check=True)
        capsys.readouterr()
        assert main([*argv, "--out", str(tmp_path / "o2"), "--", "/bin/true"]) == 2
        err = capsys.readouterr().err
        assert f"same-image: the attestation covers image {first.image_id}" in err
        assert f"not {other.image_id}" in err
        assert not (tmp_path / "o2").exists()
    finally:
        subprocess.run(["docker", "image", "rm", tag], check=False, capture_output=True)


@pytest.fixture
def learned(learned_example: Path) -> Path:
    """`sandproof learn` of the example, once per worker (tests/conftest.py)."""
    return learned_example


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_loop_learn_attest_the_image_run_verify(runtime: str, learned: Path, tmp_path: Path) -> None:
    """Issue 11's loop: learn -> attest --image -> run --require-attested -> verify the receipt."""
    today = dt.datetime.now(dt.UTC).date().isoformat()
    att = tmp_path / "att"
    argv = ["--profile", str(learned), "--image", "example", "--runtime", runtime]
    assert main(["attest", *argv, "--out", str(att), "--run-date", today]) == 0
    bundle = str(next(att.glob("sandbox-attestation-evidence-*.json")))
    out = tmp_path / "o"
    # the workload's own exit code: two of the four samples are invalid
    assert main(["run", *argv, "--in", str(EXAMPLE / "in"), "--out", str(out), "--require-attested", bundle]) == 1
    assert main(["verify", str(out / "receipt.json"), "--attestation", bundle]) == 0
    doc = json.loads((out / "receipt.json").read_bytes())
    assert doc["image"]["id"] == images.packet_inspector().image_id
    assert [o["path"] for o in doc["outputs"]] == ["report.json"]
    (out / "out" / "report.json").write_text("{}")  # an output changed after the run
    assert main(["verify", str(out / "receipt.json"), "--attestation", bundle]) == 1


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("what", ["socket", "exec"])
def test_under_the_learned_profile_the_changed_example_is_denied(
    runtime: str, what: str, learned: Path, hostile: image.Image, tmp_path: Path
) -> None:
    got = _run(runtime, hostile, tmp_path / "o", (what,), profile.load(str(learned)), in_dir=EXAMPLE / "in")
    doc = got.receipt
    assert got.exit_code == doc["exit_code"] == 1
    # socket: not in the learned list (the filter's default errno); exec: the calls to write and
    # run a tool are refused by the list or by /tmp's noexec, whichever comes first
    assert "PermissionError: [Errno" in doc["stderr"]["tail"], doc["stderr"]
    assert "escaped" not in doc["stdout"]["tail"]
    assert doc["outputs"] == []


@pytest.mark.engine("docker")
def test_run_says_when_out_was_not_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without root no tmpfs bounds /out: the receipt says bounded false, and so does the run's last lines."""
    argv = ["run", "--image", "example", "--runtime", "docker", "--in", str(EXAMPLE / "in")]
    assert main([*argv, "--out", str(tmp_path / "bounded")]) == 1
    assert "not bounded" not in capsys.readouterr().err
    monkeypatch.setattr(outdir, "_mount_tmpfs", lambda _path, _options: False)  # as a non-root caller
    assert main([*argv, "--out", str(tmp_path / "plain")]) == 1
    assert "sandproof: warning: /out was a plain directory of this machine's, not bounded" in capsys.readouterr().err
    doc = json.loads((tmp_path / "plain" / "receipt.json").read_text())
    assert doc["output_limit"]["bounded"] is False


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_workloads_output_runs_no_workflow_command(
    runtime: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The workload's stdout and stderr reach a CI log through ours: a line the runner would
    run as a workflow command (``::add-mask::FAIL`` would hide the word from the rest of the
    log, ``##[error]`` post an annotation) is shown, not run (capture.relayed)."""
    script = 'echo "::add-mask::FAIL"; echo "  ::notice::PASS" >&2; echo "a ##[error]b"; printf "\\033[2Jdone\\n"'
    argv = ["run", "--image", "busybox", "--runtime", runtime, "--out", str(tmp_path / "o"), "--", "sh", "-c", script]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out == "\\x3a:add-mask::FAIL\na \\x23\\x23[error]b\n\\x1b[2Jdone\n"
    assert err.splitlines()[0] == "  \\x3a:notice::PASS"
    for line in (out + err).splitlines():
        assert not line.lstrip().startswith("::")
        assert "##[" not in line
