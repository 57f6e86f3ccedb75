"""attest's --out (issue 13): its own earlier files are replaced, an evidence file of another
date included, so `verify DIR` never judges a stale bundle; a foreign file stops attest before
anything runs (one line, exit 2, nothing touched) unless --force, which leaves it alone."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from sandproof import atomic, evidence, outfiles
from sandproof.cli import main
from sandproof.errors import OutputError
from tests.conftest import null_device

EARLIER, LATER = "2026-11-27", "2026-11-28"


def _listing(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_owned_names_are_exactly_what_attest_writes(tmp_path: Path) -> None:
    for venue in ("ci", "vps", "local", "mac-local"):
        name = evidence.file_name(venue, LATER)
        assert outfiles.owned(name)
        assert outfiles.owned(name.removesuffix(".json") + ".dsse.json")  # `sandproof sign`'s default
    assert outfiles.owned(evidence.INSIDE_NAME)
    assert outfiles.owned(outfiles.REPORT_NAME)
    # what atomic.publish stages and the write test leave when a run is killed midway
    for prefix in (f".{outfiles.REPORT_NAME}.", outfiles.WRITE_TEST_PREFIX):
        fd, staged = tempfile.mkstemp(prefix=prefix, dir=tmp_path)
        os.close(fd)
        assert outfiles.owned(Path(staged).name)
    for foreign in (
        "notes.txt",
        "report.md.bak",
        "report.md~",
        ".report.md.swp",
        "sandbox-attestation-evidence-local-2026-11-28.json.orig",
        "sandbox-attestation-evidence-mine-2026-11-28.json",
        "sandbox-attestation-evidence-local-26-11-28.json",
        "sandbox-attestation-inside.json.1",
    ):
        assert not outfiles.owned(foreign), foreign


def test_links_and_directories_named_like_attest_files_are_foreign(tmp_path: Path) -> None:
    (tmp_path / outfiles.REPORT_NAME).mkdir()
    (tmp_path / evidence.INSIDE_NAME).symlink_to("/etc/passwd")
    os.mkfifo(tmp_path / evidence.file_name("local", LATER))
    (tmp_path / evidence.file_name("local", EARLIER)).write_text("{}")
    contents = outfiles.scan(tmp_path)
    assert contents.own == (evidence.file_name("local", EARLIER),)
    assert set(contents.foreign) == {outfiles.REPORT_NAME, evidence.INSIDE_NAME, evidence.file_name("local", LATER)}
    outfiles.clear(tmp_path, keep=frozenset())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(contents.foreign)
    assert Path("/etc/passwd").exists()


def test_a_foreign_file_is_refused_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / evidence.file_name("local", EARLIER)).write_text("{}")
    before = _listing(out)
    # no engine is asked: the refusal comes first (a runtime that is not there would be exit 2 too, so
    # the message is what shows it)
    code = main(["attest", "--runtime", "runc", "--out", str(out), "--run-date", LATER])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "notes.txt" in err
    assert "--force" in err
    assert _listing(out) == before


def test_many_foreign_files_are_counted_not_listed(tmp_path: Path) -> None:
    for i in range(10):
        (tmp_path / f"f{i}").write_text("")
    with pytest.raises(OutputError) as refused:
        outfiles.check(tmp_path, force=False)
    assert "f0, f1, f2 and 7 more" in refused.value.message
    assert outfiles.check(tmp_path, force=True).foreign == tuple(f"f{i}" for i in range(10))


@pytest.mark.engine
def test_attest_twice_then_verify_dir_judges_only_the_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["attest", "--runtime", "runc", "--out", str(out), "--run-date", EARLIER]) == 0
    earlier = evidence.file_name("local", EARLIER)
    assert (out / earlier).is_file()
    assert main(["attest", "--runtime", "runc", "--out", str(out), "--run-date", LATER]) == 0
    later = evidence.file_name("local", LATER)
    assert sorted(p.name for p in out.iterdir()) == sorted([later, evidence.INSIDE_NAME, outfiles.REPORT_NAME])
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0
    shown = capsys.readouterr().out
    assert later in shown
    assert earlier not in shown

    # a foreign file with --force: it stays, byte for byte; attest's own earlier files (an envelope of
    # the earlier evidence, a staged file a killed run left) go
    (out / "notes.txt").write_text("mine")
    envelope = out / (later.removesuffix(".json") + ".dsse.json")
    envelope.write_text("{}")
    staged = out / f".{outfiles.REPORT_NAME}.abcd1234"
    staged.write_text("half")
    assert main(["attest", "--runtime", "runc", "--out", str(out), "--run-date", EARLIER]) == 2
    assert envelope.exists()
    assert main(["attest", "--runtime", "runc", "--out", str(out), "--run-date", EARLIER, "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [earlier, evidence.INSIDE_NAME, outfiles.REPORT_NAME, "notes.txt"]
    )
    assert (out / "notes.txt").read_text() == "mine"


def test_a_device_is_never_replaced_by_a_file_written(tmp_path: Path) -> None:
    """Review 11's `learn --out /dev/null --force` made the host's /dev/null a regular file."""
    null_device(tmp_path / "null")
    os.mkfifo(tmp_path / "fifo")
    for name in ("null", "fifo"):
        with pytest.raises(OutputError, match=f"--out {tmp_path / name}: a device, FIFO or socket, not a regular file"):
            atomic.publish(tmp_path, {name: b"x", "other.txt": b"y"}, what="--out")
    assert stat.S_ISCHR(os.lstat(tmp_path / "null").st_mode)
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "null"]  # nothing staged, nothing half-written
    atomic.publish(tmp_path, {"other.txt": b"y"}, what="--out")  # a file beside them: written
    assert (tmp_path / "other.txt").read_bytes() == b"y"


def test_learn_refuses_a_device_as_its_out_before_any_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    null_device(tmp_path / "null")
    assert main(["learn", "--image", "busybox", "--out", str(tmp_path / "null"), "--force"]) == 2
    assert "not a regular file; not replaced" in capsys.readouterr().err
    assert stat.S_ISCHR(os.lstat(tmp_path / "null").st_mode)
