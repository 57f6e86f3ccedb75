"""Review 19: every place root writes a result by path held to ``safedir.check``: no directory
on the way another user owns or may write without the sticky bit, no link of theirs, so no one
can redirect a write or swap what the user will trust (the evidence, a receipt, a key)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sandproof import atomic, image, leftover, safedir, signing
from sandproof.cli import main
from sandproof.errors import EngineError, OutputError
from sandproof.runtime import podman
from sandproof.signing import SigningError

OTHER = 4242


@pytest.fixture
def theirs(tmp_path: Path) -> Path:
    """A directory another user owns, in a directory of root's."""
    d = tmp_path / "theirs"
    d.mkdir(mode=0o755)
    os.chown(d, OTHER, OTHER)
    return d


def test_publish_refuses_a_directory_of_anothers_on_the_way(theirs: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=f"{theirs} on the way is owned by uid {OTHER}"):
        atomic.publish(theirs / "new" / "out", {"report.md": b"x"}, what="--out")
    assert os.listdir(theirs) == []
    victim = tmp_path / "victim"
    victim.mkdir()
    (theirs / "link").symlink_to(victim)
    os.chown(theirs / "link", OTHER, OTHER, follow_symlinks=False)
    with pytest.raises(OutputError, match="another user"):
        atomic.publish(tmp_path / "theirs" / "link", {"report.md": b"x"}, what="--out")
    assert os.listdir(victim) == []
    atomic.publish(tmp_path / "mine", {"report.md": b"x"}, what="--out")  # root's own: written
    assert (tmp_path / "mine" / "report.md").read_bytes() == b"x"


def test_attest_out_through_anothers_directory_is_refused_before_anything_runs(
    theirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["attest", "--out", str(theirs / "run"), "--run-date", "2026-11-28"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--out {theirs / 'run'}: {theirs} on the way is owned by uid {OTHER}" in err
    assert os.listdir(theirs) == []


def test_keygen_never_writes_through_a_link_nor_into_anothers_directory(theirs: Path, tmp_path: Path) -> None:
    """A dangling link at the public key's name (exists() said absent) had root write through it."""
    mine = tmp_path / "keys"
    mine.mkdir()
    target = tmp_path / "elsewhere"
    (mine / "k.pub.pem").symlink_to(target)
    with pytest.raises(SigningError, match="exists; refusing to overwrite a key"):
        signing.keygen(mine / "k.pem", mine / "k.pub.pem")
    assert not target.exists()
    assert not (mine / "k.pem").exists()
    with pytest.raises(OutputError, match=f"keygen {theirs}: owned by uid {OTHER}"):
        signing.keygen(theirs / "k.pem", theirs / "k.pub.pem")
    assert os.listdir(theirs) == []
    signing.keygen(mine / "good.pem", mine / "good.pub.pem")
    assert (mine / "good.pem").stat().st_mode & 0o777 == 0o600


def test_a_cache_through_anothers_directory_is_refused(
    theirs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SANDPROOF_CACHE", str(theirs / "cache"))
    monkeypatch.setattr(image, "_CHECKED", set())
    with pytest.raises(OutputError, match=f"the cache \\(SANDPROOF_CACHE\\) {theirs / 'cache'}: {theirs} on the way"):
        image.cache_dir()
    assert os.listdir(theirs) == []
    assert main(["image", "build"]) == 2
    assert "another user" in capsys.readouterr().err


def test_podmans_state_directory_made_first_by_another_user_is_refused(tmp_path: Path) -> None:
    made = tmp_path / "sandproof-podman-x"
    made.mkdir(mode=0o755)
    os.chown(made, OTHER, OTHER)
    with pytest.raises(EngineError, match=f"not this user's own \\(owner uid {OTHER}, mode 755"):
        podman._own(made)
    os.chown(made, os.geteuid(), os.getegid())
    with pytest.raises(EngineError, match="mode 755"):
        podman._own(made)  # ours, but open to others: a hook could be dropped in
    made.chmod(0o700)
    assert podman._own(made) == made
    fresh = podman._own(tmp_path / "new")
    assert fresh.stat().st_mode & 0o777 == 0o700


def test_run_out_through_anothers_directory_is_refused_before_the_run(
    theirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 19: uid 4242 made run's --out first, then replaced out/answer and the receipt
    (its digest recomputed); verify said the outputs hash as recorded."""
    assert main(["run", "--image", "busybox", "--out", str(theirs / "ran"), "--", "true"]) == 2
    err = capsys.readouterr().err
    assert f"--out {theirs}: owned by uid {OTHER}, another user" in err  # the nearest directory there
    assert os.listdir(theirs) == []
    made_first = theirs.parent / "made-first"
    made_first.mkdir()
    os.chown(made_first, OTHER, OTHER)
    assert main(["run", "--image", "busybox", "--out", str(made_first), "--", "true"]) == 2
    assert f"--out {made_first}: owned by uid {OTHER}" in capsys.readouterr().err


def test_a_temporary_directory_of_anothers_is_refused_before_a_scratch_is_made(
    theirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 19 (LOW): with TMPDIR another user's, they renamed root's new scratch directory away
    and put a link there; root refused late and left a tmpfs mounted."""
    monkeypatch.setattr(tempfile, "tempdir", str(theirs))
    monkeypatch.setattr(safedir, "_TEMP_CHECKED", set())
    with pytest.raises(OutputError, match=f"the temporary directory \\(TMPDIR\\) {theirs}: owned by uid {OTHER}"):
        leftover.scratch("sandproof-run-", reaping=False)
    assert os.listdir(theirs) == []


def test_a_cache_others_may_fill_is_refused_even_sticky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 20 (HIGH): a cache in a root-owned 1777 directory passed (sticky), and another user
    made its areas first (debs/ with a lock linked to a root file, harness/ they later swapped)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("SANDPROOF_CACHE", str(shared))
    monkeypatch.setattr(image, "_CHECKED", set())
    with pytest.raises(OutputError, match="mode 1777\\) and sticky, but sandproof makes names in it"):
        image.cache_dir()
    monkeypatch.setenv("SANDPROOF_CACHE", str(shared / "mine"))  # a directory of root's in it: fine
    assert image.cache_dir() == shared / "mine"


def test_a_nested_result_is_never_written_through_anothers_directory(tmp_path: Path) -> None:
    """Review 20: init into a 1777 directory wrote .github/... through another user's link there."""
    root = tmp_path / "repo"
    root.mkdir()
    root.chmod(0o1777)
    victim = tmp_path / "victim"
    victim.mkdir()
    (root / ".github").symlink_to(victim)
    os.chown(root / ".github", OTHER, OTHER, follow_symlinks=False)
    with pytest.raises(OutputError, match="another user"):
        atomic.publish(root, {".github/workflows/a.yml": b"x"}, what="init")
    assert os.listdir(victim) == []


def test_init_makes_nothing_before_its_directory_is_checked(theirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(theirs / "proj")]) == 2
    assert f"{theirs} on the way is owned by uid {OTHER}" in capsys.readouterr().err
    assert os.listdir(theirs) == []


def test_vsa_and_learn_refuse_their_directory_before_any_work(
    theirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "k"
    signing.keygen(key.with_suffix(".pem"), key.with_suffix(".pub.pem"))
    bundle = Path(__file__).parent / "assets" / "bundles" / "docker-default-pass.json"
    argv = ["verify", str(bundle), "--vsa", str(theirs / "v.json"), "--vsa-key", str(key.with_suffix(".pem"))]
    assert main([*argv, "--key", str(key.with_suffix(".pub.pem"))]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no report printed first
    assert f"--vsa {theirs}: owned by uid {OTHER}" in captured.err
    assert main(["learn", "--image", "busybox", "--out", str(theirs / "l.toml"), "--", "true"]) == 2
    assert f"--out {theirs}: owned by uid {OTHER}" in capsys.readouterr().err


def test_a_private_group_may_write_its_owners_directory() -> None:
    """Review 20 (LOW): umask 002 with user-private groups (Fedora's default) made every directory
    group-writable: a non-root caller's own directory in its own primary group, with no ACL, is
    the caller's. Run as uid and gid 4242 in a child (no such user here: no one else in it)."""
    base = Path(tempfile.mkdtemp(prefix="sandproof-ug-"))
    try:
        base.chmod(0o755)
        d = base / "ug"
        d.mkdir()
        os.chown(d, OTHER, OTHER)
        d.chmod(0o775)
        code = (
            "import os; from pathlib import Path; from sandproof import safedir; "
            f"os.setgroups([]); os.setgid({OTHER}); os.setuid({OTHER}); "
            f"safedir.check(Path({str(d)!r}), '--out', create=False); print('ok')"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        assert done.stdout.strip() == "ok", done.stderr[-500:]
    finally:
        shutil.rmtree(base)


def test_an_area_another_user_made_in_the_cache_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 21: a cache once open to others (then `chmod go-w`, as the refusal advises) kept the
    areas they made in it, and sandproof used them by name."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "debs").mkdir()
    os.chown(cache / "debs", OTHER, OTHER)
    monkeypatch.setenv("SANDPROOF_CACHE", str(cache))
    monkeypatch.setattr(image, "_CHECKED", set())
    with pytest.raises(OutputError, match="debs is not sandproof's own \\(owner uid 4242, mode 755\\); remove it"):
        image.cache_dir()
    os.chown(cache / "debs", 0, 0)
    (cache / "apt").symlink_to(tmp_path)
    with pytest.raises(OutputError, match=r"apt is not sandproof's own .*a link"):
        image.cache_dir()
    (cache / "apt").unlink()
    assert image.cache_dir() == cache


def test_an_acl_or_a_roots_group_write_is_never_a_private_group(tmp_path: Path) -> None:
    """Review 21 (HIGH): an ACL's mask shows as the group bits, and group 0 passed as root's private
    group, so a named user's write through an ACL was accepted. Only a non-root caller's own
    directory in its own primary group, with no ACL, may be group-writable."""
    d = tmp_path / "g"
    d.mkdir()
    d.chmod(0o775)  # root:root, root alone in the group: still refused (the database bounds no gid)
    with pytest.raises(OutputError, match="mode 775\\) without the sticky bit"):
        safedir.check(d, "--out", create=False)


def test_keygen_leaves_no_half_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Final read: the private key was written first and left alone when the public key failed."""
    real, made = os.open, []

    def second_fails(path: str, flags: int, mode: int = 0o777, **kw: int) -> int:
        if flags & os.O_EXCL:
            made.append(path)
            if len(made) == 2:
                raise FileExistsError(17, "File exists", str(path))
        return real(path, flags, mode, **kw)

    monkeypatch.setattr(os, "open", second_fails)
    with pytest.raises(SigningError, match=r"k\.pub\.pem exists; refusing to overwrite a key"):
        signing.keygen(tmp_path / "k.pem", tmp_path / "k.pub.pem")
    assert os.listdir(tmp_path) == []
